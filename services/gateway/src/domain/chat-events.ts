import type { Context } from '@opentelemetry/api';
import type { ValidChatRequest } from './openai/valid-request.js';
import type { Tenant } from './tenancy/api-keys.js';

/**
 * What the orchestrator streams back for one chat request, transport-neutral. `choice` is the OpenAI
 * choice index (0..n-1; absent = 0): with `n` > 1 the choices' deltas interleave as their tokens
 * arrive and every choice ends with its own `final` (its finish reason, its usage — the prompt and
 * that choice's completion — and its timings); the request is answered once all n have ended
 * (domain/choices.ts ChoiceTally sums them). With n = 1 there is one final, as before `n`.
 */
export type ChatEvent =
  /** `text` is the answer; `reasoning` the model's thinking before it (4.5 / 4.6 with thinking on: reasoning-output.ts). */
  | { kind: 'delta'; choice?: number; text: string; reasoning?: string; tokenIds: number[]; logprobs?: TokenLogprob[]; prompt?: PromptScores }
  | { kind: 'final'; choice?: number; finishReason: FinishReason; usage: ChatUsage; timings: Record<string, number>; sources: ChatSource[] };

export type FinishReason = 'stop' | 'length' | 'cancelled' | 'error';

export interface TokenLogprob {
  token: string;
  logprob: number;
  top: Array<{ token: string; logprob: number }>;
}

/**
 * With ValidChatRequest.promptLogprobs, on a choice's first delta: the prompt as the decoder decoded it and
 * each prompt token's log-probability (tokens[0]'s logprob is null: nothing precedes it).
 */
export interface PromptScores {
  text: string;
  tokens: PromptTokenScore[];
}

export interface PromptTokenScore {
  tokenId: number;
  token: string;
  /** null for the first token. */
  logprob: number | null;
  /** 1-based rank in the distribution (null for the first token). */
  rank: number | null;
  top: Array<{ tokenId: number; token: string; logprob: number }>;
}

export interface ChatUsage {
  /** The decoder's prompt count: template, text and visual tokens (common.proto Usage.prompt_tokens). */
  promptTokens: number;
  /** The part of promptTokens that are visual token embeddings. */
  visualTokens: number;
  completionTokens: number;
  /** The part of promptTokens the decoder's prefix cache served (OpenAI's prompt_tokens_details.cached_tokens); absent = 0. */
  cachedTokens?: number;
}

export interface ChatSource {
  id: string;
  score: number;
  relevance: number;
  text: string;
  metadata: Record<string, unknown>;
}

export interface ChatContext {
  tenant: Tenant;
  responseId: string;
  requestId: string;
  /** Absolute deadline, epoch ms. */
  deadline: number;
  signal: AbortSignal;
  /** Trace context of the edge's server span; every downstream call is its child. */
  trace?: Context;
  /** Called before the first event when a router picked the model that answers (edge sites). */
  onRoute?: (r: ChatRoute) => void;
}

/** Which model answered and where (edge/site-router.ts): `model` of the response and `x-tessera-*` headers. */
export interface ChatRoute {
  model: string;
  /** `site:<name>` or `hub` */
  servedBy: string;
  /** Set when a fallback model answered instead of the requested one. */
  fallbackFor?: string;
}

/** The port the HTTP and gRPC edges call; the orchestrator implements it over the bus. */
export interface ChatService {
  /** Tokens the request may consume at most (prompt incl. visual tokens + max_tokens), for quota reservation. */
  estimatePromptTokens(req: ValidChatRequest, tenant: Tenant): Promise<number>;
  chat(req: ValidChatRequest, ctx: ChatContext): AsyncIterable<ChatEvent>;
}
