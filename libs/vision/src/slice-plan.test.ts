import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pyLog, pyRound } from './py-math.js';
import type { TesseraError } from '@tessera/errors';
import { checkSlicePlan, DEFAULT_SLICE_OPTIONS, planSlices, slicePlanJson } from './slice-plan.js';
import { referenceSlicePlan } from './slice-plan.reference.js';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/slice-plans.python.json', import.meta.url), 'utf8')) as {
  cases: { width: number; height: number; maxSliceNums: number; plan: unknown }[];
  logs: [number, number][];
};

// Named sizes from issue 4: tiny, exactly 448², just over the threshold, strips, phones, A4 scans.
const NAMED: [string, number, number][] = [
  ['1x1', 1, 1],
  ['tiny 28²', 28, 28],
  ['tiny 100x50', 100, 50],
  ['icon 64²', 64, 64],
  ['exactly 448²', 448, 448],
  ['448x449 (just over)', 448, 449],
  ['449x448 (just over)', 449, 448],
  ['449²', 449, 449],
  ['one pixel over 448² area', 200705, 1],
  ['896x224', 896, 224],
  ['20:1 strip 8960x448', 8960, 448],
  ['1:20 strip 448x8960', 448, 8960],
  ['20:1 strip 2000x100', 2000, 100],
  ['1:20 strip 100x2000', 100, 2000],
  ['50000x10', 50000, 10],
  ['20000x10', 20000, 10],
  ['16x784 truncation', 16, 784],
  ['phone portrait 3024x4032', 3024, 4032],
  ['phone landscape 4032x3024', 4032, 3024],
  ['phone portrait 1080x1920', 1080, 1920],
  ['phone landscape 1920x1080', 1920, 1080],
  ['phone portrait 1170x2532', 1170, 2532],
  ['phone landscape 2532x1170', 2532, 1170],
  ['phone 12MP 4000x3000', 4000, 3000],
  ['A4 200dpi portrait 1654x2339', 1654, 2339],
  ['A4 200dpi landscape 2339x1654', 2339, 1654],
  ['A4 300dpi portrait 2480x3508', 2480, 3508],
  ['A4 300dpi landscape 3508x2480', 3508, 2480],
  ['1002² (2x3 tie)', 1002, 1002],
  ['1001x999 odd with even grid', 1001, 999],
  ['1024x768', 1024, 768],
  ['640x300 area < 448²', 640, 300],
  ['14k+7 tie 35x35', 35, 35],
  ['VGA 640x480', 640, 480],
  ['1344² (9 slices)', 1344, 1344],
];

describe('planSlices vs the literal transcription', () => {
  it.each(NAMED)('%s', (_name, w, h) => {
    expect(slicePlanJson(planSlices(w, h))).toEqual(referenceSlicePlan(w, h));
  });

  it('agrees on a sweep of 2000 sizes with max_slice_nums 1..9', () => {
    let n = 0;
    for (let w = 7; w < 6000; w += 397) {
      for (let h = 5; h < 6000; h += 211) {
        const m = 1 + ((w + h) % 9);
        expect(slicePlanJson(planSlices(w, h, { maxSliceNums: m })), `${w}x${h}@${m}`).toEqual(referenceSlicePlan(w, h, m));
        n++;
      }
    }
    expect(n).toBeGreaterThan(400);
  });
});

describe('planSlices vs CPython (fixture from fixtures/gen_slice_plans.py)', () => {
  it(`matches all ${fixture.cases.length} cases, including max_slice_nums 16 and 36`, () => {
    expect(fixture.cases.length).toBeGreaterThan(1000);
    for (const c of fixture.cases) {
      expect(slicePlanJson(planSlices(c.width, c.height, { maxSliceNums: c.maxSliceNums })), `${c.width}x${c.height}@${c.maxSliceNums}`).toEqual(c.plan);
    }
  });

  it('pyLog equals glibc math.log bit for bit', () => {
    for (const [x, y] of fixture.logs) expect(pyLog(x), String(x)).toBe(y);
  });
});

