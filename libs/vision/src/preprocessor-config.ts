/**
 * The parts of a MiniCPM-V `preprocessor_config.json` the vision path uses. 2.6 ships
 * `norm_mean`/`norm_std` (0.5 each, x ∈ [-1, 1]); HF-generic configs use `image_mean`/`image_std`.
 */
import { DEFAULT_SLICE_OPTIONS, type SliceOptions } from './slice-plan.js';

export interface Normalization {
  mean: [number, number, number];
  std: [number, number, number];
}

export interface VisionPreprocessorConfig {
  normalization: Normalization;
  slice: SliceOptions;
  /** Queries per image/slice (`image_feature_size`, 64 for 2.6). */
  queryNum: number;
  useImageId: boolean;
}

export const DEFAULT_NORMALIZATION: Readonly<Normalization> = Object.freeze({ mean: [0.5, 0.5, 0.5] as [number, number, number], std: [0.5, 0.5, 0.5] as [number, number, number] });

function triple(v: unknown, fallback: [number, number, number]): [number, number, number] {
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) return [v[0], v[1], v[2]];
  return fallback;
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** Parses the JSON object of preprocessor_config.json; missing keys fall back to the 2.6 defaults. */
export function parsePreprocessorConfig(json: Record<string, unknown>): VisionPreprocessorConfig {
  const mean = triple(json.norm_mean ?? json.image_mean, DEFAULT_NORMALIZATION.mean);
  const std = triple(json.norm_std ?? json.image_std, DEFAULT_NORMALIZATION.std);
  if (std.some((s) => s === 0)) throw new Error('preprocessor_config.json: norm_std must not contain 0');
  return {
    normalization: { mean, std },
    slice: {
      maxSliceNums: num(json.max_slice_nums, DEFAULT_SLICE_OPTIONS.maxSliceNums),
      scaleResolution: num(json.scale_resolution, DEFAULT_SLICE_OPTIONS.scaleResolution),
      patchSize: num(json.patch_size, DEFAULT_SLICE_OPTIONS.patchSize),
      neverSplit: false,
    },
    queryNum: num(json.image_feature_size ?? json.query_num, 64),
    useImageId: typeof json.use_image_id === 'boolean' ? json.use_image_id : true,
  };
}
