import { randomUUID } from 'node:crypto';
import { commonV1, feedbackV1, finishReasonFromName, gatewayV1, roleName, type decodingV1 } from '@tessera/contracts';
import { invalidArgument } from '@tessera/runtime';
import type { CallContext, ServiceClient, ServiceImpl } from '@tessera/runtime';
import type { ChatService } from './domain/chat-events.js';
import { choiceCount, ChoiceTally, reservedTokens } from './domain/choices.js';
import { limitsForTenant, type ChatLimits } from './domain/openai/limits.js';
import type { ModelFeatures } from './domain/openai/response-format.js';
import { validateChatRequest } from './domain/openai/validate-chat.js';
import { validateCompletionRequest } from './domain/openai/validate-completion.js';
import { isCompletion, type ValidChatRequest } from './domain/openai/valid-request.js';
import type { ApiKeyStore, Tenant } from './domain/tenancy/api-keys.js';
import type { QuotaLedger } from './domain/tenancy/quota-ledger.js';
import type { ModelInfo } from './domain/orchestrator/model-catalog.js';
import { promptScoresToWire } from './domain/prompt-scores-wire.js';
import { timingsToWire } from './domain/timings-wire.js';
import { usageToWire } from './domain/usage-wire.js';
import type { ChatObservation, HttpMetrics } from './http/request-metrics.js';


export interface GatewayGrpcDeps {
  keys: ApiKeyStore;
  quotas: QuotaLedger;
  chat: ChatService;
  limits: () => ChatLimits;
  model: ModelInfo;
  feedback: ServiceClient<typeof feedbackV1.FeedbackServiceService>;
  /**
   * Who is calling. Default: the API key in `authorization`. The hub's uplink binding (edge sites
   * forwarding chats over NATS) takes the tenant header instead: the edge gateway authenticated the
   * key, and only site credentials may publish on the uplink queue (libs/edge permissions).
   */
  tenantOf?: (ctx: CallContext) => Tenant;
  /** The request-level `vllm:*` series, shared with the HTTP edge (one set of series per model). */
  metrics?: HttpMetrics;
  /** What the served family supports (tool calls), as on HTTP; default: MiniCPM-V 2.6. */
  features?: ModelFeatures;
  /**
   * Open the stream with an empty chunk (response_id before the first token). Default true (gRPC
   * clients). The hub's uplink binding sets false: over the uplink that chunk is one more message
   * through the hub's nats-server, the leaf link and the site's nats-server, waking four processes
   * as the hub sends the job to the decoder, and the site drops it. Every chunk carries response_id,
   * model and revision, so the first chunk a site gets still does.
   */
  openingChunk?: boolean;
  /**
   * The response id the caller chose, or undefined to draw one. The hub's uplink binding takes the edge
   * gateway's (`x-response-id`): the id its client sees is then the id the hub records the answer under,
   * so feedback on it finds its record (docs/edge.md "Feedback on hub answers").
   */
  responseIdOf?: (ctx: CallContext, prefix: 'chatcmpl' | 'cmpl') => string | undefined;
}

/**
 * `tessera.gateway.v1.GatewayService` over gRPC. The proto request is rewritten into the OpenAI
 * shape and goes through the same validator as HTTP, so both edges accept and reject exactly the
 * same requests (one set of rules, one set of messages). The base64 detour for image bytes costs
 * ~2 ms per MB, small next to decoding the image.
 */
