import { crc32 } from 'node:zlib';
import sharp, { type CreateRaw, type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/errors';
import { decodeImage, readImageHeader, sniffImageSize } from './decode-image.js';
import { DEFAULT_IMAGE_LIMITS } from './limits.js';

const raw = (w: number, h: number, channels: 1 | 3 | 4, f: (x: number, y: number, c: number) => number) => {
  const b = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < channels; c++) b[(y * w + x) * channels + c] = f(x, y, c);
  return sharp(b, { raw: { width: w, height: h, channels } });
};

async function rejects(p: Promise<unknown>): Promise<TesseraError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return e as TesseraError;
  }
  throw new Error('expected a rejection');
}

describe('decodeImage', () => {
  it('decodes PNG losslessly to packed RGB', async () => {
    const png = await raw(5, 3, 3, (x, y, c) => x * 40 + y * 7 + c).png().toBuffer();
    const d = await decodeImage(png);
    expect([d.width, d.height, d.format]).toEqual([5, 3, 'png']);
    expect(Array.from(d.rgb.subarray(0, 6))).toEqual([0, 1, 2, 40, 41, 42]);
    expect(d.rgb[(2 * 5 + 4) * 3 + 2]).toBe(4 * 40 + 14 + 2);
  });

  it.each([
    ['jpeg', (s: Sharp) => s.jpeg({ quality: 95 })],
    ['webp', (s: Sharp) => s.webp({ lossless: true })],
    ['gif', (s: Sharp) => s.gif()],
    ['tiff', (s: Sharp) => s.tiff()],
    ['heif', (s: Sharp) => s.avif({ quality: 90 })],
  ] as const)('decodes %s', async (format, enc) => {
    const bytes = await enc(raw(32, 24, 3, () => 128)).toBuffer();
    const d = await decodeImage(bytes);
    expect([d.width, d.height, d.format]).toEqual([32, 24, format]);
    expect(Math.abs(d.rgb[0] - 128)).toBeLessThanOrEqual(3);
  });

  it('applies EXIF orientation (6 = rotate 90° clockwise)', async () => {
    // 4×2, left half red, right half blue; rotated 90° cw → 2×4, top half red
    const jpg = await raw(4, 2, 3, (x, _y, c) => (x < 2 ? [255, 0, 0][c] : [0, 0, 255][c])).png().withMetadata({ orientation: 6 }).toBuffer();
    expect((await readImageHeader(jpg)).width).toBe(2);
    const d = await decodeImage(jpg);
    expect([d.width, d.height]).toEqual([2, 4]);
    expect(Array.from(d.rgb.subarray(0, 3))).toEqual([255, 0, 0]);
    expect(Array.from(d.rgb.subarray(d.rgb.length - 3))).toEqual([0, 0, 255]);
  });

  it('composites alpha on white', async () => {
    const png = await raw(2, 2, 4, (x, _y, c) => (c === 3 ? (x === 0 ? 0 : 255) : 0)).png().toBuffer();
    const d = await decodeImage(png);
    expect(Array.from(d.rgb.subarray(0, 6))).toEqual([255, 255, 255, 0, 0, 0]);
  });

  it('ignores an embedded ICC profile, as convert("RGB") in the HF processor (PIL) does', async () => {
    // Display P3 (every recent phone photo): libvips' default icc_transform to sRGB moved these
    // values by up to 68 (PNG) / 12 (JPEG) from PIL's — the stored values are what HF sees. The
    // profile chunk/segment is taken from a sharp-written P3 file and spliced into a plain one, so
    // the stored values stay the plain file's.
    const img = raw(16, 8, 3, (x, y, c) => (x * 37 + y * 11 + c * 90) & 255);
    const [png, p3png, jpeg, p3jpeg] = await Promise.all([img.clone().png().toBuffer(), img.clone().withIccProfile('p3').png().toBuffer(), img.clone().jpeg().toBuffer(), img.clone().withIccProfile('p3').jpeg().toBuffer()]);
    const iccp = p3png.indexOf('iCCP') - 4;
    const taggedPng = Buffer.concat([png.subarray(0, 33), p3png.subarray(iccp, iccp + 12 + p3png.readUInt32BE(iccp)), png.subarray(33)]);
    const app2 = p3jpeg.indexOf('ICC_PROFILE') - 4;
    const taggedJpeg = Buffer.concat([jpeg.subarray(0, 2), p3jpeg.subarray(app2, app2 + 2 + p3jpeg.readUInt16BE(app2 + 2)), jpeg.subarray(2)]);
    for (const tagged of [taggedPng, taggedJpeg]) expect((await sharp(tagged).metadata()).icc?.length).toBeGreaterThan(400);
    expect(Buffer.from((await decodeImage(taggedPng)).rgb).equals(await img.clone().raw().toBuffer())).toBe(true);
    expect(Buffer.from((await decodeImage(taggedJpeg)).rgb).equals(Buffer.from((await decodeImage(jpeg)).rgb))).toBe(true);
  });

  it('converts grayscale and CMYK to RGB', async () => {
    const grey = await raw(3, 2, 1, () => 77).png().toBuffer();
    expect(Array.from((await decodeImage(grey)).rgb.subarray(0, 3))).toEqual([77, 77, 77]);
    const cmyk = await raw(8, 8, 3, (_x, _y, c) => [200, 30, 30][c]).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const d = await decodeImage(cmyk);
    expect(d.rgb.length).toBe(8 * 8 * 3);
    expect(d.rgb[0]).toBeGreaterThan(150);
    expect(d.rgb[1]).toBeLessThan(90);
  });

  it('takes the first frame of an animated GIF', async () => {
    const frames = Buffer.concat([Buffer.alloc(4 * 4 * 3, 0), Buffer.alloc(4 * 4 * 3, 255)]);
    const gif = await sharp(frames, { raw: { width: 4, height: 8, channels: 3, pageHeight: 4 } as CreateRaw }).gif().toBuffer();
    const d = await decodeImage(gif);
    expect([d.width, d.height]).toEqual([4, 4]);
    expect(d.rgb[0]).toBe(0);
  });

  describe('bad input', () => {
    it('zero bytes', async () => {
      const e = await rejects(decodeImage(new Uint8Array(0)));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.details.limit).toBe('image bytes >= 1');
    });
    it('text that is not an image', async () => {
      const e = await rejects(decodeImage(new TextEncoder().encode('hello, I am not a picture')));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(/supported: jpeg/);
    });
    it('truncated JPEG', async () => {
      const jpg = await raw(64, 64, 3, (x, y) => (x * y) & 255).jpeg().toBuffer();
      const e = await rejects(decodeImage(jpg.subarray(0, Math.floor(jpg.length / 2))));
      expect(e.code).toBe('INVALID_ARGUMENT');
    });
    it('unsupported format (SVG)', async () => {
      const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
      const e = await rejects(decodeImage(svg));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(/"svg" is not supported/);
    });
    it('1×1 is below the minimum side', async () => {
      const e = await rejects(decodeImage(await raw(1, 1, 3, () => 0).png().toBuffer()));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.details.limit).toBe(`image side >= ${DEFAULT_IMAGE_LIMITS.minSide}`);
    });
    it('50000×10 exceeds the aspect-ratio limit', async () => {
      const e = await rejects(decodeImage(await sharp({ create: { width: 50000, height: 10, channels: 3, background: '#888' } }).png().toBuffer()));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.details.limit).toBe('image aspect ratio <= 200');
    });
    it('more pixels than the limit', async () => {
      const png = await raw(100, 100, 3, () => 1).png().toBuffer();
      const e = await rejects(decodeImage(png, { ...DEFAULT_IMAGE_LIMITS, maxPixels: 9999 }));
      expect(e.code).toBe('RESOURCE_EXHAUSTED');
      expect(e.details.limit).toBe('image pixels <= 9999');
    });
    it('more bytes than the limit', async () => {
      const png = await raw(100, 100, 3, (x, y) => (x * 31 + y * 17) & 255).png().toBuffer();
      const e = await rejects(decodeImage(png, { ...DEFAULT_IMAGE_LIMITS, maxBytes: 100 }));
      expect(e.code).toBe('RESOURCE_EXHAUSTED');
      expect(e.details.limit).toBe('image bytes <= 100');
    });
    it('decompression bomb: a small PNG declaring 30000×30000 is refused from its header', async () => {
      // A real bomb would carry 900 MP of zeros in a few hundred KiB of deflate; the header is what
      // matters, so take a small PNG and rewrite its IHDR size (with a valid CRC).
      const bomb = Buffer.from(await raw(16, 16, 1, () => 0).png().toBuffer());
      bomb.writeUInt32BE(30000, 16);
      bomb.writeUInt32BE(30000, 20);
      bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29);
      const e = await rejects(decodeImage(bomb));
      expect(e.code).toBe('RESOURCE_EXHAUSTED');
      expect(e.message).toMatch(/900000000 pixels/);
    });
  });
});

