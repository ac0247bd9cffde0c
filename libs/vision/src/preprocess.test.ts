import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/errors';
import { batchPatchStrips, toPatchStrip } from './patch-strip.js';
import { resizeBicubicRgb } from './pil-resize.js';
import { prepareImage, validateSliceOptions } from './preprocess.js';
import { parsePreprocessorConfig } from './preprocessor-config.js';

function gradientPng(w: number, h: number): Promise<Buffer> {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b.set([(x * 255) / w, (y * 255) / h, (x ^ y) & 255], (y * w + x) * 3);
  return sharp(b, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

describe('prepareImage', () => {
  it('each slice is exactly the crop of the refine-resized original; the overview is its own resize', async () => {
    const w = 1000;
    const h = 700;
    const png = await gradientPng(w, h);
    const p = await prepareImage(png);
    expect(p.plan.grid).toEqual({ cols: 2, rows: 2 });
    expect(p.images).toHaveLength(5);
    const original = (await sharp(png).raw().toBuffer({ resolveWithObject: true })).data;
    const o = p.plan.overview;
    expect(Buffer.from(p.images[0].rgb).equals(Buffer.from(resizeBicubicRgb(original, w, h, o.width, o.height)))).toBe(true);
    const r = p.plan.refine!;
    const refine = resizeBicubicRgb(original, w, h, r.width, r.height);
    p.plan.slices.forEach((box, k) => {
      const img = p.images[k + 1];
      expect([img.width, img.height]).toEqual([box.width, box.height]);
      for (const [x, y] of [[0, 0], [box.width - 1, 0], [0, box.height - 1], [box.width - 1, box.height - 1], [box.width >> 1, box.height >> 1]]) {
        const s = (y * box.width + x) * 3;
        const d = ((box.y + y) * r.width + box.x + x) * 3;
        expect(Array.from(img.rgb.subarray(s, s + 3)), `slice ${k} (${x},${y})`).toEqual(Array.from(refine.subarray(d, d + 3)));
      }
    });
    // row-major: slice 1 is top-right
    expect(p.plan.slices[1]).toMatchObject({ x: r.width / 2, y: 0 });
    expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('max_slice_nums 0 or above the limit → INVALID_ARGUMENT naming the limit', () => {
    for (const bad of [0, 37, 2.5]) {
      let err: unknown;
      try {
        validateSliceOptions({ maxSliceNums: bad });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TesseraError);
      expect((err as TesseraError).code).toBe('INVALID_ARGUMENT');
      expect((err as TesseraError).details.limit).toBe('1 <= max_slice_nums <= 36');
    }
    expect(validateSliceOptions({ maxSliceNums: 36 }).maxSliceNums).toBe(36);
  });
});

describe('patch strips (reshape_by_patch)', () => {
  it('patch (r,c) sits at columns [14p,14p+14) of a 14-high strip, normalised to [-1,1]', () => {
    const w = 42;
    const h = 28; // 2×3 patches
    const rgb = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([x * 6, y * 9, 255], (y * w + x) * 3);
    const norm = parsePreprocessorConfig({}).normalization;
    const s = toPatchStrip(rgb, w, h, norm);
    expect(s.patches).toBe(6);
    expect(s.tgtSize).toEqual([2, 3]);
    const stripW = 6 * 14;
    expect(s.data.length).toBe(3 * 14 * stripW);
    // pixel (x=17, y=20) is patch r=1, c=1 → p=4, row i=6, col j=3
    const at = (ch: number, i: number, col: number) => s.data[ch * 14 * stripW + i * stripW + col];
    expect(at(0, 6, 4 * 14 + 3)).toBeCloseTo((17 * 6) / 127.5 - 1, 6);
    expect(at(1, 6, 4 * 14 + 3)).toBeCloseTo((20 * 9) / 127.5 - 1, 6);
    expect(at(2, 0, 0)).toBe(1);
    expect(at(0, 0, 0)).toBe(-1);
  });

  it('batches with zero padding and a patch mask', () => {
    const norm = { mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
    const a = toPatchStrip(new Uint8Array(14 * 28 * 3).fill(255), 28, 14, norm); // 2 patches
    const b = toPatchStrip(new Uint8Array(14 * 14 * 3).fill(255), 14, 14, norm); // 1 patch
    const batch = batchPatchStrips([a, b]);
    expect(batch.maxPatches).toBe(2);
    expect(Array.from(batch.patchAttentionMask)).toEqual([1, 1, 1, 0]);
    const per = 3 * 14 * 28;
    expect(batch.pixelValues[per + 13]).toBe(1); // b, ch0, row0, col13: real
    expect(batch.pixelValues[per + 14]).toBe(0); // b, col14: padding
    expect(batch.pixelValues[27]).toBe(1);
  });

  it('reads mean/std and slicing keys from preprocessor_config.json', () => {
    const c = parsePreprocessorConfig({ norm_mean: [0.1, 0.2, 0.3], norm_std: [1, 2, 3], max_slice_nums: 4, image_feature_size: 96, use_image_id: false });
    expect(c).toMatchObject({ normalization: { mean: [0.1, 0.2, 0.3], std: [1, 2, 3] }, queryNum: 96, useImageId: false, slice: { maxSliceNums: 4, scaleResolution: 448 } });
  });
});

describe('plan ⇄ proto', () => {
  it('round-trips a sliced and an unsliced plan', async () => {
    const { planSlices } = await import('./slice-plan.js');
    const { slicePlanFromProto, slicePlanToProto } = await import('./plan-proto.js');
    for (const plan of [planSlices(1920, 1080), planSlices(300, 200)]) {
      const proto = slicePlanToProto(plan, 64, { maxSliceNums: 9, scaleResolution: 448, useImageId: true });
      expect(proto.visualTokenCount).toBe(64 * (1 + plan.slices.length));
      expect(slicePlanFromProto(proto)).toEqual(plan);
    }
  });
});
