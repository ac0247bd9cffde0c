/**
 * Small PNGs decoded synchronously on the calling thread (issue 19), as jpeg-sync.ts does for JPEGs:
 * chunks parsed and CRC-checked here, the IDAT stream inflated by zlib.inflateSync (native zlib, on
 * this thread), scanlines unfiltered in JS into packed RGB. Why: sharp's path crosses event loop →
 * libuv pool → libvips worker threads; after the threads slept (between requests) those wake-ups cost
 * about as much as the decode of a 0.3 MP PNG (bench/vision: ~13 ms wall vs ~10 ms best CPU).
 *
 * Only the plain case is taken: bit depth 8, not interlaced, colour type 2 (RGB), 0 (grey, replicated
 * to RGB as decodeWithSharp does) or 3 (palette without tRNS). Chunks that could make sharp's pixels
 * differ send the file to sharp: tRNS (alpha → flattened on white), eXIf or a text chunk naming EXIF
 * (sharp applies EXIF orientation), APNG frames, unknown critical chunks. Colour chunks (gAMA, cHRM,
 * sRGB, iCCP) are ignored as in sharp's path (ignoreIcc, no gamma applied; tested). Any CRC, zlib or
 * structure error, bytes after IEND, or a pixel stream of the wrong length also go to sharp, which
 * accepts or refuses exactly as before.
 */
import { crc32, inflateSync } from 'node:zlib';

/** Default largest PNG (pixels, from IHDR) decoded here (ImageLimits.syncPngMaxPixels), as for JPEGs. */
export const SYNC_PNG_MAX_PIXELS = 500_000;
/** Larger files go to sharp: 0.5 MP is ≤ 1.5 MB of samples, so more is metadata (CRC'd here on the caller's thread) or padding. */
const SYNC_PNG_MAX_BYTES = 4 << 20;

const IHDR = 0x49484452;
const PLTE = 0x504c5445;
const IDAT = 0x49444154;
const IEND = 0x49454e44;
/** Ancillary chunks that change what sharp's path returns: alpha, EXIF orientation, APNG. */
const REFUSED = new Set(['tRNS', 'eXIf', 'acTL', 'fcTL', 'fdAT']);
const TEXT = new Set(['tEXt', 'zTXt', 'iTXt']);

/**
 * Packed RGB of a PNG whose IHDR size (checked against the limits by the caller) is `width`×`height`,
 * or undefined: then decode with sharp (see the file comment). Larger than `maxPixels`: undefined.
 */
export function decodePngSync(bytes: Uint8Array, width: number, height: number, maxPixels = SYNC_PNG_MAX_PIXELS): Uint8Array | undefined {
  if (width * height > maxPixels || bytes.length > SYNC_PNG_MAX_BYTES || typeof crc32 !== 'function') return undefined;
  const b = bytes;
  const u32 = (i: number) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  if (b.length < 8 || u32(0) !== 0x89504e47 || u32(4) !== 0x0d0a1a0a) return undefined;
  let colourType = -1;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let idatDone = false;
  let i = 8;
  for (;;) {
    if (i + 12 > b.length) return undefined; // truncated, or no IEND
    const len = u32(i);
    const type = u32(i + 4);
    const end = i + 8 + len;
    if (len > 0x7fffffff || end + 4 > b.length) return undefined;
    if (crc32(b.subarray(i + 4, end)) !== u32(end)) return undefined;
    const data = b.subarray(i + 8, end);
    const name = String.fromCharCode(b[i + 4], b[i + 5], b[i + 6], b[i + 7]);
    const critical = !(b[i + 4] & 0x20); // lower-case first letter: ancillary
    const first = i === 8;
    i = end + 4;
    if (first !== (type === IHDR)) return undefined; // IHDR first, exactly once
    if (type === IHDR) {
      // bit depth 8, compression 0, filter 0, interlace 0
      if (len !== 13 || u32(end - 13) !== width || u32(end - 9) !== height) return undefined;
      if (data[8] !== 8 || data[10] !== 0 || data[11] !== 0 || data[12] !== 0) return undefined;
      colourType = data[9];
      if (colourType !== 0 && colourType !== 2 && colourType !== 3) return undefined;
    } else if (type === IEND) {
      if (len !== 0 || i !== b.length) return undefined; // trailing bytes: sharp decides
      break;
    } else if (type === IDAT) {
      if (idatDone) return undefined; // IDAT chunks must be consecutive
      idat.push(data);
    } else {
      if (idat.length > 0) idatDone = true;
      if (type === PLTE) {
        if (palette || idat.length > 0 || colourType === 0 || len === 0 || len % 3 !== 0 || len > 768) return undefined;
        palette = data;
      } else if (critical || REFUSED.has(name)) {
        return undefined; // an unknown critical chunk, or one that changes sharp's pixels
      } else if (TEXT.has(name) && /exif/i.test(keyword(data))) {
        return undefined; // e.g. ImageMagick's "Raw profile type exif"
      }
    }
  }
  if (idat.length === 0 || (colourType === 3 && !palette)) return undefined;
  const channels = colourType === 2 ? 3 : 1;
  const stride = width * channels;
  const expected = height * (stride + 1);
  let raw: Buffer;
  try {
    // maxOutputLength: a stream that inflates past the expected size throws (and is not inflated further).
    // chunkSize: one output buffer, not 64 KiB pieces concatenated (0.3 MP: 0.9 vs 2.3 ms per inflate).
    raw = inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat), { maxOutputLength: expected + 1, chunkSize: Math.max(64, expected + 1) });
  } catch {
    return undefined;
  }
  if (raw.length !== expected) return undefined;
  if (!unfilter(raw, stride, height, channels)) return undefined;
  const rgb = new Uint8Array(width * height * 3);
  if (colourType === 2) {
    for (let y = 0; y < height; y++) rgb.set(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  } else if (colourType === 0) {
    for (let y = 0, o = 0; y < height; y++) {
      for (let s = y * (stride + 1) + 1, e = s + width; s < e; s++, o += 3) rgb[o] = rgb[o + 1] = rgb[o + 2] = raw[s];
    }
  } else {
    const p = palette!;
    const entries = p.length / 3;
    for (let y = 0, o = 0; y < height; y++) {
      for (let s = y * (stride + 1) + 1, e = s + width; s < e; s++, o += 3) {
        const k = raw[s];
        if (k >= entries) return undefined; // out-of-range index: sharp decides
        rgb[o] = p[k * 3];
        rgb[o + 1] = p[k * 3 + 1];
        rgb[o + 2] = p[k * 3 + 2];
      }
    }
  }
  return rgb;
}

