/**
 * Generated MiniCPM-V 4.6 checkpoints: config.json with the exact 4.6 keys (reference/minicpmv4x.md §1.1)
 * and tiny or real sizes. `tiny` keeps the real vocabulary (248094), patch 14, the 70×70 position table,
 * 448-px slices, and every structural choice (layer pattern, head_dim ≠ hidden/heads, partial rotary,
 * grouped value heads) so the graphs are exercised on the same code paths as the real model.
 * `bench` has the real 4.6 text shapes (hidden 1024, 24 layers = 18 linear + 6 full, ≈ 0.75 B text params).
 */
import { VISION46_REAL, VISION46_TINY, vision46ConfigKeys, type Vision46Sizes } from '../../generate/vision46-tensors.js';

export type Preset46 = 'tiny' | 'bench';

export interface Preset46Sizes {
  text: {
    hidden: number;
    intermediate: number;
    layers: number;
    heads: number;
    kvHeads: number;
    headDim: number;
    linearKeyHeads: number;
    linearValueHeads: number;
    linearKeyDim: number;
    linearValueDim: number;
  };
  vision: Vision46Sizes;
}

export const PRESETS_46: Readonly<Record<Preset46, Preset46Sizes>> = {
  // 4 layers = 3 Gated DeltaNet + 1 full attention (interval 4, as in 4.6); 2 key heads serving 4 value
  // heads tests the grouped-value path that 4.6 (16/16) does not use but Qwen3.5 does.
  tiny: {
    text: { hidden: 64, intermediate: 128, layers: 4, heads: 4, kvHeads: 2, headDim: 32, linearKeyHeads: 2, linearValueHeads: 4, linearKeyDim: 16, linearValueDim: 16 },
    vision: VISION46_TINY,
  },
  bench: {
    text: { hidden: 1024, intermediate: 3584, layers: 24, heads: 8, kvHeads: 2, headDim: 256, linearKeyHeads: 16, linearValueHeads: 16, linearKeyDim: 128, linearValueDim: 128 },
    vision: VISION46_REAL,
  },
};

export const VOCAB_SIZE_46 = 248094;
export const IMAGE_PAD_ID_46 = 248056;
export const VIDEO_PAD_ID_46 = 248057;

export function configJson46(preset: Preset46): Record<string, unknown> {
  const p = PRESETS_46[preset];
  return {
    _name_or_path: `tessera/${preset}-random-minicpm-v-4_6`,
    architectures: ['MiniCPMV4_6ForConditionalGeneration'],
    model_type: 'minicpmv4_6',
    image_token_id: IMAGE_PAD_ID_46,
    video_token_id: VIDEO_PAD_ID_46,
    tie_word_embeddings: true,
    transformers_version: '5.7.0',
    // Vision keys (insert_layer_id, downsample_mode, merge sizes, vision_config) from the vision side.
    ...vision46ConfigKeys(p.vision),
    text_config: {
      model_type: 'qwen3_5_text',
      vocab_size: VOCAB_SIZE_46,
      hidden_size: p.text.hidden,
      intermediate_size: p.text.intermediate,
      num_hidden_layers: p.text.layers,
      num_attention_heads: p.text.heads,
      num_key_value_heads: p.text.kvHeads,
      head_dim: p.text.headDim,
      hidden_act: 'silu',
      max_position_embeddings: 262144,
      initializer_range: 0.02,
      rms_norm_eps: 1e-6,
      use_cache: true,
      tie_word_embeddings: true,
      attention_bias: false,
      attention_dropout: 0.0,
      attn_output_gate: true,
      full_attention_interval: 4,
      partial_rotary_factor: 0.25,
      rope_parameters: { rope_type: 'default', rope_theta: 10000000, partial_rotary_factor: 0.25 },
      linear_conv_kernel_dim: 4,
      linear_key_head_dim: p.text.linearKeyDim,
      linear_value_head_dim: p.text.linearValueDim,
      linear_num_key_heads: p.text.linearKeyHeads,
      linear_num_value_heads: p.text.linearValueHeads,
      mamba_ssm_dtype: 'float32',
      mtp_num_hidden_layers: 1,
      mtp_use_dedicated_embeddings: false,
      mlp_only_layers: [],
      eos_token_id: 248044,
    },
  };
}

/** Slicing defaults of the 4.6 image processor (T46I): 448-px scale, 9 slices, 56-px snapping (4·patch). */
export const PREPROCESSOR_CONFIG_46 = {
  image_processor_type: 'MiniCPMV4_6ImageProcessor',
  processor_class: 'MiniCPMV4_6Processor',
  max_slice_nums: 9,
  scale_resolution: 448,
  patch_size: 14,
  use_image_id: true,
  slice_mode: true,
  downsample_mode: '16x',
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.5, 0.5, 0.5],
  do_convert_rgb: true,
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  resample: 3,
};

/**
 * generation_config.json stand-in: the real file was not readable (reference doc §5). Qwen3.5 convention:
 * eos = <|im_end|> (248046) and <|endoftext|> (248044); sampling defaults of Qwen's non-thinking mode.
 */
export const GENERATION_CONFIG_46 = {
  bos_token_id: 248044,
  eos_token_id: [248046, 248044],
  pad_token_id: 248044,
  do_sample: true,
  temperature: 0.7,
  top_p: 0.8,
  top_k: 20,
  transformers_version: '5.7.0',
};
