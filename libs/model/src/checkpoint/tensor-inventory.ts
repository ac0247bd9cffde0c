/**
 * The exact tensor names and shapes of a MiniCPM-V 2.6 checkpoint for a given config
 * (reference/minicpmv_checkpoint.md §4): 3 + 16·Lv + 2 `vpm.*`, 13 `resampler.*`, 2 + 12·Ll + 1 `llm.*`.
 * Linear weights are [out, in]; `resampler.proj` is a raw [D, D] used as x·proj.
 */
import type { MiniCPMVConfig } from './config.js';

/** 2.6: vpm / resampler / llm; 4.6: vpm (tower + both mergers) / llm. */
export type Part = 'vpm' | 'resampler' | 'llm';
export interface ExpectedTensor {
  name: string;
  shape: number[];
  part: Part;
  /**
   * How the generator initialises it: 'norm' ≈ 1 ± 0.1 (LayerNorm / plain RMSNorm weights), 'normZero'
   * 0 ± 0.1 (Qwen3.5's zero-centred (1 + w) RMSNorms), 'bias' small, 'weight' std 1/√fan_in, 'embed' std 1,
   * 'alog' Gated DeltaNet A_log in [ln 0.05, 0] (per-token decay exp(g) mostly in 0.3…0.99, so state
   * carries across chunks and the recurrence is actually tested).
   */
  init: 'norm' | 'normZero' | 'bias' | 'weight' | 'embed' | 'alog';
}

export function expectedTensors(cfg: MiniCPMVConfig): ExpectedTensor[] {
  const out: ExpectedTensor[] = [];
  const add = (name: string, shape: number[], init: ExpectedTensor['init']): void => {
    out.push({ name, shape, part: name.split('.')[0] as Part, init });
  };
  const v = cfg.vision;
  add('vpm.embeddings.patch_embedding.weight', [v.hiddenSize, v.numChannels, v.patchSize, v.patchSize], 'weight');
  add('vpm.embeddings.patch_embedding.bias', [v.hiddenSize], 'bias');
  add('vpm.embeddings.position_embedding.weight', [v.positionsPerSide * v.positionsPerSide, v.hiddenSize], 'embed');
  for (let i = 0; i < v.numLayers; i++) {
    const p = `vpm.encoder.layers.${i}.`;
    add(p + 'layer_norm1.weight', [v.hiddenSize], 'norm');
    add(p + 'layer_norm1.bias', [v.hiddenSize], 'bias');
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      add(`${p}self_attn.${n}.weight`, [v.hiddenSize, v.hiddenSize], 'weight');
      add(`${p}self_attn.${n}.bias`, [v.hiddenSize], 'bias');
    }
    add(p + 'layer_norm2.weight', [v.hiddenSize], 'norm');
    add(p + 'layer_norm2.bias', [v.hiddenSize], 'bias');
    add(p + 'mlp.fc1.weight', [v.intermediateSize, v.hiddenSize], 'weight');
    add(p + 'mlp.fc1.bias', [v.intermediateSize], 'bias');
    add(p + 'mlp.fc2.weight', [v.hiddenSize, v.intermediateSize], 'weight');
    add(p + 'mlp.fc2.bias', [v.hiddenSize], 'bias');
  }
  add('vpm.post_layernorm.weight', [v.hiddenSize], 'norm');
  add('vpm.post_layernorm.bias', [v.hiddenSize], 'bias');

  const r = cfg.resampler;
  const D = r.embedDim;
  add('resampler.query', [r.queryNum, D], 'embed');
  add('resampler.kv_proj.weight', [D, r.kvDim], 'weight');
  add('resampler.attn.in_proj_weight', [3 * D, D], 'weight');
  add('resampler.attn.in_proj_bias', [3 * D], 'bias');
  add('resampler.attn.out_proj.weight', [D, D], 'weight');
  add('resampler.attn.out_proj.bias', [D], 'bias');
  for (const n of ['ln_q', 'ln_kv', 'ln_post']) {
    add(`resampler.${n}.weight`, [D], 'norm');
    add(`resampler.${n}.bias`, [D], 'bias');
  }
  add('resampler.proj', [D, D], 'weight');

  const l = cfg.llm;
  const H = l.hiddenSize;
  const kvOut = l.numKvHeads * l.headDim;
  add('llm.model.embed_tokens.weight', [l.vocabSize, H], 'embed');
  for (let i = 0; i < l.numLayers; i++) {
    const p = `llm.model.layers.${i}.`;
    add(p + 'input_layernorm.weight', [H], 'norm');
    add(p + 'self_attn.q_proj.weight', [H, H], 'weight');
    if (l.attentionBias) add(p + 'self_attn.q_proj.bias', [H], 'bias');
    add(p + 'self_attn.k_proj.weight', [kvOut, H], 'weight');
    if (l.attentionBias) add(p + 'self_attn.k_proj.bias', [kvOut], 'bias');
    add(p + 'self_attn.v_proj.weight', [kvOut, H], 'weight');
    if (l.attentionBias) add(p + 'self_attn.v_proj.bias', [kvOut], 'bias');
    add(p + 'self_attn.o_proj.weight', [H, H], 'weight');
    // Qwen3 (4.5): one RMSNorm weight per head dim, shared by every query (resp. key) head.
    if (l.qkNorm) {
      add(p + 'self_attn.q_norm.weight', [l.headDim], 'norm');
      add(p + 'self_attn.k_norm.weight', [l.headDim], 'norm');
    }
    add(p + 'post_attention_layernorm.weight', [H], 'norm');
    add(p + 'mlp.gate_proj.weight', [l.intermediateSize, H], 'weight');
    add(p + 'mlp.up_proj.weight', [l.intermediateSize, H], 'weight');
    add(p + 'mlp.down_proj.weight', [H, l.intermediateSize], 'weight');
  }
  add('llm.model.norm.weight', [H], 'norm');
  add('llm.lm_head.weight', [l.vocabSize, H], 'embed');
  return out;
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
