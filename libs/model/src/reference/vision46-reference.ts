/**
 * Float64 reference of the MiniCPM-V 4.6 vision stage for ONE crop, written from
 * shared/reference/minicpmv4x.md §3 and transformers' modeling_minicpmv4_6 (read, not copied):
 * no padding, no index tricks — the windows are walked on the 2-D grid directly, so the ONNX
 * graph's gathers are checked against plain geometry.
 */
import type { DownsampleMode, Vision46Config } from '../checkpoint/vision46-config.js';
import { MERGER46_PREFIX, VISION46_PREFIX } from '../onnx/vision46-graph.js';
import { navitPositionIds46 } from '../vision46-layout.js';
import { add, attention, geluTanh, layerNorm, linear, type Mat } from './ops.js';

export type WeightLookup = (name: string) => Float32Array;

const geluErf = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** erf to ~1e-16 (Taylor series near 0, continued fraction for the tails). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    // Σ (−1)^n x^(2n+1) / (n! (2n+1)) · 2/√π
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))) (Lentz from the tail)
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

/** 2×2 concat on an h×w grid of D-vectors → [(h/2)(w/2), 4D] (TL, TR, BL, BR) and the window means. */
function concat2x2(x: Mat, h: number, w: number, D: number): { cat: Mat; mean: Mat } {
  const mh = h / 2;
  const mw = w / 2;
  const cat = new Float64Array(mh * mw * 4 * D);
  const mean = new Float64Array(mh * mw * D);
  for (let r = 0; r < mh; r++) for (let c = 0; c < mw; c++) {
    const q = r * mw + c;
    const members = [(2 * r) * w + 2 * c, (2 * r) * w + 2 * c + 1, (2 * r + 1) * w + 2 * c, (2 * r + 1) * w + 2 * c + 1];
    members.forEach((src, k) => {
      for (let d = 0; d < D; d++) {
        cat[(q * 4 + k) * D + d] = x[src * D + d];
        mean[q * D + d] += x[src * D + d] / 4;
      }
    });
  }
  return { cat, mean };
}

/**
 * One crop [3, height, width] (normalised, channel-first; sides multiples of 4·patch) →
 * image_embeds [tokens, llm_hidden], tokens = (h/4)(w/4) in 16x or (h/2)(w/2) in 4x (h, w in patches).
 */
export function referenceVision46(wt: WeightLookup, cfg: Vision46Config, pixels: Float32Array, height: number, width: number, mode: DownsampleMode): Mat {
  const v = cfg.vision;
  const ps = v.patchSize;
  const D = v.hiddenSize;
  const eps = v.layerNormEps;
  const P = VISION46_PREFIX;
  let h = height / ps;
  let w = width / ps;
  let L = h * w;
  const convW = wt(P + 'embeddings.patch_embedding.weight');
  const convB = wt(P + 'embeddings.patch_embedding.bias');
  const pos = wt(P + 'embeddings.position_embedding.weight');
  const ids = navitPositionIds46(h, w, v.positionsPerSide);
  let x: Mat = new Float64Array(L * D);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
    const p = r * w + c;
    for (let o = 0; o < D; o++) {
      let s = convB[o];
      for (let ch = 0; ch < v.numChannels; ch++) for (let y = 0; y < ps; y++) for (let xx = 0; xx < ps; xx++) {
        s += convW[((o * v.numChannels + ch) * ps + y) * ps + xx] * pixels[(ch * height + r * ps + y) * width + c * ps + xx];
      }
      x[p * D + o] = s + pos[ids[p] * D + o];
    }
  }
  const selfAttn = (hN: Mat, rows: number, p: string): Mat => {
    const q = linear(hN, rows, D, wt(p + 'self_attn.q_proj.weight'), D, wt(p + 'self_attn.q_proj.bias'));
    const k = linear(hN, rows, D, wt(p + 'self_attn.k_proj.weight'), D, wt(p + 'self_attn.k_proj.bias'));
    const vv = linear(hN, rows, D, wt(p + 'self_attn.v_proj.weight'), D, wt(p + 'self_attn.v_proj.bias'));
    const a = attention(q, k, vv, rows, rows, v.numHeads, v.numHeads, v.headDim, () => true);
    return linear(a, rows, D, wt(p + 'self_attn.out_proj.weight'), D, wt(p + 'self_attn.out_proj.bias'));
  };

  for (let i = 0; i < v.numLayers; i++) {
    const p = `${P}encoder.layers.${i}.`;
    x = add(x, selfAttn(layerNorm(x, L, D, wt(p + 'layer_norm1.weight'), wt(p + 'layer_norm1.bias'), eps), L, p));
    const h2 = layerNorm(x, L, D, wt(p + 'layer_norm2.weight'), wt(p + 'layer_norm2.bias'), eps);
    const m = linear(h2, L, D, wt(p + 'mlp.fc1.weight'), v.intermediateSize, wt(p + 'mlp.fc1.bias')).map(geluTanh);
    x = add(x, linear(m, L, v.intermediateSize, wt(p + 'mlp.fc2.weight'), D, wt(p + 'mlp.fc2.bias')));

    if (i === cfg.insertLayerId && mode === '16x') {
      // ViTWindowAttentionMerger: attention inside each 2×2 window, residual, 2×2 concat → MLP + window mean.
      const m0 = `${P}vit_merger.`;
      const t = layerNorm(x, L, D, wt(m0 + 'layer_norm1.weight'), wt(m0 + 'layer_norm1.bias'), eps);
      const attnOut = new Float64Array(L * D);
      for (let r = 0; r < h; r += 2) for (let c = 0; c < w; c += 2) {
        const members = [r * w + c, r * w + c + 1, (r + 1) * w + c, (r + 1) * w + c + 1];
        const win = new Float64Array(4 * D);
        members.forEach((src, k) => win.set(t.subarray(src * D, (src + 1) * D), k * D));
        const o = selfAttn(win, 4, m0);
        members.forEach((dst, k) => attnOut.set(o.subarray(k * D, (k + 1) * D), dst * D));
      }
      x = add(x, attnOut);
      const { cat, mean } = concat2x2(x, h, w, D);
      h /= 2;
      w /= 2;
      L = h * w;
      const n = layerNorm(cat, L, 4 * D, wt(m0 + 'pre_norm.weight'), wt(m0 + 'pre_norm.bias'), eps);
      const h1 = linear(n, L, 4 * D, wt(m0 + 'linear_1.weight'), 4 * v.intermediateSize, wt(m0 + 'linear_1.bias')).map(geluTanh);
      x = add(linear(h1, L, 4 * v.intermediateSize, wt(m0 + 'linear_2.weight'), D, wt(m0 + 'linear_2.bias')), mean);
    }
  }
  x = layerNorm(x, L, D, wt(P + 'post_layernorm.weight'), wt(P + 'post_layernorm.bias'), eps);

  const M = MERGER46_PREFIX;
  const { cat } = concat2x2(x, h, w, D);
  const T = L / 4;
  const n = layerNorm(cat, T, 4 * D, wt(M + 'pre_norm.weight'), wt(M + 'pre_norm.bias'), 1e-6);
  const h1 = linear(n, T, 4 * D, wt(M + 'linear_1.weight'), 4 * D, wt(M + 'linear_1.bias')).map(geluErf);
  return linear(h1, T, 4 * D, wt(M + 'linear_2.weight'), cfg.llmHiddenSize, wt(M + 'linear_2.bias'));
}
