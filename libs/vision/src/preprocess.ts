/**
 * One image end to end: decode → plan → overview + slices (PIL BICUBIC from the ORIGINAL, slices
 * cropped from a separate refine-size resize) → optional patch strips for the vision tower.
 *
 * Data flow (issue 19): the decoded RGB is copied once into the resizer's WebAssembly memory; the
 * overview and the refine image are both resized from that copy, and each piece is normalised (or
 * copied, for RGB callers) straight out of the resizer's output as soon as it is ready — slices
 * read their box from the refine image in place, no crop copies, no full-size intermediates in JS.
 */
import { invalidArgument, sha256Hex } from '@tessera/errors';
import { decodeImage, type DecodedImage, type ImageFormat } from './decode-image.js';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits } from './limits.js';
import { threadResizer, type PilResizer, type Resized } from './pil-resize.js';
import { normalizationLut } from './patch-strip.js';
import { takePixelBlock } from './pixel-blocks.js';
import type { Normalization } from './preprocessor-config.js';
import { checkSlicePlan, DEFAULT_SLICE_OPTIONS, planSlices, type SliceBox, type SliceOptions, type SlicePlan } from './slice-plan.js';

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

/**
 * Resizes the overview and the refine image from one copy of the decoded pixels (each pass's rows
 * shared with the resizer's helper thread when it pays, see pil-resize.ts) and hands each model-order
 * piece to `emit` with the resize it lies in (its `box` there).
 */
function forEachPiece(img: RgbImage, plan: SlicePlan, emit: (resizer: PilResizer, from: Resized, box: SliceBox) => void): void {
  const resizer = threadResizer();
  try {
    resizer.load(img.rgb, img.width, img.height);
    const o = plan.overview;
    const sizes: [number, number][] = [[o.width, o.height]];
    if (plan.refine) sizes.push([plan.refine.width, plan.refine.height]);
    const [overview, refine] = resizer.resizeMany(sizes);
    emit(resizer, overview, { x: 0, y: 0, width: o.width, height: o.height });
    if (refine) for (const box of plan.slices) emit(resizer, refine, box);
  } finally {
    resizer.trim();
  }
}

/** Applies a plan to decoded pixels: RGB copies of the overview and each slice. */
export function sliceDecoded(img: RgbImage, plan: SlicePlan): RgbImage[] {
  const images: RgbImage[] = [];
  forEachPiece(img, plan, (resizer, from, box) => images.push(resizer.crop(from, box)));
  return images;
}

/**
 * Applies a plan to decoded pixels: normalised channel-first float32 [3, H, W] per piece, all views
 * into one block (pixel-blocks.ts): hand them to `recyclePixels` when done to reuse the memory.
 */
export function sliceDecodedPixels(img: RgbImage, plan: SlicePlan, norm: Normalization): Float32Array[] {
  const lut = normalizationLut(norm);
  const sizes = [plan.overview, ...(plan.refine ? plan.slices : [])];
  const block = takePixelBlock(sizes.reduce((n, s) => n + s.width * s.height * 3, 0));
  const pixels: Float32Array[] = [];
  let at = 0;
  forEachPiece(img, plan, (resizer, from, box) => {
    const n = box.width * box.height * 3;
    pixels.push(resizer.normalize(from, box, lut, block.subarray(at, at + n)));
    at += n;
  });
  return pixels;
}

/** Decode + plan + slice, enforcing every limit. */
export async function prepareImage(bytes: Uint8Array, options: Partial<SliceOptions> = {}, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<PreparedImage & { decoded: DecodedImage }> {
  const o = validateSliceOptions(options, limits);
  const decoded = await decodeImage(bytes, limits);
  const plan = planSlices(decoded.width, decoded.height, o);
  return { sha256: sha256Hex(bytes), format: decoded.format, plan, images: sliceDecoded(decoded, plan), decoded };
}

/** What the service path returns: no sha256 (the caller hashed the image once at admission). */
export type PreparedPixels = Omit<PreparedImage, 'sha256'> & { pixels: Float32Array[] };

/**
 * Decode + plan + normalised pixels (the service path): `pixels[k]` is float32 [3, H, W] of
 * `images[k]`, whose `rgb` is empty (no RGB copies are made); the pieces share one block that
 * `recyclePixels` takes back for the next image. It does not hash the bytes: the slicer
 * already has the image's sha256 (it hashed inline bytes, or the object is named by it), and one hash
 * per image per request is the rule (issue 14). With `given`, the plan is not made again (issue 14:
 * the image is planned once, by the gateway).
 */
export async function preparePixels(bytes: Uint8Array, options: Partial<SliceOptions>, limits: ImageLimits, norm: Normalization, given?: SlicePlan): Promise<PreparedPixels> {
  const o = validateSliceOptions(options, limits);
  const decoded = await decodeImage(bytes, limits);
  // The caller's plan (made from the header at admission) is cut as is once it passes the cheap check;
  // planning again here could disagree with the prompt the caller already laid out.
  const plan = given ? checkSlicePlan(given, decoded, o) : planSlices(decoded.width, decoded.height, o);
  const pixels = sliceDecodedPixels(decoded, plan, norm);
  const sizes = [plan.overview, ...plan.slices];
  return { format: decoded.format, plan, images: sizes.map((s) => ({ rgb: new Uint8Array(0), width: s.width, height: s.height })), pixels };
}