export function gatewayGrpcService(deps: GatewayGrpcDeps): ServiceImpl<typeof gatewayV1.GatewayServiceService> {
  const tenantOf = deps.tenantOf ?? ((ctx: CallContext) => deps.keys.authenticate(authorization(ctx)));
  return {
    async listModels(_req, ctx) {
      tenantOf(ctx);
      return {
        models: [
          { id: deps.model.id, revision: deps.model.revision, ownedBy: 'tessera', createdAt: new Date(0), contextLength: 0, supportsImages: true, family: deps.model.family, downsampleModes: [...deps.model.downsampleModes] },
        ],
      };
    },

    async submitFeedback(req, ctx) {
      const tenant = tenantOf(ctx);
      // The tenant comes from the API key, never from the body: feedback is scoped by it downstream.
      return deps.feedback.submitFeedback({ ...(req.feedback && { feedback: req.feedback }) }, { tenant: tenant.id, requestId: ctx.requestId, deadline: ctx.deadline, signal: ctx.signal });
    },

    async *chatCompletion(req, ctx) {
      // TTFT and e2e latency start at arrival, as on HTTP: validation and the quota check are inside.
      const arrivedAt = performance.now();
      const tenant = tenantOf(ctx);
      const valid = validateGatewayRequest(req, limitsForTenant(deps.limits(), tenant.quota), deps.model.id, deps.features);
      const reservation = deps.quotas.admit(tenant, reservedTokens(await deps.chat.estimatePromptTokens(valid, tenant), valid));
      // OpenAI's id prefixes: `cmpl-` for a text completion, `chatcmpl-` for a chat.
      const prefix = isCompletion(valid) ? 'cmpl' : 'chatcmpl';
      const responseId = deps.responseIdOf?.(ctx, prefix) ?? `${prefix}-${randomUUID()}`;
      const observed: ChatObservation | undefined = deps.metrics?.chat(valid.model, arrivedAt);
      const n = choiceCount(valid);
      const answered = new ChoiceTally(n);
      let settled = false;
      try {
        if (deps.openingChunk !== false) yield { responseId, model: valid.model, modelRevision: deps.model.revision, sources: [], textDelta: '', reasoningDelta: '', logprobs: [], finishReason: commonV1.FinishReason.UNSPECIFIED };
        for await (const ev of deps.chat.chat(valid, { tenant, responseId, requestId: ctx.requestId, deadline: ctx.deadline, signal: ctx.signal, trace: ctx.trace })) {
          const choice = answered.choiceOf(ev);
          // gateway.proto: choice_index is set only when the request asked for n > 1.
          const choiceIndex = n > 1 ? { choiceIndex: choice } : {};
          if (ev.kind === 'delta') {
            observed?.tokens(ev.tokenIds.length || (ev.text ? 1 : 0), choice);
            yield {
              ...choiceIndex,
              responseId,
              model: valid.model,
              modelRevision: deps.model.revision,
              sources: [],
              textDelta: ev.text,
              reasoningDelta: ev.reasoning ?? '',
              logprobs: (ev.logprobs ?? []).map((l) => ({ tokenId: 0, token: l.token, logprob: l.logprob, topLogprobs: l.top.map((t) => ({ tokenId: 0, token: t.token, logprob: t.logprob })) })),
              finishReason: commonV1.FinishReason.UNSPECIFIED,
              ...(ev.prompt && { promptLogprobs: promptScoresToWire(ev.prompt) }),
            };
            continue;
          }
          answered.end(ev);
          if (answered.done) {
            // The request's usage: the prompt once, every choice's completion (the last chunk of each carries its own).
            const usage = answered.usage();
            reservation.settle({ prompt: usage.promptTokens, completion: usage.completionTokens });
            settled = true;
            observed?.finish(answered.first.finishReason, usage, valid.sampling.maxTokens);
          }
          yield {
            ...choiceIndex,
            responseId,
            model: valid.model,
            modelRevision: deps.model.revision,
            sources: ev.sources.map((s, i) => ({ index: i + 1, collection: valid.collection?.name ?? '', id: s.id, text: s.text, relevance: s.relevance, metadata: s.metadata })),
            textDelta: '',
            reasoningDelta: '',
            logprobs: [],
            finishReason: finishReasonFromName(ev.finishReason) ?? commonV1.FinishReason.STOP,
            usage: usageToWire(ev.usage),
            timings: timingsToWire(ev.timings),
          };
        }
      } finally {
        if (!settled) {
          reservation.release();
          observed?.fail(ctx.signal.aborted);
        }
      }
    },
  };
}

/**
 * The proto request through the HTTP validator of its kind — `prompt` set: a text completion
 * (/v1/completions), else a chat — so both edges accept and refuse the same requests.
 */
export function validateGatewayRequest(req: gatewayV1.ChatCompletionRequest, limits: ChatLimits, model: string, features?: ModelFeatures): ValidChatRequest {
  if (req.prompt !== undefined || req.promptTokenIds !== undefined) return validateCompletionRequest(toOpenAiCompletion(req, model), limits, [model]);
  return validateChatRequest(toOpenAi(req, model), limits, [model], features);
}