describe('sniffImageSize (PNG/JPEG header read in JS, so decodeImage skips a metadata call)', () => {
  it('agrees with sharp on PNG and baseline/progressive JPEG with EXIF and ICC segments before the frame header', async () => {
    const sizes: [number, number][] = [[1, 1], [640, 480], [333, 1001], [4000, 3]];
    for (const [w, h] of sizes) {
      const img = () => raw(w, h, 3, (x, y, c) => (x * 3 + y * 5 + c * 50) & 255);
      for (const bytes of [
        await img().png().toBuffer(),
        await img().jpeg().toBuffer(),
        await img().jpeg({ progressive: true, quality: 70 }).toBuffer(),
        await img().withMetadata({ orientation: 6 }).jpeg().toBuffer(),
        await img().keepIccProfile().jpeg({ mozjpeg: true }).toBuffer(),
      ]) {
        const meta = await sharp(bytes).metadata();
        expect(sniffImageSize(bytes)).toEqual({ format: meta.format, width: meta.width, height: meta.height });
      }
    }
  });

  it('leaves other formats and unusual bytes to sharp', async () => {
    const img = raw(8, 8, 3, () => 9);
    for (const bytes of [await img.clone().webp().toBuffer(), await img.clone().gif().toBuffer(), new TextEncoder().encode('not an image at all'), new Uint8Array([0xff, 0xd8, 0xff])]) {
      expect(sniffImageSize(bytes)).toBeUndefined();
    }
    const jpg = await img.clone().jpeg().toBuffer();
    expect(sniffImageSize(jpg.subarray(0, 20))).toBeUndefined(); // cut before the SOF marker
  });

  it('a JPEG declaring 30000×30000 is refused from its header, before decoding', async () => {
    const jpg = Buffer.from(await raw(16, 16, 3, () => 0).jpeg().toBuffer());
    let sof = 2;
    while (!(jpg[sof] === 0xff && jpg[sof + 1] === 0xc0)) sof += 2 + jpg.readUInt16BE(sof + 2);
    jpg.writeUInt16BE(30000, sof + 5);
    jpg.writeUInt16BE(30000, sof + 7);
    const e = await rejects(decodeImage(jpg));
    expect(e.code).toBe('RESOURCE_EXHAUSTED');
    expect(e.message).toMatch(/30000×30000 = 900000000 pixels/);
  });
});
