/**
 * Vision + merger tensor names and shapes of a MiniCPM-V 4.6 checkpoint (transformers ≥ 5.7 layout,
 * reference/minicpmv4x.md §1.2). First version written with the text side; the vision side owns it.
 * Linear weights are [out, in] as torch stores them.
 */
import type { ExpectedTensor } from '../../checkpoint/tensor-inventory.js';
import type { MiniCPMV46Config } from './config.js';

export function visionTensors46(cfg: MiniCPMV46Config): ExpectedTensor[] {
  const out: ExpectedTensor[] = [];
  const add = (name: string, shape: number[], init: ExpectedTensor['init'], part: ExpectedTensor['part']): void => {
    out.push({ name, shape, part, init });
  };
  const v = cfg.vision;
  const D = v.hiddenSize;
  const vt = 'model.vision_tower.';
  add(vt + 'embeddings.patch_embedding.weight', [D, v.numChannels, v.patchSize, v.patchSize], 'weight', 'vision');
  add(vt + 'embeddings.patch_embedding.bias', [D], 'bias', 'vision');
  add(vt + 'embeddings.position_embedding.weight', [v.positionsPerSide * v.positionsPerSide, D], 'embed', 'vision');
  const attn = (p: string, part: ExpectedTensor['part']): void => {
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      add(`${p}self_attn.${n}.weight`, [D, D], 'weight', part);
      add(`${p}self_attn.${n}.bias`, [D], 'bias', part);
    }
  };
  const ln = (p: string, d: number, part: ExpectedTensor['part']): void => {
    add(p + '.weight', [d], 'norm', part);
    add(p + '.bias', [d], 'bias', part);
  };
  for (let i = 0; i < v.numLayers; i++) {
    const p = `${vt}encoder.layers.${i}.`;
    ln(p + 'layer_norm1', D, 'vision');
    attn(p, 'vision');
    ln(p + 'layer_norm2', D, 'vision');
    add(p + 'mlp.fc1.weight', [v.intermediateSize, D], 'weight', 'vision');
    add(p + 'mlp.fc1.bias', [v.intermediateSize], 'bias', 'vision');
    add(p + 'mlp.fc2.weight', [D, v.intermediateSize], 'weight', 'vision');
    add(p + 'mlp.fc2.bias', [D], 'bias', 'vision');
  }
  ln(vt + 'post_layernorm', D, 'vision');
  const wm = `${vt}vit_merger.`;
  ln(wm + 'layer_norm1', D, 'merger');
  attn(wm, 'merger');
  ln(wm + 'pre_norm', v.windowHiddenSize, 'merger');
  add(wm + 'linear_1.weight', [v.windowIntermediateSize, v.windowHiddenSize], 'weight', 'merger');
  add(wm + 'linear_1.bias', [v.windowIntermediateSize], 'bias', 'merger');
  add(wm + 'linear_2.weight', [D, v.windowIntermediateSize], 'weight', 'merger');
  add(wm + 'linear_2.bias', [D], 'bias', 'merger');
  const m = 'model.merger.mlp.0.';
  ln(m + 'pre_norm', v.windowHiddenSize, 'merger');
  add(m + 'linear_1.weight', [v.windowHiddenSize, v.windowHiddenSize], 'weight', 'merger');
  add(m + 'linear_1.bias', [v.windowHiddenSize], 'bias', 'merger');
  add(m + 'linear_2.weight', [v.outHiddenSize, v.windowHiddenSize], 'weight', 'merger');
  add(m + 'linear_2.bias', [v.outHiddenSize], 'bias', 'merger');
  return out;
}
