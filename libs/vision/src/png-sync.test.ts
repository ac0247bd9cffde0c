import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, decodeWithSharp } from './decode-image.js';
import { DEFAULT_IMAGE_LIMITS } from './limits.js';
import { decodePngSync, SYNC_PNG_MAX_PIXELS } from './png-sync.js';

/** minSide 1: the 1-px-wide and 1-row fixtures below are valid PNGs; the size limits are not what is tested here. */
const LIMITS = { ...DEFAULT_IMAGE_LIMITS, minSide: 1, maxAspectRatio: 1000 };
const viaSharp = async (b: Uint8Array) => Buffer.from((await decodeWithSharp(b, LIMITS, { format: 'png' })).rgb);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** PIL's Image.open().convert('RGB') per file (fixtures/gen_png_fixtures.py, Pillow 9.4). */
const pil = JSON.parse(readFileSync(new URL('../fixtures/png-decode.python.json', import.meta.url), 'utf8')) as Record<string, { width: number; height: number; sha256: string }>;

function chunk(type: string, data: Uint8Array = new Uint8Array(0)): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/** Pseudo-random texture with smooth parts, so every filter sees non-trivial neighbours. */
function samples(n: number, seed = 1): Uint8Array {
  const s = new Uint8Array(n);
  for (let i = 0, r = seed; i < n; i++, r = (r * 1103515245 + 12345) >>> 0) s[i] = (i % 3 === 0 ? (i * 7) >> 4 : r >>> 24) & 255;
  return s;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** The scanlines of `px` (width × channels bytes per row), row y filtered with filterOf(y), as the PNG spec encodes them. */
function filtered(px: Uint8Array, stride: number, bpp: number, filterOf: (y: number) => number): Buffer {
  const height = px.length / stride;
  const out = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const f = filterOf(y);
    out[y * (stride + 1)] = f;
    for (let x = 0; x < stride; x++) {
      const cur = px[y * stride + x];
      const a = x >= bpp ? px[y * stride + x - bpp] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? px[(y - 1) * stride + x - bpp] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f];
      out[y * (stride + 1) + 1 + x] = (cur - pred) & 255;
    }
  }
  return out;
}

interface PngSpec {
  width: number;
  height: number;
  colourType?: 0 | 2 | 3;
  filterOf?: (y: number) => number;
  /** Split the compressed stream into IDAT chunks of this many bytes. */
  idatSize?: number;
  /** Chunks between IHDR and IDAT. */
  before?: Buffer[];
  palette?: Uint8Array;
}

/** A PNG written here (bit depth 8), with its pixels as packed RGB. */
function png(spec: PngSpec): { bytes: Uint8Array; rgb: Buffer } {
  const { width, height, colourType = 2, filterOf = (y) => y % 5, idatSize = 1 << 30, before = [] } = spec;
  const channels = colourType === 2 ? 3 : 1;
  const px = samples(width * height * channels, width + height);
  if (colourType === 3) for (let i = 0; i < px.length; i++) px[i] %= spec.palette!.length / 3;
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = colourType === 2 ? px[i * 3 + c] : colourType === 0 ? px[i] : spec.palette![px[i] * 3 + c];
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = colourType;
  const z = deflateSync(filtered(px, width * channels, channels, filterOf));
  const idat: Buffer[] = [];
  for (let i = 0; i < z.length; i += idatSize) idat.push(chunk('IDAT', z.subarray(i, i + idatSize)));
  const plte = colourType === 3 ? [chunk('PLTE', spec.palette)] : [];
  const bytes = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), ...before, ...plte, ...idat, chunk('IEND')]);
  return { bytes: new Uint8Array(bytes), rgb };
}

/** Decoded here, and equal to the sharp path's bytes and to the pixels written. */
async function expectSame(bytes: Uint8Array, width: number, height: number, rgb?: Buffer): Promise<void> {
  const here = decodePngSync(bytes, width, height);
  expect(here, 'decoded synchronously').toBeDefined();
  const theirs = await viaSharp(bytes);
  expect(Buffer.from(here!).equals(theirs), 'same bytes as decodeWithSharp').toBe(true);
  if (rgb) expect(theirs.equals(rgb), 'the pixels written').toBe(true);
}

const PALETTE = samples(200 * 3, 7);

