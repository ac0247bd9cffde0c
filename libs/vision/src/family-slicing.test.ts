/**
 * MiniCPM-V 4.6 slicing: the 2.6 algorithm with sides snapped to 56 px and per-crop token counts
 * (H/56)(W/56) in 16x, (H/28)(W/28) in 4x. Expected plans are derived by hand from the rule in
 * shared/reference/minicpmv4x.md §2 (worked in the comments).
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_LIMITS } from './limits.js';
import { PreprocessPool } from './preprocess-pool.js';
import { DEFAULT_NORMALIZATION } from './preprocessor-config.js';
import { familySliceOptions, familySlicePlanJson, planTokens, resolveTokenMode } from './family-slicing.js';
import { imagePlaceholder } from './prompt-layout.js';
import { planSlices } from './slice-plan.js';

const plan46 = (w: number, h: number, maxSliceNums = 9) => planSlices(w, h, familySliceOptions('4.6', { maxSliceNums }));

describe('4.6 slice plans', () => {
  it('1344x896: 3x2 grid of 448² slices, overview 560x392 (547.5→560, 365→392 at 56 px)', () => {
    const p = plan46(1344, 896);
    expect(p.grid).toEqual({ cols: 3, rows: 2 });
    expect(p.overview).toEqual({ width: 560, height: 392 });
    expect(p.refine).toEqual({ width: 1344, height: 896 });
    expect(planTokens(p, '4.6', '16x')).toEqual([70, 64, 64, 64, 64, 64, 64]);
    expect(planTokens(p, '4.6', '4x')).toEqual([280, 256, 256, 256, 256, 256, 256]);
    // 2.6 snaps to 14 px: the same image gets a 546x364 overview.
    expect(planSlices(1344, 896).overview).toEqual({ width: 546, height: 364 });
  });

  it('4032x3024: 3x3 grid, cells 1344x1008 fit to 516x387 → 504x392; overview 504x392', () => {
    const p = plan46(4032, 3024);
    expect(p.grid).toEqual({ cols: 3, rows: 3 });
    expect(p.overview).toEqual({ width: 504, height: 392 });
    expect(p.refine).toEqual({ width: 1512, height: 1176 });
    expect(p.slices[4]).toEqual({ x: 504, y: 392, width: 504, height: 392 });
    const j16 = familySlicePlanJson(p, '4.6', '16x');
    expect(j16.visualTokens).toBe(63 * 10);
    expect(familySlicePlanJson(p, '4.6', '4x').visualTokens).toBe(252 * 10);
  });

  it('every side is a multiple of 56, also for tiny and extreme images', () => {
    for (const [w, h] of [[16, 784], [1, 1], [448, 449], [5000, 300], [300, 5000], [1000, 1000]]) {
      const p = plan46(w, h, 36);
      for (const s of [p.overview, ...p.slices]) {
        expect(s.width % 56).toBe(0);
        expect(s.height % 56).toBe(0);
      }
    }
  });

  it('the preprocess worker pool (the slicer path) cuts 4.6 crops at 56-px multiples', async () => {
    const pool = new PreprocessPool(1);
    try {
      const png = await sharp({ create: { width: 1344, height: 896, channels: 3, background: '#4080c0' } }).png().toBuffer();
      const r = await pool.prepare(png, familySliceOptions('4.6'), DEFAULT_IMAGE_LIMITS, DEFAULT_NORMALIZATION);
      expect(r.images.map((i) => [i.width, i.height])).toEqual([[560, 392], ...Array(6).fill([448, 448])]);
      expect(r.pixels![0].length).toBe(3 * 560 * 392);
    } finally {
      await pool.close();
    }
  });

  it('placeholder: <|image_pad|> per token, 2.6 layout of tags', () => {
    const p = plan46(1344, 896);
    const tokens = planTokens(p, '4.6', '16x');
    const ph = imagePlaceholder(p, { tokensPerImage: tokens, slotToken: '<|image_pad|>', imageIndex: 1 });
    expect(ph.visualTokens).toBe(70 + 6 * 64);
    const pad = (n: number) => '<|image_pad|>'.repeat(n);
    const slice = `<slice>${pad(64)}</slice>`;
    expect(ph.text).toBe(`<image_id>1</image_id><image>${pad(70)}</image>${slice.repeat(3)}\n${slice.repeat(3)}`);
    // 2.6 defaults are unchanged.
    expect(imagePlaceholder(planSlices(1344, 896)).visualTokens).toBe(64 * 7);
  });

  it('mode: 16x by default; a mode the family lacks → error naming downsample_mode', () => {
    expect(resolveTokenMode('4.6', undefined)).toBe('16x');
    expect(resolveTokenMode('4.6', '4x')).toBe('4x');
    expect(resolveTokenMode('2.6', undefined)).toBeNull();
    expect(() => resolveTokenMode('4.6', '8x')).toThrow(/downsample_mode "8x" is not available for MiniCPM-V 4.6/);
    expect(() => resolveTokenMode('2.6', '4x')).toThrow(/downsample_mode "4x" is not available for MiniCPM-V 2.6/);
  });
});
