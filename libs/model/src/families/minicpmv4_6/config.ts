/**
 * MiniCPM-V 4.6 `config.json` → a typed, validated config: the Qwen3.5 hybrid text model
 * (`text_config`, model_type `qwen3_5_text`) and the SigLIP2 + window-merger vision tower
 * (`vision_config`, parsed by checkpoint/vision46-config.ts, the vision side's). Key names are the HF ones (reference/minicpmv4x.md §1.1);
 * every refusal names the field, e.g. `text_config.layer_types[5]` or `text_config.rope_parameters.rope_type`.
 */
import { ErrorCode, TesseraError } from '@tessera/errors';
import { parseVision46Config, type Vision46Config } from '../../checkpoint/vision46-config.js';

export type LayerType = 'linear_attention' | 'full_attention';

export interface HybridTextConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  /** Per layer: Gated DeltaNet (`linear_attention`) or gated softmax attention (`full_attention`). */
  layerTypes: LayerType[];
  /** Full attention: query heads, KV heads, head_dim (256 in 4.6 — not hidden/heads). */
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Rotated dims per head: head_dim · partial_rotary_factor (64 of 256 in 4.6). */
  rotaryDim: number;
  ropeTheta: number;
  /** Gated DeltaNet. */
  linearNumKeyHeads: number;
  linearNumValueHeads: number;
  linearKeyHeadDim: number;
  linearValueHeadDim: number;
  linearConvKernel: number;
  rmsNormEps: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  eosTokenIds: number[];
}

export interface MiniCPMV46Config {
  family: '4.6';
  text: HybridTextConfig;
  vision: Vision46Config;
  /** `<|image_pad|>` id (248056 in 4.6). */
  imageTokenId: number;
  videoTokenId: number | null;
  /** Default token mode ("16x": 64 tokens per 448² crop; "4x": 256). */
  downsampleMode: '16x' | '4x';
  raw: Record<string, unknown>;
}

