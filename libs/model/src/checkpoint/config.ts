/**
 * MiniCPM-V 2.6 `config.json` → a typed, validated config. Only the fields the graphs need are
 * kept; every check names the offending field so a bad checkpoint fails before any weight is read.
 */
import { ErrorCode, TesseraError } from '@tessera/errors';

export interface LlmConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  bosTokenId: number;
  eosTokenId: number;
  /** Qwen3 (MiniCPM-V 4.5): RMSNorm of every query / key head over head_dim before RoPE (q_norm / k_norm). */
  qkNorm: boolean;
  /** Bias on q/k/v_proj: Qwen2 (2.6) yes, Qwen3 (4.5) `attention_bias` (false in Qwen3-8B). */
  attentionBias: boolean;
}

export interface VisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  /** Layers actually used (num_hidden_layers minus one when drop_vision_last_layer). */
  numLayers: number;
  numHeads: number;
  headDim: number;
  patchSize: number;
  /** vision_config.image_size: 980 for 2.6 → a 70×70 position table. */
  imageSize: number;
  /** image_size / patch_size (70 for 2.6): rows and columns of the learned position table. */
  positionsPerSide: number;
  layerNormEps: number;
  numChannels: number;
}

export interface ResamplerConfig {
  queryNum: number;
  embedDim: number;
  /** hidden_size // 128, hard-coded in MiniCPMV.init_resampler. */
  numHeads: number;
  kvDim: number;
  layerNormEps: number;
}

export interface MiniCPMVConfig {
  version: number;
  llm: LlmConfig;
  vision: VisionConfig;
  resampler: ResamplerConfig;
  /** Slice scale resolution (448 for 2.6). */
  sliceImageSize: number;
  maxSliceNums: number;
  useImageId: boolean;
  /** The original JSON, for copying into the built model. */
  raw: Record<string, unknown>;
}

