/**
 * Issue 19: the faster preprocessing (WebAssembly resize shared with a helper thread, normalising
 * straight from the resizer's memory) must give exactly the float32 pixels of the previous
 * implementation (oracle/preprocess-v1.ts) on a 12 MP JPEG and a 16-bit PNG. Decoding is the same
 * sharp call in both (decode-image.ts).
 */
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from './decode-image.js';
import { DEFAULT_IMAGE_LIMITS } from './limits.js';
import { sliceDecodedV1, toChannelFirstV1 } from './oracle/preprocess-v1.js';
import { DEFAULT_NORMALIZATION } from './preprocessor-config.js';
import { threadResizer } from './pil-resize.js';
import { prepareImage, preparePixels } from './preprocess.js';

const limits = { ...DEFAULT_IMAGE_LIMITS, maxBytes: 64 * 1024 * 1024 };
const norm = { mean: [0.48, 0.46, 0.41] as [number, number, number], std: [0.27, 0.26, 0.28] as [number, number, number] };

async function expectSameAsOracle(bytes: Buffer): Promise<number> {
  const got = await preparePixels(bytes, {}, limits, norm);
  const decoded = await decodeImage(bytes, limits);
  const want = sliceDecodedV1(decoded, got.plan).map((im) => toChannelFirstV1(im.rgb, im.width, im.height, norm));
  expect(got.pixels.length).toBe(want.length);
  got.pixels.forEach((p, k) => {
    expect([got.images[k].width, got.images[k].height]).toEqual([want[k].length / 3 / got.images[k].height, got.images[k].height]);
    // Bitwise: compares the float32 bytes, so -0/+0 or NaN differences would show too.
    expect(Buffer.from(p.buffer, p.byteOffset, p.byteLength).equals(Buffer.from(want[k].buffer)), `piece ${k}`).toBe(true);
  });
  return got.pixels.length;
}

describe('preprocessing equals the previous implementation bit for bit', () => {
  // The service path's resizer, with its helper thread running, so the split passes are what is compared.
  const parallel = availableParallelism() > 1;
  let chunksBefore = 0;
  beforeAll(async () => {
    threadResizer().helperPolicy = 'always'; // not 'auto': the test machine's load must not turn it off
    expect(await threadResizer().helperStarted()).toBe(parallel);
    chunksBefore = threadResizer().helperChunks();
  });
  afterAll(() => {
    threadResizer().helperPolicy = 'auto';
    if (parallel) expect(threadResizer().helperChunks()).toBeGreaterThan(chunksBefore);
  });

  it('12 MP JPEG (4000×3000): overview + 9 slices', async () => {
    const [w, h] = [4000, 3000];
    const raw = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 3;
        raw[i] = 128 + 100 * Math.sin(x * 0.013) * Math.cos(y * 0.021) + ((x * y) & 15);
        raw[i + 1] = (x * 255) / w;
        raw[i + 2] = ((x ^ y) & 255);
      }
    }
    const jpg = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    expect(await expectSameAsOracle(jpg)).toBe(10);
  }, 120_000);

  it('16-bit RGB PNG (1500×1000)', async () => {
    const [w, h] = [1500, 1000];
    const raw = new Uint16Array(w * h * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 16;
    const png = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(png).metadata()).depth).toBe('ushort');
    expect(await expectSameAsOracle(png)).toBeGreaterThan(1);
  }, 60_000);

  it('the RGB path (prepareImage) equals the oracle crops byte for byte', async () => {
    const [w, h] = [1000, 700];
    const raw = Buffer.alloc(w * h * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + (i >> 9)) & 255;
    const png = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    const got = await prepareImage(png, {}, limits);
    const want = sliceDecodedV1(await decodeImage(png, limits), got.plan);
    expect(got.images.map((im) => Buffer.from(im.rgb).equals(Buffer.from(want.shift()!.rgb)))).toEqual(got.images.map(() => true));
    const pixels = await preparePixels(png, {}, limits, DEFAULT_NORMALIZATION);
    const p0 = pixels.pixels[0];
    expect(Buffer.from(p0.buffer, p0.byteOffset, p0.byteLength).equals(Buffer.from(toChannelFirstV1(got.images[0].rgb, got.images[0].width, got.images[0].height, DEFAULT_NORMALIZATION).buffer))).toBe(true);
  });
});
