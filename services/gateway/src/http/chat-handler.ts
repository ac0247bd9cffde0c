import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatEvent, FinishReason, PromptScores, TokenLogprob } from '../domain/chat-events.js';
import { validateChatRequest } from '../domain/openai/validate-chat.js';
import type { ValidChatRequest } from '../domain/openai/valid-request.js';
import { deltaOf, MessageAccumulator, ToolOutput } from '../domain/openai/tool-output.js';
import { reasoningFields } from '../domain/openai/reasoning-output.js';
import { choiceCount, type ChoiceTally } from '../domain/choices.js';
import { choiceExtension, collectEvents, finishReasonJson, handleGeneration, sendAnswer, sourcesJson, logprobJson, sseData, streamEvents, usageJson, vllmPromptLogprobs, type ChatHandlerDeps, type GenerationEndpoint, type ResponseMeta } from './generation-handler.js';
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
  return { content: lp.map(logprobJson) };
}

/** One choice's answer as it is assembled: tool-call parsing and the message (one per choice). */
class ChoiceAnswer {
  readonly output: ToolOutput;
  readonly message = new MessageAccumulator();
  readonly logprobs: TokenLogprob[] = [];

  constructor(tools: ValidChatRequest['tools']) {
    this.output = new ToolOutput(tools);
  }
}

async function respondJson(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: ValidChatRequest): Promise<ChoiceTally> {
  const n = choiceCount(valid);
  const answers = Array.from({ length: n }, () => new ChoiceAnswer(valid.tools));
  let promptScores: PromptScores | undefined;
  const answered = await collectEvents(events, n, (ev, choice) => {
    // vLLM's chat `prompt_logprobs` is the response's (one prompt), not a choice's.
    if (ev.prompt) promptScores ??= ev.prompt;
    const a = answers[choice]!;
    if (ev.reasoning) a.message.reasoning += ev.reasoning;
    a.message.add(a.output.push(ev.text));
    if (ev.logprobs) a.logprobs.push(...ev.logprobs);
  });
  const finals = answered.all();
  sendAnswer(res, meta, {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: answers.map((a, i) => {
      a.message.add(a.output.end());
      return { index: i, message: a.message.message(), finish_reason: finishReason(finals[i]!.finishReason, a.output.calledTools), logprobs: valid.sampling.logprobs ? logprobsJson(a.logprobs) : null, ...choiceExtension(meta, i, n) };
    }),
    usage: usageJson(answered.usage()),
    ...(valid.promptLogprobs !== undefined && { prompt_logprobs: promptScores ? vllmPromptLogprobs(promptScores) : null }),
    // The shared stages and choice 0's generation (n = 1: the only one).
    tessera: { timings_ms: answered.first.timings, sources: sourcesJson(answered.first.sources) },
  });
  return answered;
}

/**
 * SSE in OpenAI's shape: a role chunk per choice, content chunks (choices interleave as their tokens
 * arrive, each chunk naming its choice `index`), then per choice the chunk that carries its
 * `finish_reason`. That chunk also carries our extension `tessera: { timings_ms, sources }` (unknown
 * top-level fields are ignored by OpenAI clients) and, with n > 1, the choice's `tessera.response_id`.
 * Only when `stream_options.include_usage` was asked for does a final `choices: []` chunk with `usage`
 * follow, after every choice ended, as OpenAI sends it; without it such a chunk would break the
 * common loop `chunk.choices[0].delta`.
 */
function streamSse(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: ValidChatRequest): Promise<ChoiceTally> {
  const { includeUsage } = valid;
  const n = choiceCount(valid);
  const withLogprobs = valid.sampling.logprobs;
  const base = { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model };
  const chunk = (index: number, delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) =>
    sseData({ ...base, choices: [{ index, delta, finish_reason: finish, ...extra }], ...(includeUsage && { usage: null }), ...top });
  // Tool-call text is parsed as it streams, per choice: content goes out at once, a call when it is complete.
  const outputs = Array.from({ length: n }, () => new ToolOutput(valid.tools));
  return streamEvents(res, events, meta, n, {
    open: () => outputs.forEach((_, i) => res.write(chunk(i, { role: 'assistant', content: '' }, null))),
    delta: (ev, i) => {
      // Reasoning (4.5 / 4.6 thinking) first, then the answer's content and tool calls.
      const deltas = [...(ev.reasoning ? [reasoningFields(ev.reasoning)] : []), ...outputs[i]!.push(ev.text).map(deltaOf)];
      const lp = withLogprobs && ev.logprobs ? { logprobs: logprobsJson(ev.logprobs) } : {};
      if (deltas.length === 0 && withLogprobs && ev.logprobs) deltas.push({ content: '' });
      deltas.forEach((d, k) => res.write(chunk(i, d, null, k === 0 ? lp : {})));
    },
    choiceEnd: (ev, i) => {
      const output = outputs[i]!;
      for (const p of output.end()) res.write(chunk(i, deltaOf(p), null));
      res.write(chunk(i, {}, finishReason(ev.finishReason, output.calledTools), choiceExtension(meta, i, n), { tessera: { timings_ms: ev.timings, sources: sourcesJson(ev.sources) } }));
    },
    end: (answered) => {
      if (includeUsage) res.write(sseData({ ...base, choices: [], usage: usageJson(answered.usage()) }));
    },
  });
}

/** A turn that called tools and stopped on its own ends with "tool_calls" (a cut one stays "length"). */
function finishReason(r: FinishReason, calledTools = false): string {
  if (calledTools && r === 'stop') return 'tool_calls';
  return finishReasonJson(r);
}