const bad = (file: string, field: string, msg: string): TesseraError => new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: ${field} ${msg}`, { field, file });

function posInt(o: Record<string, unknown>, key: string, file: string, prefix: string, dflt?: number): number {
  const v = o[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw bad(file, prefix + key, `must be a positive integer (got ${JSON.stringify(v)})`);
  return v;
}
function posNum(o: Record<string, unknown>, key: string, file: string, prefix: string, dflt?: number): number {
  const v = o[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw bad(file, prefix + key, `must be a positive number (got ${JSON.stringify(v)})`);
  return v;
}

export const SUPPORTED_TEXT_MODEL_TYPES = ['qwen3_5_text'] as const;

export function parseHybridTextConfig(top: Record<string, unknown>, file: string): HybridTextConfig {
  const tc = top.text_config;
  if (!tc || typeof tc !== 'object' || Array.isArray(tc)) throw bad(file, 'text_config', 'is missing');
  const t = tc as Record<string, unknown>;
  const P = 'text_config.';
  if (!(SUPPORTED_TEXT_MODEL_TYPES as readonly unknown[]).includes(t.model_type)) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: text_config.model_type ${JSON.stringify(t.model_type)} is not supported (supported: ${SUPPORTED_TEXT_MODEL_TYPES.join(', ')})`, { field: 'text_config.model_type', file, limit: SUPPORTED_TEXT_MODEL_TYPES.join('|') });
  }
  if ((t.hidden_act ?? 'silu') !== 'silu') throw bad(file, P + 'hidden_act', `must be "silu" (got ${JSON.stringify(t.hidden_act)})`);
  if (t.attention_bias === true) throw bad(file, P + 'attention_bias', 'must be false (Qwen3.5 attention has no biases)');
  if (Array.isArray(t.mlp_only_layers) && t.mlp_only_layers.length > 0) throw bad(file, P + 'mlp_only_layers', 'must be empty (MoE layouts are not supported)');
  if (t.num_experts !== undefined && t.num_experts !== 0 && t.num_experts !== null) throw bad(file, P + 'num_experts', 'is not supported (dense Qwen3.5 only)');

  const numLayers = posInt(t, 'num_hidden_layers', file, P);
  let layerTypes: LayerType[];
  if (t.layer_types !== undefined && t.layer_types !== null) {
    if (!Array.isArray(t.layer_types) || t.layer_types.length !== numLayers) throw bad(file, P + 'layer_types', `must be an array of ${numLayers} entries (num_hidden_layers)`);
    layerTypes = t.layer_types.map((lt, i) => {
      if (lt !== 'linear_attention' && lt !== 'full_attention') throw bad(file, `${P}layer_types[${i}]`, `${JSON.stringify(lt)} is not a supported layer type (supported: linear_attention, full_attention)`);
      return lt;
    });
  } else {
    // HF Qwen3.5: layer i is full attention iff (i+1) % full_attention_interval == 0 (4.6: layers 3, 7, …, 23).
    const interval = posInt(t, 'full_attention_interval', file, P, 4);
    layerTypes = Array.from({ length: numLayers }, (_, i) => ((i + 1) % interval === 0 ? 'full_attention' : 'linear_attention'));
  }

  // RoPE: `rope_parameters` (transformers ≥ 5) or the legacy `rope_theta` / `partial_rotary_factor` / `rope_scaling`.
  const rp = (t.rope_parameters ?? null) as Record<string, unknown> | null;
  if (rp !== null && (typeof rp !== 'object' || Array.isArray(rp))) throw bad(file, P + 'rope_parameters', 'must be an object');
  const ropeType = rp?.rope_type ?? rp?.type ?? 'default';
  if (ropeType !== 'default') throw bad(file, P + 'rope_parameters.rope_type', `${JSON.stringify(ropeType)} is not supported (supported: default)`);
  const rs = t.rope_scaling as Record<string, unknown> | null | undefined;
  if (rs !== undefined && rs !== null) {
    const rst = rs.rope_type ?? rs.type;
    // A legacy rope_scaling that only carries mrope_section is plain RoPE for 4.6 (all three position rows are equal).
    if (rst !== undefined && rst !== 'default' && rst !== 'mrope') throw bad(file, P + 'rope_scaling.rope_type', `${JSON.stringify(rst)} is not supported (supported: default)`);
  }
  const ropeTheta = posNum(rp ?? {}, 'rope_theta', file, P + 'rope_parameters.', typeof t.rope_theta === 'number' ? t.rope_theta : 10_000_000);
  const partial = Number(rp?.partial_rotary_factor ?? t.partial_rotary_factor ?? 0.25);
  if (!(partial > 0 && partial <= 1)) throw bad(file, P + 'rope_parameters.partial_rotary_factor', `must be in (0, 1] (got ${partial})`);

  const numHeads = posInt(t, 'num_attention_heads', file, P);
  const numKvHeads = posInt(t, 'num_key_value_heads', file, P, numHeads);
  if (numHeads % numKvHeads !== 0) throw bad(file, P + 'num_key_value_heads', `must divide num_attention_heads ${numHeads}`);
  const headDim = posInt(t, 'head_dim', file, P, 256);
  const rotaryDim = Math.floor(headDim * partial);
  if (rotaryDim % 2 !== 0 || rotaryDim === 0) throw bad(file, P + 'rope_parameters.partial_rotary_factor', `gives an odd or zero rotary dim ${rotaryDim} of head_dim ${headDim}`);
  const lk = posInt(t, 'linear_num_key_heads', file, P, 16);
  const lv = posInt(t, 'linear_num_value_heads', file, P, 32);
  if (lv % lk !== 0) throw bad(file, P + 'linear_num_value_heads', `must be a multiple of linear_num_key_heads ${lk}`);
  const tie = (t.tie_word_embeddings ?? top.tie_word_embeddings) === true;
  const eos = top.eos_token_id ?? t.eos_token_id;
  return {
    hiddenSize: posInt(t, 'hidden_size', file, P),
    intermediateSize: posInt(t, 'intermediate_size', file, P),
    numLayers,
    layerTypes,
    numHeads,
    numKvHeads,
    headDim,
    rotaryDim,
    ropeTheta,
    linearNumKeyHeads: lk,
    linearNumValueHeads: lv,
    linearKeyHeadDim: posInt(t, 'linear_key_head_dim', file, P, 128),
    linearValueHeadDim: posInt(t, 'linear_value_head_dim', file, P, 128),
    linearConvKernel: posInt(t, 'linear_conv_kernel_dim', file, P, 4),
    rmsNormEps: posNum(t, 'rms_norm_eps', file, P, 1e-6),
    vocabSize: posInt(t, 'vocab_size', file, P),
    maxPositionEmbeddings: posInt(t, 'max_position_embeddings', file, P, 262144),
    tieWordEmbeddings: tie,
    eosTokenIds: Array.isArray(eos) ? eos.map(Number) : typeof eos === 'number' ? [eos] : [],
  };
}

export function parseConfig46(raw: unknown, file = 'config.json'): MiniCPMV46Config {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw bad(file, '(root)', 'must be a JSON object');
  const c = raw as Record<string, unknown>;
  if (c.model_type !== 'minicpmv4_6') throw bad(file, 'model_type', `must be "minicpmv4_6" (got ${JSON.stringify(c.model_type)})`);
  const text = parseHybridTextConfig(c, file);
  const vision = parseVision46Config(c, file);
  const mode = vision.defaultMode;
  return {
    family: '4.6',
    text,
    vision,
    imageTokenId: posInt(c, 'image_token_id', file, '', 248056),
    videoTokenId: typeof c.video_token_id === 'number' ? c.video_token_id : null,
    downsampleMode: mode,
    raw: c,
  };
}

/** Indices of the full-attention layers (the ones with a KV cache). */
export const fullAttentionLayers = (t: HybridTextConfig): number[] => t.layerTypes.flatMap((lt, i) => (lt === 'full_attention' ? [i] : []));
export const linearAttentionLayers = (t: HybridTextConfig): number[] => t.layerTypes.flatMap((lt, i) => (lt === 'linear_attention' ? [i] : []));
/** Conv channels of a Gated DeltaNet layer: q + k + v = 2·Hk·dk + Hv·dv (6144 in 4.6). */
export const convDim = (t: HybridTextConfig): number => 2 * t.linearNumKeyHeads * t.linearKeyHeadDim + t.linearNumValueHeads * t.linearValueHeadDim;
