import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { ChatEvent, ChatUsage } from '../domain/chat-events.js';
import type { ChoiceTally, FinalEvent } from '../domain/choices.js';
import { validateResponsesRequest, type ValidResponsesRequest } from '../domain/openai/validate-responses.js';
import type { PriorConversation, StoredResponses } from '../domain/responses/stored-responses.js';
import type { Tenant } from '../domain/tenancy/api-keys.js';
import { collectEvents, handleGeneration, sendAnswer, sourcesJson, streamEvents, type ChatHandlerDeps, type GenerationEndpoint, type ResponseMeta } from './generation-handler.js';
import { ResponseOutput } from './responses-output.js';
import type { RequestInfo } from './server.js';

/**
 * `POST /v1/responses`, OpenAI's Responses API (as vLLM serves it): the shared generation pipeline
 * (generation-handler.ts: auth, quota, metrics, tracing, edge routing, feedback recording) over the
 * chat request the body rewrites to (validate-responses.ts), answered as a `response` object whose
 * `output` holds reasoning, message and function_call items (responses-output.ts). One output: the
 * Responses API has no `n`. The response id (`resp_…`, also in `x-response-id`) is the one feedback
 * refers to. With `store` (default true) and a store configured, a completed or incomplete answer is
 * stored before its last byte goes out (a client may continue it at once); `previous_response_id`
 * puts the stored conversation before `input` (domain/responses/stored-responses.ts).
 */
export function handleResponses(req: IncomingMessage, res: ServerResponse, deps: ChatHandlerDeps, info: RequestInfo): Promise<void> {
  return handleGeneration(req, res, deps, info, RESPONSES);
}

/** OpenAI's response ids: `resp_` + hex (32 digits here: a UUID's worth of randomness). */
export function newResponseId(): string {
  return `resp_${randomBytes(16).toString('hex')}`;
}

/** Each streamed answer's event writer, for the `error` event of a failure mid-stream. */
const writers = new WeakMap<ServerResponse, SseEvents>();

/** A validated Responses request, with where its answer is stored (absent: `store: false`, or nothing is stored here). */
interface ResponsesRequest extends ValidResponsesRequest {
  keeper?: { store: StoredResponses; tenant: Tenant; prior?: PriorConversation };
}

const RESPONSES: GenerationEndpoint<ResponsesRequest> = {
  route: '/v1/responses',
  idPrefix: 'resp',
  newId: newResponseId,
  validate: validate,
  respondJson,
  streamSse,
  // OpenAI's `error` event; the `error` object too, so SDKs that throw on `data.error` (openai-node) raise it as an APIError.
  sseError: (res, body) => (writers.get(res) ?? new SseEvents(res)).frame('error', { code: body.error.code, message: body.error.message, param: body.error.param, error: body.error }),
};

/**
 * The previous response's conversation is read first (404 naming previous_response_id; never another
 * tenant's), then the whole is validated as one chat; a request to store must fit the record limit.
 */
async function validate(body: unknown, limits: Parameters<GenerationEndpoint<ResponsesRequest>['validate']>[1], deps: ChatHandlerDeps, tenant: Tenant): Promise<ResponsesRequest> {
  const previous = (body as { previous_response_id?: unknown } | null)?.previous_response_id;
  const store = deps.responses;
  const prior = store && typeof previous === 'string' ? await store.prior(tenant.id, previous) : undefined;
  const valid = validateResponsesRequest(body, limits, deps.models(), deps.features, deps.whereModelsRun?.(), prior);
  if (!store || !valid.responses.store) return valid;
  await store.checkSize(prior, valid.responses.input);
  return { ...valid, keeper: { store, tenant, ...(prior && { prior }) } };
}

/** Stores an answered response (not one cut by an error or a cancel); returns whether it was stored. */
async function keep(valid: ResponsesRequest, meta: ResponseMeta, final: FinalEvent, response: Record<string, unknown>): Promise<boolean> {
  const k = valid.keeper;
  if (!k || final.finishReason === 'error' || final.finishReason === 'cancelled') return false;
  return k.store.keep(k.tenant.id, meta.id, k.prior, valid.responses.input, response);
}

