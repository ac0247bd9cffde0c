/**
 * Decoder configuration: the only place that reads the environment. Every limit has a default;
 * README.md lists the keys.
 */
import { bool, bytes, commonServiceConfig, int, loadConfig, number, oneOf, string, type ConfigOf } from '@tessera/config';

export const decoderSchema = {
  ...commonServiceConfig({ serviceName: 'decoder', grpcPort: 50054 }),
  modelDir: string({ env: 'TESSERA_MODEL_DIR', default: '', doc: 'built model directory (manifest.json); empty = the tiny test model' }),
  executionProvider: oneOf(['cpu', 'cuda', 'webgpu'], { env: 'TESSERA_EXECUTION_PROVIDER', default: 'cpu', doc: 'onnxruntime execution provider (webgpu: any Vulkan GPU through the bundled WebGPU EP; the decoder keeps KV on the device)' }),
  intraOpThreads: int({ env: 'TESSERA_INTRA_OP_THREADS', default: 1, min: 1, max: 256, doc: 'threads inside one ORT op' }),
  maxBatchSize: int({ env: 'TESSERA_DECODER_MAX_BATCH', default: 16, min: 1, max: 1024, doc: 'sequences decoded together in one step' }),
  kvBudget: bytes({ env: 'TESSERA_DECODER_KV_BUDGET', default: 512 * 1024 * 1024, min: 1024 * 1024, doc: 'KV cache memory (paged blocks + per-sequence state slots), allocated once; blocks are taken as tokens arrive, preemption when they run out' }),
  kvBlockSize: int({ env: 'TESSERA_DECODER_KV_BLOCK_SIZE', default: 16, min: 1, max: 1024, doc: 'tokens per KV block (prefix-cache granularity)' }),
  maxQueue: int({ env: 'TESSERA_DECODER_MAX_QUEUE', default: 256, min: 0, max: 100_000, doc: 'requests waiting for admission; beyond it RESOURCE_EXHAUSTED + retry-after' }),
  maxQueuePerTenant: int({ env: 'TESSERA_DECODER_MAX_QUEUE_PER_TENANT', default: 64, min: 1, max: 100_000, doc: 'requests waiting per tenant' }),
  maxPrefillTokensPerStep: int({ env: 'TESSERA_DECODER_PREFILL_TOKENS_PER_STEP', default: 512, min: 1, doc: 'prompt tokens prefilled per engine step across sequences (the chunk size of chunked prefill): a long prompt delays running streams by at most one chunk' }),
  maxPromptLogitsPerStep: int({ env: 'TESSERA_DECODER_PROMPT_LOGITS_PER_STEP', default: 128, min: 1, max: 8192, doc: "prompt tokens per engine step of a request asking for prompt logprobs (each gets a row of logits: vocab x 4 bytes, 607 KB for 2.6's 151,666 ids, so 128 = 78 MB)" }),
  maxContext: int({ env: 'TESSERA_DECODER_MAX_CONTEXT', default: 8192, min: 16, doc: 'prompt + completion tokens (capped by the model positions)' }),
  maxTokensLimit: int({ env: 'TESSERA_DECODER_MAX_TOKENS_LIMIT', default: 4096, min: 1, doc: 'largest max_tokens accepted' }),
  defaultMaxTokens: int({ env: 'TESSERA_DECODER_DEFAULT_MAX_TOKENS', default: 512, min: 1, doc: 'max_tokens when the request leaves it unset' }),
  generationConfig: oneOf(['auto', 'service'], { env: 'TESSERA_DECODER_GENERATION_CONFIG', default: 'auto', doc: "defaults for unset sampling fields: auto = the model's generation_config.json, then MiniCPM-V's chat defaults (as vLLM --generation-config auto); service = the TESSERA_DECODER_DEFAULT_* keys only" }),
  defaultTemperature: number({ env: 'TESSERA_DECODER_DEFAULT_TEMPERATURE', default: 1, min: 0, max: 2, doc: 'temperature when unset' }),
  // 16, not OpenAI's 4: lm-eval's local-completions sends a task's whole `until` list plus the EOS string (vLLM takes any number).
  maxStopStrings: int({ env: 'TESSERA_DECODER_MAX_STOP', default: 16, min: 0, max: 64, doc: 'stop strings per request (the gateway checks TESSERA_GATEWAY_MAX_STOP first)' }),
  maxStopLength: int({ env: 'TESSERA_DECODER_MAX_STOP_LENGTH', default: 64, min: 1, max: 1024, doc: 'characters per stop string' }),
  maxStopTokenIds: int({ env: 'TESSERA_DECODER_MAX_STOP_TOKEN_IDS', default: 16, min: 0, max: 1024, doc: 'stop token ids per request' }),
  enableThinking: bool({ env: 'TESSERA_DECODER_ENABLE_THINKING', default: false, doc: "MiniCPM-V 4.5 / 4.6: enable_thinking for the checkpoint's chat template when the request sets none (GenerateRequest.enable_thinking; false = the instruct model's mode; a -Thinking checkpoint's template thinks regardless)" }),
  maxImages: int({ env: 'TESSERA_DECODER_MAX_IMAGES', default: 16, min: 0, max: 256, doc: 'images per request' }),
  prefixCacheEntries: int({ env: 'TESSERA_DECODER_PREFIX_CACHE', default: 8, min: 0, max: 4096, doc: 'legacy switch kept for existing deployments: 0 turns prefix caching off (capacity is now the KV budget, LRU by block)' }),
  prefixCaching: bool({ env: 'TESSERA_DECODER_PREFIX_CACHING', default: true, doc: 'share full KV blocks across requests of one tenant (+ x-cache-salt) by content hash, LRU-evicted; off for models with per-sequence state' }),
  workQueue: bool({ env: 'TESSERA_DECODER_WORK_QUEUE', default: false, doc: 'serve Generate from the JetStream work stream TESSERA_DECODER as well' }),
  siteAccess: bool({ env: 'TESSERA_DECODER_SITE_ACCESS', default: false, doc: "hub: also serve Generate to edge sites that orchestrate this model themselves (site config route \"stages\"), on tessera.hubmodel.<model revision>.v1.DecoderService.Generate over their leaf links (tenant from the bus header, as the uplink)" }),
} as const;

export type DecoderConfig = ConfigOf<typeof decoderSchema>;

export function loadDecoderConfig(env: NodeJS.ProcessEnv = process.env): DecoderConfig {
  return loadConfig(decoderSchema, env);
}
