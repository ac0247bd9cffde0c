/**
 * Float64 reference of the Qwen3.5 hybrid text model of MiniCPM-V 4.6 (reference/minicpmv4x.md §4; HF
 * Qwen3_5DecoderLayer / Qwen3_5Attention / Qwen3_5GatedDeltaNet): one sequence, explicit state, plain
 * loops. The ONNX decoder (batched, chunked, with state in/out) is checked against this.
 *   - RMSNorm (1 + w) everywhere except the gated norm of the linear layers (plain w, times silu(z));
 *   - full attention: q_proj interleaves [query | gate] per head, per-head q_norm / k_norm, partial
 *     NeoX RoPE on the first rotary_dim dims (theta from config), GQA, causal softmax, out · sigmoid(gate);
 *   - Gated DeltaNet: in_proj_qkv → depthwise causal conv (kernel K, rolling state of K−1 rows) → SiLU →
 *     split q | k | v; per-head L2 norm of q, k; q / √d_k; β = sigmoid(b); g = −e^{A_log}·softplus(a + dt_bias).
 */
import { linear, silu, type Mat } from '../../reference/ops.js';
import { convDim, type HybridTextConfig } from './config.js';
import { gdnChunked, gdnRecurrent } from './gated-delta-reference.js';
import { TEXT_PREFIX } from './text-tensors.js';

export interface WeightReader {
  tensor(name: string): Float32Array;
}

/** One sequence's cache: KV rows for full layers, conv rows + recurrent state for linear layers. */
export interface ReferenceState {
  length: number;
  /** Full layer → keys / values, one [kv_heads·head_dim] row per position. */
  keys: Map<number, Float64Array[]>;
  values: Map<number, Float64Array[]>;
  /** Linear layer → the last K−1 pre-conv rows [K−1, conv_dim], oldest first (zeros at start). */
  conv: Map<number, Float64Array>;
  /** Linear layer → S [Hv, d_k, d_v]. */
  recurrent: Map<number, Float64Array>;
}

export type GdnMode = { kind: 'recurrent' } | { kind: 'chunked'; chunk: number };