/** SSE with OpenAI's `event:` lines and a `sequence_number` on every event. */
class SseEvents {
  private seq = 0;

  constructor(private readonly res: ServerResponse) {
    writers.set(res, this);
  }

  frame(type: string, fields: Record<string, unknown>): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.seq++, ...fields })}\n\n`;
  }

  write(type: string, fields: Record<string, unknown>): void {
    this.res.write(this.frame(type, fields));
  }
}

async function respondJson(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: ResponsesRequest): Promise<ChoiceTally> {
  const output = new ResponseOutput(valid.tools, valid.sampling.logprobs);
  const answered = await collectEvents(events, 1, (ev) => output.push(ev));
  output.end(answered.first.finishReason);
  const response = responseJson(meta, valid, output, answered.first, answered.usage());
  response.store = await keep(valid, meta, answered.first, response);
  sendAnswer(res, meta, response);
  return answered;
}

/**
 * response.created and response.in_progress (with the first event pulled, so a failure before it
 * keeps its HTTP status), the items' events as the answer is written, then response.completed (or
 * response.incomplete, cut by max_output_tokens) with the whole response. No `data: [DONE]`: OpenAI
 * ends a Responses stream with its last event, and the openai SDK reads it so.
 */
function streamSse(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: ResponsesRequest): Promise<ChoiceTally> {
  const sse = new SseEvents(res);
  const output = new ResponseOutput(valid.tools, valid.sampling.logprobs, (type, fields) => sse.write(type, fields));
  let final: FinalEvent | undefined;
  return streamEvents(res, events, meta, 1, {
    open: () => {
      const response = responseJson(meta, valid, output);
      sse.write('response.created', { response });
      sse.write('response.in_progress', { response });
    },
    delta: (ev) => output.push(ev),
    choiceEnd: (ev) => {
      final = ev;
      output.end(ev.finishReason);
    },
    end: async (answered) => {
      const response = responseJson(meta, valid, output, final, answered.usage());
      response.store = await keep(valid, meta, final!, response);
      sse.write(response.status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
    },
    closing: '',
  });
}

/**
 * The Response object: the effective parameters echoed as OpenAI returns them, `output`, `usage`.
 * Without a final it is the in-progress response of response.created. `store` is whether it will be
 * (then: was) stored; false when not asked or nothing is stored here (vLLM without its store answers
 * so too). Our extension `tessera: {timings_ms, sources}`.
 */
function responseJson(meta: ResponseMeta, valid: ResponsesRequest, output: ResponseOutput, final?: FinalEvent, usage?: ChatUsage) {
  const r = valid.responses;
  const cut = final?.finishReason === 'length';
  return {
    id: meta.id,
    object: 'response',
    created_at: meta.created,
    status: !final ? 'in_progress' : cut ? 'incomplete' : 'completed',
    background: false,
    error: null,
    incomplete_details: cut ? { reason: 'max_output_tokens' } : null,
    instructions: r.instructions,
    max_output_tokens: r.maxOutputTokens,
    max_tool_calls: null,
    model: meta.model,
    output: final ? output.items : [],
    parallel_tool_calls: r.parallelToolCalls,
    previous_response_id: r.previousResponseId,
    reasoning: r.reasoning,
    service_tier: 'default',
    store: valid.keeper !== undefined,
    temperature: valid.sampling.temperature,
    text: r.text,
    tool_choice: r.toolChoice,
    tools: r.tools,
    top_logprobs: r.topLogprobs,
    top_p: valid.sampling.topP,
    truncation: 'disabled',
    usage: usage ? usageJson(usage, output.reasoningTokens) : null,
    user: r.user,
    metadata: r.metadata,
    ...(final && { tessera: { timings_ms: final.timings, sources: sourcesJson(final.sources) } }),
  };
}

/** The Responses API's usage object (input/output naming; cached and reasoning tokens in their details). */
function usageJson(u: ChatUsage, reasoningTokens: number) {
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens ?? 0 },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: Math.min(reasoningTokens, u.completionTokens) },
    total_tokens: u.promptTokens + u.completionTokens,
  };
}
