/**
 * The vision half of a MiniCPM-V 4.6 checkpoint: config keys, exact tensor names and shapes
 * (transformers ≥ 5.7 layout, shared/reference/minicpmv4x.md §1.2) and the presence/shape check.
 * The tiny 4.6 generator (generate-46) calls these for the vision tower, the window-attention
 * merger and the final merger; the LLM tensors are its own.
 */
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { Vision46Config } from '../checkpoint/vision46-config.js';
import type { ExpectedTensor } from '../checkpoint/tensor-inventory.js';
import { MERGER46_PREFIX, VISION46_PREFIX } from '../onnx/vision46-graph.js';

export interface Vision46Sizes {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  insertLayerId: number;
}

/** Tiny: 3 layers so both sides of the merger (layers 0..1 full grid, layer 2 on a quarter) are exercised. */
export const VISION46_TINY: Readonly<Vision46Sizes> = Object.freeze({ hidden: 64, intermediate: 96, layers: 3, heads: 4, insertLayerId: 1 });
/** The released MiniCPM-V 4.6 tower (so400m shape, window merger after layer 6). */
export const VISION46_REAL: Readonly<Vision46Sizes> = Object.freeze({ hidden: 1152, intermediate: 4304, layers: 27, heads: 16, insertLayerId: 6 });

/** Top-level config.json keys of the vision side (spread into the 4.6 config object). */
export function vision46ConfigKeys(s: Vision46Sizes): Record<string, unknown> {
  return {
    drop_vision_last_layer: false,
    downsample_mode: '16x',
    image_size: 1120,
    insert_layer_id: s.insertLayerId,
    merge_kernel_size: [2, 2],
    merger_times: 1,
    vision_config: {
      attention_dropout: 0.0,
      hidden_act: 'gelu_pytorch_tanh',
      hidden_size: s.hidden,
      image_size: 980,
      insert_layer_id: s.insertLayerId,
      intermediate_size: s.intermediate,
      layer_norm_eps: 1e-6,
      model_type: 'minicpmv4_6_vision',
      num_attention_heads: s.heads,
      num_channels: 3,
      num_hidden_layers: s.layers,
      patch_size: 14,
      window_kernel_size: [2, 2],
    },
  };
}

/** Every vision/merger tensor of a 4.6 checkpoint, in file order. */
export function vision46ExpectedTensors(cfg: Vision46Config): ExpectedTensor[] {
  const out: ExpectedTensor[] = [];
  const add = (name: string, shape: number[], init: ExpectedTensor['init']): void => {
    out.push({ name, shape, part: 'vpm', init });
  };
  const v = cfg.vision;
  const D = v.hiddenSize;
  const P = VISION46_PREFIX;
  const ln = (p: string, d: number) => {
    add(p + '.weight', [d], 'norm');
    add(p + '.bias', [d], 'bias');
  };
  const lin = (p: string, o: number, i: number) => {
    add(p + '.weight', [o, i], 'weight');
    add(p + '.bias', [o], 'bias');
  };
  const attn = (p: string) => {
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) lin(`${p}self_attn.${n}`, D, D);
  };
  add(P + 'embeddings.patch_embedding.weight', [D, v.numChannels, v.patchSize, v.patchSize], 'weight');
  add(P + 'embeddings.patch_embedding.bias', [D], 'bias');
  add(P + 'embeddings.position_embedding.weight', [v.positionsPerSide * v.positionsPerSide, D], 'embed');
  for (let i = 0; i < v.numLayers; i++) {
    const p = `${P}encoder.layers.${i}.`;
    ln(p + 'layer_norm1', D);
    attn(p);
    ln(p + 'layer_norm2', D);
    lin(p + 'mlp.fc1', v.intermediateSize, D);
    lin(p + 'mlp.fc2', D, v.intermediateSize);
  }
  ln(P + 'post_layernorm', D);
  const m = `${P}vit_merger.`;
  ln(m + 'layer_norm1', D);
  attn(m);
  ln(m + 'pre_norm', 4 * D);
  lin(m + 'linear_1', 4 * v.intermediateSize, 4 * D);
  lin(m + 'linear_2', D, 4 * v.intermediateSize);
  const M = MERGER46_PREFIX;
  ln(M + 'pre_norm', 4 * D);
  lin(M + 'linear_1', 4 * D, 4 * D);
  lin(M + 'linear_2', cfg.llmHiddenSize, 4 * D);
  return out;
}

/**
 * Checks every vision/merger tensor is present with the config's shape; the first one missing or
 * misshapen is named (a 4.6 checkpoint without `vit_merger` or `merger` weights fails here, before
 * any graph is built). `shapeOf` returns undefined for a tensor the files do not have.
 */
export function checkVision46Tensors(cfg: Vision46Config, shapeOf: (name: string) => readonly number[] | undefined, where = 'checkpoint'): void {
  for (const t of vision46ExpectedTensors(cfg)) {
    const s = shapeOf(t.name);
    if (!s) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${where}: tensor ${t.name} is missing (expected shape ${JSON.stringify(t.shape)} from config.json)`, { field: t.name, file: where });
    if (s.length !== t.shape.length || s.some((d, i) => d !== t.shape[i])) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${where}: tensor ${t.name} has shape ${JSON.stringify(s)} but config.json implies ${JSON.stringify(t.shape)}`, { field: t.name, file: where, expected: t.shape, actual: [...s] });
    }
  }
}
