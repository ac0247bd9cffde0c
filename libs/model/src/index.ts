/**
 * @tessera/model — MiniCPM-V 2.6 checkpoints → ONNX stages → onnxruntime sessions.
 * See README.md for graph I/O signatures, the manifest format and runtime options.
 */
export { parseConfig, SUPPORTED_ARCHITECTURES, type MiniCPMVConfig, type LlmConfig, type VisionConfig, type ResamplerConfig } from './checkpoint/config.js';
export { readCheckpoint, SERVE_TIME_FILES, type Checkpoint, type PartStats } from './checkpoint/read-checkpoint.js';
export { readSafetensorsHeader, writeSafetensors, type SafetensorsEntry } from './checkpoint/safetensors.js';
export { expectedTensors, type ExpectedTensor, type Part } from './checkpoint/tensor-inventory.js';
export { generateTinyCheckpoint, GENERATOR_VERSION, type GenerateOptions, type GeneratedCheckpoint } from './generate/generate-checkpoint.js';
export { PRESETS, PRESETS_45, configJson45, type Preset } from './generate/presets.js';
export { buildModel, type BuildOptions } from './build-model.js';
export { readManifest, STAGES, type Manifest, type StageManifest, type StageName } from './manifest.js';
export type { ValueSig, ElemType, Dim } from './onnx/graph-builder.js';
export { navitPositionIds, navitBuckets, resamplerPosEmbed, temporalPosEmbed, packSlices, type SlicePixels, type PackedSlices } from './navit.js';
export { PagedIo, pagedLayoutOf, KV_CACHE_DTYPES, type KvCacheDtype, type PagedCacheLayout, type StateTensorSpec } from './onnx/paged-decoder-io.js';
export { openModel, loadTokenizer, type Model } from './runtime/open-model.js';
export { DEFAULT_RUNTIME_OPTIONS, type RuntimeOptions, type ExecutionProvider } from './runtime/runtime-options.js';
export { VisionStage, ResamplerStage, EmbedStage, argmaxRow, type VisionInputs, type ResamplerInputs, type SliceFeatures } from './runtime/stages.js';
export { PagedDecoderStage, type PagedStep, type PagedCacheSize } from './runtime/paged-decoder.js';
export { buildDecoderGraph, decoderSignature, ropeInvFreq } from './onnx/decoder-graph.js';
export { buildPagedDecoderGraph, pagedDecoderSignature } from './onnx/paged-decoder-graph.js';
export { Tokenizer, type ChatMessage } from './tokenizer/tokenizer.js';
export { REQUIRED_SPECIALS, ADDED_TOKENS_2_6, CHAT_TEMPLATE_2_6, type SpecialTokenIds } from './tokenizer/special-tokens.js';
export { ReferenceModel } from './reference/reference-model.js';
export { ensureTinyModel, ensureTinyModelPaths, ensurePresetModelPaths, presetModelTag, modelCacheRoot, TINY_MODEL_TAG, type TinyModelPaths } from './ensure-tiny-model.js';
// Reused by services/retrieval's tiny sentence-embedding (BERT) generator.
export { GraphBuilder, f, FloatAttr } from './onnx/graph-builder.js';
export { WeightSink } from './onnx/weight-sink.js';
export { readTensorBytes } from './checkpoint/safetensors.js';
export { parseNpy, encodeNpy, parseNpz, encodeNpz, type NdArray, type NpyDtype } from './npy.js';
export { runStageRaw } from './runtime/run-stage-raw.js';
export { quantizeBlockwise, dequantize, QUANT_BLOCK, type WeightFormat, type QuantizedWeight } from './onnx/quantize.js';
export { sessionOptions } from './runtime/runtime-options.js';
export { holdGpuDevice, SOFTWARE_GPU_ICD, useSoftwareGpu, type DeviceHold } from './runtime/software-gpu.js';
// Model families (2.6, 4.6) — registry, 4.6 config / tensors / reference / hybrid decoder.
export { FAMILIES, detectFamily, resolveTokenMode, type FamilyId, type FamilySpec, type TokenMode } from './families/registry.js';
export { parseConfig46, parseHybridTextConfig, fullAttentionLayers, linearAttentionLayers, convDim, type MiniCPMV46Config, type HybridTextConfig, type LayerType } from './families/minicpmv4_6/config.js';
export { expectedTensors46 } from './families/minicpmv4_6/tensors.js';
export { textTensors46, TEXT_PREFIX } from './families/minicpmv4_6/text-tensors.js';
export { PRESETS_46, configJson46, GENERATION_CONFIG_46, PREPROCESSOR_CONFIG_46, type Preset46 } from './families/minicpmv4_6/presets.js';
export { HybridTextReference, rmsNorm1p, type ReferenceState, type GdnMode } from './families/minicpmv4_6/text-reference.js';
export { gdnRecurrent, gdnChunked, type GdnInputs } from './families/minicpmv4_6/gated-delta-reference.js';
export { readAnyCheckpoint, type AnyCheckpoint, type Checkpoint46 } from './checkpoint/read-checkpoint.js';
export { readAnyManifest, manifestFamily, type AnyManifest, type Manifest46 } from './manifest.js';
export { HybridDecoderStage, type HybridCache, type HybridLayerCache, type HybridDecoderInputs } from './runtime/hybrid-decoder-stage.js';
export { openAnyModel, openModel46, type Model46, type AnyModel } from './runtime/open-any-model.js';
export { ensureTinyModel46Paths, ensureTinyModel45Paths, GRAPH_VERSION_46 } from './ensure-tiny-model.js';
export { hybridDecoderSignature, buildHybridDecoderGraph, DEFAULT_MAX_CHUNK } from './onnx/hybrid-decoder-graph.js';
// MiniCPM-V 4.6 vision stage (issue 16): config, tensors, graph, reference, runtime.
export { parseVision46Config, cropTokenCount, DOWNSAMPLE_MODES, type Vision46Config, type DownsampleMode } from './checkpoint/vision46-config.js';
export { vision46ExpectedTensors, vision46ConfigKeys, checkVision46Tensors, VISION46_TINY, VISION46_REAL, type Vision46Sizes } from './generate/vision46-tensors.js';
export { buildVision46Graph, vision46Signature, VISION46_PREFIX, MERGER46_PREFIX } from './onnx/vision46-graph.js';
export { referenceVision46, type WeightLookup } from './reference/vision46-reference.js';
export { Vision46Stage } from './runtime/vision46-stage.js';
export { packCrops46, mergeWindows, navitPositionIds46, tokensForGrid, type Vision46Feeds } from './vision46-layout.js';
export { runVision46StageRaw, unpackHfPixels } from './runtime/vision46-run-stage.js';
export { StageSession } from './runtime/stage-session.js';
export { openVision46, isMiniCPMV46Dir, type OpenedVision46 } from './runtime/open-vision46.js';
export { writeTinyVision46ModelDir } from './generate/vision46-tiny-dir.js';
export { runHybridTextStageRaw } from './runtime/hybrid-run-stage.js';
export { buildPromptIds46, buildRawPromptIds46, buildTemplatePromptIds, templateTool, templateToolCalls, type TemplateLayout, type Image46, type Prompt46Options, type Prompt46Tokenizer, type Prompt46Ids } from './families/minicpmv4_6/prompt46.js';
export { ChatTemplate, type ChatTemplateOptions, type ChatContentItem, type ChatTool, type ChatToolCall } from './tokenizer/chat-template.js';
// MiniCPM-V 4.5 (issue 16): tokenizer layout, chat template, prompt ids.
export { buildMiniCPMV45TokenizerFiles, chatTemplate45, GENERATION_CONFIG_45, MINICPMV45_SPECIALS, VOCAB_SIZE_45 } from './families/minicpmv4_5/tokenizer-files.js';
export { buildPromptIds45, imagePlaceholderText45, IMAGE_TAG_45 } from './families/minicpmv4_5/prompt45.js';
export { buildResamplerGraph, resamplerSignature } from './onnx/resampler-graph.js';
