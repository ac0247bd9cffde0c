/**
 * Chats for hub models, sent from an edge gateway over the leaf link to the hub gateway: offered
 * first directly (core NATS request/reply on `tessera.uplink.v1.GatewayService.ChatCompletion`), and
 * queued in the hub gateway's uplink work queue (`tessera.work.uplink.>`, stream TESSERA_UPLINK in
 * the hub's JetStream domain) when no hub gateway takes it — none subscribed (restarting) or all at
 * TESSERA_GATEWAY_UPLINK_CONCURRENCY — so a chat still waits at the hub through a gateway restart.
 * The validated request goes as `tessera.gateway.v1.ChatCompletionRequest`, the hub gateway runs the
 * whole pipeline (GPU stages, retrieval, its own feedback record) and streams the proto chunks back
 * to this site's inbox. One contract, the same one gRPC clients use.
 */
import { finishReasonName, gatewayV1, roleFromName, SERVICES, type decodingV1, type feedbackV1 } from '@tessera/contracts';
import { ErrorCode, natsClient, TesseraError, type CallOptions, type ServiceClient } from '@tessera/runtime';
import { UPLINK_NAMESPACE, UPLINK_STAGE, siteInboxPrefix, siteUplinkBucket } from '@tessera/edge';
import type { NatsConnection } from 'nats';
import type { ChatContext, ChatEvent, ChatService, FinishReason } from '../../domain/chat-events.js';
import { choiceCount } from '../../domain/choices.js';
import type { ImageSource, ValidChatRequest } from '../../domain/openai/valid-request.js';
import type { ValidResponseFormat } from '../../domain/openai/response-format.js';
import { chatEndingToWire, samplingToWire } from '../../domain/openai/request-wire.js';
import { promptScoresFromWire } from '../../domain/prompt-scores-wire.js';
import { timingsFromWire } from '../../domain/timings-wire.js';
import { usageFromWire } from '../../domain/usage-wire.js';
import { UPLINK_METHODS } from './uplink.js';
import type { Tenant } from '../../domain/tenancy/api-keys.js';


/** Large uplink requests live this long at the hub: the hub reads one as the job starts (seconds). */
const UPLINK_OBJECT_TTL_MS = 15 * 60_000;

export interface HubChatOptions {
  site: string;
  hubDomain: string;
  /** Stream heartbeats: two missed intervals end a hub answer whose link dropped mid-stream. */
  heartbeatMs: number;
  /**
   * `direct`: offer each chat to a hub gateway before queueing it (TESSERA_GATEWAY_UPLINK_DIRECT);
   * `acceptTimeoutMs`: how long the offer waits for the accept (TESSERA_GATEWAY_UPLINK_ACCEPT_TIMEOUT).
   */
  uplink: { direct: boolean; acceptTimeoutMs: number };
}

export class HubChat implements ChatService {
  private readonly gateway: ServiceClient<typeof gatewayV1.GatewayServiceService>;

  constructor(nc: NatsConnection, o: HubChatOptions) {
    this.gateway = natsClient(nc, SERVICES.gateway.definition as typeof gatewayV1.GatewayServiceService, {
      // The direct offer skips the queue's store, PubAck and pull: 4–5 ms less per chat at load 5–8
      // (docs/decisions.md "Issue 18 (core-NATS uplink …)"). Not taken → queued, as before.
      workQueue: { stage: UPLINK_STAGE, methods: [...UPLINK_METHODS], ...(o.uplink.direct && { direct: { namespace: UPLINK_NAMESPACE } }) },
      // A link cut without either server noticing still holds the hub's interest: the offer gets no
      // answer, and fails after this (1 s default) instead of the 10 s default, inside the 2 s budget.
      acceptTimeoutMs: o.uplink.acceptTimeoutMs,
      jsDomain: o.hubDomain,
      inboxPrefix: siteInboxPrefix(o.site),
      heartbeatMs: o.heartbeatMs,
      // "No responders" on the uplink publish is usually a lost leaf link, not a hub stream electing
      // a leader: retry it 1 s at most (not the 10 s default), so a hub model still fails or falls
      // back within the 2 s budget (the link probe has usually seen the loss by then).
      electionWaitMs: 1_000,
      // A request above the claim-check threshold (512 KiB: a large image) is put into this site's
      // uplink bucket in the hub's domain, where the hub gateway reads it as a local claim check; the
      // site's own store is out of the hub's reach. Keyed by sha256, so a resent image is stored once.
      payload: { bucket: siteUplinkBucket(o.site), jsDomain: o.hubDomain, ttlMs: UPLINK_OBJECT_TTL_MS },
    });
  }

  /**
   * The edge's own quota reservation only: ~4 characters a token plus 64 per image slice budget.
   * The hub re-estimates with the model's tokenizer and enforces the tenant's quota there.
   */
  async estimatePromptTokens(req: ValidChatRequest, _tenant: Tenant): Promise<number> {
    // A token-id prompt is its own exact count.
    if (req.promptTokenIds) return req.promptTokenIds.length;
    let chars = req.prompt?.length ?? 0;
    for (const m of req.messages) for (const p of m.parts) if (p.kind === 'text') chars += p.text.length;
    return Math.ceil(chars / 4) + req.images.length * 64;
  }