describe('decodePngSync (small plain PNGs on the calling thread)', () => {
  const sizes = [
    [1, 1],
    [1, 9],
    [3, 1],
    [3, 7],
    [641, 1],
    [641, 6],
  ] as const;
  const filters = [0, 1, 2, 3, 4, -1]; // -1: row y uses filter y % 5

  for (const colourType of [2, 0, 3] as const) {
    it.each(sizes)(`colour type ${colourType}, %i×%i, each filter type and mixed: the sharp path's bytes`, async (width, height) => {
      for (const f of filters) {
        const { bytes, rgb } = png({ width, height, colourType, palette: PALETTE, filterOf: f < 0 ? (y) => y % 5 : () => f });
        await expectSame(bytes, width, height, rgb);
      }
    });
  }

  it('a stream split over many IDAT chunks (of 1, 7 and 100 bytes)', async () => {
    for (const idatSize of [1, 7, 100]) {
      const { bytes, rgb } = png({ width: 641, height: 6, idatSize });
      await expectSame(bytes, 641, 6, rgb);
    }
  });

  it('PNGs written by sharp (adaptive filtering, palette, grey): the bytes of the sharp path', async () => {
    const [w, h] = [641, 37];
    const raw = Buffer.from(samples(w * h * 3, 3));
    const img = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
    for (const options of [{ adaptiveFiltering: true }, { adaptiveFiltering: false, compressionLevel: 1 }, { palette: true, colours: 200 }, { palette: true, colours: 256, dither: 0 }]) {
      const bytes = new Uint8Array(await img.clone().png(options).toBuffer());
      await expectSame(bytes, w, h);
    }
    const grey = new Uint8Array(await img.clone().greyscale().png({ adaptiveFiltering: true }).toBuffer());
    await expectSame(grey, w, h);

  });

  it.each(Object.keys(pil))('%s (written by PIL, optimize=True): the sha256 of PIL\'s convert("RGB") bytes, and the bytes of the sharp path', async (name) => {
    const bytes = new Uint8Array(readFileSync(new URL(`../fixtures/png/${name}`, import.meta.url)));
    const { width, height, sha256 } = pil[name];
    await expectSame(bytes, width, height);
    expect(sha(decodePngSync(bytes, width, height)!)).toBe(sha256);
  });

  it('ignores gAMA, iCCP, cHRM, sRGB and text chunks, as the sharp path does (no gamma, ICC ignored)', async () => {
    // A real Display P3 profile, taken from sharp's output: applied, it would move values by up to ~68.
    const p3 = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#808080' } }).withIccProfile('p3').png().toBuffer();
    const at = p3.indexOf('iCCP') - 4;
    expect(at).toBeGreaterThan(0);
    const iccp = p3.subarray(at, at + 12 + p3.readUInt32BE(at));
    const gama = Buffer.alloc(4);
    gama.writeUInt32BE(20_000); // gamma 0.2: applied, it would change nearly every value
    const chrm = Buffer.alloc(32);
    chrm.writeUInt32BE(31270, 0);
    const before = [iccp, chunk('gAMA', gama), chunk('cHRM', chrm), chunk('tEXt', Buffer.from('Comment\0hello'))];
    for (const colourType of [2, 0] as const) {
      const { bytes, rgb } = png({ width: 64, height: 48, colourType, before });
      await expectSame(bytes, 64, 48, rgb);
    }
    const srgb = png({ width: 5, height: 4, before: [chunk('sRGB', Buffer.from([0])), chunk('gAMA', gama)] });
    await expectSame(srgb.bytes, 5, 4, srgb.rgb);
  });
});

