/** Request limits the validator enforces; every one comes from configuration (see config.ts). */
export interface ChatLimits {
  maxMessages: number;
  maxTextChars: number;
  maxImagesPerRequest: number;
  maxImageBytes: number;
  maxTokensLimit: number;
  defaultMaxTokens: number;
  maxStopSequences: number;
  maxTopLogprobs: number;
  /** `logit_bias` entries per request (OpenAI's API bound, like its 20 top_logprobs). */
  maxLogitBias: number;
  /** Text completions' `logprobs` (alternatives per token, 0..5 in OpenAI's legacy API). */
  maxCompletionLogprobs: number;
  /** Text completions' `max_tokens` when the request gives none (OpenAI's completions API: 16; chat uses defaultMaxTokens). */
  completionDefaultMaxTokens: number;
  maxSliceNums: number;
  maxCollectionK: number;
  allowRemoteImages: boolean;
  remoteImageAllowList: readonly string[];
  /** `{"type": "video"}` parts per request (MiniCPM-V 4.5). */
  maxVideosPerRequest: number;
  /** Frames per video part (each frame is one slicer call, like a 448² image overview). */
  maxVideoFrames: number;
  /** OpenAI `n`: choices per request, each its own decoder generation of up to max_tokens. */
  maxChoices: number;
  /** Text completions: prompts per request (a batch: OpenAI's and vLLM's `prompt: [p1, p2, …]`), each its own generation(s). */
  maxPrompts: number;
}

export const DEFAULT_CHAT_LIMITS: ChatLimits = Object.freeze({
  maxMessages: 256,
  maxTextChars: 256_000,
  maxImagesPerRequest: 8,
  maxImageBytes: 20 * 1024 * 1024,
  maxTokensLimit: 4096,
  defaultMaxTokens: 256,
  maxStopSequences: 16,
  maxTopLogprobs: 20,
  maxLogitBias: 300,
  maxCompletionLogprobs: 5,
  completionDefaultMaxTokens: 16,
  maxSliceNums: 36,
  maxCollectionK: 50,
  allowRemoteImages: false,
  remoteImageAllowList: [],
  maxVideosPerRequest: 1,
  maxVideoFrames: 64,
  maxChoices: 8,
  maxPrompts: 32,
});

/** The gateway-wide limits narrowed by one tenant's quota (both edges validate against this). */
export function limitsForTenant(limits: ChatLimits, quota: { maxImagesPerRequest: number }): ChatLimits {
  return { ...limits, maxImagesPerRequest: Math.min(limits.maxImagesPerRequest, quota.maxImagesPerRequest) };
}