/** A text chunk's keyword (Latin-1, up to the first NUL). */
function keyword(data: Uint8Array): string {
  const n = data.indexOf(0);
  return String.fromCharCode(...data.subarray(0, n < 0 ? Math.min(data.length, 79) : Math.min(n, 79)));
}

/**
 * Undoes the PNG scanline filters in place: rows of 1 filter byte + `stride` bytes, `bpp` bytes per
 * pixel (bit depth 8). False on a filter type other than 0–4. One small function per filter: with
 * all of them in one loop body V8 kept deoptimising it as rows switched filter (a 0.3 MP adaptive-filtered
 * PNG: ~20 ms per decode for 30 decodes, 3.5 ms only in between).
 */
function unfilter(raw: Uint8Array, stride: number, height: number, bpp: number): boolean {
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1) + 1;
    const end = row + stride;
    const f = raw[row - 1];
    // On the first row the row above is zeros: Up is None, Paeth is Sub, Average halves the left byte only.
    if (f === 1 || (f === 4 && y === 0)) sub(raw, row, end, bpp);
    else if (f === 2 && y > 0) up(raw, row, end, stride + 1);
    else if (f === 3) average(raw, row, end, bpp, y === 0 ? 0 : stride + 1);
    else if (f === 4) paeth(raw, row, end, bpp, stride + 1);
    else if (f > 4) return false;
  }
  return true;
}

function sub(raw: Uint8Array, row: number, end: number, bpp: number): void {
  for (let x = row + bpp; x < end; x++) raw[x] = (raw[x] + raw[x - bpp]) & 255;
}

/** `d`: the distance to the byte above (stride + 1). */
function up(raw: Uint8Array, row: number, end: number, d: number): void {
  for (let x = row; x < end; x++) raw[x] = (raw[x] + raw[x - d]) & 255;
}

/** `d`: the distance to the byte above, 0 on the first row (no row above: its bytes count as 0). */
function average(raw: Uint8Array, row: number, end: number, bpp: number, d: number): void {
  if (d === 0) {
    for (let x = row + bpp; x < end; x++) raw[x] = (raw[x] + (raw[x - bpp] >> 1)) & 255;
    return;
  }
  for (let x = row; x < row + bpp; x++) raw[x] = (raw[x] + (raw[x - d] >> 1)) & 255;
  for (let x = row + bpp; x < end; x++) raw[x] = (raw[x] + ((raw[x - bpp] + raw[x - d]) >> 1)) & 255;
}

function paeth(raw: Uint8Array, row: number, end: number, bpp: number, d: number): void {
  for (let x = row; x < row + bpp; x++) raw[x] = (raw[x] + raw[x - d]) & 255;
  for (let x = row + bpp; x < end; x++) {
    const a = raw[x - bpp];
    const b = raw[x - d];
    const c = raw[x - d - bpp];
    const pa = Math.abs(b - c); // |p - a| with p = a + b - c
    const pb = Math.abs(a - c);
    const pc = Math.abs(a + b - c - c);
    raw[x] = (raw[x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
  }
}
