/**
 * MiniCPM-V 2.6 slicing (LLaVA-UHD style), the HF image processor's arithmetic reproduced exactly:
 * find_best_resize → `fit`, get_sliced_grid → `chooseGrid`, get_refine_size → `refineSize`,
 * split_to_patches → the row-major crop boxes. See shared/reference/minicpmv.md §2.
 */
import { pyInt, pyLog, pyRound } from './py-math.js';

export interface SliceOptions {
  /** Upper bound on slices per image (HF `max_slice_nums`, default 9). */
  maxSliceNums: number;
  /** Target slice side and overview area root (HF `scale_resolution`, 448). */
  scaleResolution: number;
  /** ViT patch size (14); every output side is a multiple of it. */
  patchSize: number;
  /** HF `never_split`; the HF processor never sets it, kept for completeness. */
  neverSplit: boolean;
  /**
   * Every overview/slice side is snapped to a multiple of this (default `patchSize`). MiniCPM-V 4.6
   * uses 4·patch = 56 px: two 2×2 merges follow the ViT (image_processing_minicpmv4_6 find_best_resize).
   */
  resizeUnit?: number;
  /**
   * MiniCPM-V 4.6 token mode (an image-processor kwarg in transformers): does not change the plan,
   * only how many tokens each crop becomes (family-slicing.ts `cropTokens`). Unset for 2.6.
   */
  downsampleMode?: '16x' | '4x';
}

export const DEFAULT_SLICE_OPTIONS: Readonly<SliceOptions> = Object.freeze({
  maxSliceNums: 9,
  scaleResolution: 448,
  patchSize: 14,
  neverSplit: false,
});

export interface Size {
  width: number;
  height: number;
}
export interface Grid {
  cols: number;
  rows: number;
}
export interface SliceBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface SlicePlan {
  /** The original image size the plan was made for. */
  source: Size;
  /** Overview (always present): the whole image resized to about scaleResolution² px. */
  overview: Size;
  /** [cols, rows]; null when the image is not split. */
  grid: Grid | null;
  /** Size the original is resized to before cutting slices; null when not split. */
  refine: Size | null;
  /** Crop boxes in the refine image, row-major (top-left first), as the prompt emits them. */
  slices: SliceBox[];
}

/** Number of images the vision tower sees for a plan: the overview plus every slice. */
export function imageCount(plan: SlicePlan): number {
  return 1 + plan.slices.length;
}

/** Visual tokens in the prompt: queryNum (64 for 2.6) per image. */
export function visualTokenCount(plan: SlicePlan, queryNum = 64): number {
  return queryNum * imageCount(plan);
}

/** `ensure_divide`: nearest multiple of `unit` (Python round, ties to even), at least `unit`. */
function snap(length: number, unit: number): number {
  return Math.max(pyRound(length / unit) * unit, unit);
}

/** `find_best_resize`: aspect-preserving fit to ~S² area, sides snapped to the patch size. */
function fit(width: number, height: number, o: SliceOptions, allowUpscale: boolean): Size {
  let w = width;
  let h = height;
  const s = o.scaleResolution;
  if (w * h > s * s || allowUpscale) {
    const r = w / h; // computed once; h' is truncated BEFORE it is multiplied (16×784 → 56 wide)
    h = pyInt(s / Math.sqrt(r));
    w = pyInt(h * r);
  }
  const unit = o.resizeUnit ?? o.patchSize;
  return { width: snap(w, unit), height: snap(h, unit) };
}

/** `get_sliced_grid`: the [cols, rows] whose aspect ratio is closest in log space; null = no split. */
export function chooseGrid(width: number, height: number, o: SliceOptions): Grid | null {
  const s = o.scaleResolution;
  const logRatio = pyLog(width / height);
  const multiple = Math.min(Math.ceil((width * height) / (s * s)), o.maxSliceNums);
  if (multiple <= 1 || o.neverSplit) return null;
  let best: Grid = { cols: 1, rows: 1 };
  let bestErr = Infinity;
  for (const n of [multiple - 1, multiple, multiple + 1]) {
    if (n === 1 || n > o.maxSliceNums) continue;
    for (let m = 1; m <= n; m++) {
      if (n % m !== 0) continue;
      // strict '<': on an exact tie the earlier candidate stays (449×449 → 1 col × 2 rows)
      const err = Math.abs(logRatio - pyLog(m / (n / m)));
      if (err < bestErr) {
        best = { cols: m, rows: n / m };
        bestErr = err;
      }
    }
  }
  return best;
}

/** `get_refine_size`: snap each side to the grid, fit one cell, multiply back. */
function refineSize(width: number, height: number, grid: Grid, o: SliceOptions): Size {
  const w = snap(width, grid.cols); // unit is cols/rows here, not the patch size
  const h = snap(height, grid.rows);
  const cell = fit(w / grid.cols, h / grid.rows, o, true);
  return { width: cell.width * grid.cols, height: cell.height * grid.rows };
}

/** The whole plan for one image of `width`×`height` pixels. */
export function planSlices(width: number, height: number, options: Partial<SliceOptions> = {}): SlicePlan {
  const o: SliceOptions = { ...DEFAULT_SLICE_OPTIONS, ...options };
  const source = { width, height };
  const grid = chooseGrid(width, height, o);
  if (!grid) return { source, overview: fit(width, height, o, true), grid: null, refine: null, slices: [] };
  const overview = fit(width, height, o, false);
  const refine = refineSize(width, height, grid, o);
  const sw = refine.width / grid.cols;
  const sh = refine.height / grid.rows;
  const slices: SliceBox[] = [];
  for (let r = 0; r < grid.rows; r++) {
    for (let c = 0; c < grid.cols; c++) slices.push({ x: c * sw, y: r * sh, width: sw, height: sh });
  }
  return { source, overview, grid, refine, slices };
}

/** The CLI / API JSON shape: {overview, grid|null, refine|null, slices, visualTokens}. */
export function slicePlanJson(plan: SlicePlan, queryNum = 64): {
  overview: Size;
  grid: Grid | null;
  refine: Size | null;
  slices: SliceBox[];
  visualTokens: number;
} {
  return {
    overview: { width: plan.overview.width, height: plan.overview.height },
    grid: plan.grid ? { cols: plan.grid.cols, rows: plan.grid.rows } : null,
    refine: plan.refine ? { width: plan.refine.width, height: plan.refine.height } : null,
    slices: plan.slices.map((s) => ({ x: s.x, y: s.y, width: s.width, height: s.height })),
    visualTokens: visualTokenCount(plan, queryNum),
  };
}
