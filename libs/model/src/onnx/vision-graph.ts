/**
 * SigLIP-NaViT vision tower (reference/minicpmv_checkpoint.md §5.2) as one ONNX graph.
 *   pixel_values         float32 [B, 3, 14, P·14]  slices' patches side by side (reshape_by_patch), zero-padded
 *   patch_attention_mask int64   [B, P]           1 = real patch, 0 = padding (keys masked)
 *   position_ids         int64   [B, P]           rows of the 70×70 position table (navitPositionIds)
 *   → last_hidden_state  float32 [B, P, vision_hidden]
 */
import type { MiniCPMVConfig } from '../checkpoint/config.js';
import type { GraphBuilder, ValueSig } from './graph-builder.js';
import { geluTanh, keyMaskBias, layerNorm, linear, mergeHeads, splitHeads, type WeightSource } from './layers.js';

export function visionSignature(cfg: MiniCPMVConfig): { inputs: ValueSig[]; outputs: ValueSig[] } {
  const v = cfg.vision;
  return {
    inputs: [
      { name: 'pixel_values', dtype: 'float32', shape: ['batch', v.numChannels, v.patchSize, 'num_patches_x_patch'] },
      { name: 'patch_attention_mask', dtype: 'int64', shape: ['batch', 'num_patches'] },
      { name: 'position_ids', dtype: 'int64', shape: ['batch', 'num_patches'] },
    ],
    outputs: [{ name: 'last_hidden_state', dtype: 'float32', shape: ['batch', 'num_patches', v.hiddenSize] }],
  };
}

export function buildVisionGraph(g: GraphBuilder, cfg: MiniCPMVConfig, w: WeightSource): void {
  const v = cfg.vision;
  const D = v.hiddenSize;
  const sig = visionSignature(cfg);
  for (const i of sig.inputs) g.input(i.name, i.dtype, i.shape);

  const conv = g.op('Conv', ['pixel_values', g.weight('vpm.patch_embedding.weight', w('vpm.embeddings.patch_embedding.weight'), [D, v.numChannels, v.patchSize, v.patchSize]), g.weight('vpm.patch_embedding.bias', w('vpm.embeddings.patch_embedding.bias'), [D])], {
    kernel_shape: [v.patchSize, v.patchSize],
    strides: [v.patchSize, v.patchSize],
  });
  const tokens = g.op('Transpose', [g.op('Squeeze', [conv, g.constI64([2])])], { perm: [0, 2, 1] }); // [B, P, D]
  const table = g.weight('vpm.position_embedding.weight', w('vpm.embeddings.position_embedding.weight'), [v.positionsPerSide * v.positionsPerSide, D]);
  let x = g.op('Add', [tokens, g.op('Gather', [table, 'position_ids'], { axis: 0 })]);
  const bias = keyMaskBias(g, 'patch_attention_mask');
  const scale = g.scalarF32(1 / Math.sqrt(v.headDim));

  for (let i = 0; i < v.numLayers; i++) {
    const p = `vpm.encoder.layers.${i}.`;
    x = g.withScope(`vision/layer${i}`, () => {
      const h = layerNorm(g, x, p + 'layer_norm1', w(p + 'layer_norm1.weight'), w(p + 'layer_norm1.bias'), v.layerNormEps);
      const q = splitHeads(g, g.op('Mul', [linear(g, h, p + 'self_attn.q_proj', w(p + 'self_attn.q_proj.weight'), D, D, w(p + 'self_attn.q_proj.bias')), scale]), v.numHeads, v.headDim);
      const k = splitHeads(g, linear(g, h, p + 'self_attn.k_proj', w(p + 'self_attn.k_proj.weight'), D, D, w(p + 'self_attn.k_proj.bias')), v.numHeads, v.headDim, true);
      const vv = splitHeads(g, linear(g, h, p + 'self_attn.v_proj', w(p + 'self_attn.v_proj.weight'), D, D, w(p + 'self_attn.v_proj.bias')), v.numHeads, v.headDim);
      const probs = g.op('Softmax', [g.op('Add', [g.op('MatMul', [q, k]), bias])], { axis: -1 });
      const attn = mergeHeads(g, g.op('MatMul', [probs, vv]), D);
      const x1 = g.op('Add', [x, linear(g, attn, p + 'self_attn.out_proj', w(p + 'self_attn.out_proj.weight'), D, D, w(p + 'self_attn.out_proj.bias'))]);
      const h2 = layerNorm(g, x1, p + 'layer_norm2', w(p + 'layer_norm2.weight'), w(p + 'layer_norm2.bias'), v.layerNormEps);
      const m = geluTanh(g, linear(g, h2, p + 'mlp.fc1', w(p + 'mlp.fc1.weight'), v.intermediateSize, D, w(p + 'mlp.fc1.bias')));
      return g.op('Add', [x1, linear(g, m, p + 'mlp.fc2', w(p + 'mlp.fc2.weight'), D, v.intermediateSize, w(p + 'mlp.fc2.bias'))]);
    });
  }
  const out = layerNorm(g, x, 'vpm.post_layernorm', w('vpm.post_layernorm.weight'), w('vpm.post_layernorm.bias'), v.layerNormEps);
  g.output(out, 'last_hidden_state', 'float32', sig.outputs[0].shape);
}
