import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/errors';
import { DEFAULT_IMAGE_LIMITS } from './limits.js';
import { PreprocessPool } from './preprocess-pool.js';
import { DEFAULT_NORMALIZATION } from './preprocessor-config.js';
import { prepareImage } from './preprocess.js';

// Inline threshold 0: every image goes through a worker (the small test images would otherwise run inline).
const pool = new PreprocessPool(2, 0);
afterAll(() => pool.close());

const bytesOf = (p: Float32Array[]) => Buffer.concat(p.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength)));

const png = (w: number, h: number) => {
  const b = Buffer.alloc(w * h * 3);
  for (let i = 0; i < b.length; i++) b[i] = (i * 13) & 255;
  return sharp(b, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
};

describe('PreprocessPool', () => {
  it('gives the same plan and pixels as inline preprocessing, for concurrent images', async () => {
    const images = await Promise.all([png(500, 420), png(300, 200), png(700, 300)]);
    const got = await Promise.all(images.map((b) => pool.prepare(b, { maxSliceNums: 4 }, DEFAULT_IMAGE_LIMITS)));
    for (let i = 0; i < images.length; i++) {
      const want = await prepareImage(images[i], { maxSliceNums: 4 }, DEFAULT_IMAGE_LIMITS);
      expect(got[i].plan).toEqual(want.plan);
      expect(got[i].sha256).toBe(want.sha256);
      expect(got[i].images.length).toBe(want.images.length);
      for (let k = 0; k < want.images.length; k++) expect(Buffer.from(got[i].images[k].rgb).equals(Buffer.from(want.images[k].rgb))).toBe(true);
    }
  });

  it('can return normalised channel-first pixels instead of RGB', async () => {
    const img = await png(300, 200);
    const norm = { mean: [0.5, 0.5, 0.5] as [number, number, number], std: [0.5, 0.5, 0.5] as [number, number, number] };
    const got = await pool.prepare(img, {}, DEFAULT_IMAGE_LIMITS, norm);
    const inline = await new PreprocessPool(0).prepare(img, {}, DEFAULT_IMAGE_LIMITS, norm);
    expect(got.pixels).toHaveLength(1);
    expect(got.images[0].rgb.length).toBe(0);
    expect(Array.from(got.pixels![0].subarray(0, 50))).toEqual(Array.from(inline.pixels![0].subarray(0, 50)));
    expect(got.pixels![0].length).toBe(3 * got.plan.overview.width * got.plan.overview.height);
  });

  it('images up to inlineMaxPixels run on the caller thread, larger ones in a worker; same pixels either way', async () => {
    const norm = { mean: [0.5, 0.5, 0.5] as [number, number, number], std: [0.5, 0.5, 0.5] as [number, number, number] };
    const mixed = new PreprocessPool(1, 300 * 200);
    try {
      const [small, large] = await Promise.all([png(300, 200), png(301, 200)]);
      for (const img of [small, large]) {
        const got = await mixed.prepare(img, {}, DEFAULT_IMAGE_LIMITS, norm);
        const want = await new PreprocessPool(0).prepare(img, {}, DEFAULT_IMAGE_LIMITS, norm);
        expect(Buffer.from(got.pixels![0].buffer, got.pixels![0].byteOffset, got.pixels![0].byteLength).equals(Buffer.from(want.pixels![0].buffer, want.pixels![0].byteOffset, want.pixels![0].byteLength))).toBe(true);
        mixed.recycle(got.pixels);
        // A worker's block is transferred back to it (detached here); an inline block stays on this thread.
        expect(got.pixels![0].buffer.byteLength > 0).toBe(img === small);
      }
    } finally {
      await mixed.close();
    }
  });

  it('errors come back as TesseraErrors with code and limit; the pool keeps working', async () => {
    const err = await pool.prepare(new Uint8Array(0), {}, DEFAULT_IMAGE_LIMITS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', details: { limit: 'image bytes >= 1' } });
    const ok = await pool.prepare(await png(50, 40), {}, DEFAULT_IMAGE_LIMITS);
    expect(ok.images).toHaveLength(1);
  });

  it('one image at a time on the caller\'s thread: a second small one arriving meanwhile goes to a worker, with the same pixels', async () => {
    const mixed = new PreprocessPool(1, 300_000);
    try {
      await mixed.ready();
      const [a, b] = await Promise.all([png(640, 468), png(500, 420)]);
      const want = await Promise.all([a, b].map((img) => new PreprocessPool(0).prepare(img, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION)));
      const one = await mixed.prepare(a, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION);
      expect(mixed.stats).toEqual({ inline: 1, workers: 0 });
      const both = await Promise.all([mixed.prepare(a, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION), mixed.prepare(b, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION)]);
      expect(mixed.stats).toEqual({ inline: 2, workers: 1 });
      expect(bytesOf(one.pixels!).equals(bytesOf(want[0].pixels!))).toBe(true);
      expect(bytesOf(both[0].pixels!).equals(bytesOf(want[0].pixels!))).toBe(true);
      expect(bytesOf(both[1].pixels!).equals(bytesOf(want[1].pixels!))).toBe(true);
      // Once the first is done, the caller's thread takes the next one again.
      await mixed.prepare(b, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION);
      expect(mixed.stats).toEqual({ inline: 3, workers: 1 });
    } finally {
      await mixed.close();
    }
  });

  it('an image prepared on the caller\'s thread meets the same limits and errors: corrupt data, a header over the pixel limit', async () => {
    const mixed = new PreprocessPool(1, 300_000);
    try {
      const good = await png(200, 100);
      const corrupt = Uint8Array.from(good.subarray(0, 60));
      const errHere = await mixed.prepare(corrupt, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION).catch((e: unknown) => e);
      const errThere = await pool.prepare(corrupt, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION).catch((e: unknown) => e);
      expect(mixed.stats.inline).toBe(1);
      expect(errHere).toBeInstanceOf(TesseraError);
      expect(errHere).toMatchObject({ code: (errThere as TesseraError).code, message: (errThere as TesseraError).message });
      const over = await mixed.prepare(good, {}, { ...DEFAULT_IMAGE_LIMITS, maxPixels: 10_000 }, DEFAULT_NORMALIZATION).catch((e: unknown) => e);
      expect(over).toMatchObject({ code: 'RESOURCE_EXHAUSTED', details: { limit: 'image pixels <= 10000' } });
    } finally {
      await mixed.close();
    }
  });
});
