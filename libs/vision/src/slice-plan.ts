/**
 * MiniCPM-V 2.6 slicing (LLaVA-UHD style), the HF image processor's arithmetic reproduced exactly:
 * find_best_resize → `fit`, get_sliced_grid → `chooseGrid`, get_refine_size → `refineSize`,
 * split_to_patches → the row-major crop boxes. See shared/reference/minicpmv.md §2.
 */
import { invalidArgument } from '@tessera/errors';
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

/**
 * A plan made elsewhere (the gateway plans once, from the image header at admission) checked before
 * it is cut, in O(slices) and without planning again: it must be for this image (`source`), use the
 * options' snap unit, tile its refine image row-major with 2..maxSliceNums cells, and keep every crop
 * within 4·(scaleResolution + unit)² pixels. The bound caps what the resize and the vision tower cost;
 * a plan from `planSlices` stays under it: a fitted crop is ≈ scaleResolution², and snapping a 200:1
 * strip's short side up to one unit is the worst case (≈ 3.5× at 224 px with 4.6's 56 px unit; a fuzz
 * test over both units checks it). A bad plan → INVALID_ARGUMENT naming the `plan.` field.
 */
export function checkSlicePlan(plan: SlicePlan, source: Size, options: SliceOptions): SlicePlan {
  const bad = (field: string, why: string) => invalidArgument(`plan.${field}`, `plan.${field}: ${why}`);
  if (plan.source.width !== source.width || plan.source.height !== source.height) {
    throw bad('source_size', `the plan is for a ${plan.source.width}x${plan.source.height} image, this image is ${source.width}x${source.height}`);
  }
  const unit = options.resizeUnit ?? options.patchSize;
  const maxArea = 4 * (options.scaleResolution + unit) ** 2;
  const crop = (field: string, s: Size) => {
    if (!(s.width >= unit && s.height >= unit && s.width % unit === 0 && s.height % unit === 0)) throw bad(field, `${s.width}x${s.height} is not a positive multiple of ${unit} px`);
    if (s.width * s.height > maxArea) throw bad(field, `${s.width}x${s.height} is over ${maxArea} px (4 x (scale_resolution + ${unit})^2)`);
  };
  crop('overview_size', plan.overview);
  const { grid, refine, slices } = plan;
  if (!grid) {
    if (refine || slices.length) throw bad('grid_cols', 'an unsliced plan has no refine_size and no slice_boxes');
    return plan;
  }
  const cells = grid.cols * grid.rows;
  if (!(Number.isInteger(grid.cols) && Number.isInteger(grid.rows) && grid.cols >= 1 && grid.rows >= 1 && cells >= 2 && cells <= options.maxSliceNums)) {
    throw bad('grid_cols', `a ${grid.cols}x${grid.rows} grid is not 2..${options.maxSliceNums} (max_slice_nums) cells`);
  }
  if (!refine || refine.width % grid.cols || refine.height % grid.rows) throw bad('refine_size', `must split into the ${grid.cols}x${grid.rows} grid`);
  const cell = { width: refine.width / grid.cols, height: refine.height / grid.rows };
  crop('slice_boxes', cell);
  if (slices.length !== cells) throw bad('slice_boxes', `${slices.length} boxes for a ${grid.cols}x${grid.rows} grid`);
  slices.forEach((b, i) => {
    const x = (i % grid.cols) * cell.width;
    const y = Math.floor(i / grid.cols) * cell.height;
    if (b.x !== x || b.y !== y || b.width !== cell.width || b.height !== cell.height) throw bad('slice_boxes', `box ${i} is not the row-major cell at (${x}, ${y}) of ${cell.width}x${cell.height}`);
  });
  return plan;
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
