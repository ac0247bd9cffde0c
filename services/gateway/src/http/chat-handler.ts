import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ChatEvent, ChatRoute, ChatService, ChatUsage, ChatSource, FinishReason, TokenLogprob } from '../domain/chat-events.js';
import { validateChatRequest } from '../domain/openai/validate-chat.js';
import type { ModelFeatures, ValidTools } from '../domain/openai/response-format.js';
import { deltaOf, MessageAccumulator, ToolOutput } from '../domain/openai/tool-output.js';
import { reasoningFields } from '../domain/openai/reasoning-output.js';
import { limitsForTenant, type ChatLimits } from '../domain/openai/limits.js';
import type { ApiKeyStore, Tenant } from '../domain/tenancy/api-keys.js';
import type { QuotaLedger, RateLimitStatus } from '../domain/tenancy/quota-ledger.js';
import { readJsonBody } from './read-body.js';
import { toHttpError } from './errors.js';
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
}

/** `POST /v1/chat/completions`: auth → body → validation → quota → orchestrate → JSON or SSE. */
export async function handleChatCompletion(req: IncomingMessage, res: ServerResponse, deps: ChatHandlerDeps, info: RequestInfo): Promise<void> {
  const responseId = `chatcmpl-${randomUUID()}`;
  const requestId = info.requestId;
  const created = Math.floor(Date.now() / 1000);
  const abort = new AbortController();
  // The client going away cancels everything downstream (decoder frees its KV at the next step).
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  let reservation: ReturnType<QuotaLedger['admit']> | undefined;
  let usage: ChatUsage | undefined;
  let observed: ChatObservation | undefined;
  let tenant: Tenant | undefined;
  // The root of the request's trace (or a child of the caller's traceparent): every stage call hangs below it.
  const parent = propagation.extract(context.active(), req.headers);
  const span = trace.getTracer('tessera-gateway').startSpan('POST /v1/chat/completions', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': '/v1/chat/completions', 'tessera.response_id': responseId } }, parent);
  const traceCtx = trace.setSpan(parent, span);
  try {
    tenant = deps.keys.authenticate(req.headers.authorization);
    const body = await readJsonBody(req, deps.maxBodyBytes);
    const limits = limitsForTenant(deps.limits, tenant.quota);
    const valid = validateChatRequest(body, limits, deps.models(), deps.features, deps.whereModelsRun?.());
    const promptTokens = await deps.chat.estimatePromptTokens(valid, tenant);
    reservation = deps.quotas.admit(tenant, promptTokens + valid.sampling.maxTokens);
    setRateLimitHeaders(res, deps.quotas.rateLimitStatus(tenant));
    span.setAttribute('tessera.tenant', tenant.id);
    const meta = { id: responseId, created, model: valid.model, tools: valid.tools };
    // An edge site's router says which model answered (a fallback may stand in for a hub model).
    const onRoute = (r: ChatRoute) => {
      meta.model = r.model;
      res.setHeader('x-tessera-served-by', r.servedBy);
      if (r.fallbackFor) res.setHeader('x-tessera-fallback-for', r.fallbackFor);
    };
    const ctx = { tenant, responseId, requestId, deadline: Date.now() + deps.requestTimeoutMs, signal: abort.signal, trace: traceCtx, onRoute };
    observed = deps.metrics.chat(valid.model, info.arrivedAt);
    const events = observe(deps.chat.chat(valid, ctx), observed);
    let final: FinalEvent;
    [usage, final] = valid.stream ? await streamSse(res, events, meta, valid.includeUsage, valid.sampling.logprobs) : await respondJson(res, events, meta, valid.sampling.logprobs);
    observed.finish(final.finishReason, usage, valid.sampling.maxTokens);
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
        res.write(`data: ${JSON.stringify(toHttpError(err).body)}\n\n`);
        res.end();
      }
      return;
    }
    sendError(res, err, { 'x-request-id': requestId });
  }
}

type FinalEvent = Extract<ChatEvent, { kind: 'final' }>;

/** Counts tokens as they reach the client: TTFT and inter-token latency as the user feels them. */
async function* observe(events: AsyncIterable<ChatEvent>, o: ChatObservation): AsyncIterable<ChatEvent> {
  for await (const ev of events) {
    if (ev.kind === 'delta') o.tokens(ev.tokenIds.length || (ev.text ? 1 : 0));
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

interface Meta {
  id: string;
  created: number;
  model: string;
  tools: ValidTools | undefined;
}

function usageJson(u: ChatUsage) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { image_tokens: u.visualTokens, cached_tokens: u.cachedTokens ?? 0 },
  };
}