  async *chat(req: ValidChatRequest, ctx: ChatContext): AsyncIterable<ChatEvent> {
    // The hub records the answer under this site's response id (the one its client sees), so feedback on it finds the record.
    const stream = this.gateway.chatCompletion(toProto(req), { tenant: ctx.tenant.id, requestId: ctx.requestId, deadline: ctx.deadline, signal: ctx.signal, headers: { 'x-response-id': ctx.responseId }, ...(ctx.trace && { trace: ctx.trace }) });
    // With n > 1 the hub streams every choice's chunks (choice_index) and ends each with its own finish.
    let choicesLeft = choiceCount(req);
    for await (const c of stream) {
      if (c.error && c.error.code) throw new TesseraError(ErrorCode.INTERNAL, `hub: ${c.error.message}`);
      const choice = c.choiceIndex ?? 0;
      if (c.textDelta || c.reasoningDelta || c.promptLogprobs) {
        yield {
          kind: 'delta',
          choice,
          text: c.textDelta,
          ...(c.reasoningDelta && { reasoning: c.reasoningDelta }),
          tokenIds: [],
          ...(c.logprobs.length && { logprobs: c.logprobs.map((l) => ({ token: l.token, logprob: l.logprob, top: l.topLogprobs.map((t) => ({ token: t.token, logprob: t.logprob })) })) }),
          ...(c.promptLogprobs && { prompt: promptScoresFromWire(c.promptLogprobs) }),
        };
      }
      const finish: FinishReason | undefined = finishReasonName(c.finishReason);
      if (finish) {
        yield {
          kind: 'final',
          choice,
          finishReason: finish,
          usage: usageFromWire(c.usage),
          timings: timingsFromWire(c.timings),
          sources: c.sources.map((s) => ({ id: s.id, score: s.relevance, relevance: s.relevance, text: s.text, metadata: s.metadata ?? {} })),
        };
        if (--choicesLeft === 0) return;
      }
    }
    throw new TesseraError(ErrorCode.UNAVAILABLE, 'hub: the answer ended without a finish reason', { retryAfterMs: 1000 });
  }

  /**
   * Feedback on an answer a hub model gave: its record is at the hub, so the hub gateway's feedback
   * service checks and stores it (through the uplink queue; the hub's feedback stream is the one the
   * site's is sourced into, so it lands where the site's own would). With the link down the call fails
   * fast (UNAVAILABLE) and the client retries: the site cannot check feedback against a record it lacks.
   */
  submitFeedback(req: feedbackV1.SubmitFeedbackRequest, o: CallOptions): Promise<feedbackV1.SubmitFeedbackResponse> {
    return this.gateway.submitFeedback(req, o);
  }
}

/** An image as the contract's ImageContent source (bytes inline, a URL as is). */
function imageSource(img: ImageSource): gatewayV1.ImageContent['source'] {
  return img.kind === 'bytes' ? { $case: 'data', data: img.bytes } : { $case: 'url', url: img.url.toString() };
}

/**
 * The validated request in the gRPC contract's terms. Everything the HTTP API accepts has a field
 * there (response_format, tools and tool turns, downsample_mode, a text completion's prompt): the hub validates it again against
 * the family it serves, and its stream carries the raw model output, which this site's HTTP edge
 * turns into `tool_calls` exactly as for a local model.
 */
export function toProto(req: ValidChatRequest): gatewayV1.ChatCompletionRequest {
  return {
    model: req.model,
    messages: req.messages.map((m) => ({
      role: roleFromName(m.role)!,
      ...((m.toolCalls || m.toolCallId) && { tool: { calls: (m.toolCalls ?? []).map((c) => ({ id: c.id, name: c.name, argumentsJson: c.argumentsJson })), callId: m.toolCallId ?? '' } }),
      content: m.parts.map((p) => {
        if (p.kind === 'text') return { part: { $case: 'text' as const, text: p.text } };
        if (p.kind === 'video') {
          const v = req.videos![p.index]!;
          return { part: { $case: 'video' as const, video: { frames: v.frames.map((f) => ({ source: imageSource(f) })), fps: v.fps, packing: v.packing ?? 0 } } };
        }
        return { part: { $case: 'image' as const, image: { source: imageSource(req.images[p.index]!), ...(req.maxSliceNums !== undefined && { maxSliceNums: req.maxSliceNums }) } } };
      }),
    })),
    sampling: samplingToWire(req.sampling),
    ...(req.collection && { collection: { name: req.collection.name, k: req.collection.k, ...(req.collection.filter && { filter: req.collection.filter }) } }),
    user: req.user ?? '',
    ...(req.responseFormat && { responseFormat: { format: responseFormat(req.responseFormat) } }),
    ...(req.downsampleMode !== undefined && { downsampleMode: req.downsampleMode }),
    tools: req.tools?.tools.map((t) => ({ name: t.name, description: t.description, parametersJson: t.parametersJson })) ?? [],
    toolChoice: req.tools?.choice ?? '',
    ...(req.tools && { parallelToolCalls: req.tools.parallel }),
    ...(req.enableThinking !== undefined && { enableThinking: req.enableThinking }),
    ...chatEndingToWire(req.ending),
    // A text completion (gateway.proto `prompt`): no messages; this site's HTTP edge applies `echo` itself.
    ...(req.prompt !== undefined && { prompt: req.prompt }),
    ...(req.promptTokenIds && { promptTokenIds: { ids: req.promptTokenIds } }),
    // OpenAI `n`: the hub generates the choices and streams them tagged with choice_index.
    ...(req.n !== undefined && { n: req.n }),
    // Prompt logprobs (and a token-id prompt's echo text) are computed at the hub and come back on its first chunk.
    ...(req.promptLogprobs !== undefined && { promptLogprobs: req.promptLogprobs }),
  };
}

function responseFormat(f: ValidResponseFormat): decodingV1.ResponseFormat['format'] {
  return f.kind === 'json_object' ? { $case: 'jsonObject', jsonObject: {} } : { $case: 'jsonSchema', jsonSchema: { name: f.name, schemaJson: f.schemaJson, strict: f.strict } };
}
