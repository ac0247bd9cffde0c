/**
 * Engine-level request/response shapes. The engine sees token ids and visual embeddings only;
 * prompt assembly (chat template, image layout) happens before, in `prompt/`.
 */
import type { TesseraError } from '@tessera/runtime';

export interface SamplingParams {
  /** Hard cap on generated tokens (≥ 1, ≤ config.maxTokensLimit). */
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** (0, 1]; 1 = off. */
  topP: number;
  /** [0, 1); 0 = off. Keeps tokens with p ≥ minP · p_max. */
  minP: number;
  /** HF-style multiplicative penalty over generated tokens (HF generates from inputs_embeds, so prompt ids are not penalised); 1 = off. */
  repetitionPenalty: number;
  /** OpenAI-style additive penalties over output tokens; 0 = off. */
  presencePenalty: number;
  frequencyPenalty: number;
  /** Per-sequence PRNG seed; undefined = random. Same seed + inputs ⇒ same output, batched or not. */
  seed?: bigint;
  /** Stop strings: the output is cut before the first occurrence (the stop string is not returned). */
  stop: string[];
  /** Token ids that end the sequence (in addition to the model's EOS unless ignoreEos). */
  stopTokenIds: number[];
  ignoreEos: boolean;
  /**
   * vLLM's `min_tokens`: until this many tokens are generated, the stop ids (EOS unless ignoreEos, and
   * stopTokenIds) are masked out of sampling and stop strings are not looked for. 0 = off.
   */
  minTokens: number;
  /** Return the sampled token's log-probability (after penalties and temperature, as the contract says). */
  logprobs: boolean;
  /** With logprobs: the N most likely alternatives per position. */
  topLogprobs: number;
  /**
   * Confidence only (common.proto `confidence`): without `logprobs`, return each sampled token's
   * log-probability under the RAW model distribution (before penalties, logit_bias and temperature;
   * vLLM V1's `raw_logprobs`), no alternatives. O(1) per token with the backend's log-sum-exp; one pass
   * over the vocabulary without it. With `logprobs` it changes nothing.
   */
  confidence?: boolean;
  /** OpenAI `logit_bias`: token id → offset added to its logit (after the penalties, before temperature); absent = none. */
  logitBias?: ReadonlyMap<number, number>;
}

export interface VisualInput {
  /** Prompt positions whose embeddings are replaced (the `<unk>` placeholders), ascending. */
  positions: Int32Array;
  /** [positions.length, hidden] row-major. */
  embeddings: Float32Array;
}

/**
 * Optional per-sequence restriction of the next token (structured output). The grammar lives outside
 * the engine (libs/structured); the sampler only asks it questions. Stateful: one per sequence.
 */
export interface LogitsConstraint {
  /** May the sequence continue with this token? (cheap: one token's bytes) */
  allows(tokenId: number): boolean;
  /** Sets every forbidden token's logit to -Infinity, in place. */
  mask(logits: Float32Array): void;
  /** Commits the sampled token. */
  advance(tokenId: number): void;
}

export interface EngineRequest {
  requestId: string;
  tenant: string;
  promptTokenIds: Int32Array;
  visual?: VisualInput;
  params: SamplingParams;
  /** Absolute deadline, epoch ms. */
  deadlineMs?: number;
  /** Reuse a cached KV prefix (when the engine has prefix caching on). */
  cacheSalt?: string;
  /** Structured output: restricts every sampled token (see LogitsConstraint). */
  constraint?: LogitsConstraint;
  /**
   * vLLM's `prompt_logprobs`: set = return each prompt token's log-probability given the tokens before it
   * (the raw model distribution: no penalties, bias or temperature) with this many top alternatives
   * (0..limits.maxLogprobs). The prompt is then computed whole (no prefix-cache hit), in chunks of at most
   * limits.maxPromptLogitsPerStep tokens.
   */
  promptLogprobs?: number;
}

export type FinishReason = 'stop' | 'length' | 'cancelled' | 'error';

export interface TokenLogprob {
  tokenId: number;
  logprob: number;
  top: { tokenId: number; logprob: number }[];
  /** Prompt logprobs: the token's 1-based rank in the distribution (vLLM reports it). */
  rank?: number;
}

export interface Usage {
  promptTokens: number;
  visualTokens: number;
  completionTokens: number;
  cachedPromptTokens: number;
}

/** Seconds, as in the vLLM per-request metrics. */
export interface Timings {
  queueS: number;
  prefillS: number;
  timeToFirstTokenS: number;
  /** Mean inter-token latency of the decode phase. */
  perTokenS: number;
  /** Decode phase: first token to last token. */
  decodeS: number;
  totalS: number;
}

export interface EngineChunk {
  /** UTF-8-safe text delta (never half a character; may be empty while a stop string is possible). */
  text: string;
  tokenIds: number[];
  logprobs?: TokenLogprob[];
  /** First chunk, with EngineRequest.promptLogprobs: one entry per prompt token, null for the first (nothing precedes it). */
  promptLogprobs?: (TokenLogprob | null)[];
  /** Set on the last chunk only. */
  finishReason?: FinishReason;
  /** Last chunk: the seed the sequence's PRNG used (drawn when the request gave none). */
  seed?: bigint;
  /** Which stop string or token id ended the sequence. */
  stopReason?: string | number;
  usage?: Usage;
  timings?: Timings;
  error?: TesseraError;
}
