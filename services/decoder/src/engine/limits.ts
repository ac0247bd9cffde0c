/** Engine limits; every one is configuration (see the service README for the env keys). */
export interface EngineLimits {
  /** Sequences decoded together in one step. */
  maxBatchSize: number;
  /** KV cache budget in bytes; admission reserves (prompt + max_tokens) × bytes per token. */
  kvBudgetBytes: number;
  /** Requests waiting for admission, all tenants together; beyond it RESOURCE_EXHAUSTED. */
  maxQueue: number;
  /** Requests waiting per tenant. */
  maxQueuePerTenant: number;
  /** Prompt tokens prefilled per engine step before the running batch gets its decode step. */
  maxPrefillTokensPerStep: number;
  /** Upper bound for max_tokens. */
  maxTokensLimit: number;
  /** Context window (prompt + completion); the backend's own limit caps it. */
  maxContext: number;
  maxStopStrings: number;
  maxStopStringLength: number;
  maxLogprobs: number;
  maxStopTokenIds: number;
  /** Prefix-cache entries kept (0 = off). */
  prefixCacheEntries: number;
}

export const DEFAULT_LIMITS: EngineLimits = Object.freeze({
  maxBatchSize: 16,
  kvBudgetBytes: 512 * 1024 * 1024,
  maxQueue: 256,
  maxQueuePerTenant: 64,
  maxPrefillTokensPerStep: 4096,
  maxTokensLimit: 4096,
  maxContext: 8192,
  maxStopStrings: 4,
  maxStopStringLength: 64,
  maxLogprobs: 20,
  maxStopTokenIds: 16,
  prefixCacheEntries: 0,
});