const bad = (file: string, field: string, msg: string): TesseraError =>
  new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: ${field} ${msg}`, { field, file });

function int(obj: Record<string, unknown>, key: string, file: string, prefix = '', dflt?: number): number {
  const v = obj[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw bad(file, prefix + key, `must be a positive integer (got ${JSON.stringify(v)})`);
  }
  return v;
}
function num(obj: Record<string, unknown>, key: string, file: string, prefix = '', dflt?: number): number {
  const v = obj[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw bad(file, prefix + key, `must be a positive number (got ${JSON.stringify(v)})`);
  return v;
}

/** Architectures this loader understands; anything else is refused with the field named. */
export const SUPPORTED_ARCHITECTURES = ['MiniCPMV'] as const;

export function parseConfig(raw: unknown, file = 'config.json'): MiniCPMVConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw bad(file, '(root)', 'must be a JSON object');
  const c = raw as Record<string, unknown>;
  const archs = c.architectures;
  if (!Array.isArray(archs) || !archs.some((a) => (SUPPORTED_ARCHITECTURES as readonly unknown[]).includes(a))) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: architectures ${JSON.stringify(archs)} is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`, { field: 'architectures', file, limit: SUPPORTED_ARCHITECTURES.join('|') });
  }
  if (c.model_type !== 'minicpmv') throw bad(file, 'model_type', `must be "minicpmv" (got ${JSON.stringify(c.model_type)})`);
  const version = c.version === undefined ? 2.6 : Number(c.version);
  if (version !== 2.6 && version !== 4.5) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: version ${JSON.stringify(c.version)} is not supported (supported: 2.6, 4.5)`, { field: 'version', file, limit: '2.6|4.5' });
  const qwen3 = version === 4.5;
  if ((c.hidden_act ?? 'silu') !== 'silu') throw bad(file, 'hidden_act', `must be "silu" (got ${JSON.stringify(c.hidden_act)})`);
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) throw bad(file, 'rope_scaling', 'is not supported (only default RoPE)');
  if (c.use_sliding_window === true) throw bad(file, 'use_sliding_window', 'is not supported');
  if (c.tie_word_embeddings === true) throw bad(file, 'tie_word_embeddings', `must be false for MiniCPM-V ${version} (separate lm_head)`);

  const hidden = int(c, 'hidden_size', file);
  const heads = int(c, 'num_attention_heads', file);
  const kvHeads = int(c, 'num_key_value_heads', file, '', heads);
  if (hidden % heads !== 0) throw bad(file, 'num_attention_heads', `must divide hidden_size ${hidden}`);
  if (heads % kvHeads !== 0) throw bad(file, 'num_key_value_heads', `must divide num_attention_heads ${heads}`);
  // Qwen3 states head_dim; the graphs' q_proj / o_proj are [hidden, hidden] so it must equal hidden / heads (true of Qwen3-8B: 4096 / 32 = 128).
  const headDim = qwen3 && c.head_dim !== undefined ? int(c, 'head_dim', file) : hidden / heads;
  if (headDim * heads !== hidden) throw bad(file, 'head_dim', `${headDim} × num_attention_heads ${heads} must equal hidden_size ${hidden} (other shapes are not supported)`);
  if (qwen3 && c.attention_bias !== undefined && typeof c.attention_bias !== 'boolean') throw bad(file, 'attention_bias', `must be a boolean (got ${JSON.stringify(c.attention_bias)})`);
  if (headDim % 2 !== 0) throw bad(file, 'num_attention_heads', 'must give an even head dim (RoPE rotates halves)');
  if (hidden % 128 !== 0) throw bad(file, 'hidden_size', `must be a multiple of 128 (resampler heads = hidden_size // 128; got ${hidden})`);

  const vc = c.vision_config;
  if (!vc || typeof vc !== 'object') throw bad(file, 'vision_config', 'is missing');
  const v = vc as Record<string, unknown>;
  if ((v.hidden_act ?? 'gelu_pytorch_tanh') !== 'gelu_pytorch_tanh') throw bad(file, 'vision_config.hidden_act', `must be "gelu_pytorch_tanh" (got ${JSON.stringify(v.hidden_act)})`);
  const vHidden = int(v, 'hidden_size', file, 'vision_config.');
  const vHeads = int(v, 'num_attention_heads', file, 'vision_config.');
  if (vHidden % vHeads !== 0) throw bad(file, 'vision_config.num_attention_heads', `must divide vision_config.hidden_size ${vHidden}`);
  const vPatch = int(v, 'patch_size', file, 'vision_config.');
  const vImage = int(v, 'image_size', file, 'vision_config.');
  if (vImage % vPatch !== 0) throw bad(file, 'vision_config.image_size', `must be a multiple of patch_size ${vPatch}`);
  const drop = c.drop_vision_last_layer === undefined ? true : c.drop_vision_last_layer === true;
  const vLayersTotal = int(v, 'num_hidden_layers', file, 'vision_config.');
  const patchSize = int(c, 'patch_size', file, '', 14);
  if (patchSize !== vPatch) throw bad(file, 'patch_size', `must equal vision_config.patch_size ${vPatch} (got ${patchSize})`);
  const sc = (c.slice_config ?? {}) as Record<string, unknown>;
  if (sc.patch_size !== undefined && sc.patch_size !== patchSize) throw bad(file, 'slice_config.patch_size', `must equal patch_size ${patchSize}`);

  return {
    version,
    llm: {
      hiddenSize: hidden,
      intermediateSize: int(c, 'intermediate_size', file),
      numLayers: int(c, 'num_hidden_layers', file),
      numHeads: heads,
      numKvHeads: kvHeads,
      headDim,
      rmsNormEps: num(c, 'rms_norm_eps', file, '', 1e-6),
      ropeTheta: num(c, 'rope_theta', file, '', 10000),
      vocabSize: int(c, 'vocab_size', file),
      maxPositionEmbeddings: int(c, 'max_position_embeddings', file, '', 32768),
      bosTokenId: Number(c.bos_token_id ?? 151643),
      eosTokenId: Number(c.eos_token_id ?? 151645),
      qkNorm: qwen3,
      attentionBias: qwen3 ? c.attention_bias === true : true,
    },
    vision: {
      hiddenSize: vHidden,
      intermediateSize: int(v, 'intermediate_size', file, 'vision_config.'),
      numLayers: drop ? vLayersTotal - 1 : vLayersTotal,
      numHeads: vHeads,
      headDim: vHidden / vHeads,
      patchSize: vPatch,
      imageSize: vImage,
      positionsPerSide: vImage / vPatch,
      layerNormEps: num(v, 'layer_norm_eps', file, 'vision_config.', 1e-6),
      numChannels: int(v, 'num_channels', file, 'vision_config.', 3),
    },
    resampler: { queryNum: int(c, 'query_num', file, '', 64), embedDim: hidden, numHeads: hidden / 128, kvDim: vHidden, layerNormEps: 1e-6 },
    sliceImageSize: int(c, 'image_size', file, '', 448),
    maxSliceNums: int(sc, 'max_slice_nums', file, 'slice_config.', 9),
    useImageId: c.use_image_id === undefined ? true : c.use_image_id === true,
    raw: c,
  };
}