const softplus = (x: number): number => (x > 20 ? x : Math.log1p(Math.exp(x)));
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** y = x / rms(x) · (1 + w) per row of d (Qwen3.5's zero-centred RMSNorm). */
export function rmsNorm1p(x: Mat, rows: number, d: number, w: ArrayLike<number>, eps: number): Mat {
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let ms = 0;
    for (let i = 0; i < d; i++) ms += x[r * d + i] ** 2;
    const inv = 1 / Math.sqrt(ms / d + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = x[r * d + i] * inv * (1 + w[i]);
  }
  return y;
}

export class HybridTextReference {
  private readonly cache = new Map<string, Float32Array>();

  constructor(
    private readonly weights: WeightReader,
    readonly cfg: HybridTextConfig,
  ) {}

  private w(name: string): Float32Array {
    let t = this.cache.get(name);
    if (!t) {
      t = this.weights.tensor(name.startsWith('lm_head') ? name : TEXT_PREFIX + name);
      this.cache.set(name, t);
    }
    return t;
  }

  emptyState(): ReferenceState {
    const c = this.cfg;
    const s: ReferenceState = { length: 0, keys: new Map(), values: new Map(), conv: new Map(), recurrent: new Map() };
    c.layerTypes.forEach((lt, i) => {
      if (lt === 'full_attention') {
        s.keys.set(i, []);
        s.values.set(i, []);
      } else {
        s.conv.set(i, new Float64Array((c.linearConvKernel - 1) * convDim(c)));
        s.recurrent.set(i, new Float64Array(c.linearNumValueHeads * c.linearKeyHeadDim * c.linearValueHeadDim));
      }
    });
    return s;
  }

  embed(ids: ArrayLike<number>): Mat {
    const H = this.cfg.hiddenSize;
    const table = this.w('embed_tokens.weight');
    const out = new Float64Array(ids.length * H);
    for (let t = 0; t < ids.length; t++) for (let i = 0; i < H; i++) out[t * H + i] = table[ids[t] * H + i];
    return out;
  }

  /**
   * Runs T new tokens (embeddings [T, hidden]) at positions state.length… and advances `state`.
   * Returns the final-norm hidden states [T, hidden]; `logits()` turns rows into vocabulary scores.
   */
  forward(embeds: ArrayLike<number>, T: number, state: ReferenceState, mode: GdnMode = { kind: 'recurrent' }): Mat {
    const c = this.cfg;
    const H = c.hiddenSize;
    let x: Mat = Float64Array.from(embeds as ArrayLike<number>);
    for (let i = 0; i < c.numLayers; i++) {
      const p = `layers.${i}.`;
      const h = rmsNorm1p(x, T, H, this.w(p + 'input_layernorm.weight'), c.rmsNormEps);
      const mixed = c.layerTypes[i] === 'full_attention' ? this.fullAttention(i, h, T, state) : this.gatedDeltaNet(i, h, T, state, mode);
      for (let j = 0; j < x.length; j++) x[j] += mixed[j];
      const h2 = rmsNorm1p(x, T, H, this.w(p + 'post_attention_layernorm.weight'), c.rmsNormEps);
      const gate = linear(h2, T, H, this.w(p + 'mlp.gate_proj.weight'), c.intermediateSize).map(silu);
      const up = linear(h2, T, H, this.w(p + 'mlp.up_proj.weight'), c.intermediateSize);
      for (let j = 0; j < gate.length; j++) gate[j] *= up[j];
      const down = linear(gate, T, c.intermediateSize, this.w(p + 'mlp.down_proj.weight'), H);
      for (let j = 0; j < x.length; j++) x[j] += down[j];
    }
    state.length += T;
    return rmsNorm1p(x, T, H, this.w('norm.weight'), c.rmsNormEps);
  }

  /** Vocabulary scores of one normed hidden row (tied to embed_tokens unless the config unties it). */
  logits(hidden: Mat, row: number): Mat {
    const H = this.cfg.hiddenSize;
    const head = this.cfg.tieWordEmbeddings ? this.w('embed_tokens.weight') : this.w('lm_head.weight');
    return linear(hidden.subarray(row * H, (row + 1) * H), 1, H, head, this.cfg.vocabSize);
  }

  private fullAttention(layer: number, h: Mat, T: number, state: ReferenceState): Mat {
    const c = this.cfg;
    const p = `layers.${layer}.self_attn.`;
    const { numHeads: nH, numKvHeads: nKv, headDim: hd, rotaryDim: rd, hiddenSize: H } = c;
    const qg = linear(h, T, H, this.w(p + 'q_proj.weight'), 2 * nH * hd);
    const kAll = linear(h, T, H, this.w(p + 'k_proj.weight'), nKv * hd);
    const vAll = linear(h, T, H, this.w(p + 'v_proj.weight'), nKv * hd);
    const qn = this.w(p + 'q_norm.weight');
    const kn = this.w(p + 'k_norm.weight');
    const q = new Float64Array(T * nH * hd);
    const gate = new Float64Array(T * nH * hd);
    for (let t = 0; t < T; t++) for (let hh = 0; hh < nH; hh++) {
      const src = (t * nH + hh) * 2 * hd;
      q.set(rmsNorm1p(qg.subarray(src, src + hd), 1, hd, qn, c.rmsNormEps), (t * nH + hh) * hd);
      gate.set(qg.subarray(src + hd, src + 2 * hd), (t * nH + hh) * hd);
    }
    const k = new Float64Array(T * nKv * hd);
    for (let r = 0; r < T * nKv; r++) k.set(rmsNorm1p(kAll.subarray(r * hd, (r + 1) * hd), 1, hd, kn, c.rmsNormEps), r * hd);
    // Partial NeoX RoPE: dims [0, rd) rotate in pairs (i, i + rd/2); the rest pass through.
    const rope = (x: Mat, heads: number): void => {
      for (let t = 0; t < T; t++) {
        const pos = state.length + t;
        for (let hh = 0; hh < heads; hh++) for (let i = 0; i < rd / 2; i++) {
          const ang = pos * Math.pow(c.ropeTheta, -(2 * i) / rd);
          const o = (t * heads + hh) * hd;
          const x1 = x[o + i];
          const x2 = x[o + i + rd / 2];
          x[o + i] = x1 * Math.cos(ang) - x2 * Math.sin(ang);
          x[o + i + rd / 2] = x2 * Math.cos(ang) + x1 * Math.sin(ang);
        }
      }
    };
    rope(q, nH);
    rope(k, nKv);
    const keys = state.keys.get(layer)!;
    const values = state.values.get(layer)!;
    for (let t = 0; t < T; t++) {
      keys.push(k.slice(t * nKv * hd, (t + 1) * nKv * hd));
      values.push(vAll.slice(t * nKv * hd, (t + 1) * nKv * hd));
    }
    const out = new Float64Array(T * nH * hd);
    const group = nH / nKv;
    const scale = 1 / Math.sqrt(hd);
    for (let t = 0; t < T; t++) {
      const last = state.length + t; // keys 0..last are visible
      for (let hh = 0; hh < nH; hh++) {
        const kv = Math.floor(hh / group);
        const scores = new Float64Array(last + 1);
        let max = -Infinity;
        for (let j = 0; j <= last; j++) {
          let s = 0;
          for (let e = 0; e < hd; e++) s += q[(t * nH + hh) * hd + e] * keys[j][kv * hd + e];
          scores[j] = s * scale;
          if (scores[j] > max) max = scores[j];
        }
        let sum = 0;
        for (let j = 0; j <= last; j++) sum += scores[j] = Math.exp(scores[j] - max);
        const o = (t * nH + hh) * hd;
        for (let j = 0; j <= last; j++) for (let e = 0; e < hd; e++) out[o + e] += (scores[j] / sum) * values[j][kv * hd + e];
      }
    }
    for (let j = 0; j < out.length; j++) out[j] *= sigmoid(gate[j]);
    return linear(out, T, nH * hd, this.w(p + 'o_proj.weight'), H);
  }

  private gatedDeltaNet(layer: number, h: Mat, T: number, state: ReferenceState, mode: GdnMode): Mat {
    const c = this.cfg;
    const p = `layers.${layer}.linear_attn.`;
    const H = c.hiddenSize;
    const C = convDim(c);
    const K = c.linearConvKernel;
    const { linearNumKeyHeads: Hk, linearNumValueHeads: Hv, linearKeyHeadDim: dk, linearValueHeadDim: dv } = c;
    const qkv = linear(h, T, H, this.w(p + 'in_proj_qkv.weight'), C);
    const z = linear(h, T, H, this.w(p + 'in_proj_z.weight'), Hv * dv);
    const b = linear(h, T, H, this.w(p + 'in_proj_b.weight'), Hv);
    const a = linear(h, T, H, this.w(p + 'in_proj_a.weight'), Hv);
    // Depthwise causal conv over [K−1 state rows; T new rows], then SiLU.
    const ext = new Float64Array((K - 1 + T) * C);
    ext.set(state.conv.get(layer)!, 0);
    ext.set(qkv, (K - 1) * C);
    const cw = this.w(p + 'conv1d.weight'); // [C, 1, K]
    const u = new Float64Array(T * C);
    for (let t = 0; t < T; t++) for (let ch = 0; ch < C; ch++) {
      let s = 0;
      for (let j = 0; j < K; j++) s += cw[ch * K + j] * ext[(t + j) * C + ch];
      u[t * C + ch] = silu(s);
    }
    state.conv.set(layer, ext.slice(T * C));
    // Split q | k | v, L2-normalise q and k per head (eps 1e-6 inside the sqrt), scale q, repeat to Hv heads.
    const r = Hv / Hk;
    const q = new Float64Array(T * Hv * dk);
    const k = new Float64Array(T * Hv * dk);
    const v = new Float64Array(T * Hv * dv);
    for (let t = 0; t < T; t++) {
      for (let hk = 0; hk < Hk; hk++) {
        for (const [src, dst, scale] of [[0, q, 1 / Math.sqrt(dk)], [Hk * dk, k, 1]] as const) {
          let ss = 0;
          for (let e = 0; e < dk; e++) ss += u[t * C + src + hk * dk + e] ** 2;
          const inv = scale / Math.sqrt(ss + 1e-6);
          for (let rep = 0; rep < r; rep++) for (let e = 0; e < dk; e++) dst[(t * Hv + hk * r + rep) * dk + e] = u[t * C + src + hk * dk + e] * inv;
        }
      }
      for (let e = 0; e < Hv * dv; e++) v[t * Hv * dv + e] = u[t * C + 2 * Hk * dk + e];
    }
    const aLog = this.w(p + 'A_log');
    const dtBias = this.w(p + 'dt_bias');
    const beta = new Float64Array(T * Hv);
    const g = new Float64Array(T * Hv);
    for (let t = 0; t < T; t++) for (let hh = 0; hh < Hv; hh++) {
      beta[t * Hv + hh] = sigmoid(b[t * Hv + hh]);
      g[t * Hv + hh] = -Math.exp(aLog[hh]) * softplus(a[t * Hv + hh] + dtBias[hh]);
    }
    const inputs = { T, H: Hv, dk, dv, q, k, v, g, beta };
    const S = state.recurrent.get(layer)!;
    const { out } = mode.kind === 'recurrent' ? gdnRecurrent(inputs, S) : gdnChunked(inputs, S, mode.chunk);
    // Gated RMSNorm per value head: w · o/rms(o) · silu(z).
    const nw = this.w(p + 'norm.weight');
    for (let row = 0; row < T * Hv; row++) {
      let ms = 0;
      for (let e = 0; e < dv; e++) ms += out[row * dv + e] ** 2;
      const inv = 1 / Math.sqrt(ms / dv + c.rmsNormEps);
      for (let e = 0; e < dv; e++) out[row * dv + e] = nw[e] * out[row * dv + e] * inv * silu(z[row * dv + e]);
    }
    return linear(out, T, Hv * dv, this.w(p + 'out_proj.weight'), H);
  }
}
