/**
 * MiniCPM-V 4.6 vision stage (shared/reference/minicpmv4x.md §3) as ONE ONNX graph serving both
 * token modes: SigLIP2 NaViT encoder → [16x: window-attention merger after layer insert_layer_id,
 * an ONNX `If` on use_vit_merger] → remaining layers → post_layernorm → final 2×2 merger to the LLM
 * width. One graph keeps one copy of the 418 M-parameter tower in memory for both modes; the mode
 * is a per-call input, so a 4x request needs no second session.
 *
 *   pixel_values         float32 [B, 3, 14, P·14]  crops' patches side by side (reshape_by_patch), zero-padded
 *   patch_attention_mask int64   [B, P]           1 = real patch (keys masked in layers 0..insert_layer_id)
 *   position_ids         int64   [B, P]           rows of the 70×70 table (navitPositionIds46)
 *   use_vit_merger       bool    []               true = 16x, false = 4x
 *   window_index         int64   [B, Q1, 4]       16x: each 2×2 window's members TL,TR,BL,BR (P axis); 4x: [B, 0, 4]
 *   tail_attention_mask  int64   [B, T]           key mask of the layers after insert_layer_id (T = Q1 in 16x, P in 4x)
 *   merge_index          int64   [B, Q2, 4]       final merger's 2×2 members (T axis)
 *   → image_embeds       float32 [B, Q2, llm_hidden]  rows past a crop's token count are padding
 * Crops are merged one by one through the index inputs (vision46-layout.ts), never by reshaping the
 * packed batch.
 */
import type { Vision46Config } from '../checkpoint/vision46-config.js';
import type { GraphBuilder, ValueSig } from './graph-builder.js';
import { f } from './graph-builder.js';
import { geluTanh, keyMaskBias, layerNorm, linear, mergeHeads, splitHeads, type WeightSource } from './layers.js';

export const VISION46_PREFIX = 'model.vision_tower.';
export const MERGER46_PREFIX = 'model.merger.mlp.0.';

export function vision46Signature(cfg: Vision46Config): { inputs: ValueSig[]; outputs: ValueSig[] } {
  const v = cfg.vision;
  return {
    inputs: [
      { name: 'pixel_values', dtype: 'float32', shape: ['batch', v.numChannels, v.patchSize, 'num_patches_x_patch'] },
      { name: 'patch_attention_mask', dtype: 'int64', shape: ['batch', 'num_patches'] },
      { name: 'position_ids', dtype: 'int64', shape: ['batch', 'num_patches'] },
      { name: 'use_vit_merger', dtype: 'bool', shape: [] },
      { name: 'window_index', dtype: 'int64', shape: ['batch', 'num_windows', 4] },
      { name: 'tail_attention_mask', dtype: 'int64', shape: ['batch', 'tail_tokens'] },
      { name: 'merge_index', dtype: 'int64', shape: ['batch', 'num_tokens', 4] },
    ],
    outputs: [{ name: 'image_embeds', dtype: 'float32', shape: ['batch', 'num_tokens', cfg.llmHiddenSize] }],
  };
}

/** x [B, N, D] gathered by idx [B, M, 4] → [B, M·4, D] (per batch row). */
function gatherWindows(g: GraphBuilder, x: string, idx: string): string {
  const flat = g.op('Reshape', [idx, g.constI64([0, -1, 1])]);
  return g.op('GatherND', [x, flat], { batch_dims: 1 });
}

/** Exact GELU 0.5·x·(1 + erf(x/√2)) (torch nn.GELU()), the final merger's activation. */
function geluErf(g: GraphBuilder, x: string): string {
  const e = g.op('Erf', [g.op('Mul', [x, g.scalarF32(Math.SQRT1_2)])]);
  return g.op('Mul', [g.op('Mul', [x, g.scalarF32(0.5)]), g.op('Add', [e, g.scalarF32(1)])]);
}

