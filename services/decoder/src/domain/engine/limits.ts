/** Engine limits; every one is configuration (see the service README for the env keys). */
export interface EngineLimits {
  /** Sequences running (prefilling or decoding) together. */
  maxBatchSize: number;
  /**
   * Cache memory in bytes: KV blocks (all attention layers) plus one state slot per running sequence
   * for models with per-sequence state. Allocated once; admission takes blocks as tokens arrive.
   */
  kvBudgetBytes: number;
  /** Tokens per KV block (vLLM's default 16: small enough that a shared prefix wastes < 1 block). */
  kvBlockSize: number;
  /** Requests waiting for admission, all tenants together; beyond it RESOURCE_EXHAUSTED. */
  maxQueue: number;
  /** Requests waiting per tenant. */
  maxQueuePerTenant: number;
  /** Prompt tokens prefilled per engine step across all prefills: the chunk size of chunked prefill. */
  maxPrefillTokensPerStep: number;
  /** Upper bound for max_tokens. */
  maxTokensLimit: number;
  /** Context window (prompt + completion); the backend's own limit caps it. */
  maxContext: number;
  maxStopStrings: number;
  maxStopStringLength: number;
  maxLogprobs: number;
  maxStopTokenIds: number;
  /** Share full KV blocks across requests of one tenant by content hash (off for models with state). */
  prefixCaching: boolean;
  /**
   * Prompt tokens per step of a request asking for prompt logprobs: each gets a row of logits (vocab × 4
   * bytes: 607 KB for MiniCPM-V 2.6's 151,666 ids, so 128 rows ≈ 78 MB per step).
   */
  maxPromptLogitsPerStep: number;
}

export const DEFAULT_LIMITS: EngineLimits = Object.freeze({
  maxBatchSize: 16,
  kvBudgetBytes: 512 * 1024 * 1024,
  kvBlockSize: 16,
  maxQueue: 256,
  maxQueuePerTenant: 64,
  maxPrefillTokensPerStep: 512,
  maxTokensLimit: 4096,
  maxContext: 8192,
  maxStopStrings: 16,
  maxStopStringLength: 64,
  maxLogprobs: 20,
  maxStopTokenIds: 16,
  prefixCaching: true,
  maxPromptLogitsPerStep: 128,
});
