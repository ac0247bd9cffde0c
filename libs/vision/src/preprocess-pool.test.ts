import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/errors';
import { DEFAULT_IMAGE_LIMITS } from './limits.js';
import { recycledBlocks } from './pixel-blocks.js';
import { PreprocessPool } from './preprocess-pool.js';
import { DEFAULT_NORMALIZATION } from './preprocessor-config.js';
import { prepareImage } from './preprocess.js';

// Workers only: these images are small, and would otherwise run on this thread (see below).
const pool = new PreprocessPool(2, { inlineMaxPixels: 0 });
const mixed = new PreprocessPool(1, { inlineMaxPixels: 300_000 });
afterAll(() => Promise.all([pool.close(), mixed.close()]));

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

  it('errors come back as TesseraErrors with code and limit; the pool keeps working', async () => {
    const err = await pool.prepare(new Uint8Array(0), {}, DEFAULT_IMAGE_LIMITS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', details: { limit: 'image bytes >= 1' } });
    const ok = await pool.prepare(await png(50, 40), {}, DEFAULT_IMAGE_LIMITS);
    expect(ok.images).toHaveLength(1);
  });

  it('small images run on the caller\'s thread while it is free, with the workers\' pixels; a second one at once goes to a worker', async () => {
    await mixed.ready();
    const [small, other, large] = await Promise.all([png(640, 468), png(500, 420), png(700, 500)]);
    const before = { ...mixed.stats };
    const here = await mixed.prepare(small, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION);
    expect(mixed.stats).toEqual({ here: before.here + 1, workers: before.workers });
    const there = await pool.prepare(small, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION);
    expect(here.plan).toEqual(there.plan);
    expect(here.pixels).toHaveLength(there.pixels!.length);
    expect(bytesOf(here.pixels!).equals(bytesOf(there.pixels!))).toBe(true);
    // 350 000 pixels is over this pool's 300 000: a worker.
    await mixed.prepare(large, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION);
    expect(mixed.stats).toEqual({ here: before.here + 1, workers: before.workers + 1 });
    // Two at once: the first runs here, the second must not wait for it.
    const both = await Promise.all([mixed.prepare(small, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION), mixed.prepare(other, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION)]);
    expect(mixed.stats).toEqual({ here: before.here + 2, workers: before.workers + 2 });
    expect(bytesOf(both[0].pixels!).equals(bytesOf(there.pixels!))).toBe(true);
    // A block prepared here is recycled here (not transferred to a worker): the next image run here reuses it.
    mixed.recycle(here.pixels);
    expect(recycledBlocks()).toBeGreaterThan(0);
    const again = await mixed.prepare(small, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION);
    expect(again.pixels![0].buffer).toBe(here.pixels![0].buffer);
    expect(bytesOf(again.pixels!).equals(bytesOf(there.pixels!))).toBe(true);
  });

  it('the limits and errors are the same for an image run here: corrupt data, and a header over the pixel limit goes to a worker and is refused before decoding', async () => {
    const good = await png(200, 100);
    const corrupt = Uint8Array.from(good.subarray(0, 60));
    const limits = { ...DEFAULT_IMAGE_LIMITS, maxPixels: 10_000 };
    const errHere = await mixed.prepare(corrupt, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION).catch((e: unknown) => e);
    const errThere = await pool.prepare(corrupt, {}, DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION).catch((e: unknown) => e);
    expect(errHere).toBeInstanceOf(TesseraError);
    expect(errHere).toMatchObject({ code: (errThere as TesseraError).code, message: (errThere as TesseraError).message });
    const overHere = await mixed.prepare(good, {}, limits, DEFAULT_NORMALIZATION).catch((e: unknown) => e);
    expect(overHere).toMatchObject({ code: 'RESOURCE_EXHAUSTED', details: { limit: 'image pixels <= 10000' } });
  });
});
