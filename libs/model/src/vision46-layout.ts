/**
 * Index arithmetic of the MiniCPM-V 4.6 vision stage, shared by the graph feeds, the float64
 * reference and run-stage (shared/reference/minicpmv4x.md §3).
 *
 * Both 2×2 merges (the window-attention merger after layer `insert_layer_id`, and the final merger)
 * group the tokens of ONE crop: merged token q = (r, c) of the (h/2)×(w/2) grid, raster order, takes
 * the four tokens (2r, 2c), (2r, 2c+1), (2r+1, 2c), (2r+1, 2c+1) of the h×w grid — top-left,
 * top-right, bottom-left, bottom-right — concatenated in that order (transformers
 * `view(mh, 2, mw, 2, D).permute(0, 2, 1, 3, 4)`). Merging per crop is what vLLM and llama.cpp do;
 * see docs/decisions.md "MiniCPM-V 4.6 vision: merge per crop".
 */
import type { DownsampleMode } from './checkpoint/vision46-config.js';
import { packSlices, type SlicePixels } from './navit.js';

const fround = Math.fround;

/** For each merged token of an h×w grid (h, w even), the 4 source indices TL, TR, BL, BR: [h·w/4 · 4]. */
export function mergeWindows(h: number, w: number): Int32Array {
  if (h % 2 || w % 2) throw new RangeError(`grid ${h}x${w} cannot be merged 2x2 (both sides must be even)`);
  const out = new Int32Array(h * w);
  let k = 0;
  for (let r = 0; r < h / 2; r++) {
    for (let c = 0; c < w / 2; c++) {
      const tl = 2 * r * w + 2 * c;
      out[k++] = tl;
      out[k++] = tl + 1;
      out[k++] = tl + w;
      out[k++] = tl + w + 1;
    }
  }
  return out;
}

let boundaryCache: { perSide: number; b: Float32Array } | null = null;
/** torch.arange(1/n, 1.0, 1/n) in float32 (each element start + i·step in double, then rounded). */
function boundaries(perSide: number): Float32Array {
  if (boundaryCache?.perSide === perSide) return boundaryCache.b;
  const step = 1 / perSide;
  const n = Math.ceil((1 - step) / step);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) b[i] = fround(step + i * step);
  boundaryCache = { perSide, b };
  return b;
}

/**
 * 4.6 NaViT position ids (transformers `get_vision_nearest_position_ids`): coordinate i/n as a
 * float32 division (exact here: a double quotient rounded once to float32 is the float32 quotient),
 * bucketised against the float32 boundaries with right=True. For n < 400 this equals ⌊70·i/n⌋.
 */
export function navitPositionIds46(h: number, w: number, perSide = 70): Int32Array {
  const b = boundaries(perSide);
  const bucket = (n: number): Int32Array => {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = fround(i / n);
      let k = 0;
      while (k < b.length && b[k] <= v) k++;
      out[i] = k;
    }
    return out;
  };
  const bh = bucket(h);
  const bw = bucket(w);
  const out = new Int32Array(h * w);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * w + c] = bh[r] * perSide + bw[c];
  return out;
}

/** Visual tokens of a crop with an h×w patch grid: h·w/16 (16x) or h·w/4 (4x). */
export function tokensForGrid(h: number, w: number, mode: DownsampleMode): number {
  return mode === '16x' ? (h * w) / 16 : (h * w) / 4;
}

/** Everything the 4.6 vision graph is fed for one batch of crops. */
export interface Vision46Feeds {
  batch: number;
  /** Max patches per crop (padding target). */
  numPatches: number;
  pixelValues: Float32Array;
  patchAttentionMask: BigInt64Array;
  positionIds: BigInt64Array;
  useVitMerger: boolean;
  /** [B, Q1, 4] (16x; Q1 = numPatches/4) or [B, 0, 4] (4x): window members, indices into the P axis. */
  windowIndex: BigInt64Array;
  windowTokens: number;
  /** [B, T]: key mask for the layers after insert_layer_id (T = Q1 in 16x, P in 4x). */
  tailAttentionMask: BigInt64Array;
  tailTokens: number;
  /** [B, Q2, 4]: final-merger members, indices into the T axis. */
  mergeIndex: BigInt64Array;
  /** Q2: max output tokens per crop. */
  outputTokens: number;
  /** (rows, cols) of patches per crop, and its output token count. */
  tgtSizes: Array<[number, number]>;
  tokens: number[];
}

/** Packs crops (sides multiples of 4·patch) for one vision call in `mode`. */
export function packCrops46(crops: SlicePixels[], mode: DownsampleMode, patchSize = 14, perSide = 70, channels = 3): Vision46Feeds {
  for (const [i, c] of crops.entries()) {
    if (c.height % (4 * patchSize) || c.width % (4 * patchSize)) {
      throw new RangeError(`crop ${i} is ${c.width}x${c.height}: 4.6 crops need sides that are multiples of ${4 * patchSize} px (two 2x2 merges)`);
    }
  }
  const packed = packSlices(crops, patchSize, perSide, channels);
  const B = packed.batch;
  const P = packed.numPatches;
  packed.tgtSizes.forEach(([h, w], b) => {
    const ids = navitPositionIds46(h, w, perSide);
    for (let p = 0; p < h * w; p++) packed.positionIds[b * P + p] = BigInt(ids[p]);
  });
  const use = mode === '16x';
  const Q1 = use ? P / 4 : 0;
  const T = use ? Q1 : P;
  const Q2 = T / 4;
  const windowIndex = new BigInt64Array(B * Q1 * 4);
  const tail = new BigInt64Array(B * T);
  const merge = new BigInt64Array(B * Q2 * 4);
  packed.tgtSizes.forEach(([h, w], b) => {
    if (use) windowIndex.set(Array.from(mergeWindows(h, w), BigInt), b * Q1 * 4);
    const [th, tw] = use ? [h / 2, w / 2] : [h, w];
    tail.fill(1n, b * T, b * T + th * tw);
    merge.set(Array.from(mergeWindows(th, tw), BigInt), b * Q2 * 4);
  });
  return {
    batch: B,
    numPatches: P,
    pixelValues: packed.pixelValues,
    patchAttentionMask: packed.patchAttentionMask,
    positionIds: packed.positionIds,
    useVitMerger: use,
    windowIndex,
    windowTokens: Q1,
    tailAttentionMask: tail,
    tailTokens: T,
    mergeIndex: merge,
    outputTokens: Q2,
    tgtSizes: packed.tgtSizes,
    tokens: packed.tgtSizes.map(([h, w]) => tokensForGrid(h, w, mode)),
  };
}