function logprobsJson(lp: TokenLogprob[]) {
  return { content: lp.map((t) => ({ token: t.token, logprob: t.logprob, bytes: [...Buffer.from(t.token)], top_logprobs: t.top.map((x) => ({ token: x.token, logprob: x.logprob, bytes: [...Buffer.from(x.token)] })) })) };
}

async function respondJson(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: Meta, withLogprobs: boolean): Promise<[ChatUsage, FinalEvent]> {
  const output = new ToolOutput(meta.tools);
  const message = new MessageAccumulator();
  const lps: TokenLogprob[] = [];
  let final: Extract<ChatEvent, { kind: 'final' }> | undefined;
  for await (const ev of events) {
    if (ev.kind === 'delta') {
      if (ev.reasoning) message.reasoning += ev.reasoning;
      message.add(output.push(ev.text));
      if (ev.logprobs) lps.push(...ev.logprobs);
    } else final = ev;
  }
  if (!final) throw new Error('chat ended without a final event');
  message.add(output.end());
  sendJson(
    res,
    200,
    {
      id: meta.id,
      object: 'chat.completion',
      created: meta.created,
      model: meta.model,
      choices: [{ index: 0, message: message.message(), finish_reason: finishReason(final.finishReason, output.calledTools), logprobs: withLogprobs ? logprobsJson(lps) : null }],
      usage: usageJson(final.usage),
      tessera: { timings_ms: final.timings, sources: sourcesJson(final.sources) },
    },
    { 'x-response-id': meta.id },
  );
  return [final.usage, final];
}

/**
 * SSE in OpenAI's shape: a role chunk, content chunks, then the chunk that carries `finish_reason`.
 * That last content chunk also carries our extension `tessera: { timings_ms, sources }` (unknown
 * top-level fields are ignored by OpenAI clients). Only when `stream_options.include_usage` was asked
 * for does a final `choices: []` chunk with `usage` follow, as OpenAI sends it; without it such a chunk
 * would break the common loop `chunk.choices[0].delta`.
 */
async function streamSse(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: Meta, includeUsage: boolean, withLogprobs: boolean): Promise<[ChatUsage, FinalEvent]> {
  const iterator = events[Symbol.asyncIterator]();
  // Pull the first event before committing to 200, so failures before the first token (bad image,
  // quota at a stage, deadline) still get a proper status code.
  let next = await iterator.next();
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-response-id': meta.id });
  const base = { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model };
  const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish, ...extra }], ...(includeUsage && { usage: null }), ...top })}\n\n`;
  res.write(chunk({ role: 'assistant', content: '' }, null));
  // Tool-call text is parsed as it streams: content goes out at once, a call when it is complete.
  const output = new ToolOutput(meta.tools);
  for (; !next.done; next = await iterator.next()) {
    const ev = next.value;
    if (ev.kind === 'delta') {
      // Reasoning (4.5 / 4.6 thinking) first, then the answer's content and tool calls.
      const deltas = [...(ev.reasoning ? [reasoningFields(ev.reasoning)] : []), ...output.push(ev.text).map(deltaOf)];
      const lp = withLogprobs && ev.logprobs ? { logprobs: logprobsJson(ev.logprobs) } : {};
      if (deltas.length === 0 && withLogprobs && ev.logprobs) deltas.push({ content: '' });
      deltas.forEach((d, i) => res.write(chunk(d, null, i === 0 ? lp : {})));
      continue;
    }
    for (const p of output.end()) res.write(chunk(deltaOf(p), null));
    res.write(chunk({}, finishReason(ev.finishReason, output.calledTools), {}, { tessera: { timings_ms: ev.timings, sources: sourcesJson(ev.sources) } }));
    if (includeUsage) res.write(`data: ${JSON.stringify({ ...base, choices: [], usage: usageJson(ev.usage) })}\n\n`);
    res.write('data: [DONE]\n\n');
    res.end();
    return [ev.usage, ev];
  }
  throw new Error('chat ended without a final event');
}

/** A turn that called tools and stopped on its own ends with "tool_calls" (a cut one stays "length"). */
function finishReason(r: FinishReason, calledTools = false): string {
  if (calledTools && r === 'stop') return 'tool_calls';
  return r === 'cancelled' || r === 'error' ? 'stop' : r;
}

function sourcesJson(sources: ChatSource[]) {
  return sources.map((s) => ({ id: s.id, score: s.score, relevance: s.relevance, text: s.text, metadata: s.metadata }));
}

export type { Tenant };
