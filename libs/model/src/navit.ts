/**
 * Vision-side index arithmetic shared by the graph inputs, the reference forward and the services.
 *
 * NaViT position ids (reference/minicpmv_checkpoint.md §5.2): an h×w patch grid maps onto the learned
 * 70×70 table with `bucketize(arange(0, 1−1e−6, 1/h), arange(1/70, 1, 1/70), right=True)`.
 * Emulated the way torch's CPU arange computes it: the step `1/h` is a float32 tensor value, each
 * element is `start + i·step` in double then rounded to float32, boundaries likewise. This equals
 * ⌊70·i/h⌋ except at a few exact multiples (e.g. h = 25, 49, 50, 55) where float32 rounding moves an
 * index down by one, as torch does. (torch's SIMD arange path may differ further for some n ≥ 16 —
 * UNVERIFIED without PyTorch; see the reference note.)
 */
const fround = Math.fround;

function arangeF32(start: number, end: number, step: number): Float32Array {
  const n = Math.max(0, Math.ceil((end - start) / step));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = fround(start + i * step);
  return out;
}

const boundaryCache = new Map<number, Float32Array>();
function boundaries(perSide: number): Float32Array {
  let b = boundaryCache.get(perSide);
  if (!b) {
    b = arangeF32(1 / perSide, 1.0, 1 / perSide);
    boundaryCache.set(perSide, b);
  }
  return b;
}

/** Bucket index of each of n rows (or columns): number of boundaries ≤ i/n, in torch's float32. */
export function navitBuckets(n: number, perSide = 70): Int32Array {
  const step = fround(1 / n);
  const frac = arangeF32(0, 1 - 1e-6, step);
  const b = boundaries(perSide);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = frac[i];
    let k = 0;
    while (k < b.length && b[k] <= v) k++;
    out[i] = k;
  }
  return out;
}

/** Position ids for one slice's h×w patch grid, row-major, length h·w. */
export function navitPositionIds(h: number, w: number, perSide = 70): Int32Array {
  const bh = navitBuckets(h, perSide);
  const bw = navitBuckets(w, perSide);
  const out = new Int32Array(h * w);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * w + c] = bh[r] * perSide + bw[c];
  return out;
}

/**
 * The resampler's 2D sin-cos key positions P2D(h, w) as float32 [h·w, D], row-major over patches
 * (§5.3): first D/2 dims encode the COLUMN (sin then cos), last D/2 the ROW; ω_k = 1/10000^(k/(D/4)).
 */
export function resamplerPosEmbed(h: number, w: number, dim: number): Float32Array {
  const F = dim / 4;
  const omega = new Float32Array(F);
  for (let k = 0; k < F; k++) omega[k] = fround(1 / fround(Math.pow(10000, fround(k / F))));
  const out = new Float32Array(h * w * dim);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const o = (r * w + c) * dim;
      for (let k = 0; k < F; k++) {
        const ac = fround(c * omega[k]);
        const ar = fround(r * omega[k]);
        out[o + k] = Math.sin(ac);
        out[o + F + k] = Math.cos(ac);
        out[o + 2 * F + k] = Math.sin(ar);
        out[o + 3 * F + k] = Math.cos(ar);
      }
    }
  }
  return out;
}

/**
 * MiniCPM-V 4.5's temporal position T(t) (resampler.py `get_1d_sincos_pos_embed_from_temporal_size`), float32
 * [D] as numpy computes it: ω_k = 1/10000^(k/(D/2)) in float32, a = fround(t·ω_k), [sin a (D/2) | cos a (D/2)].
 * t = -1 (an image crop, not a video frame) → zeros. The 3D resampler adds T(t) of each frame to that
 * frame's keys (with the 2D positions), never to the values.
 */
export function temporalPosEmbed(t: number, dim: number): Float32Array {
  const out = new Float32Array(dim);
  if (t === -1) return out;
  if (!Number.isInteger(t) || t < 0) throw new RangeError(`temporal id ${t} must be an integer >= 0 (or -1 for an image)`);
  const F = dim / 2;
  for (let k = 0; k < F; k++) {
    const omega = fround(1 / fround(Math.pow(10000, fround(k / F))));
    const a = fround(fround(t) * omega);
    out[k] = Math.sin(a);
    out[F + k] = Math.cos(a);
  }
  return out;
}

/** One preprocessed slice: normalised RGB, channel-first [3, height, width], sides multiples of 14. */
export interface SlicePixels {
  data: Float32Array;
  height: number;
  width: number;
}

export interface PackedSlices {
  batch: number;
  /** Patches per row after padding (max h·w over the batch). */
  numPatches: number;
  /** [B, 3, 14, numPatches·14] — MiniCPM-V's reshape_by_patch layout, zero-padded. */
  pixelValues: Float32Array;
  /** [B, numPatches], 1 for real patches. */
  patchAttentionMask: BigInt64Array;
  /** [B, numPatches], NaViT ids, 0 for padding. */
  positionIds: BigInt64Array;
  /** (rows, cols) of patches per slice. */
  tgtSizes: Array<[number, number]>;
}

/** Lays slices out as the vision stage expects (each slice's patches side by side, row-major). */
export function packSlices(slices: SlicePixels[], patchSize = 14, perSide = 70, channels = 3): PackedSlices {
  const tgtSizes = slices.map((s): [number, number] => {
    if (s.height % patchSize || s.width % patchSize) throw new RangeError(`slice ${s.width}x${s.height} is not a multiple of patch ${patchSize}`);
    if (s.data.length !== channels * s.height * s.width) throw new RangeError(`slice data length ${s.data.length} != ${channels}·${s.height}·${s.width}`);
    return [s.height / patchSize, s.width / patchSize];
  });
  const B = slices.length;
  const P = Math.max(0, ...tgtSizes.map(([h, w]) => h * w));
  const rowLen = P * patchSize;
  const pixelValues = new Float32Array(B * channels * patchSize * rowLen);
  const mask = new BigInt64Array(B * P);
  const pos = new BigInt64Array(B * P);
  slices.forEach((s, b) => {
    const [h, w] = tgtSizes[b];
    const ids = navitPositionIds(h, w, perSide);
    for (let p = 0; p < h * w; p++) {
      mask[b * P + p] = 1n;
      pos[b * P + p] = BigInt(ids[p]);
    }
    for (let ch = 0; ch < channels; ch++) {
      const src = ch * s.height * s.width;
      const dst = (b * channels + ch) * patchSize * rowLen;
      for (let y = 0; y < s.height; y++) {
        const r = Math.floor(y / patchSize);
        const py = y % patchSize;
        const srcRow = src + y * s.width;
        for (let c = 0; c < w; c++) {
          const p = r * w + c;
          const d = dst + py * rowLen + p * patchSize;
          const so = srcRow + c * patchSize;
          for (let x = 0; x < patchSize; x++) pixelValues[d + x] = s.data[so + x];
        }
      }
    }
  });
  return { batch: B, numPatches: P, pixelValues, patchAttentionMask: mask, positionIds: pos, tgtSizes };
}
