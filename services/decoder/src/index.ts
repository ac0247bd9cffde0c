/**
 * @tessera/decoder — the decoder service: prompt assembly, continuous-batching generation engine,
 * sampling, streaming over gRPC and NATS, vLLM-compatible metrics. See README.md.
 */
export { Engine, type EngineOptions, type EngineStats, type GenerationHandle } from './domain/engine/engine.js';
export type { DecoderBackend, BackendInfo, CacheSize, StepInput, StepRow } from './domain/engine/backend.js';
export { Scheduler, type StepPlan, type ScheduledRow, type SchedSeq } from './domain/engine/scheduler.js';
export { BlockPool } from './domain/engine/block-pool.js';
export { DEFAULT_LIMITS, type EngineLimits } from './domain/engine/limits.js';
export type { EngineRequest, EngineChunk, SamplingParams, FinishReason, Usage, Timings } from './domain/engine/types.js';
export { samplingParams } from './domain/engine/engine-defaults.js';
export { IncrementalDetokenizer, byteLevelTokenBytes, type TokenBytes } from './domain/engine/detokenizer.js';
export { ortBackend } from './adapters/backend-ort.js';
export { loadDecoderModel, type LoadedDecoderModel } from './adapters/load-model.js';
export { assemblePrompt, type AssembledPrompt } from './domain/prompt/assemble-prompt.js';
export { PromptTokenizer } from './domain/prompt/prompt-tokenizer.js';
export { decoderService, toParams, type DecoderServiceDeps } from './service.js';
export { constraintFor } from './domain/structured-output.js';
export { createDecoderApp, composeDecoder, type DecoderApp } from './compose.js';
export { decoderSchema, loadDecoderConfig, type DecoderConfig } from './config.js';
export { DecoderMetrics, DecoderMetric } from './adapters/metrics.js';