describe('worked examples from minicpmv.md', () => {
  it('§2.4 table', () => {
    expect(slicePlanJson(planSlices(1920, 1080))).toMatchObject({ overview: { width: 602, height: 336 }, grid: { cols: 4, rows: 2 }, refine: { width: 1680, height: 952 }, visualTokens: 576 });
    expect(slicePlanJson(planSlices(1080, 1920))).toMatchObject({ overview: { width: 336, height: 602 }, grid: { cols: 2, rows: 4 }, refine: { width: 952, height: 1680 } });
    const a4 = planSlices(2480, 3508);
    expect(a4).toMatchObject({ overview: { width: 378, height: 532 }, grid: { cols: 2, rows: 4 }, refine: { width: 1064, height: 1512 } });
    expect(a4.slices[0]).toEqual({ x: 0, y: 0, width: 532, height: 378 });
    expect(a4.slices[7]).toEqual({ x: 532, y: 1134, width: 532, height: 378 });
  });

  it('§2.3 rounding and floating-point traps', () => {
    expect(planSlices(100, 50).overview).toEqual({ width: 630, height: 322 });
    expect(planSlices(28, 28).overview).toEqual({ width: 448, height: 448 });
    expect(planSlices(16, 784).overview).toEqual({ width: 56, height: 3136 }); // 63.99999999999999 → 63
    expect(planSlices(20000, 10)).toMatchObject({ overview: { width: 20006, height: 14 }, grid: null });
    expect(planSlices(250000, 1).overview).toEqual({ width: 14, height: 14 });
    expect(planSlices(449, 449).grid).toEqual({ cols: 1, rows: 2 });
    expect(planSlices(1002, 1002).grid).toEqual({ cols: 3, rows: 2 });
    expect(planSlices(2124, 1062, { maxSliceNums: 16 }).grid).toEqual({ cols: 4, rows: 3 });
    expect(planSlices(3255, 1085, { maxSliceNums: 36 }).grid).toEqual({ cols: 9, rows: 2 });
    expect(planSlices(640, 300)).toMatchObject({ overview: { width: 658, height: 308 }, grid: null });
    expect(pyRound(2.5)).toBe(2);
    expect(pyRound(500.5)).toBe(500);
    expect(pyRound(3.5)).toBe(4);
  });

  it('max_slice_nums 1 never splits but still rescales', () => {
    expect(planSlices(4000, 3000, { maxSliceNums: 1 })).toMatchObject({ grid: null, overview: { width: 518, height: 392 } });
  });
});

describe('checkSlicePlan: a plan made elsewhere is checked in O(slices), not made again', () => {
  const o26 = { ...DEFAULT_SLICE_OPTIONS };
  const o46 = { ...DEFAULT_SLICE_OPTIONS, resizeUnit: 56 };
  const field = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as TesseraError).details?.field;
    }
    return 'accepted';
  };

  it('accepts every plan planSlices makes (both snap units, 2..200:1, 224..1344, 1..36 slices)', () => {
    let n = 0;
    for (const o of [o26, o46]) {
      for (const scaleResolution of [224, 448, 1344]) {
        for (const maxSliceNums of [1, 9, 36]) {
          for (let w = 2; w <= 9000; w = Math.ceil(w * 1.37) + 1) {
            for (const ratio of [1, 1.5, 3, 17, 199]) {
              for (const [width, height] of [
                [w, Math.max(2, Math.round(w / ratio))],
                [Math.max(2, Math.round(w / ratio)), w],
              ]) {
                const opts = { ...o, scaleResolution, maxSliceNums };
                const plan = planSlices(width, height, opts);
                expect(checkSlicePlan(plan, { width, height }, opts)).toBe(plan);
                n++;
              }
            }
          }
        }
      }
    }
    expect(n).toBeGreaterThan(1000);
  });

  it('refuses a plan for another image, off the snap unit, over the crop bound or not tiling its grid, naming the field', () => {
    const good = planSlices(1920, 1080, o26);
    expect(field(() => checkSlicePlan(good, { width: 1080, height: 1920 }, o26))).toBe('plan.source_size');
    expect(field(() => checkSlicePlan({ ...good, overview: { width: 600, height: 336 } }, good.source, o26))).toBe('plan.overview_size');
    expect(field(() => checkSlicePlan(good, good.source, o46))).toBe('plan.overview_size'); // 602 px is not a multiple of 56
    expect(field(() => checkSlicePlan({ ...good, overview: { width: 14 * 70, height: 14 * 70 } }, good.source, o26))).toBe('plan.overview_size');
    expect(field(() => checkSlicePlan(good, good.source, { ...o26, maxSliceNums: 4 }))).toBe('plan.grid_cols'); // 4x2 = 8 cells
    expect(field(() => checkSlicePlan({ ...good, slices: good.slices.slice(1) }, good.source, o26))).toBe('plan.slice_boxes');
    expect(field(() => checkSlicePlan({ ...good, slices: [...good.slices].reverse() }, good.source, o26))).toBe('plan.slice_boxes');
    const huge = { ...good, refine: { width: 4 * 14 * 100, height: 2 * 14 * 100 } };
    expect(field(() => checkSlicePlan(huge, good.source, o26))).toBe('plan.slice_boxes');
    expect(field(() => checkSlicePlan({ ...good, grid: null }, good.source, o26))).toBe('plan.grid_cols');
    // A different but well-formed grid is the caller's choice: accepted as is.
    const other = planSlices(1920, 1080, { ...o26, maxSliceNums: 4 });
    expect(field(() => checkSlicePlan(other, good.source, o26))).toBe('accepted');
  });
});
