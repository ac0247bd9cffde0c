/**
 * Float64 reference forward of every stage, straight from reference/minicpmv_checkpoint.md §5, reading
 * weights from the checkpoint. One slice / one sequence at a time, no padding, no cache: the ONNX
 * graphs (batched, padded, cached) are checked against this on the tiny checkpoint.
 */
import type { Checkpoint } from '../checkpoint/read-checkpoint.js';
import type { MiniCPMVConfig } from '../checkpoint/config.js';
import { navitPositionIds, resamplerPosEmbed, temporalPosEmbed } from '../navit.js';
import { add, attention, geluTanh, layerNorm, linear, matmulRaw, rmsNorm, silu, type Mat } from './ops.js';

export class ReferenceModel {
  private readonly cache = new Map<string, Float32Array>();
  readonly cfg: MiniCPMVConfig;

  constructor(private readonly ckpt: Checkpoint) {
    this.cfg = ckpt.config;
  }

  private w(name: string): Float32Array {
    let t = this.cache.get(name);
    if (!t) {
      t = this.ckpt.tensor(name);
      this.cache.set(name, t);
    }
    return t;
  }

  /** One slice [3, H, W] (normalised, channel-first) → last_hidden_state [h·w, vision_hidden]. */
  vision(pixels: Float32Array, height: number, width: number): Mat {
    const v = this.cfg.vision;
    const ps = v.patchSize;
    const D = v.hiddenSize;
    const h = height / ps;
    const wp = width / ps;
    const L = h * wp;
    const convW = this.w('vpm.embeddings.patch_embedding.weight');
    const convB = this.w('vpm.embeddings.patch_embedding.bias');
    const pos = this.w('vpm.embeddings.position_embedding.weight');
    const ids = navitPositionIds(h, wp, v.positionsPerSide);
    let x: Mat = new Float64Array(L * D);
    for (let r = 0; r < h; r++) for (let c = 0; c < wp; c++) {
      const p = r * wp + c;
      for (let o = 0; o < D; o++) {
        let s = convB[o];
        for (let ch = 0; ch < v.numChannels; ch++) for (let y = 0; y < ps; y++) for (let xx = 0; xx < ps; xx++) {
          s += convW[((o * v.numChannels + ch) * ps + y) * ps + xx] * pixels[(ch * height + r * ps + y) * width + c * ps + xx];
        }
        x[p * D + o] = s + pos[ids[p] * D + o];
      }
    }
    for (let i = 0; i < v.numLayers; i++) {
      const p = `vpm.encoder.layers.${i}.`;
      const hN = layerNorm(x, L, D, this.w(p + 'layer_norm1.weight'), this.w(p + 'layer_norm1.bias'), v.layerNormEps);
      const q = linear(hN, L, D, this.w(p + 'self_attn.q_proj.weight'), D, this.w(p + 'self_attn.q_proj.bias'));
      const k = linear(hN, L, D, this.w(p + 'self_attn.k_proj.weight'), D, this.w(p + 'self_attn.k_proj.bias'));
      const vv = linear(hN, L, D, this.w(p + 'self_attn.v_proj.weight'), D, this.w(p + 'self_attn.v_proj.bias'));
      const a = attention(q, k, vv, L, L, v.numHeads, v.numHeads, v.headDim, () => true);
      x = add(x, linear(a, L, D, this.w(p + 'self_attn.out_proj.weight'), D, this.w(p + 'self_attn.out_proj.bias')));
      const h2 = layerNorm(x, L, D, this.w(p + 'layer_norm2.weight'), this.w(p + 'layer_norm2.bias'), v.layerNormEps);
      const m = linear(h2, L, D, this.w(p + 'mlp.fc1.weight'), v.intermediateSize, this.w(p + 'mlp.fc1.bias')).map(geluTanh);
      x = add(x, linear(m, L, v.intermediateSize, this.w(p + 'mlp.fc2.weight'), D, this.w(p + 'mlp.fc2.bias')));
    }
    return layerNorm(x, L, D, this.w('vpm.post_layernorm.weight'), this.w('vpm.post_layernorm.bias'), v.layerNormEps);
  }

  /** One slice's features [h·w, vision_hidden] → [64, llm_hidden]. */
  resampler(features: ArrayLike<number>, h: number, w: number): Mat {
    return this.resamplerGroup([{ features, h, w }], [-1]);
  }

