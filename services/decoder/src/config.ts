/**
 * Decoder configuration: the only place that reads the environment. Every limit has a default;
 * README.md lists the keys.
 */
import { bool, bytes, commonServiceConfig, int, loadConfig, number, oneOf, string, type ConfigOf } from '@tessera/config';

export const decoderSchema = {
  ...commonServiceConfig({ serviceName: 'decoder', grpcPort: 50054 }),
  modelDir: string({ env: 'TESSERA_MODEL_DIR', default: '', doc: 'built model directory (manifest.json); empty = the tiny test model' }),
  executionProvider: oneOf(['cpu', 'cuda'], { env: 'TESSERA_EXECUTION_PROVIDER', default: 'cpu', doc: 'onnxruntime execution provider' }),
  intraOpThreads: int({ env: 'TESSERA_INTRA_OP_THREADS', default: 1, min: 1, max: 256, doc: 'threads inside one ORT op' }),
  maxBatchSize: int({ env: 'TESSERA_DECODER_MAX_BATCH', default: 16, min: 1, max: 1024, doc: 'sequences decoded together in one step' }),
  kvBudget: bytes({ env: 'TESSERA_DECODER_KV_BUDGET', default: 512 * 1024 * 1024, min: 1024 * 1024, doc: 'KV cache budget; admission reserves (prompt + max_tokens) x bytes/token' }),
  maxQueue: int({ env: 'TESSERA_DECODER_MAX_QUEUE', default: 256, min: 0, max: 100_000, doc: 'requests waiting for admission; beyond it RESOURCE_EXHAUSTED + retry-after' }),
  maxQueuePerTenant: int({ env: 'TESSERA_DECODER_MAX_QUEUE_PER_TENANT', default: 64, min: 1, max: 100_000, doc: 'requests waiting per tenant' }),
  maxPrefillTokensPerStep: int({ env: 'TESSERA_DECODER_PREFILL_TOKENS_PER_STEP', default: 4096, min: 1, doc: 'prompt tokens prefilled per engine step before the next decode step' }),
  maxContext: int({ env: 'TESSERA_DECODER_MAX_CONTEXT', default: 8192, min: 16, doc: 'prompt + completion tokens (capped by the model positions)' }),
  maxTokensLimit: int({ env: 'TESSERA_DECODER_MAX_TOKENS_LIMIT', default: 4096, min: 1, doc: 'largest max_tokens accepted' }),
  defaultMaxTokens: int({ env: 'TESSERA_DECODER_DEFAULT_MAX_TOKENS', default: 512, min: 1, doc: 'max_tokens when the request leaves it unset' }),
  defaultTemperature: number({ env: 'TESSERA_DECODER_DEFAULT_TEMPERATURE', default: 1, min: 0, max: 2, doc: 'temperature when unset' }),
  maxStopStrings: int({ env: 'TESSERA_DECODER_MAX_STOP', default: 4, min: 0, max: 64, doc: 'stop strings per request' }),
  maxStopLength: int({ env: 'TESSERA_DECODER_MAX_STOP_LENGTH', default: 64, min: 1, max: 1024, doc: 'characters per stop string' }),
  maxStopTokenIds: int({ env: 'TESSERA_DECODER_MAX_STOP_TOKEN_IDS', default: 16, min: 0, max: 1024, doc: 'stop token ids per request' }),
  maxImages: int({ env: 'TESSERA_DECODER_MAX_IMAGES', default: 16, min: 0, max: 256, doc: 'images per request' }),
  prefixCacheEntries: int({ env: 'TESSERA_DECODER_PREFIX_CACHE', default: 8, min: 0, max: 4096, doc: 'text prompt prefixes whose KV is kept for reuse (0 = off)' }),
  workQueue: bool({ env: 'TESSERA_DECODER_WORK_QUEUE', default: false, doc: 'serve Generate from the JetStream work stream TESSERA_DECODER as well' }),
} as const;

export type DecoderConfig = ConfigOf<typeof decoderSchema>;

export function loadDecoderConfig(env: NodeJS.ProcessEnv = process.env): DecoderConfig {
  return loadConfig(decoderSchema, env);
}
