/**
 * Bytes → packed 8-bit RGB with sharp (libvips). Header first: format, size and pixel limits are
 * checked from the header (PNG/JPEG: read in JS, sniffImageSize; others: sharp's metadata) before
 * any pixel is decoded, and libvips gets limitInputPixels as a second
 * line against decompression bombs. Then: first frame only (GIF/WebP animations, multi-page TIFF),
 * EXIF orientation applied, alpha composited on white, grayscale/CMYK/16-bit converted to sRGB 8-bit,
 * an embedded ICC profile ignored (as PIL's convert('RGB') does).
 *
 * Speed (issue 19): sharp's decode itself is close to PIL's; what made it 3–4× slower here was the
 * output buffer (36 MB for 12 MP), which glibc maps fresh per image, so every 4 KiB page faults
 * (~126k faults for 12 decodes, more CPU than the decode). Services run with
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (deploy/), which backs such mappings with 2 MiB pages:
 * 12 MP JPEG ~140 → ~50 ms. sequentialRead, the colour pipeline and libvips concurrency changed nothing
 * measurable; the pixels are unchanged (the same libjpeg-turbo-derived decoder as before).
 * JPEGs up to limits.syncJpegMaxPixels (default 0.5 MP) are decoded synchronously in wasm instead
 * (jpeg-sync.ts: same pixels, no thread hand-offs), unless anything about them would make that path
 * differ from this one. Plain PNGs (8-bit RGB/grey/palette, no alpha, no EXIF) up to
 * limits.syncPngMaxPixels are decoded synchronously in JS + zlib likewise (png-sync.ts).
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { invalidArgument, resourceExhausted, TesseraError } from '@tessera/errors';
import { decodeJpegSync } from './jpeg-sync.js';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits } from './limits.js';
import { decodePngSync } from './png-sync.js';

/** sharp/libvips format names we accept (`heif` covers AVIF and HEIC where libheif decodes them). */
export const SUPPORTED_FORMATS = Object.freeze(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif'] as const);
export type ImageFormat = (typeof SUPPORTED_FORMATS)[number];

export interface DecodedImage {
  /** Packed RGB, row-major, 3 bytes per pixel. */
  rgb: Uint8Array;
  width: number;
  height: number;
  format: ImageFormat;
}

export interface ImageHeader {
  format: ImageFormat;
  /** Upright size (EXIF orientation 5..8 swaps the sides). */
  width: number;
  height: number;
}

const FIELD = 'image';

function checkBytes(bytes: Uint8Array, limits: ImageLimits): void {
  if (bytes.length === 0) throw invalidArgument(FIELD, 'image is empty (0 bytes)', 'image bytes >= 1');
  if (bytes.length > limits.maxBytes) {
    throw resourceExhausted(FIELD, `image is ${bytes.length} bytes, over the limit of ${limits.maxBytes} bytes`, `image bytes <= ${limits.maxBytes}`);
  }
}

/** Reads and validates the header only; throws INVALID_ARGUMENT / RESOURCE_EXHAUSTED naming the limit. */
export async function readImageHeader(bytes: Uint8Array, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<ImageHeader> {
  checkBytes(bytes, limits);
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new TesseraError('INVALID_ARGUMENT', `image is not a decodable image (supported: ${SUPPORTED_FORMATS.join(', ')})`, { field: FIELD, limit: `format in ${SUPPORTED_FORMATS.join('|')}` }, { cause: err });
  }
  const format = meta.format as string | undefined;
  if (!format || !(SUPPORTED_FORMATS as readonly string[]).includes(format)) {
    throw invalidArgument(FIELD, `image format "${format ?? 'unknown'}" is not supported (supported: ${SUPPORTED_FORMATS.join(', ')})`, `format in ${SUPPORTED_FORMATS.join('|')}`);
  }
  let width = meta.width ?? 0;
  let height = meta.height ?? 0;
  // Multi-frame images report the stacked height in some versions; pageHeight is one frame.
  if (meta.pages && meta.pages > 1 && meta.pageHeight) height = meta.pageHeight;
  if ((meta.orientation ?? 1) >= 5) [width, height] = [height, width];
  checkSize(width, height, limits);
  return { format: format as ImageFormat, width, height };
}

function checkSize(width: number, height: number, limits: ImageLimits): void {
  const pixels = width * height;
  if (pixels > limits.maxPixels) {
    throw resourceExhausted(FIELD, `image is ${width}×${height} = ${pixels} pixels, over the limit of ${limits.maxPixels}`, `image pixels <= ${limits.maxPixels}`);
  }
  if (Math.min(width, height) < limits.minSide) {
    throw invalidArgument(FIELD, `image is ${width}×${height}; each side must be at least ${limits.minSide} px`, `image side >= ${limits.minSide}`);
  }
  const aspect = Math.max(width, height) / Math.min(width, height);
  if (aspect > limits.maxAspectRatio) {
    throw invalidArgument(FIELD, `image is ${width}×${height}, aspect ratio ${aspect.toFixed(1)}:1 is over the limit of ${limits.maxAspectRatio}:1`, `image aspect ratio <= ${limits.maxAspectRatio}`);
  }
}

const JPEG_SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/**
 * Format and stored size of a PNG (IHDR) or JPEG (first SOF marker) read from the bytes in JS, or
 * undefined for anything else or anything unusual (then sharp's metadata call decides). Stored, not
 * upright: EXIF orientation only swaps the sides, which no limit depends on. Saves decodeImage a
 * second libvips call and libuv round trip per image (issue 19: ~0.2–0.7 ms CPU, and a thread
 * hand-off that waits for a time slice on a loaded machine).
 */
export function sniffImageSize(b: Uint8Array): { format: 'png' | 'jpeg'; width: number; height: number } | undefined {
  const u16 = (i: number) => (b[i] << 8) | b[i + 1];
  const u32 = (i: number) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  if (b.length >= 24 && u32(0) === 0x89504e47 && u32(4) === 0x0d0a1a0a && u32(12) === 0x49484452) {
    const [width, height] = [u32(16), u32(20)];
    return width > 0 && height > 0 ? { format: 'png', width, height } : undefined;
  }
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const m = b[i + 1];
    if (m === 0xff) {
      i++; // fill byte
      continue;
    }
    if (JPEG_SOF.has(m)) {
      const [height, width] = [u16(i + 5), u16(i + 7)];
      // height 0 = defined later by a DNL marker: let libvips read it.
      return width > 0 && height > 0 ? { format: 'jpeg', width, height } : undefined;
    }
    if (m === 0xd8 || m === 0xd9 || m === 0xda || (m >= 0xd0 && m <= 0xd7) || m === 0x01) return undefined;
    i += 2 + u16(i + 2);
  }
  return undefined;
}

