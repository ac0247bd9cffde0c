import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_LIMITS } from './limits.js';
import { recycledBlocks, recyclePixels, takePixelBlock } from './pixel-blocks.js';
import { PreprocessPool } from './preprocess-pool.js';
import { preparePixels } from './preprocess.js';

const norm = { mean: [0.48, 0.46, 0.41] as [number, number, number], std: [0.27, 0.26, 0.28] as [number, number, number] };
const png = (w: number, h: number, seed: number) => {
  const b = Buffer.alloc(w * h * 3);
  for (let i = 0; i < b.length; i++) b[i] = (i * 13 + seed * (i >> 7)) & 255;
  return sharp(b, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
};
const bytesOf = (pixels: Float32Array[]) => Buffer.concat(pixels.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));

describe('recycled pixel blocks', () => {
  it('an image written into a recycled (dirty) block has the same pixels as into fresh memory', async () => {
    const [big, small] = await Promise.all([png(1200, 900, 1), png(700, 500, 2)]);
    const fresh = await preparePixels(small, {}, DEFAULT_IMAGE_LIMITS, norm);
    const first = await preparePixels(big, {}, DEFAULT_IMAGE_LIMITS, norm);
    const block = first.pixels[0].buffer;
    expect(first.pixels.every((p) => p.buffer === block)).toBe(true);
    recyclePixels(first.pixels);
    const again = await preparePixels(small, {}, DEFAULT_IMAGE_LIMITS, norm);
    expect(again.pixels[0].buffer).toBe(block);
    expect(again.plan).toEqual(fresh.plan);
    expect(bytesOf(again.pixels).equals(bytesOf(fresh.pixels))).toBe(true);
  });

  it('keeps at most two blocks, the largest, and hands out the smallest that fits', () => {
    while (recycledBlocks() > 0) takePixelBlock(1);
    const blocks = [1000, 4000, 2000].map((n) => takePixelBlock(n));
    for (const b of blocks) recyclePixels([b]);
    expect(recycledBlocks()).toBe(2);
    expect(takePixelBlock(1500).buffer.byteLength).toBe(2000 * 4);
    expect(takePixelBlock(1500).buffer.byteLength).toBe(4000 * 4);
    expect(recycledBlocks()).toBe(0);
    // Pieces of different buffers are not one block: left to the garbage collector.
    recyclePixels([new Float32Array(4), new Float32Array(4)]);
    expect(recycledBlocks()).toBe(0);
  });

  it('through the pool: the block is transferred back to the worker and reused, pixels unchanged', async () => {
    const pool = new PreprocessPool(1, 0); // no inline threshold: the small image goes to the worker too
    try {
      await pool.ready(); // the worker's warm-up images would take a recycled block too
      const [big, small] = await Promise.all([png(1200, 900, 3), png(500, 400, 4)]);
      const want = await preparePixels(small, {}, DEFAULT_IMAGE_LIMITS, norm);
      const first = await pool.prepare(big, {}, DEFAULT_IMAGE_LIMITS, norm);
      const size = first.pixels![0].buffer.byteLength;
      pool.recycle(first.pixels);
      expect(first.pixels![0].buffer.byteLength).toBe(0); // detached: transferred, not copied
      const again = await pool.prepare(small, {}, DEFAULT_IMAGE_LIMITS, norm);
      // The small image came back in the big image's block: the worker reused it.
      expect(again.pixels![0].buffer.byteLength).toBe(size);
      expect(bytesOf(again.pixels!).equals(bytesOf(want.pixels))).toBe(true);
      // A buffer that did not come from the pool is never transferred (that would detach it).
      const foreign = new Float32Array(16);
      pool.recycle([foreign]);
      expect(foreign.buffer.byteLength).toBe(64);
    } finally {
      await pool.close();
    }
  });
});