/** The API key as gateway.proto documents it: `authorization: Bearer <key>`, or `x-api-key: <key>`. */
function authorization(ctx: CallContext): string | undefined {
  const key = ctx.headers['x-api-key'];
  return ctx.headers.authorization ?? (key !== undefined && key !== '' ? `Bearer ${key}` : undefined);
}

/** An ImageContent as the OpenAI image URL the HTTP edge would get (bytes → data URL). */
function imageUrl(img: gatewayV1.ImageContent): string {
  const src = img.source;
  return !src ? '' : src.$case === 'url' ? src.url : `data:image/*;base64,${src.data.toString('base64')}`;
}

/** Proto request → the OpenAI JSON shape `validateChatRequest` takes. */
export function toOpenAi(req: gatewayV1.ChatCompletionRequest, defaultModel: string): Record<string, unknown> {
  const s = req.sampling;
  return {
    // gateway.proto: "empty = the default model".
    model: req.model || defaultModel,
    messages: req.messages.map((m) => ({
      role: roleName(m.role) ?? `unknown(${m.role})`,
      ...(m.tool?.calls.length && { tool_calls: m.tool.calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.argumentsJson } })) }),
      ...(m.tool?.callId && { tool_call_id: m.tool.callId }),
      // An assistant turn that only called tools has no content (OpenAI `content: null`).
      content: m.content.length === 0 && m.tool?.calls.length ? null : m.content.map((c) => {
        const p = c.part;
        if (!p) return { type: 'unset' };
        if (p.$case === 'text') return { type: 'text', text: p.text };
        if (p.$case === 'video') return { type: 'video', video: p.video.frames.map(imageUrl), fps: p.video.fps, ...(p.video.packing && { packing: p.video.packing }) };
        return { type: 'image_url', image_url: { url: imageUrl(p.image) } };
      }),
    })),
    ...(s && samplingJson(s)),
    ...(s?.logprobs && { logprobs: true }),
    ...(s?.topLogprobs && { top_logprobs: s.topLogprobs }),
    ...(req.collection && { collection: { name: req.collection.name, ...(req.collection.k && { k: req.collection.k }), ...(req.collection.filter && { filter: req.collection.filter }) } }),
    ...(req.user && { user: req.user }),
    ...maxSliceNums(req),
    ...(req.responseFormat?.format && { response_format: responseFormatJson(req.responseFormat.format) }),
    // Same field and validation as HTTP (validate-chat.ts, then the family check in the image pipeline).
    ...(req.downsampleMode !== undefined && { mm_processor_kwargs: { downsample_mode: req.downsampleMode } }),
    ...(req.tools.length && { tools: req.tools.map((t, i) => ({ type: 'function', function: { name: t.name, description: t.description, ...(t.parametersJson && { parameters: parseJson(t.parametersJson, `tools[${i}].parameters_json`) }) } })) }),
    ...(req.toolChoice && { tool_choice: ['auto', 'none', 'required'].includes(req.toolChoice) ? req.toolChoice : { type: 'function', function: { name: req.toolChoice } } }),
    ...(req.parallelToolCalls !== undefined && { parallel_tool_calls: req.parallelToolCalls }),
    ...(req.enableThinking !== undefined && { chat_template_kwargs: { enable_thinking: req.enableThinking } }),
    ...(req.addGenerationPrompt !== undefined && { add_generation_prompt: req.addGenerationPrompt }),
    ...(req.continueFinalMessage !== undefined && { continue_final_message: req.continueFinalMessage }),
    ...choicesJson(req),
  };
}

/** gateway.proto `n` and `prompt_logprobs` → OpenAI's `n` and vLLM's `prompt_logprobs` (unset = the validators' defaults), for either endpoint's validator. */
function choicesJson(req: gatewayV1.ChatCompletionRequest): { n?: number; prompt_logprobs?: number } {
  return { ...(req.n !== undefined && { n: req.n }), ...(req.promptLogprobs !== undefined && { prompt_logprobs: req.promptLogprobs }) };
}