export function buildVision46Graph(g: GraphBuilder, cfg: Vision46Config, w: WeightSource): void {
  const v = cfg.vision;
  const D = v.hiddenSize;
  const sig = vision46Signature(cfg);
  for (const i of sig.inputs) g.input(i.name, i.dtype, i.shape);
  const P = VISION46_PREFIX;

  const conv = g.op('Conv', ['pixel_values', g.weight(P + 'embeddings.patch_embedding.weight', w(P + 'embeddings.patch_embedding.weight'), [D, v.numChannels, v.patchSize, v.patchSize]), g.weight(P + 'embeddings.patch_embedding.bias', w(P + 'embeddings.patch_embedding.bias'), [D])], {
    kernel_shape: [v.patchSize, v.patchSize],
    strides: [v.patchSize, v.patchSize],
  });
  const tokens = g.op('Transpose', [g.op('Squeeze', [conv, g.constI64([2])])], { perm: [0, 2, 1] }); // [B, P, D]
  const table = g.weight(P + 'embeddings.position_embedding.weight', w(P + 'embeddings.position_embedding.weight'), [v.positionsPerSide * v.positionsPerSide, D]);
  let x = g.op('Add', [tokens, g.op('Gather', [table, 'position_ids'], { axis: 0 })]);
  const scale = g.scalarF32(1 / Math.sqrt(v.headDim));

  const attnProj = (gb: GraphBuilder, h: string, p: string, kind: string) => linear(gb, h, p + `self_attn.${kind}`, w(p + `self_attn.${kind}.weight`), D, D, w(p + `self_attn.${kind}.bias`));
  const encoderLayer = (i: number, bias: string): void => {
    const p = `${P}encoder.layers.${i}.`;
    x = g.withScope(`vision/layer${i}`, () => {
      const h = layerNorm(g, x, p + 'layer_norm1', w(p + 'layer_norm1.weight'), w(p + 'layer_norm1.bias'), v.layerNormEps);
      const q = splitHeads(g, g.op('Mul', [attnProj(g, h, p, 'q_proj'), scale]), v.numHeads, v.headDim);
      const k = splitHeads(g, attnProj(g, h, p, 'k_proj'), v.numHeads, v.headDim, true);
      const vv = splitHeads(g, attnProj(g, h, p, 'v_proj'), v.numHeads, v.headDim);
      const probs = g.op('Softmax', [g.op('Add', [g.op('MatMul', [q, k]), bias])], { axis: -1 });
      const attn = mergeHeads(g, g.op('MatMul', [probs, vv]), D);
      const x1 = g.op('Add', [x, attnProj(g, attn, p, 'out_proj')]);
      const h2 = layerNorm(g, x1, p + 'layer_norm2', w(p + 'layer_norm2.weight'), w(p + 'layer_norm2.bias'), v.layerNormEps);
      const m = geluTanh(g, linear(g, h2, p + 'mlp.fc1', w(p + 'mlp.fc1.weight'), v.intermediateSize, D, w(p + 'mlp.fc1.bias')));
      return g.op('Add', [x1, linear(g, m, p + 'mlp.fc2', w(p + 'mlp.fc2.weight'), D, v.intermediateSize, w(p + 'mlp.fc2.bias'))]);
    });
  };

  const headBias = keyMaskBias(g, 'patch_attention_mask');
  for (let i = 0; i <= cfg.insertLayerId; i++) encoderLayer(i, headBias);

  // 16x: ViTWindowAttentionMerger. Attention inside a window is order-free (no positions), so the
  // tokens are gathered once in merge order and the residual is taken in that order too.
  const beforeMerger = x;
  const thenBranch = g.subgraph('vit_merger', (s) => {
    const m = `${P}vit_merger.`;
    const xw = gatherWindows(s, beforeMerger, 'window_index'); // [B, Q1·4, D]
    const t = layerNorm(s, xw, m + 'layer_norm1', w(m + 'layer_norm1.weight'), w(m + 'layer_norm1.bias'), v.layerNormEps);
    const win = (y: string, perm: number[]) => s.op('Transpose', [s.op('Reshape', [y, s.constI64([0, -1, 4, v.numHeads, v.headDim])])], { perm });
    const q = win(s.op('Mul', [attnProj(s, t, m, 'q_proj'), s.scalarF32(1 / Math.sqrt(v.headDim))]), [0, 1, 3, 2, 4]); // [B, Q1, H, 4, hd]
    const k = win(attnProj(s, t, m, 'k_proj'), [0, 1, 3, 4, 2]); // [B, Q1, H, hd, 4]
    const vv = win(attnProj(s, t, m, 'v_proj'), [0, 1, 3, 2, 4]);
    const probs = s.op('Softmax', [s.op('MatMul', [q, k])], { axis: -1 });
    const ctx = s.op('Transpose', [s.op('MatMul', [probs, vv])], { perm: [0, 1, 3, 2, 4] }); // [B, Q1, 4, H, hd]
    const attn = s.op('Reshape', [ctx, s.constI64([0, -1, D])]);
    const x2 = s.op('Add', [xw, attnProj(s, attn, m, 'out_proj')]); // [B, Q1·4, D]
    const concat = s.op('Reshape', [x2, s.constI64([0, -1, 4 * D])]);
    const mean = s.op('ReduceMean', [s.op('Reshape', [x2, s.constI64([0, -1, 4, D])])], { axes: [2], keepdims: 0 });
    const n = layerNorm(s, concat, m + 'pre_norm', w(m + 'pre_norm.weight'), w(m + 'pre_norm.bias'), v.layerNormEps);
    const h1 = geluTanh(s, linear(s, n, m + 'linear_1', w(m + 'linear_1.weight'), 4 * v.intermediateSize, 4 * D, w(m + 'linear_1.bias')));
    const out = s.op('Add', [linear(s, h1, m + 'linear_2', w(m + 'linear_2.weight'), D, 4 * v.intermediateSize, w(m + 'linear_2.bias')), mean]);
    s.output(out, 'vit_merger/out', 'float32', ['batch', 'num_windows', D]);
  });
  const elseBranch = g.subgraph('no_vit_merger', (s) => s.output(beforeMerger, 'no_vit_merger/out', 'float32', ['batch', 'num_patches', D]));
  x = g.op('If', ['use_vit_merger'], { then_branch: thenBranch, else_branch: elseBranch });

  const tailBias = keyMaskBias(g, 'tail_attention_mask');
  for (let i = cfg.insertLayerId + 1; i < v.numLayers; i++) encoderLayer(i, tailBias);
  x = layerNorm(g, x, P + 'post_layernorm', w(P + 'post_layernorm.weight'), w(P + 'post_layernorm.bias'), v.layerNormEps);

  // Final merger (DownsampleMLP, merger_times 1): 2×2 concat → LN(eps 1e-6, fixed in HF) → Linear → erf-GELU → Linear.
  const M = MERGER46_PREFIX;
  const y = g.withScope('merger', () => {
    const concat = g.op('Reshape', [gatherWindows(g, x, 'merge_index'), g.constI64([0, -1, 4 * D])]);
    const n = g.op('LayerNormalization', [concat, g.weight(M + 'pre_norm.weight', w(M + 'pre_norm.weight'), [4 * D]), g.weight(M + 'pre_norm.bias', w(M + 'pre_norm.bias'), [4 * D])], { axis: -1, epsilon: f(1e-6) });
    const h1 = geluErf(g, linear(g, n, M + 'linear_1', w(M + 'linear_1.weight'), 4 * D, 4 * D, w(M + 'linear_1.bias')));
    return linear(g, h1, M + 'linear_2', w(M + 'linear_2.weight'), cfg.llmHiddenSize, 4 * D, w(M + 'linear_2.bias'));
  });
  g.output(y, 'image_embeds', 'float32', sig.outputs[0].shape);
}
