/**
 * One image end to end: decode → plan → overview + slices (PIL BICUBIC from the ORIGINAL, slices
 * cropped from a separate refine-size resize) → optional patch strips for the vision tower.
 */
import { createHash } from 'node:crypto';
import { invalidArgument } from '@tessera/runtime';
import { decodeImage, type DecodedImage, type ImageFormat } from './decode-image.js';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits } from './limits.js';
import { resizeBicubicRgb } from './pil-resize.js';
import { DEFAULT_SLICE_OPTIONS, planSlices, type SliceBox, type SliceOptions, type SlicePlan } from './slice-plan.js';

export interface RgbImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

export interface PreparedImage {
  sha256: string;
  format: ImageFormat;
  plan: SlicePlan;
  /** Model order: [overview, slice 0 (top-left), slice 1, …] row-major. */
  images: RgbImage[];
}

/** Rejects max_slice_nums outside 1..limits.maxSliceNums, naming the limit. */
export function validateSliceOptions(options: Partial<SliceOptions>, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): SliceOptions {
  const o = { ...DEFAULT_SLICE_OPTIONS, ...options };
  if (!Number.isInteger(o.maxSliceNums) || o.maxSliceNums < 1 || o.maxSliceNums > limits.maxSliceNums) {
    throw invalidArgument('max_slice_nums', `max_slice_nums must be an integer in 1..${limits.maxSliceNums}, got ${o.maxSliceNums}`, `1 <= max_slice_nums <= ${limits.maxSliceNums}`);
  }
  // 224..1344 keeps a slice between 16² and 96² patches (the NaViT position table is 70², the
  // resampler's sin-cos cache grows past 70); it must be a multiple of the patch size.
  if (!Number.isInteger(o.scaleResolution) || o.scaleResolution < 224 || o.scaleResolution > 1344 || o.scaleResolution % o.patchSize !== 0) {
    throw invalidArgument('scale_resolution', `scale_resolution must be a multiple of ${o.patchSize} in 224..1344, got ${o.scaleResolution}`, `224 <= scale_resolution <= 1344, multiple of ${o.patchSize}`);
  }
  return o;
}

export function cropRgb(src: RgbImage, box: SliceBox): RgbImage {
  const out = new Uint8Array(box.width * box.height * 3);
  const rowBytes = box.width * 3;
  for (let y = 0; y < box.height; y++) {
    const from = ((box.y + y) * src.width + box.x) * 3;
    out.set(src.rgb.subarray(from, from + rowBytes), y * rowBytes);
  }
  return { rgb: out, width: box.width, height: box.height };
}

/** Applies a plan to decoded pixels. */
export function sliceDecoded(img: RgbImage, plan: SlicePlan): RgbImage[] {
  const o = plan.overview;
  const images: RgbImage[] = [{ rgb: resizeBicubicRgb(img.rgb, img.width, img.height, o.width, o.height), width: o.width, height: o.height }];
  if (plan.refine) {
    const r = plan.refine;
    const refine = { rgb: resizeBicubicRgb(img.rgb, img.width, img.height, r.width, r.height), width: r.width, height: r.height };
    for (const box of plan.slices) images.push(cropRgb(refine, box));
  }
  return images;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Decode + plan + slice, enforcing every limit. */
export async function prepareImage(bytes: Uint8Array, options: Partial<SliceOptions> = {}, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<PreparedImage & { decoded: DecodedImage }> {
  const o = validateSliceOptions(options, limits);
  const decoded = await decodeImage(bytes, limits);
  const plan = planSlices(decoded.width, decoded.height, o);
  return { sha256: sha256Hex(bytes), format: decoded.format, plan, images: sliceDecoded(decoded, plan), decoded };
}
