/**
 * The NaViT SigLIP tower's pixel layout (MiniCPM-V `reshape_by_patch`, minicpmv.md §4.1):
 * an H×W image becomes [3, 14, P·14] with P = (H/14)(W/14); patch p = (r, c), p = r·(W/14) + c,
 * occupies columns [14p, 14p + 14) of the 14-pixel-high strip, its pixels unchanged inside.
 * Values are (x/255 − mean)/std per channel (float32), e.g. x ∈ [−1, 1] for mean = std = 0.5.
 */
import type { Normalization } from './preprocessor-config.js';

export interface PatchStrip {
  /** Float32 [3, patchSize, patches·patchSize], channel-major. */
  data: Float32Array;
  patches: number;
  /** [patch rows, patch cols] (HF `tgt_sizes`). */
  tgtSize: [number, number];
}

export function toPatchStrip(rgb: Uint8Array, width: number, height: number, norm: Normalization, patchSize = 14): PatchStrip {
  if (width % patchSize !== 0 || height % patchSize !== 0) throw new Error(`toPatchStrip: ${width}×${height} is not a multiple of ${patchSize}`);
  const pr = height / patchSize;
  const pc = width / patchSize;
  const patches = pr * pc;
  const stripW = patches * patchSize;
  const plane = patchSize * stripW;
  const data = new Float32Array(3 * plane);
  // Precompute the 256 values per channel: float32(x/255) then normalise, as numpy float32 does.
  const lut: Float32Array[] = [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    for (let x = 0; x < 256; x++) t[x] = (Math.fround(x / 255) - norm.mean[c]) / norm.std[c];
    return t;
  });
  for (let y = 0; y < height; y++) {
    const r = Math.floor(y / patchSize);
    const i = y - r * patchSize;
    for (let x = 0; x < width; x++) {
      const c = Math.floor(x / patchSize);
      const j = x - c * patchSize;
      const p = r * pc + c;
      const dst = i * stripW + p * patchSize + j;
      const src = (y * width + x) * 3;
      data[dst] = lut[0][rgb[src]];
      data[plane + dst] = lut[1][rgb[src + 1]];
      data[2 * plane + dst] = lut[2][rgb[src + 2]];
    }
  }
  return { data, patches, tgtSize: [pr, pc] };
}

export interface PixelBatch {
  /** Float32 [B, 3, patchSize, maxPatches·patchSize], zero-padded. */
  pixelValues: Float32Array;
  /** [B, maxPatches]: 1 for real patches, 0 for padding. */
  patchAttentionMask: Uint8Array;
  batch: number;
  maxPatches: number;
  tgtSizes: [number, number][];
}

/** Pads strips to the longest one and stacks them (HF get_vllm_embedding: padding value 0.0). */
export function batchPatchStrips(strips: readonly PatchStrip[], patchSize = 14): PixelBatch {
  const maxPatches = Math.max(...strips.map((s) => s.patches));
  const stripW = maxPatches * patchSize;
  const per = 3 * patchSize * stripW;
  const pixelValues = new Float32Array(strips.length * per);
  const patchAttentionMask = new Uint8Array(strips.length * maxPatches);
  strips.forEach((s, b) => {
    const w = s.patches * patchSize;
    for (let ch = 0; ch < 3; ch++) {
      for (let i = 0; i < patchSize; i++) {
        const src = (ch * patchSize + i) * w;
        pixelValues.set(s.data.subarray(src, src + w), b * per + (ch * patchSize + i) * stripW);
      }
    }
    patchAttentionMask.fill(1, b * maxPatches, b * maxPatches + s.patches);
  });
  return { pixelValues, patchAttentionMask, batch: strips.length, maxPatches, tgtSizes: strips.map((s) => s.tgtSize) };
}

/** The 256 normalised values per channel: float32(x/255) then (v − mean)/std, as numpy float32 gives. */
export function normalizationLut(norm: Normalization): Float32Array {
  const lut = new Float32Array(768);
  for (let c = 0; c < 3; c++) for (let x = 0; x < 256; x++) lut[c * 256 + x] = (Math.fround(x / 255) - norm.mean[c]) / norm.std[c];
  return lut;
}

/**
 * Normalised channel-first [3, box.height, box.width] float32 read straight from a region of a
 * packed RGB image `stride` pixels wide: crop + normalise + layout in one pass, no crop copy.
 */
export function normalizeRegion(rgb: Uint8Array, stride: number, box: { x: number; y: number; width: number; height: number }, norm: Normalization): Float32Array {
  const { width, height } = box;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const lut = normalizationLut(norm);
  let r = 0;
  let g = plane;
  let b = 2 * plane;
  for (let y = 0; y < height; y++) {
    let i = ((box.y + y) * stride + box.x) * 3;
    const end = i + width * 3;
    for (; i < end; i += 3) {
      out[r++] = lut[rgb[i]];
      out[g++] = lut[256 + rgb[i + 1]];
      out[b++] = lut[512 + rgb[i + 2]];
    }
  }
  return out;
}

/** Normalised channel-first [3, H, W] float32 (the SlicePixels layout @tessera/model's packSlices takes). */
export function toChannelFirst(rgb: Uint8Array, width: number, height: number, norm: Normalization): Float32Array {
  return normalizeRegion(rgb, width, { x: 0, y: 0, width, height }, norm);
}
