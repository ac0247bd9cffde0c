/**
 * `vision_config` of a MiniCPM-V 4.6 checkpoint (SigLIP2-400M shaped NaViT encoder + the
 * window-attention merger after `insert_layer_id` + the final 2×2 merger to the LLM width).
 * First version written with the text side; the vision side owns and extends it.
 */
import { ErrorCode, TesseraError } from '@tessera/runtime';

export interface Vision46Config {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  patchSize: number;
  /** vision_config.image_size (980 → a 70×70 learned position table). */
  imageSize: number;
  positionsPerSide: number;
  layerNormEps: number;
  numChannels: number;
  /** Encoder layer after which the window-attention merger runs in 16x mode (6 in 4.6). */
  insertLayerId: number;
  /** 2×2 windows / merges: concatenated width = 4·hidden (4608 in 4.6). */
  windowHiddenSize: number;
  /** vit_merger MLP width = 4·intermediate (17216 in 4.6). */
  windowIntermediateSize: number;
  /** Final merger output = the LLM hidden size. */
  outHiddenSize: number;
}

const bad = (file: string, field: string, msg: string): TesseraError => new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: ${field} ${msg}`, { field, file });

function posInt(o: Record<string, unknown>, key: string, file: string, prefix: string, dflt?: number): number {
  const v = o[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw bad(file, prefix + key, `must be a positive integer (got ${JSON.stringify(v)})`);
  return v;
}

export function parseVision46Config(top: Record<string, unknown>, file: string, llmHidden: number): Vision46Config {
  const vc = top.vision_config;
  if (!vc || typeof vc !== 'object' || Array.isArray(vc)) throw bad(file, 'vision_config', 'is missing');
  const v = vc as Record<string, unknown>;
  const P = 'vision_config.';
  if ((v.hidden_act ?? 'gelu_pytorch_tanh') !== 'gelu_pytorch_tanh') throw bad(file, P + 'hidden_act', `must be "gelu_pytorch_tanh" (got ${JSON.stringify(v.hidden_act)})`);
  const hidden = posInt(v, 'hidden_size', file, P);
  const heads = posInt(v, 'num_attention_heads', file, P);
  if (hidden % heads !== 0) throw bad(file, P + 'num_attention_heads', `must divide vision_config.hidden_size ${hidden}`);
  const patch = posInt(v, 'patch_size', file, P);
  const image = posInt(v, 'image_size', file, P);
  if (image % patch !== 0) throw bad(file, P + 'image_size', `must be a multiple of patch_size ${patch}`);
  const total = posInt(v, 'num_hidden_layers', file, P);
  const numLayers = top.drop_vision_last_layer === true ? total - 1 : total;
  const insert = top.insert_layer_id ?? v.insert_layer_id ?? 6;
  if (typeof insert !== 'number' || !Number.isInteger(insert) || insert < 0 || insert >= numLayers) throw bad(file, 'insert_layer_id', `must be an encoder layer index in [0, ${numLayers - 1}] (got ${JSON.stringify(insert)})`);
  const wk = v.window_kernel_size ?? [2, 2];
  if (!Array.isArray(wk) || wk[0] !== 2 || wk[1] !== 2) throw bad(file, P + 'window_kernel_size', `${JSON.stringify(wk)} is not supported (supported: [2, 2])`);
  const intermediate = posInt(v, 'intermediate_size', file, P);
  const eps = v.layer_norm_eps ?? 1e-6;
  if (typeof eps !== 'number' || !(eps > 0)) throw bad(file, P + 'layer_norm_eps', `must be a positive number (got ${JSON.stringify(eps)})`);
  return {
    hiddenSize: hidden,
    intermediateSize: intermediate,
    numLayers,
    numHeads: heads,
    headDim: hidden / heads,
    patchSize: patch,
    imageSize: image,
    positionsPerSide: image / patch,
    layerNormEps: eps,
    numChannels: posInt(v, 'num_channels', file, P, 3),
    insertLayerId: insert,
    windowHiddenSize: 4 * hidden,
    windowIntermediateSize: 4 * intermediate,
    outHiddenSize: llmHidden,
  };
}