  /**
   * MiniCPM-V 4.5's 3D resampler on one frame group (resampler.py): the frames' keys are concatenated, each
   * frame's key input = ln_kv(kv_proj(x)) + P2D(h, w) + T(temporal id) (T = 0 for id -1), values = ln_kv(kv_proj(x));
   * the 64 queries attend over all of them at once → [64, llm_hidden]. One frame with id -1 is the 2D resampler.
   */
  resamplerGroup(frames: Array<{ features: ArrayLike<number>; h: number; w: number }>, temporalIds: number[]): Mat {
    const r = this.cfg.resampler;
    const D = r.embedDim;
    const Q = r.queryNum;
    if (frames.length !== temporalIds.length) throw new RangeError(`${frames.length} frames, ${temporalIds.length} temporal ids`);
    const L = frames.reduce((a, f) => a + f.h * f.w, 0);
    const kv = new Float64Array(L * D);
    const kin = new Float64Array(L * D);
    let off = 0;
    frames.forEach((f, i) => {
      const n = f.h * f.w;
      const x = layerNorm(linear(Float64Array.from(f.features as ArrayLike<number>), n, r.kvDim, this.w('resampler.kv_proj.weight'), D), n, D, this.w('resampler.ln_kv.weight'), this.w('resampler.ln_kv.bias'), r.layerNormEps);
      const pos = resamplerPosEmbed(f.h, f.w, D);
      const tp = temporalPosEmbed(temporalIds[i]!, D);
      for (let p = 0; p < n; p++) {
        for (let d = 0; d < D; d++) {
          kv[(off + p) * D + d] = x[p * D + d];
          kin[(off + p) * D + d] = x[p * D + d] + pos[p * D + d] + tp[d];
        }
      }
      off += n;
    });
    const q0 = layerNorm(Float64Array.from(this.w('resampler.query')), Q, D, this.w('resampler.ln_q.weight'), this.w('resampler.ln_q.bias'), r.layerNormEps);
    const inW = this.w('resampler.attn.in_proj_weight');
    const inB = this.w('resampler.attn.in_proj_bias');
    const part = (a: Float32Array, k: number, n: number) => a.subarray(k * n, (k + 1) * n);
    const q = linear(q0, Q, D, part(inW, 0, D * D), D, part(inB, 0, D));
    const k = linear(kin, L, D, part(inW, 1, D * D), D, part(inB, 1, D));
    const v = linear(kv, L, D, part(inW, 2, D * D), D, part(inB, 2, D));
    const a = attention(q, k, v, Q, L, r.numHeads, r.numHeads, D / r.numHeads, () => true);
    const o = linear(a, Q, D, this.w('resampler.attn.out_proj.weight'), D, this.w('resampler.attn.out_proj.bias'));
    const post = layerNorm(o, Q, D, this.w('resampler.ln_post.weight'), this.w('resampler.ln_post.bias'), r.layerNormEps);
    return matmulRaw(post, Q, D, this.w('resampler.proj'), D);
  }

  /** input_ids → embeddings [T, hidden]. */
  embed(ids: ArrayLike<number>): Mat {
    const H = this.cfg.llm.hiddenSize;
    const table = this.w('llm.model.embed_tokens.weight');
    const out = new Float64Array(ids.length * H);
    for (let t = 0; t < ids.length; t++) for (let i = 0; i < H; i++) out[t * H + i] = table[ids[t] * H + i];
    return out;
  }

  /** Full causal forward over one sequence [T, hidden] (positions 0…T−1) → logits of the last position. */
  decoder(embeds: ArrayLike<number>, T: number, positions?: ArrayLike<number>): Mat {
    const l = this.cfg.llm;
    const H = l.hiddenSize;
    const hd = l.headDim;
    const kvOut = l.numKvHeads * hd;
    const pos = positions ?? Array.from({ length: T }, (_, i) => i);
    const rope = (x: Mat, heads: number): void => {
      for (let t = 0; t < T; t++) for (let h = 0; h < heads; h++) for (let i = 0; i < hd / 2; i++) {
        const ang = pos[t] / Math.pow(l.ropeTheta, (2 * i) / hd);
        const o = t * heads * hd + h * hd;
        const x1 = x[o + i];
        const x2 = x[o + i + hd / 2];
        x[o + i] = x1 * Math.cos(ang) - x2 * Math.sin(ang);
        x[o + i + hd / 2] = x2 * Math.cos(ang) + x1 * Math.sin(ang);
      }
    };
    let x: Mat = Float64Array.from(embeds as ArrayLike<number>);
    for (let i = 0; i < l.numLayers; i++) {
      const p = `llm.model.layers.${i}.`;
      const h = rmsNorm(x, T, H, this.w(p + 'input_layernorm.weight'), l.rmsNormEps);
      const bias = (n: string): ArrayLike<number> | undefined => (l.attentionBias ? this.w(`${p}self_attn.${n}_proj.bias`) : undefined);
      let q = linear(h, T, H, this.w(p + 'self_attn.q_proj.weight'), H, bias('q'));
      let k = linear(h, T, H, this.w(p + 'self_attn.k_proj.weight'), kvOut, bias('k'));
      const v = linear(h, T, H, this.w(p + 'self_attn.v_proj.weight'), kvOut, bias('v'));
      if (l.qkNorm) {
        // Qwen3 (4.5): RMSNorm over head_dim of every head ([T, heads·hd] = [T·heads, hd] rows), before RoPE.
        q = rmsNorm(q, T * l.numHeads, hd, this.w(p + 'self_attn.q_norm.weight'), l.rmsNormEps);
        k = rmsNorm(k, T * l.numKvHeads, hd, this.w(p + 'self_attn.k_norm.weight'), l.rmsNormEps);
      }
      rope(q, l.numHeads);
      rope(k, l.numKvHeads);
      const a = attention(q, k, v, T, T, l.numHeads, l.numKvHeads, hd, (qi, kj) => kj <= qi);
      x = add(x, linear(a, T, H, this.w(p + 'self_attn.o_proj.weight'), H));
      const h2 = rmsNorm(x, T, H, this.w(p + 'post_attention_layernorm.weight'), l.rmsNormEps);
      const gate = linear(h2, T, H, this.w(p + 'mlp.gate_proj.weight'), l.intermediateSize).map(silu);
      const up = linear(h2, T, H, this.w(p + 'mlp.up_proj.weight'), l.intermediateSize);
      for (let j = 0; j < gate.length; j++) gate[j] *= up[j];
      x = add(x, linear(gate, T, l.intermediateSize, this.w(p + 'mlp.down_proj.weight'), H));
    }
    const last = rmsNorm(x.subarray((T - 1) * H, T * H), 1, H, this.w('llm.model.norm.weight'), l.rmsNormEps);
    return linear(last, 1, H, this.w('llm.lm_head.weight'), l.vocabSize);
  }
}
