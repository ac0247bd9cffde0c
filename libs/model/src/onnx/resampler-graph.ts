/**
 * Perceiver resampler (reference/minicpmv_checkpoint.md §5.3): 64 learned queries cross-attend to one
 * slice's patch features. The 2D sin-cos key positions are computed in TypeScript (`resamplerPosEmbed`)
 * and fed as an input, so the graph needs no grid arithmetic and the table is exact float32 numpy-style.
 *   vision_embeds        float32 [B, P, vision_hidden]   vision last_hidden_state (padded rows ignored)
 *   patch_attention_mask int64   [B, P]                  1 = real patch (key_padding_mask inverted)
 *   pos_embed            float32 [B, P, llm_hidden]      P2D(h, w) row-major, zero for padding
 *   → image_embeds       float32 [B, 64, llm_hidden]
 */
import type { MiniCPMVConfig } from '../checkpoint/config.js';
import type { GraphBuilder, ValueSig } from './graph-builder.js';
import { keyMaskBias, layerNorm, linear, mergeHeads, splitHeads, type WeightSource } from './layers.js';

export function resamplerSignature(cfg: MiniCPMVConfig): { inputs: ValueSig[]; outputs: ValueSig[] } {
  const r = cfg.resampler;
  return {
    inputs: [
      { name: 'vision_embeds', dtype: 'float32', shape: ['batch', 'num_patches', r.kvDim] },
      { name: 'patch_attention_mask', dtype: 'int64', shape: ['batch', 'num_patches'] },
      { name: 'pos_embed', dtype: 'float32', shape: ['batch', 'num_patches', r.embedDim] },
    ],
    outputs: [{ name: 'image_embeds', dtype: 'float32', shape: ['batch', r.queryNum, r.embedDim] }],
  };
}

export function buildResamplerGraph(g: GraphBuilder, cfg: MiniCPMVConfig, w: WeightSource): void {
  const r = cfg.resampler;
  const D = r.embedDim;
  const hd = D / r.numHeads;
  const sig = resamplerSignature(cfg);
  for (const i of sig.inputs) g.input(i.name, i.dtype, i.shape);

  const inW = w('resampler.attn.in_proj_weight');
  const inB = w('resampler.attn.in_proj_bias');
  const third = (a: Float32Array, k: number, n: number): Float32Array => a.subarray(k * n, (k + 1) * n);

  const kv = layerNorm(g, linear(g, 'vision_embeds', 'resampler.kv_proj', w('resampler.kv_proj.weight'), D, r.kvDim), 'resampler.ln_kv', w('resampler.ln_kv.weight'), w('resampler.ln_kv.bias'), r.layerNormEps);
  const query = g.weight('resampler.query', w('resampler.query'), [1, r.queryNum, D]);
  const q0 = layerNorm(g, query, 'resampler.ln_q', w('resampler.ln_q.weight'), w('resampler.ln_q.bias'), r.layerNormEps);
  const q = linear(g, q0, 'resampler.attn.q', third(inW, 0, D * D), D, D, third(inB, 0, D));
  const k = linear(g, g.op('Add', [kv, 'pos_embed']), 'resampler.attn.k', third(inW, 1, D * D), D, D, third(inB, 1, D));
  const v = linear(g, kv, 'resampler.attn.v', third(inW, 2, D * D), D, D, third(inB, 2, D));

  const qh = splitHeads(g, g.op('Mul', [q, g.scalarF32(1 / Math.sqrt(hd))]), r.numHeads, hd); // [1, H, Q, hd]
  const kh = splitHeads(g, k, r.numHeads, hd, true); // [B, H, hd, P]
  const vh = splitHeads(g, v, r.numHeads, hd); // [B, H, P, hd]
  const probs = g.op('Softmax', [g.op('Add', [g.op('MatMul', [qh, kh]), keyMaskBias(g, 'patch_attention_mask')])], { axis: -1 });
  const attn = mergeHeads(g, g.op('MatMul', [probs, vh]), D); // [B, Q, D]
  const out = linear(g, attn, 'resampler.attn.out_proj', w('resampler.attn.out_proj.weight'), D, D, w('resampler.attn.out_proj.bias'));
  const post = layerNorm(g, out, 'resampler.ln_post', w('resampler.ln_post.weight'), w('resampler.ln_post.bias'), r.layerNormEps);
  // `proj` is a raw parameter used as x·proj (not a Linear): no transpose.
  const y = g.op('MatMul', [post, g.weight('resampler.proj', w('resampler.proj'), [D, D])]);
  g.output(y, 'image_embeds', 'float32', sig.outputs[0].shape);
}