const decodeTimeoutSeconds = (limits: ImageLimits) => Math.max(1, Math.ceil((limits.decodeTimeoutMs ?? 10_000) / 1000));

/** The synchronous decoder of each sniffed format and the limit (pixels) up to which it is tried. */
const SYNC_DECODERS = {
  jpeg: { decode: decodeJpegSync, maxPixels: (l: ImageLimits) => l.syncJpegMaxPixels },
  png: { decode: decodePngSync, maxPixels: (l: ImageLimits) => l.syncPngMaxPixels },
} as const;

/** Validates and decodes to upright sRGB 8-bit RGB with alpha flattened on white. */
export async function decodeImage(bytes: Uint8Array, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<DecodedImage> {
  checkBytes(bytes, limits);
  const sniffed = sniffImageSize(bytes);
  if (sniffed) checkSize(sniffed.width, sniffed.height, limits);
  // Small JPEGs (wasm libjpeg-turbo, jpeg-sync.ts) and plain PNGs (zlib.inflateSync + unfilter,
  // png-sync.ts) decode synchronously here, no thread hand-off; undefined = sharp decides.
  if (sniffed) {
    const sync = SYNC_DECODERS[sniffed.format];
    const rgb = sync.decode(bytes, sniffed.width, sniffed.height, sync.maxPixels(limits));
    if (rgb) return { rgb, width: sniffed.width, height: sniffed.height, format: sniffed.format };
  }
  return decodeWithSharp(bytes, limits, sniffed ?? (await readImageHeader(bytes, limits)));
}

/** decodeImage's sharp path (every format and size; exported for the tests that compare it with the wasm path). */
export async function decodeWithSharp(bytes: Uint8Array, limits: ImageLimits, header: { format: ImageFormat }): Promise<DecodedImage> {
  let out: { data: Buffer; info: OutputInfo };
  try {
    // ignoreIcc: the HF processor's PIL convert('RGB') never applies an embedded profile; libvips
    // would transform e.g. Display P3 to sRGB (values off by up to 68), so pixels would differ from HF's.
    out = await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', page: 0, pages: 1, ignoreIcc: true })
      .timeout({ seconds: decodeTimeoutSeconds(limits) })
      .autoOrient()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/timeout/i.test(msg)) {
      const s = decodeTimeoutSeconds(limits);
      throw new TesseraError('INVALID_ARGUMENT', `image took longer than ${s} s to decode (the decode time limit)`, { field: FIELD, limit: `image decode time <= ${s} s` }, { cause: err });
    }
    if (/pixel limit/i.test(msg)) {
      throw new TesseraError('RESOURCE_EXHAUSTED', `image exceeds the pixel limit of ${limits.maxPixels}`, { field: FIELD, limit: `image pixels <= ${limits.maxPixels}` }, { cause: err });
    }
    throw new TesseraError('INVALID_ARGUMENT', `image could not be decoded (truncated or corrupt ${header.format})`, { field: FIELD }, { cause: err });
  }
  const { width, height, channels } = out.info;
  checkSize(width, height, limits);
  let rgb = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length);
  if (channels === 1) {
    const grey = rgb;
    rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < grey.length; i++) rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = grey[i];
  } else if (channels !== 3) {
    throw new TesseraError('INTERNAL', `decoder produced ${channels} channels, expected 3`);
  }
  return { rgb, width, height, format: header.format };
}
