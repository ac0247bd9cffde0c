import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/errors';
import { DEFAULT_IMAGE_LIMITS } from './limits.js';
import { PreprocessPool } from './preprocess-pool.js';
import { prepareImage } from './preprocess.js';

// Inline threshold 0: every image goes through a worker (the small test images would otherwise run inline).
const pool = new PreprocessPool(2, 0);
afterAll(() => pool.close());

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
});
