/**
 * Sizes of the generated checkpoints. Field names and every non-size value follow the real
 * MiniCPM-V 2.6 `config.json` (reference/minicpmv_checkpoint.md §2); patch 14, a 980-px (70×70)
 * position table, 448-px slices and 64 queries are kept so slicing and prompt layout are the real ones.
 */
export type Preset = 'tiny' | 'bench';

export interface PresetSizes {
  llm: { hidden: number; intermediate: number; layers: number; heads: number; kvHeads: number };
  vision: { hidden: number; intermediate: number; layers: number; heads: number };
}

export const PRESETS: Readonly<Record<Preset, PresetSizes>> = {
  // ~20 M parameters, 19.4 M of them the two [151666, 64|128] vocabulary matrices.
  tiny: { llm: { hidden: 128, intermediate: 256, layers: 2, heads: 4, kvHeads: 2 }, vision: { hidden: 64, intermediate: 128, layers: 2, heads: 4 } },
  // ~420 M parameters: a decoder step reads ~1.0 GB of fp32 weights (90 M layer + 155 M lm_head params).
  bench: { llm: { hidden: 1024, intermediate: 2816, layers: 8, heads: 16, kvHeads: 4 }, vision: { hidden: 384, intermediate: 1536, layers: 6, heads: 6 } },
};

/**
 * MiniCPM-V 4.5 sizes. `tiny` = the 2.6 tiny sizes; `bench` = the REAL 4.5 shapes: Qwen3-8B (hidden 4096,
 * 36 layers, 32 heads / 8 KV heads of 128, MLP 12288; 8.2 B text params with the 151,748-row embedding and
 * untied lm_head) and SigLIP-400M (1152, 27 layers, 16 heads, MLP 4304). fp32 that is ≈ 35 GB, so
 * bench/model/main45.ts builds real-width graphs with a subset of the layers and scales per layer.
 */
export const PRESETS_45: Readonly<Record<Preset, PresetSizes>> = {
  tiny: PRESETS.tiny,
  bench: { llm: { hidden: 4096, intermediate: 12288, layers: 36, heads: 32, kvHeads: 8 }, vision: { hidden: 1152, intermediate: 4304, layers: 27, heads: 16 } },
};

/** The MiniCPM-V 2.6 config.json keys (the layout 4.5 shares) at the given sizes. */
function config26(name: string, p: PresetSizes): Record<string, unknown> {
  return {
    _name_or_path: name,
    architectures: ['MiniCPMV'],
    attention_dropout: 0.0,
    auto_map: {
      AutoConfig: 'configuration_minicpm.MiniCPMVConfig',
      AutoModel: 'modeling_minicpmv.MiniCPMV',
      AutoModelForCausalLM: 'modeling_minicpmv.MiniCPMV',
    },
    batch_vision_input: true,
    bos_token_id: 151643,
    drop_vision_last_layer: false,
    eos_token_id: 151645,
    hidden_act: 'silu',
    hidden_size: p.llm.hidden,
    image_size: 448,
    initializer_range: 0.02,
    intermediate_size: p.llm.intermediate,
    max_position_embeddings: 32768,
    max_window_layers: p.llm.layers,
    model_type: 'minicpmv',
    num_attention_heads: p.llm.heads,
    num_hidden_layers: p.llm.layers,
    num_key_value_heads: p.llm.kvHeads,
    patch_size: 14,
    query_num: 64,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    slice_config: { max_slice_nums: 9, patch_size: 14, model_type: 'minicpmv' },
    slice_mode: true,
    sliding_window: 131072,
    tie_word_embeddings: false,
    torch_dtype: 'bfloat16',
    transformers_version: '4.40.0',
    use_cache: true,
    use_image_id: true,
    use_sliding_window: false,
    version: 2.6,
    vision_batch_size: 16,
    vision_config: {
      hidden_size: p.vision.hidden,
      image_size: 980,
      intermediate_size: p.vision.intermediate,
      model_type: 'siglip',
      num_attention_heads: p.vision.heads,
      num_hidden_layers: p.vision.layers,
      patch_size: 14,
    },
    vocab_size: 151666,
  };
}

export const configJson = (preset: Preset): Record<string, unknown> => config26(`tessera/${preset}-random-minicpmv-2_6`, PRESETS[preset]);

/**
 * MiniCPM-V 4.5: the keys of the released `openbmb/MiniCPM-V-4_5` config.json (read from a public copy of
 * the checkpoint: `version: 4.5`, `architectures: ["MiniCPMV"]`, Qwen3-8B text keys with explicit `head_dim`,
 * `attention_bias: false`, `rope_theta` 1e6, `max_position_embeddings` 40960, `vocab_size` 151748,
 * `batch_3d_resampler: true`, `query_num` 64, `image_size` 448, slice_config 9 / 14) with the preset's sizes:
 * the 2.6 layout, minus the keys the real file does not have (`use_image_id`, `vision_batch_size`: defaults
 * apply), plus the Qwen3 ones.
 */
export function configJson45(preset: Preset): Record<string, unknown> {
  const p = PRESETS_45[preset];
  const { use_image_id: _useImageId, vision_batch_size: _visionBatchSize, ...layout26 } = config26(`tessera/${preset}-random-minicpm-v-4_5`, p);
  return {
    ...layout26,
    version: 4.5,
    attention_bias: false,
    batch_3d_resampler: true,
    head_dim: p.llm.hidden / p.llm.heads,
    max_position_embeddings: 40960,
    rope_scaling: null,
    rope_theta: 1000000,
    sliding_window: null,
    transformers_version: '4.51.0',
    vocab_size: 151748,
  };
}

export const PREPROCESSOR_CONFIG = {
  image_processor_type: 'MiniCPMVImageProcessor',
  auto_map: {
    AutoProcessor: 'processing_minicpmv.MiniCPMVProcessor',
    AutoImageProcessor: 'image_processing_minicpmv.MiniCPMVImageProcessor',
  },
  processor_class: 'MiniCPMVProcessor',
  max_slice_nums: 9,
  scale_resolution: 448,
  patch_size: 14,
  use_image_id: true,
  image_feature_size: 64,
  im_start: '<image>',
  im_end: '</image>',
  slice_start: '<slice>',
  slice_end: '</slice>',
  unk: '<unk>',
  im_id_start: '<image_id>',
  im_id_end: '</image_id>',
  slice_mode: true,
  norm_mean: [0.5, 0.5, 0.5],
  norm_std: [0.5, 0.5, 0.5],
  version: 2.6,
};

export const GENERATION_CONFIG = { _from_model_config: true, bos_token_id: 151643, eos_token_id: 151645 };
