/**
 * The vision half of a MiniCPM-V 4.6 `config.json` (model_type "minicpmv4_6"): the SigLIP2 NaViT
 * tower, where the window-attention merger sits, and the merger's output width (the LLM hidden size).
 * Field names follow transformers' MiniCPMV4_6Config (shared/reference/minicpmv4x.md §1.1); every
 * check names the offending field so a bad checkpoint fails before any weight is read.
 */
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { VisionConfig } from './config.js';

/** Total spatial reduction from ViT patches to LLM tokens (minicpmv4x.md §2 "Token counts"). */
export type DownsampleMode = '16x' | '4x';
export const DOWNSAMPLE_MODES: readonly DownsampleMode[] = ['16x', '4x'];

export interface Vision46Config {
  vision: VisionConfig;
  /** Encoder layer index after which the window-attention merger runs in 16x mode (6 for 4.6). */
  insertLayerId: number;
  /** text_config.hidden_size: the merger's output width. */
  llmHiddenSize: number;
  /** `downsample_mode` of the checkpoint (class default "16x"): used when a request names none. */
  defaultMode: DownsampleMode;
  /** Modes this family serves. */
  modes: readonly DownsampleMode[];
}

const bad = (file: string, field: string, msg: string): TesseraError => new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: ${field} ${msg}`, { field, file });

function posInt(obj: Record<string, unknown>, key: string, file: string, prefix: string, dflt?: number): number {
  const v = obj[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw bad(file, prefix + key, `must be a positive integer (got ${JSON.stringify(v)})`);
  return v;
}

function pair2(obj: Record<string, unknown>, key: string, file: string, prefix: string): void {
  const v = obj[key];
  if (v === undefined) return;
  if (!Array.isArray(v) || v.length !== 2 || v[0] !== 2 || v[1] !== 2) throw bad(file, prefix + key, `must be [2, 2] (got ${JSON.stringify(v)}; only 2×2 merges are implemented)`);
}

/** Parses the vision-relevant keys of a 4.6 config.json object. */
export function parseVision46Config(raw: Record<string, unknown>, file = 'config.json'): Vision46Config {
  const vc = raw.vision_config;
  if (!vc || typeof vc !== 'object' || Array.isArray(vc)) throw bad(file, 'vision_config', 'is missing');
  const v = vc as Record<string, unknown>;
  const tc = raw.text_config;
  if (!tc || typeof tc !== 'object' || Array.isArray(tc)) throw bad(file, 'text_config', 'is missing');
  const act = v.hidden_act ?? 'gelu_pytorch_tanh';
  if (act !== 'gelu_pytorch_tanh') throw bad(file, 'vision_config.hidden_act', `must be "gelu_pytorch_tanh" (got ${JSON.stringify(act)})`);
  const hidden = posInt(v, 'hidden_size', file, 'vision_config.');
  const heads = posInt(v, 'num_attention_heads', file, 'vision_config.');
  if (hidden % heads !== 0) throw bad(file, 'vision_config.num_attention_heads', `must divide vision_config.hidden_size ${hidden}`);
  const patch = posInt(v, 'patch_size', file, 'vision_config.');
  const image = posInt(v, 'image_size', file, 'vision_config.');
  if (image % patch !== 0) throw bad(file, 'vision_config.image_size', `must be a multiple of vision_config.patch_size ${patch}`);
  const layers = posInt(v, 'num_hidden_layers', file, 'vision_config.');
  // HF copies the top-level insert_layer_id into the vision config (MiniCPMV4_6Config.__post_init__).
  const insertRaw = raw.insert_layer_id ?? v.insert_layer_id ?? 6;
  if (typeof insertRaw !== 'number' || !Number.isInteger(insertRaw) || insertRaw < 0 || insertRaw >= layers) {
    throw bad(file, 'insert_layer_id', `must be an integer in 0..${layers - 1} (vision_config.num_hidden_layers − 1; got ${JSON.stringify(insertRaw)})`);
  }
  pair2(v, 'window_kernel_size', file, 'vision_config.');
  pair2(raw, 'merge_kernel_size', file, '');
  if ((raw.merger_times ?? 1) !== 1) throw bad(file, 'merger_times', `must be 1 (got ${JSON.stringify(raw.merger_times)}; 4.6 ships one merge round)`);
  // transformers' 4.6 vision model never drops a layer; a checkpoint asking for it is not the 4.6 we know.
  if (raw.drop_vision_last_layer === true) throw bad(file, 'drop_vision_last_layer', 'must be false for minicpmv4_6');
  const mode = raw.downsample_mode ?? '16x';
  if (!DOWNSAMPLE_MODES.includes(mode as DownsampleMode)) throw bad(file, 'downsample_mode', `must be one of ${DOWNSAMPLE_MODES.join(', ')} (got ${JSON.stringify(mode)})`);
  const eps = v.layer_norm_eps ?? 1e-6;
  if (typeof eps !== 'number' || !(eps > 0)) throw bad(file, 'vision_config.layer_norm_eps', `must be a positive number (got ${JSON.stringify(eps)})`);
  return {
    vision: {
      hiddenSize: hidden,
      intermediateSize: posInt(v, 'intermediate_size', file, 'vision_config.'),
      numLayers: layers,
      numHeads: heads,
      headDim: hidden / heads,
      patchSize: patch,
      imageSize: image,
      positionsPerSide: image / patch,
      layerNormEps: eps,
      numChannels: posInt(v, 'num_channels', file, 'vision_config.', 3),
    },
    insertLayerId: insertRaw,
    llmHiddenSize: posInt(tc as Record<string, unknown>, 'hidden_size', file, 'text_config.'),
    defaultMode: mode as DownsampleMode,
    modes: DOWNSAMPLE_MODES,
  };
}

/** Visual tokens of one crop of `height`×`width` pixels (sides multiples of 4·patch). */
export function cropTokenCount(height: number, width: number, mode: DownsampleMode, patchSize = 14): number {
  const unit = patchSize * (mode === '16x' ? 4 : 2);
  return (height / unit) * (width / unit);
}