/** SamplingParams → the OpenAI sampling fields both endpoints share (log probabilities differ per endpoint). */
function samplingJson(s: commonV1.SamplingParams): Record<string, unknown> {
  return {
    ...(s.temperature !== undefined && { temperature: s.temperature }),
    ...(s.topP !== undefined && { top_p: s.topP }),
    ...(s.topK && { top_k: s.topK }),
    ...(s.minP && { min_p: s.minP }),
    ...(s.repetitionPenalty !== undefined && { repetition_penalty: s.repetitionPenalty }),
    ...(s.presencePenalty && { presence_penalty: s.presencePenalty }),
    ...(s.frequencyPenalty && { frequency_penalty: s.frequencyPenalty }),
    ...(s.seed !== undefined && { seed: s.seed }),
    ...(s.stop.length && { stop: s.stop }),
    ...(s.maxTokens !== undefined && { max_tokens: s.maxTokens }),
    ...(s.logitBias && Object.keys(s.logitBias.bias).length && { logit_bias: s.logitBias.bias }),
    ...(s.ignoreEos && { ignore_eos: true }),
    ...(s.minTokens && { min_tokens: s.minTokens }),
    ...(s.stopTokenIds.length && { stop_token_ids: s.stopTokenIds }),
  };
}

/**
 * A request that sets `prompt` (gateway.proto: a text completion) → the OpenAI `/v1/completions` body
 * `validateCompletionRequest` takes. The chat-only fields must be unset: refused by name, never dropped.
 * `sampling.logprobs` with `top_logprobs` k is the legacy `logprobs: k`.
 */
export function toOpenAiCompletion(req: gatewayV1.ChatCompletionRequest, defaultModel: string): Record<string, unknown> {
  const chatOnly: Array<[string, boolean]> = [
    ['messages', req.messages.length > 0],
    ['response_format', req.responseFormat?.format !== undefined],
    ['tools', req.tools.length > 0],
    ['tool_choice', req.toolChoice !== ''],
    ['parallel_tool_calls', req.parallelToolCalls !== undefined],
    ['collection', req.collection !== undefined],
    ['downsample_mode', req.downsampleMode !== undefined],
    ['enable_thinking', req.enableThinking !== undefined],
    ['add_generation_prompt', req.addGenerationPrompt !== undefined],
    ['continue_final_message', req.continueFinalMessage !== undefined],
  ];
  for (const [field, set] of chatOnly) if (set) throw invalidArgument(field, `${field} cannot be combined with prompt (a text completion takes the prompt verbatim, no chat template)`);
  if (req.prompt !== undefined && req.promptTokenIds !== undefined) throw invalidArgument('prompt_token_ids', 'give the prompt once: as text (prompt) or as token ids (prompt_token_ids)');
  const s = req.sampling;
  return {
    model: req.model || defaultModel,
    prompt: req.promptTokenIds ? req.promptTokenIds.ids : req.prompt,
    ...(s && samplingJson(s)),
    ...(s?.logprobs && { logprobs: s.topLogprobs }),
    ...(req.user && { user: req.user }),
    ...choicesJson(req),
  };
}

/** decoding.v1.ResponseFormat → OpenAI's `response_format`, so the HTTP validator checks it (same 400s). */
function responseFormatJson(f: NonNullable<decodingV1.ResponseFormat['format']>): Record<string, unknown> {
  if (f.$case === 'jsonObject') return { type: 'json_object' };
  const schema = f.jsonSchema.schemaJson ? parseJson(f.jsonSchema.schemaJson, 'response_format.json_schema.schema_json') : {};
  return { type: 'json_schema', json_schema: { name: f.jsonSchema.name, schema, strict: f.jsonSchema.strict } };
}

/**
 * ImageContent.max_slice_nums is per image on the wire, one value per request in the validated form
 * (OpenAI's `max_slice_nums`): the images that set it must agree, never silently one of them.
 */
function maxSliceNums(req: gatewayV1.ChatCompletionRequest): { max_slice_nums?: number } {
  const set = new Set<number>();
  for (const m of req.messages) for (const c of m.content) if (c.part?.$case === 'image' && c.part.image.maxSliceNums !== undefined) set.add(c.part.image.maxSliceNums);
  if (set.size > 1) throw invalidArgument('messages[].content[].image.max_slice_nums', `images of one request must share max_slice_nums; got ${[...set].join(', ')}`);
  return set.size ? { max_slice_nums: [...set][0] } : {};
}

/** A JSON-text proto field (schemas travel as text so integers and key order survive). */
function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw invalidArgument(field, `${field} is not valid JSON`);
  }
}
