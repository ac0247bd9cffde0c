import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ChatContext, ChatEvent, ChatRoute, ChatService, ChatSource, ChatUsage, PromptScores, TokenLogprob } from '../domain/chat-events.js';
import { answerChoiceId, choiceCount, ChoiceTally, interleave, promptResponseId, reservedTokens, type FinalEvent } from '../domain/choices.js';
import type { ModelFeatures } from '../domain/openai/response-format.js';
import { limitsForTenant, type ChatLimits } from '../domain/openai/limits.js';
import type { ValidChatRequest } from '../domain/openai/valid-request.js';
import type { StoredResponses } from '../domain/responses/stored-responses.js';
import type { ApiKeyStore, Tenant } from '../domain/tenancy/api-keys.js';
import type { QuotaLedger, RateLimitStatus } from '../domain/tenancy/quota-ledger.js';
import { readJsonBody } from './read-body.js';
import { toHttpError, type HttpError } from './errors.js';
import { sendError, sendJson } from './web/route-kit.js';
import type { ChatObservation, HttpMetrics } from './request-metrics.js';
import type { RequestInfo } from './server.js';

export interface ChatHandlerDeps {
  keys: ApiKeyStore;
  quotas: QuotaLedger;
  chat: ChatService;
  limits: ChatLimits;
  models: () => readonly string[];
  /** For the 404 of an unknown model: where each model runs (edge sites); default: the ids. */
  whereModelsRun?: () => string;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  metrics: HttpMetrics;
  /** What the served model family supports (tool calls), or per model (edge sites); default: MiniCPM-V 2.6. */
  features?: ModelFeatures | ((model: string) => ModelFeatures);
  /** `/v1/responses` `store` and `previous_response_id`; absent = nothing is stored (TESSERA_GATEWAY_RESPONSES_TTL=0). */
  responses?: StoredResponses;
}

export type DeltaEvent = Extract<ChatEvent, { kind: 'delta' }>;

/** What every answer of one response carries: its id, creation time and the model that answered. */
export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

/**
 * One OpenAI generation endpoint (chat completions, text completions, responses): how its body is validated and
 * how the orchestrator's events are written back. Everything else — auth, body limits, quota
 * admission and settlement, rate-limit and routing headers, metrics, tracing, errors — is the same
 * pipeline for all (handleGeneration).
 */
export interface GenerationEndpoint<R extends ValidChatRequest> {
  /** The route template (span name and `http.route`). */
  route: string;
  /** Response ids are `<prefix>-<uuid>` (`chatcmpl`, `cmpl`), as OpenAI's. */
  idPrefix: string;
  /** An id of another form (Responses: `resp_<hex>`); default `<idPrefix>-<uuid>`. */
  newId?: () => string;
  /** Async where validation reads state (Responses: the conversation `previous_response_id` continues, the tenant's). */
  validate(body: unknown, limits: ChatLimits, deps: ChatHandlerDeps, tenant: Tenant): R | Promise<R>;
  /** Writes the whole answer (every choice) as one JSON body; returns the choices' finals. */
  respondJson(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: R): Promise<ChoiceTally>;
  /** Writes the answer as SSE (streamEvents); returns the choices' finals. */
  streamSse(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: R): Promise<ChoiceTally>;
  /** The SSE frame of a failure after the stream started; default `data: <OpenAI error body>`. */
  sseError?(res: ServerResponse, error: HttpError['body']): string;  /**
   * Requests the body stands for, answered together (text completions' batch of prompts: prompt p's choice
   * i becomes the answer's choice p·n + i, under promptResponseId); default: the request itself.
   */
  split?(valid: R): R[];
}

