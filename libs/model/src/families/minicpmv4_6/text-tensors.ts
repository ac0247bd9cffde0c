/**
 * Qwen3.5 hybrid text tensors of a MiniCPM-V 4.6 checkpoint (`model.language_model.*`,
 * reference/minicpmv4x.md §1.2; HF Qwen3_5GatedDeltaNet / Qwen3_5Attention module shapes):
 *   linear layers: linear_attn.{in_proj_qkv [2·Hk·dk + Hv·dv, H], in_proj_z [Hv·dv, H], in_proj_b [Hv, H],
 *     in_proj_a [Hv, H], conv1d.weight [conv_dim, 1, K] (no bias), dt_bias [Hv], A_log [Hv],
 *     norm.weight [dv], out_proj [H, Hv·dv]}
 *   full layers: self_attn.{q_proj [2·heads·hd, H] (query and gate interleaved per head), k_proj, v_proj
 *     [kv·hd, H], o_proj [H, heads·hd], q_norm / k_norm [hd]}
 *   every layer: input_layernorm, post_attention_layernorm [H], mlp.{gate,up}_proj [I, H], down_proj [H, I]
 * No lm_head when tie_word_embeddings (4.6 ties it to embed_tokens (the released header has none; an extra lm_head.weight is ignored); an untied config expects `lm_head.weight`).
 */
import type { ExpectedTensor } from '../../checkpoint/tensor-inventory.js';
import { convDim, type HybridTextConfig } from './config.js';

export const TEXT_PREFIX = 'model.language_model.';

export function textTensors46(t: HybridTextConfig): ExpectedTensor[] {
  const out: ExpectedTensor[] = [];
  const add = (name: string, shape: number[], init: ExpectedTensor['init']): void => {
    out.push({ name: TEXT_PREFIX + name, shape, part: 'llm', init });
  };
  const H = t.hiddenSize;
  // Tied to the LM head: std 1/√hidden (the 'weight' init) keeps logits O(1), so float32 logits stay
  // within the 1e-4 parity bound, and the residual stream is not dominated by the input embedding
  // (with std 1, e·e ≈ hidden made greedy decoding repeat its input token forever).
  add('embed_tokens.weight', [t.vocabSize, H], t.tieWordEmbeddings ? 'weight' : 'embed');
  const valueDim = t.linearNumValueHeads * t.linearValueHeadDim;
  for (let i = 0; i < t.numLayers; i++) {
    const p = `layers.${i}.`;
    add(p + 'input_layernorm.weight', [H], 'normZero');
    if (t.layerTypes[i] === 'linear_attention') {
      const la = p + 'linear_attn.';
      add(la + 'in_proj_qkv.weight', [convDim(t), H], 'weight');
      add(la + 'in_proj_z.weight', [valueDim, H], 'weight');
      add(la + 'in_proj_b.weight', [t.linearNumValueHeads, H], 'weight');
      add(la + 'in_proj_a.weight', [t.linearNumValueHeads, H], 'weight');
      add(la + 'conv1d.weight', [convDim(t), 1, t.linearConvKernel], 'weight');
      add(la + 'dt_bias', [t.linearNumValueHeads], 'bias');
      add(la + 'A_log', [t.linearNumValueHeads], 'alog');
      add(la + 'norm.weight', [t.linearValueHeadDim], 'norm');
      add(la + 'out_proj.weight', [H, valueDim], 'weight');
    } else {
      const sa = p + 'self_attn.';
      add(sa + 'q_proj.weight', [2 * t.numHeads * t.headDim, H], 'weight');
      add(sa + 'k_proj.weight', [t.numKvHeads * t.headDim, H], 'weight');
      add(sa + 'v_proj.weight', [t.numKvHeads * t.headDim, H], 'weight');
      add(sa + 'o_proj.weight', [H, t.numHeads * t.headDim], 'weight');
      add(sa + 'q_norm.weight', [t.headDim], 'normZero');
      add(sa + 'k_norm.weight', [t.headDim], 'normZero');
    }
    add(p + 'post_attention_layernorm.weight', [H], 'normZero');
    add(p + 'mlp.gate_proj.weight', [t.intermediateSize, H], 'weight');
    add(p + 'mlp.up_proj.weight', [t.intermediateSize, H], 'weight');
    add(p + 'mlp.down_proj.weight', [H, t.intermediateSize], 'weight');
  }
  add('norm.weight', [H], 'normZero');
  if (!t.tieWordEmbeddings) out.push({ name: 'lm_head.weight', shape: [t.vocabSize, H], part: 'llm', init: 'weight' });
  return out;
}