describe('decodePngSync hands to sharp what it would not decode the same', () => {
  it('alpha, 16-bit, interlaced, tRNS, eXIf, EXIF text, bad CRC, bad zlib, trailing bytes, wrong size, bad palette index, over 4 MiB', async () => {
    const [w, h] = [33, 21];
    const raw = Buffer.from(samples(w * h * 4, 9));
    const rgba = sharp(raw, { raw: { width: w, height: h, channels: 4 } });
    const rgb = sharp(raw.subarray(0, w * h * 3), { raw: { width: w, height: h, channels: 3 } });
    const refused: Record<string, Uint8Array> = {
      rgba: await rgba.png().toBuffer(),
      '16-bit': await rgb.clone().toColourspace('rgb16').png().toBuffer(),
      interlaced: await rgb.clone().png({ progressive: true }).toBuffer(),
      tRNS: png({ width: w, height: h, before: [chunk('tRNS', Buffer.from([0, 1, 0, 2, 0, 3]))] }).bytes,
      eXIf: png({ width: w, height: h, before: [chunk('eXIf', Buffer.from('MM\0\x2a\0\0\0\x08\0\0', 'latin1'))] }).bytes,
      'EXIF text': png({ width: w, height: h, before: [chunk('zTXt', Buffer.concat([Buffer.from('Raw profile type exif\0\0'), deflateSync(Buffer.from('\nexif\n 0\n'))]))] }).bytes,
      'unknown critical chunk': png({ width: w, height: h, before: [chunk('ABCD', Buffer.from([1]))] }).bytes,
    };
    // 16-bit is what sharp wrote (a 16-bit sample PNG), interlaced likewise; check the headers say so.
    expect(refused['16-bit'][24]).toBe(16);
    expect(refused.interlaced[28]).toBe(1);

    const good = png({ width: w, height: h }).bytes;
    const idatData = Buffer.from(good).indexOf('IDAT') + 4;
    const badCrc = good.slice();
    badCrc[idatData + 10] ^= 1;
    refused['bad CRC'] = badCrc;
    // A valid chunk CRC over a corrupt zlib stream (adler32 mismatch).
    const badZlib = Buffer.from(good);
    const len = badZlib.readUInt32BE(idatData - 8);
    badZlib[idatData + len - 1] ^= 1;
    badZlib.writeUInt32BE(crc32(badZlib.subarray(idatData - 4, idatData + len)), idatData + len);
    refused['bad zlib'] = new Uint8Array(badZlib);
    refused['trailing bytes'] = new Uint8Array(Buffer.concat([good, Buffer.from([0])]));
    // A PLTE of 10 entries over pixels with indices up to 199.
    const indices = png({ width: w, height: h, colourType: 3, palette: PALETTE });
    const plte = Buffer.from(indices.bytes).indexOf('PLTE') - 4;
    refused['palette index out of range'] = new Uint8Array(Buffer.concat([Buffer.from(indices.bytes.subarray(0, plte)), chunk('PLTE', PALETTE.subarray(0, 30)), Buffer.from(indices.bytes.subarray(plte + 12 + PALETTE.length))]));

    for (const [name, bytes] of Object.entries(refused)) {
      expect(decodePngSync(new Uint8Array(bytes), w, h), name).toBeUndefined();
    }
    // The declared size must match IHDR (the caller passes what sniffImageSize read).
    expect(decodePngSync(good, w + 1, h)).toBeUndefined();
    // The limit is configuration (ImageLimits.syncPngMaxPixels, TESSERA_PREPROCESS_SYNC_PNG_MAX_PIXELS): 0 = sharp only.
    expect(decodePngSync(good, w, h, 0)).toBeUndefined();
    expect(decodePngSync(good, w, h)).toBeDefined();
    const big = png({ width: 1000, height: 501, filterOf: () => 0 });
    expect(1000 * 501).toBeGreaterThan(SYNC_PNG_MAX_PIXELS);
    expect(decodePngSync(big.bytes, 1000, 501)).toBeUndefined();
    expect(decodePngSync(big.bytes, 1000, 501, 1000 * 501)).toBeDefined();
    // Over 4 MiB (here a 5 MiB text chunk): sharp, whatever the pixel count.
    const padded = png({ width: w, height: h, before: [chunk('tEXt', Buffer.concat([Buffer.from('Comment\0'), Buffer.alloc(5 << 20, 0x61)]))] });
    expect(decodePngSync(padded.bytes, w, h, 1 << 30)).toBeUndefined();
    expect(Buffer.from((await decodeImage(padded.bytes, { ...LIMITS, maxBytes: 8 << 20 })).rgb).equals(padded.rgb)).toBe(true);

    // decodeImage: what is refused here goes to sharp and comes out as the sharp path gives it.
    for (const name of ['rgba', '16-bit', 'interlaced', 'tRNS', 'trailing bytes']) {
      const d = await decodeImage(refused[name], LIMITS);
      expect(Buffer.from(d.rgb).equals(await viaSharp(refused[name])), name).toBe(true);
    }
  });

  it('a truncated PNG: the sharp path\'s error, unchanged', async () => {
    const { bytes } = png({ width: 200, height: 100 });
    const truncated = bytes.subarray(0, bytes.length - 300);
    expect(decodePngSync(truncated, 200, 100)).toBeUndefined();
    const expected = await decodeWithSharp(truncated, DEFAULT_IMAGE_LIMITS, { format: 'png' }).catch((e: unknown) => e);
    expect(expected).toBeInstanceOf(Error);
    await expect(decodeImage(truncated)).rejects.toThrow((expected as Error).message);
    expect((expected as Error).message).toMatch(/truncated or corrupt png/);
  });

  it('decodeImage takes the synchronous path for a plain PNG, and sharp with syncPngMaxPixels 0: the same bytes', async () => {
    const { bytes, rgb } = png({ width: 640, height: 480 });
    expect(decodePngSync(bytes, 640, 480)).toBeDefined();
    const here = await decodeImage(bytes);
    const there = await decodeImage(bytes, { ...DEFAULT_IMAGE_LIMITS, syncPngMaxPixels: 0 });
    expect(Buffer.from(here.rgb).equals(rgb)).toBe(true);
    expect(Buffer.from(there.rgb).equals(rgb)).toBe(true);
    expect([here.width, here.height, here.format]).toEqual([640, 480, 'png']);
  });
});
