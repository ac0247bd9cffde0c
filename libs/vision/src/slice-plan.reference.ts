/**
 * TEST-ONLY: a second, literal transcription of the HF `image_processing_minicpmv.py` slicing
 * functions, written line by line against the Python (names kept), independent of slice-plan.ts.
 * Python semantics: round() → `python_round` (ties to even), int() → `python_int` (toward zero).
 * math.log here is V8's Math.log, which is fine for max_slice_nums <= 9 (minicpmv.md §2.3.4);
 * larger values are checked against the CPython fixture instead.
 */
function python_round(x: number): number {
  const nearest = Math.round(x); // JS: .5 goes up
  if (nearest - x === 0.5) {
    // exact tie: Python picks the even neighbour
    return nearest % 2 === 0 ? nearest : nearest - 1;
  }
  return nearest;
}
function python_int(x: number): number {
  return x < 0 ? Math.ceil(x) : Math.floor(x);
}

function ensure_divide(length: number, patch_size: number): number {
  return Math.max(python_round(length / patch_size) * patch_size, patch_size);
}

function find_best_resize(original_size: [number, number], scale_resolution: number, patch_size: number, allow_upscale = false): [number, number] {
  let [width, height] = original_size;
  if (width * height > scale_resolution * scale_resolution || allow_upscale) {
    const r = width / height;
    height = python_int(scale_resolution / Math.sqrt(r));
    width = python_int(height * r);
  }
  const best_width = ensure_divide(width, patch_size);
  const best_height = ensure_divide(height, patch_size);
  return [best_width, best_height];
}

function get_refine_size(original_size: [number, number], grid: [number, number], scale_resolution: number, patch_size: number, allow_upscale = false): [number, number] {
  const [width, height] = original_size;
  const [grid_x, grid_y] = grid;
  const refine_width = ensure_divide(width, grid_x);
  const refine_height = ensure_divide(height, grid_y);
  const grid_width = refine_width / grid_x;
  const grid_height = refine_height / grid_y;
  const best_grid_size = find_best_resize([grid_width, grid_height], scale_resolution, patch_size, allow_upscale);
  return [best_grid_size[0] * grid_x, best_grid_size[1] * grid_y];
}

function get_sliced_grid(image_size: [number, number], max_slice_nums: number, scale_resolution: number, never_split = false): [number, number] | null {
  const [original_width, original_height] = image_size;
  const log_ratio = Math.log(original_width / original_height);
  const ratio = (original_width * original_height) / (scale_resolution * scale_resolution);
  const multiple = Math.min(Math.ceil(ratio), max_slice_nums);
  if (multiple <= 1 || never_split) return null;
  const candidate_split_grids_nums: number[] = [];
  for (const i of [multiple - 1, multiple, multiple + 1]) {
    if (i === 1 || i > max_slice_nums) continue;
    candidate_split_grids_nums.push(i);
  }
  const candidate_grids: [number, number][] = [];
  for (const split_grids_nums of candidate_split_grids_nums) {
    let m = 1;
    while (m <= split_grids_nums) {
      if (split_grids_nums % m === 0) candidate_grids.push([m, Math.floor(split_grids_nums / m)]);
      m += 1;
    }
  }
  let best_grid: [number, number] = [1, 1];
  let min_error = Infinity;
  for (const grid of candidate_grids) {
    const error = Math.abs(log_ratio - Math.log(grid[0] / grid[1]));
    if (error < min_error) {
      best_grid = grid;
      min_error = error;
    }
  }
  return best_grid;
}

function split_to_patches(size: [number, number], grid: [number, number]): { x: number; y: number; width: number; height: number }[] {
  const [width, height] = size;
  const grid_x = python_int(width / grid[0]);
  const grid_y = python_int(height / grid[1]);
  const boxes = [];
  for (let i = 0; i < height; i += grid_y) {
    for (let j = 0; j < width; j += grid_x) boxes.push({ x: j, y: i, width: grid_x, height: grid_y });
  }
  return boxes;
}

/** slice_image(), returning sizes and boxes instead of PIL images, in the CLI JSON shape. */
export function referenceSlicePlan(w: number, h: number, max_slice_nums = 9, scale_resolution = 448, patch_size = 14) {
  const best_grid = get_sliced_grid([w, h], max_slice_nums, scale_resolution);
  if (best_grid === null) {
    const [ow, oh] = find_best_resize([w, h], scale_resolution, patch_size, true);
    return { overview: { width: ow, height: oh }, grid: null, refine: null, slices: [], visualTokens: 64 };
  }
  const [ow, oh] = find_best_resize([w, h], scale_resolution, patch_size);
  const refine_size = get_refine_size([w, h], best_grid, scale_resolution, patch_size, true);
  const slices = split_to_patches(refine_size, best_grid);
  return {
    overview: { width: ow, height: oh },
    grid: { cols: best_grid[0], rows: best_grid[1] },
    refine: { width: refine_size[0], height: refine_size[1] },
    slices,
    visualTokens: 64 * (1 + slices.length),
  };
}
