import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatEvent, ChatSource, FinishReason, TokenLogprob } from '../domain/chat-events.js';
import { validateChatRequest } from '../domain/openai/validate-chat.js';
import type { ValidChatRequest } from '../domain/openai/valid-request.js';
import { deltaOf, MessageAccumulator, ToolOutput } from '../domain/openai/tool-output.js';
import { reasoningFields } from '../domain/openai/reasoning-output.js';
import { collectEvents, finishReasonJson, handleGeneration, sendAnswer, sseData, streamEvents, usageJson, type ChatHandlerDeps, type FinalEvent, type GenerationEndpoint, type ResponseMeta } from './generation-handler.js';
import type { RequestInfo } from './server.js';

export type { ChatHandlerDeps } from './generation-handler.js';

/** `POST /v1/chat/completions`: the shared generation pipeline (generation-handler.ts) with chat's shapes. */
export function handleChatCompletion(req: IncomingMessage, res: ServerResponse, deps: ChatHandlerDeps, info: RequestInfo): Promise<void> {
  return handleGeneration(req, res, deps, info, CHAT_COMPLETIONS);
}

const CHAT_COMPLETIONS: GenerationEndpoint<ValidChatRequest> = {
  route: '/v1/chat/completions',
  idPrefix: 'chatcmpl',
  validate: (body, limits, deps) => validateChatRequest(body, limits, deps.models(), deps.features, deps.whereModelsRun?.()),
  respondJson,
  streamSse,
};

function logprobsJson(lp: TokenLogprob[]) {
  return { content: lp.map((t) => ({ token: t.token, logprob: t.logprob, bytes: [...Buffer.from(t.token)], top_logprobs: t.top.map((x) => ({ token: x.token, logprob: x.logprob, bytes: [...Buffer.from(x.token)] })) })) };
}

async function respondJson(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: ValidChatRequest): Promise<FinalEvent> {
  const output = new ToolOutput(valid.tools);
  const message = new MessageAccumulator();
  const lps: TokenLogprob[] = [];
  const final = await collectEvents(events, (ev) => {
    if (ev.reasoning) message.reasoning += ev.reasoning;
    message.add(output.push(ev.text));
    if (ev.logprobs) lps.push(...ev.logprobs);
  });
  message.add(output.end());
  sendAnswer(res, meta, {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message: message.message(), finish_reason: finishReason(final.finishReason, output.calledTools), logprobs: valid.sampling.logprobs ? logprobsJson(lps) : null }],
    usage: usageJson(final.usage),
    tessera: { timings_ms: final.timings, sources: sourcesJson(final.sources) },
  });
  return final;
}

/**
 * SSE in OpenAI's shape: a role chunk, content chunks, then the chunk that carries `finish_reason`.
 * That last content chunk also carries our extension `tessera: { timings_ms, sources }` (unknown
 * top-level fields are ignored by OpenAI clients). Only when `stream_options.include_usage` was asked
 * for does a final `choices: []` chunk with `usage` follow, as OpenAI sends it; without it such a chunk
 * would break the common loop `chunk.choices[0].delta`.
 */
function streamSse(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: ValidChatRequest): Promise<FinalEvent> {
  const { includeUsage } = valid;
  const withLogprobs = valid.sampling.logprobs;
  const base = { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model };
  const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) =>
    sseData({ ...base, choices: [{ index: 0, delta, finish_reason: finish, ...extra }], ...(includeUsage && { usage: null }), ...top });
  // Tool-call text is parsed as it streams: content goes out at once, a call when it is complete.
  const output = new ToolOutput(valid.tools);
  return streamEvents(res, events, meta, {
    open: () => res.write(chunk({ role: 'assistant', content: '' }, null)),
    delta: (ev) => {
      // Reasoning (4.5 / 4.6 thinking) first, then the answer's content and tool calls.
      const deltas = [...(ev.reasoning ? [reasoningFields(ev.reasoning)] : []), ...output.push(ev.text).map(deltaOf)];
      const lp = withLogprobs && ev.logprobs ? { logprobs: logprobsJson(ev.logprobs) } : {};
      if (deltas.length === 0 && withLogprobs && ev.logprobs) deltas.push({ content: '' });
      deltas.forEach((d, i) => res.write(chunk(d, null, i === 0 ? lp : {})));
    },
    final: (ev) => {
      for (const p of output.end()) res.write(chunk(deltaOf(p), null));
      res.write(chunk({}, finishReason(ev.finishReason, output.calledTools), {}, { tessera: { timings_ms: ev.timings, sources: sourcesJson(ev.sources) } }));
      if (includeUsage) res.write(sseData({ ...base, choices: [], usage: usageJson(ev.usage) }));
    },
  });
}

/** A turn that called tools and stopped on its own ends with "tool_calls" (a cut one stays "length"). */
function finishReason(r: FinishReason, calledTools = false): string {
  if (calledTools && r === 'stop') return 'tool_calls';
  return finishReasonJson(r);
}

function sourcesJson(sources: ChatSource[]) {
  return sources.map((s) => ({ id: s.id, score: s.score, relevance: s.relevance, text: s.text, metadata: s.metadata }));
}