/** auth → body → validation → quota → orchestrate → JSON or SSE → usage settled. */
export async function handleGeneration<R extends ValidChatRequest>(req: IncomingMessage, res: ServerResponse, deps: ChatHandlerDeps, info: RequestInfo, endpoint: GenerationEndpoint<R>): Promise<void> {
  const responseId = endpoint.newId?.() ?? `${endpoint.idPrefix}-${randomUUID()}`;
  const requestId = info.requestId;
  const created = Math.floor(Date.now() / 1000);
  const abort = new AbortController();
  // The client going away cancels everything downstream (decoder frees its KV at the next step).
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  let reservation: ReturnType<QuotaLedger['admit']> | undefined;
  let observed: ChatObservation | undefined;
  let tenant: Tenant | undefined;
  // The root of the request's trace (or a child of the caller's traceparent): every stage call hangs below it.
  const parent = propagation.extract(context.active(), req.headers);
  const span = trace.getTracer('tessera-gateway').startSpan(`POST ${endpoint.route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': endpoint.route, 'tessera.response_id': responseId } }, parent);
  const traceCtx = trace.setSpan(parent, span);
  try {
    tenant = deps.keys.authenticate(req.headers.authorization);
    const body = await readJsonBody(req, deps.maxBodyBytes);
    const valid = await endpoint.validate(body, limitsForTenant(deps.limits, tenant.quota), deps, tenant);
    const parts = endpoint.split?.(valid) ?? [valid];
    const promptTokens = await Promise.all(parts.map((p) => deps.chat.estimatePromptTokens(p, tenant!)));
    reservation = deps.quotas.admit(tenant, parts.reduce((sum, p, k) => sum + reservedTokens(promptTokens[k]!, p), 0));
    setRateLimitHeaders(res, deps.quotas.rateLimitStatus(tenant));
    span.setAttribute('tessera.tenant', tenant.id);
    const meta: ResponseMeta = { id: responseId, created, model: valid.model };
    // An edge site's router says which model answered (a fallback may stand in for a hub model).
    const onRoute = (r: ChatRoute) => {
      meta.model = r.model;
      res.setHeader('x-tessera-served-by', r.servedBy);
      if (r.fallbackFor) res.setHeader('x-tessera-fallback-for', r.fallbackFor);
    };
    const ctx = { tenant, responseId, requestId, deadline: Date.now() + deps.requestTimeoutMs, signal: abort.signal, trace: traceCtx, onRoute };
    observed = deps.metrics.chat(valid.model, info.arrivedAt);
    const events = observe(parts.length === 1 ? deps.chat.chat(valid, ctx) : batchEvents(deps.chat, parts, ctx), observed);
    const answered = valid.stream ? await endpoint.streamSse(res, events, meta, valid) : await endpoint.respondJson(res, events, meta, valid);
    // One request in the vllm:* series, whatever its n: the tokens of every choice, choice 0's finish reason.
    const usage: ChatUsage = answered.usage();
    observed.finish(answered.first.finishReason, usage, valid.sampling.maxTokens);
    reservation.settle({ prompt: usage.promptTokens, completion: usage.completionTokens });
    span.end();
  } catch (err) {
    reservation?.release();
    observed?.fail(abort.signal.aborted);
    if (tenant && !res.headersSent) setRateLimitHeaders(res, deps.quotas.rateLimitStatus(tenant));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    span.end();
    if (res.headersSent) {
      // Mid-stream failure: the status line is gone, so the error travels as an SSE event.
      if (!res.writableEnded) {
        const body = toHttpError(err).body;
        res.write(endpoint.sseError?.(res, body) ?? sseData(body));
        res.end();
      }
      return;
    }
    sendError(res, err, { 'x-request-id': requestId });
  }
}

/**
 * Every prompt of a batch as its own request (its own response id: promptResponseId), their events
 * interleaved as they arrive with prompt p's choice i renumbered p·n + i; the shared abort signal
 * cancels them all.
 */
function batchEvents<R extends ValidChatRequest>(chat: ChatService, parts: R[], ctx: ChatContext): AsyncIterable<ChatEvent> {
  const renumbered = async function* (events: AsyncIterable<ChatEvent>, offset: number): AsyncIterable<ChatEvent> {
    for await (const ev of events) yield { ...ev, choice: offset + (ev.choice ?? 0) };
  };
  return interleave(parts.map((p, k) => renumbered(chat.chat(p, { ...ctx, responseId: promptResponseId(ctx.responseId, k) }), k * choiceCount(p))));
}

/** Counts tokens as they reach the client: TTFT and inter-token latency (per choice) as the user feels them. */
async function* observe(events: AsyncIterable<ChatEvent>, o: ChatObservation): AsyncIterable<ChatEvent> {
  for await (const ev of events) {
    if (ev.kind === 'delta') o.tokens(ev.tokenIds.length || (ev.text ? 1 : 0), ev.choice);
    yield ev;
  }
}

/**
 * OpenAI's rate-limit headers, so SDK retry logic and dashboards built for OpenAI work: remaining
 * requests and tokens of the tenant's per-minute buckets and the time until each is full again.
 */
function setRateLimitHeaders(res: ServerResponse, s: RateLimitStatus): void {
  res.setHeader('x-ratelimit-limit-requests', String(s.requests.limit));
  res.setHeader('x-ratelimit-remaining-requests', String(s.requests.remaining));
  res.setHeader('x-ratelimit-reset-requests', `${(s.requests.resetMs / 1000).toFixed(3)}s`);
  res.setHeader('x-ratelimit-limit-tokens', String(s.tokens.limit));
  res.setHeader('x-ratelimit-remaining-tokens', String(s.tokens.remaining));
  res.setHeader('x-ratelimit-reset-tokens', `${(s.tokens.resetMs / 1000).toFixed(3)}s`);
}

/** OpenAI's `usage` object (both endpoints; `prompt_tokens_details` is optional in either's schema). */
export function usageJson(u: ChatUsage) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { image_tokens: u.visualTokens, cached_tokens: u.cachedTokens ?? 0 },
  };
}

/**
 * vLLM's `prompt_logprobs`: per prompt token null (the first) or an object keyed by token id holding the
 * prompt token itself and its alternatives, each `{logprob, rank, decoded_token}`.
 */
export function vllmPromptLogprobs(p: PromptScores) {
  return p.tokens.map((t) => {
    if (t.logprob === null) return null;
    const entry = (logprob: number, rank: number | null, token: string) => ({ logprob, rank, decoded_token: token });
    return Object.fromEntries([...t.top.map((x, r) => [String(x.tokenId), entry(x.logprob, r + 1, x.token)] as const), [String(t.tokenId), entry(t.logprob, t.rank, t.token)] as const]);
  });
}

/** One token's log probability as OpenAI lists it (chat's `logprobs.content[i]`, Responses' `output_text.logprobs[i]`). */
export function logprobJson(t: TokenLogprob) {
  return { token: t.token, logprob: t.logprob, bytes: [...Buffer.from(t.token)], top_logprobs: t.top.map((x) => ({ token: x.token, logprob: x.logprob, bytes: [...Buffer.from(x.token)] })) };
}

/** Every delta in order with its choice index, and every choice's final (an answer missing one is a broken stream). */
export async function collectEvents(events: AsyncIterable<ChatEvent>, n: number, onDelta: (ev: DeltaEvent, choice: number) => void, perPrompt = n): Promise<ChoiceTally> {
  const tally = new ChoiceTally(n, perPrompt);
  for await (const ev of events) {
    if (ev.kind === 'delta') onDelta(ev, tally.choiceOf(ev));
    else tally.end(ev);
  }
  if (!tally.done) throw new Error('the answer ended before every choice had its final event');
  return tally;
}

/**
 * Our extension on a choice object when n > 1: `tessera.response_id`, the id that choice's feedback
 * refers to (domain/choices.ts: choice 0 is the response id, choice i `<id>-<i>`). Not written for
 * n = 1, whose answer is the shape it was before `n` (its choice is the response id).
 */
export function choiceExtension(meta: ResponseMeta, choice: number, n: number, perPrompt = n): { tessera?: { response_id: string } } {
  return n > 1 ? { tessera: { response_id: answerChoiceId(meta.id, choice, perPrompt) } } : {};
}

/** The JSON body of a finished answer, with the response id in `x-response-id` as on every answer. */
export function sendAnswer(res: ServerResponse, meta: ResponseMeta, body: Record<string, unknown>): void {
  sendJson(res, 200, body, { 'x-response-id': meta.id });
}

/** One SSE event holding `body` as JSON. */
export function sseData(body: unknown): string {
  return `data: ${JSON.stringify(body)}\n\n`;
}

/**
 * The SSE frame both endpoints share: the first event is pulled before committing to 200, so failures
 * before the first token (bad image, quota at a stage, deadline) still get a proper status code; then
 * `write.open()`, each choice's deltas and final as they arrive (choices interleave), `write.end()`
 * once every choice has ended, and `data: [DONE]` (`write.closing` replaces it; '' = nothing: the
 * Responses API ends with its `response.completed` event).
 */
export async function streamEvents(
  res: ServerResponse,
  events: AsyncIterable<ChatEvent>,
  meta: ResponseMeta,
  n: number,
  write: { open?(): void; delta(ev: DeltaEvent, choice: number): void; choiceEnd(ev: FinalEvent, choice: number): void; end?(answered: ChoiceTally): void | Promise<void>; closing?: string },
  perPrompt = n,
): Promise<ChoiceTally> {
  const tally = new ChoiceTally(n, perPrompt);
  const iterator = events[Symbol.asyncIterator]();
  let next = await iterator.next();
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-response-id': meta.id });
  write.open?.();
  for (; !next.done; next = await iterator.next()) {
    const ev = next.value;
    const choice = tally.choiceOf(ev);
    if (ev.kind === 'delta') {
      write.delta(ev, choice);
      continue;
    }
    tally.end(ev);
    write.choiceEnd(ev, choice);
    if (!tally.done) continue;
    await write.end?.(tally);
    res.write(write.closing ?? 'data: [DONE]\n\n');
    res.end();
    return tally;
  }
  throw new Error('the answer ended before every choice had its final event');
}


/** OpenAI's finish reasons: a cancelled or failed stream that still reached its end reads `stop`. */
export function finishReasonJson(r: FinalEvent['finishReason']): string {
  return r === 'cancelled' || r === 'error' ? 'stop' : r;
}

/** Our extension's retrieval sources (`tessera.sources`), as chat and responses return them. */
export function sourcesJson(sources: ChatSource[]) {
  return sources.map((s) => ({ id: s.id, score: s.score, relevance: s.relevance, text: s.text, metadata: s.metadata }));
}
