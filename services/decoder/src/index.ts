/**
 * @tessera/decoder — the decoder service: prompt assembly, continuous-batching generation engine,
 * sampling, streaming over gRPC and NATS, vLLM-compatible metrics. See README.md.
 */
export { Engine, type EngineOptions, type EngineStats, type GenerationHandle } from './engine/engine.js';
export type { DecoderBackend, BackendInfo, CacheSize, StepInput, StepRow } from './engine/backend.js';
export { Scheduler, type StepPlan, type ScheduledRow, type SchedSeq } from './engine/scheduler.js';
export { BlockPool } from './engine/block-pool.js';
export { DEFAULT_LIMITS, type EngineLimits } from './engine/limits.js';
export type { EngineRequest, EngineChunk, SamplingParams, FinishReason, Usage, Timings } from './engine/types.js';
export { samplingParams } from './engine/engine-defaults.js';
export { IncrementalDetokenizer, byteLevelTokenBytes, type TokenBytes } from './engine/detokenizer.js';
export { ortBackend } from './backend-ort.js';
export { loadDecoderModel, type LoadedDecoderModel } from './load-model.js';
export { assemblePrompt, type AssembledPrompt } from './prompt/assemble-prompt.js';
export { PromptTokenizer } from './prompt/prompt-tokenizer.js';
export { decoderService, toParams, type DecoderServiceDeps } from './decoder-service.js';
export { constraintFor } from './structured-output.js';
export { createDecoderApp, type DecoderApp } from './decoder-app.js';
export { decoderSchema, loadDecoderConfig, type DecoderConfig } from './config.js';
export { DecoderMetrics, DecoderMetric } from './metrics.js';
