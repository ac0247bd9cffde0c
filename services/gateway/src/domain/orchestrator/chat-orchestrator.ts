import { randomInt } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { commonV1, decodingV1, feedbackV1, finishReasonName, retrievalV1, roleFromName, SERVICES } from '@tessera/contracts';
import { busState, DEFAULT_HEARTBEAT_MS, ErrorCode, GRPC_STATUS, natsClient, TesseraError, type BusState, type CallOptions, type Logger, type ServiceClient } from '@tessera/runtime';
import type { ChatContext, ChatEvent, ChatService, ChatSource, ChatUsage, FinishReason } from '../chat-events.js';
import { choiceCount, choiceResponseId, choiceSeed, interleave } from '../choices.js';
import { promptScoresFromWire } from '../prompt-scores-wire.js';
import { usageFromWire, usageToWire } from '../usage-wire.js';
import { isCompletion, type ValidChatRequest, type ValidMessage } from '../openai/valid-request.js';
import { structuredOutputFields } from '../openai/response-format.js';
import { chatEndingToWire, samplingToWire } from '../openai/request-wire.js';
import { ReasoningOutput } from '../openai/reasoning-output.js';
import type { Tenant } from '../tenancy/api-keys.js';
import { summarizeConfidence, type TokenConfidence } from './confidence.js';
import { groundingMessage, retrievalQuery } from './grounding.js';
import type { AdmittedImage, EncodedImage, ImagePipeline } from './image-pipeline.js';
import type { ModelInfo } from './model-catalog.js';
import { estimatePromptTokens, estimatePromptTokens45, estimatePromptTokens46, promptTurns } from './prompt-estimate.js';
import type { ImageCostBudget } from '../tenancy/image-cost.js';
import { videoGroupsAsImages, type AdmittedVideo, type EncodedVideo, type VideoPipeline } from './video-pipeline.js';

export interface OrchestratorOptions {
  /** Store every response in feedback (what a training example needs); off = no record. */
  recordResponses: boolean;
  /** Generate goes through the decoder's JetStream work queue (TESSERA_DECODER_WORK_QUEUE). */
  decoderWorkQueue: boolean;
  /** Heartbeats on the decoder stream and how often a silent one is resumed on another replica. */
  decoderLiveness?: { heartbeatMs: number; resumeAttempts: number };
  /**
   * A hub model orchestrated at an edge site (site config route "stages"): Generate goes to the hub
   * decoder's site subjects (`namespace`, libs/edge hubModelNamespace) over the leaf link, and a cut
   * link that still shows the hub's interest fails after `acceptTimeoutMs` (the uplink's 1 s), inside
   * the 2 s fail-fast budget, instead of the 10 s default.
   */
  decoderAt?: { namespace: string; acceptTimeoutMs: number };
  /** Image preprocessing budget (megapixel-slices) per request and per tenant per minute. */
  imageCost?: ImageCostBudget;
  /** Video parts (MiniCPM-V 4.5); absent = a video part is refused (validation refuses it first by family). */
  videos?: VideoPipeline;
}

/** A request's media after the edge checks: images, the frames of each video, and what they cost. */
interface Admitted {
  images: AdmittedImage[];
  videos: AdmittedVideo[];
  /** Megapixel-slices of all images and frames, computed once at admission; chat() charges this number. */
  cost: number;
}

/** What every choice of one request shares: the decoder request without its id and sampling, and the stages already run. */
interface PreparedPrompt {
  request: Omit<decodingV1.GenerateRequest, 'requestId' | 'sampling'>;
  sources: ChatSource[];
  /** Images and retrieval, once for all choices. */
  timings: Record<string, number>;
  /** When the request started (each choice's total_ms counts from it). */
  started: number;
  admitted: AdmittedImage[];
  videos: AdmittedVideo[];
  /** A text completion's prompt as its feedback records keep it (token ids decoded once for all choices). */
  recordedPrompt?: string;
}

const RECORD_ATTEMPTS = 5;
/** Reserved per retrieved source for the grounding system turn (unknown until retrieval answers); settled to the real count. */
const GROUNDING_TOKENS_PER_SOURCE = 256;

/**
 * The request path over the bus: images → encoder cache / slicer → resampler, optional retrieval,
 * then the decoder's token stream; text-only requests skip the vision stages. Every call carries the
 * tenant, the response id, the deadline and the trace context; the client's abort cancels all of it.
 */
export class ChatOrchestrator implements ChatService {
  private readonly decoder: ServiceClient<typeof decodingV1.DecoderServiceService>;
  private readonly retrieval: ServiceClient<typeof retrievalV1.RetrievalServiceService>;
  private readonly feedback: ServiceClient<typeof feedbackV1.FeedbackServiceService>;
  private readonly admitted = new WeakMap<ValidChatRequest, Promise<Admitted>>();
  private readonly bus: BusState;

  constructor(
    nc: NatsConnection,
    private readonly model: ModelInfo,
    private readonly images: ImagePipeline,
    private readonly log: Logger,
    private readonly o: OrchestratorOptions,
  ) {
    // Generate is always seeded, so a resumed generation replays the same tokens and the client skips those it has.
    const liveness = { heartbeatMs: o.decoderLiveness?.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, resumeAttempts: o.decoderLiveness?.resumeAttempts ?? 1 };
    this.decoder = natsClient(nc, SERVICES.decoder.definition as typeof decodingV1.DecoderServiceService, {
      ...liveness,
      ...(o.decoderWorkQueue && { workQueue: { stage: 'decoder', methods: ['generate'] } }),
      ...(o.decoderAt && { namespace: o.decoderAt.namespace, acceptTimeoutMs: o.decoderAt.acceptTimeoutMs }),
    });
    this.bus = busState(nc);
    this.retrieval = natsClient(nc, SERVICES.retrieval.definition as typeof retrievalV1.RetrievalServiceService);
    this.feedback = natsClient(nc, SERVICES.feedback.definition as typeof feedbackV1.FeedbackServiceService);
  }

  private admit(req: ValidChatRequest, tenant: Tenant): Promise<Admitted> {
    let p = this.admitted.get(req);
    if (!p) {
      // Header-only: the cost check runs before any pixel is decoded (video frames count as images).
      p = Promise.all([this.images.admit(req.images, req.maxSliceNums, tenant.quota.maxImagePixels, req.downsampleMode), this.admitVideos(req, tenant)]).then(([images, videos]) => ({
        images,
        videos,
        cost: this.o.imageCost?.checkRequest([...images, ...videos.flatMap((v) => v.frames)]) ?? 0,
      }));
      this.admitted.set(req, p);
    }
    return p;
  }

  private admitVideos(req: ValidChatRequest, tenant: Tenant): Promise<AdmittedVideo[]> {
    const videos = req.videos ?? [];
    if (videos.length === 0) return Promise.resolve([]);
    if (!this.o.videos) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${videos[0]!.field}: this deployment has no video pipeline`, { field: videos[0]!.field });
    return this.o.videos.admit(videos, tenant.quota.maxImagePixels);
  }

  /** The decoder's prompt count (prompt-estimate.ts, by family), plus room for the grounding turn when retrieval runs. */
  async estimatePromptTokens(original: ValidChatRequest, tenant: Tenant): Promise<number> {
    // A raw prompt is one text run the decoder encodes with control-token spellings kept as text (every family): exact.
    if (original.prompt !== undefined) return this.model.tokenizer.encodePlain(original.prompt).length;
    if (original.promptTokenIds) return original.promptTokenIds.length;
    const admitted = await this.admit(original, tenant);
    // A video's groups count as gridless images; a request with a video has no <image_id> (see chat()).
    const { req, images } = admitted.videos.length > 0 ? videoGroupsAsImages(original, admitted.images, admitted.videos) : { req: original, images: admitted.images };
    const useImageId = this.images.useImageId && admitted.videos.length === 0;
    const o = { queryNum: this.model.queryNum, useImageId };
    const prompt =
      this.model.family === '4.6'
        ? estimatePromptTokens46(req, images, this.model.tokenizer, o)
        : this.model.family === '4.5'
          ? estimatePromptTokens45(req, images, this.model.tokenizer, o)
          : estimatePromptTokens(promptTurns(req), images, this.model.tokenizer, o);
    return prompt + (req.collection ? GROUNDING_TOKENS_PER_SOURCE * req.collection.k : 0);
  }

  async *chat(req: ValidChatRequest, ctx: ChatContext): AsyncIterable<ChatEvent> {
    const started = Date.now();
    // The choices of one request share one abort: the client going away, or one choice failing,
    // cancels every generation still running (each decoder frees its KV at the next step).
    const choicesAbort = new AbortController();
    const signal = AbortSignal.any([ctx.signal, choicesAbort.signal]);
    const call: CallOptions & { tenant: string } = { tenant: ctx.tenant.id, requestId: ctx.requestId, deadline: ctx.deadline, signal, headers: { 'x-response-id': ctx.responseId }, ...(ctx.trace && { trace: ctx.trace }) };
    const timings: Record<string, number> = {};
    // Fail fast while NATS is down (503 + Retry-After) instead of at the request deadline.
    this.bus.assertUp('chat');

    const media = await this.admit(req, ctx.tenant);
    const admitted = media.images;
    // The cost admission computed (and checked against the per-request limit); charged once the work starts.
    this.o.imageCost?.charge(ctx.tenant, media.cost);
    // Images are encoded and retrieval runs once for all choices: every choice gets the same prompt,
    // whose KV the decoder's prefix cache then shares between them.
    const retrievalStart = Date.now();
    const [sources, encoded, videos] = await Promise.all([
      req.collection ? this.retrieve(req, call) : Promise.resolve([]),
      Promise.all(admitted.map((img) => this.images.encode(img, call))),
      Promise.all(media.videos.map((v) => this.o.videos!.encode(v, call))),
    ]);
    if (req.collection) timings.retrieval_ms = Date.now() - retrievalStart;
    sumImageTimings([...encoded, ...videos], timings);
    if (videos.length > 0) timings.video_frames = media.videos.reduce((n, v) => n + v.frames.length, 0);

    // Decoder images: the request's images, then each video's embeddings (a video part expands to its own, in order).
    // With a video no placeholder carries <image_id> (upstream passes use_image_id=False for the whole video chat).
    const embeddings = [...encoded.map((e) => (videos.length > 0 ? { ...e.embedding, useImageId: false } : e.embedding)), ...videos.flatMap((v) => v.embeddings)];
    const videoParts = videoEmbeddingIndices(encoded.length, videos);
    const messages: decodingV1.Message[] = req.messages.map((m) => toDecoderMessage(m, videoParts));
    if (req.collection) messages.unshift({ role: commonV1.Role.SYSTEM, parts: [{ part: { $case: 'text', text: groundingMessage(sources) } }] });
    // A text completion's prompt goes to the decoder verbatim (no chat template); a chat's messages through its template.
    const input = req.promptTokenIds
      ? { messages: [], prompt: [], promptTokenIds: { ids: req.promptTokenIds } }
      : req.prompt !== undefined
        ? { messages: [], prompt: [{ part: { $case: 'text' as const, text: req.prompt } }] }
        : { messages, prompt: [] };
    const prompt: PreparedPrompt = {
      request: { ...input, images: embeddings, modelRevision: this.model.revision, ...structuredOutputFields(req), ...(req.enableThinking !== undefined && { enableThinking: req.enableThinking }), ...chatEndingToWire(req.ending), ...(req.promptLogprobs !== undefined && { promptLogprobs: req.promptLogprobs }) },
      sources,
      timings,
      started,
      admitted,
      videos: media.videos,
      ...(this.o.recordResponses && isCompletion(req) && { recordedPrompt: storableText(req.prompt ?? this.model.tokenizer.decode(req.promptTokenIds!)) }),
    };

    const choices = Array.from({ length: choiceCount(req) }, (_, choice) => this.generateChoice(req, ctx, call, prompt, choice));
    let answered = false;
    try {
      yield* interleave(choices);
      answered = true;
    } finally {
      // A failed choice, or a consumer that stopped reading: the choices still running are cancelled.
      if (!answered) choicesAbort.abort();
    }
  }

  /**
   * One choice: its own decoder generation (request id and seed: domain/choices.ts), its own reasoning
   * split and feedback record, its deltas and final tagged with its index.
   */
  private async *generateChoice(req: ValidChatRequest, ctx: ChatContext, call: CallOptions & { tenant: string }, prompt: PreparedPrompt, choice: number): AsyncIterable<ChatEvent> {
    const responseId = choiceResponseId(ctx.responseId, choice);
    const s = req.sampling;
    const sampling: commonV1.SamplingParams = {
      ...samplingToWire(s),
      // Always seeded: a generation redelivered to another decoder replica must replay the same tokens
      // (the client skips chunks it has already seen), and the seed goes into the feedback record.
      seed: choiceSeed(s.seed, choice, () => randomInt(2 ** 47)),
      // The per-token confidence goes into the feedback record (review queue). Full logprobs (a log-softmax
      // over the vocabulary per token) only when the client asked for them; otherwise `confidence`: the
      // chosen token's raw logprob, O(1) from the decoder graph's logits_lse (common.proto). The record's
      // confidence comes from whichever the decoder returns.
      ...(s.logprobs ? { logprobs: true } : { logprobs: false, topLogprobs: 0, confidence: true }),
    };
    let answer = '';
    const confidence: TokenConfidence[] = [];
    let finalChunk: decodingV1.GenerateResponse | undefined;
    const stream = this.decoder.generate({ requestId: responseId, ...prompt.request, sampling }, { ...call, headers: { 'x-response-id': responseId } });
    // The decoder's first chunk says whether the output opens with reasoning (decoding.proto `reasoning`);
    // a text completion's output is returned as the model wrote it, never split.
    let split: ReasoningOutput | undefined;
    for await (const chunk of stream) {
      if (chunk.error && chunk.error.code !== commonV1.ErrorCode.UNSPECIFIED) throw errorFromInfo(chunk.error);
      split ??= new ReasoningOutput(!isCompletion(req) && chunk.reasoning);
      if (chunk.textDelta || chunk.tokenIds.length) {
        // The feedback record keeps the raw output, reasoning included (what a training example needs).
        answer += chunk.textDelta;
        for (const lp of chunk.logprobs) confidence.push({ text: lp.token, logprob: lp.logprob });
        const piece = split.push(chunk.textDelta);
        yield {
          kind: 'delta',
          choice,
          text: piece.content,
          ...(piece.reasoning && { reasoning: piece.reasoning }),
          tokenIds: chunk.tokenIds,
          ...(s.logprobs && { logprobs: chunk.logprobs.map((lp) => ({ token: lp.token, logprob: lp.logprob, top: lp.topLogprobs.map((t) => ({ token: t.token, logprob: t.logprob })) })) }),
          ...(chunk.promptLogprobs && { prompt: promptScoresFromWire(chunk.promptLogprobs) }),
        };
      }
      if (chunk.finishReason !== commonV1.FinishReason.UNSPECIFIED) {
        finalChunk = chunk;
        const rest = split.end();
        if (rest.reasoning) yield { kind: 'delta', choice, text: '', reasoning: rest.reasoning, tokenIds: [] };
        break;
      }
    }
    if (!finalChunk) {
      if (call.signal?.aborted) throw new TesseraError(ErrorCode.CANCELLED, 'the client went away');
      throw new TesseraError(ErrorCode.UNAVAILABLE, 'the decoder stream ended without a finish reason');
    }
    const usage = usageFromWire(finalChunk.usage);
    const t = finalChunk.timings;
    // The shared stages (images, retrieval) and this choice's generation.
    const timings: Record<string, number> = {
      ...prompt.timings,
      ...(t?.queueMs !== undefined && { decoder_queue_ms: t.queueMs }),
      ...(t?.prefillMs !== undefined && { prefill_ms: t.prefillMs }),
      ...(t?.decodePerTokenMs !== undefined && { decode_per_token_ms: t.decodePerTokenMs }),
      ...(t?.decodeMs !== undefined && { decode_ms: t.decodeMs }),
      time_to_first_token_ms: (t?.timeToFirstTokenMs ?? 0) + (prompt.timings.vision_encode_ms ?? 0) + (prompt.timings.resample_ms ?? 0),
      total_ms: Date.now() - prompt.started,
    };
    const finishReason: FinishReason = finishReasonName(finalChunk.finishReason) ?? 'stop';
    if (this.o.recordResponses) this.record(req, { ...ctx, responseId }, { answer, sources: prompt.sources, usage, finishReason: finalChunk.finishReason, seed: finalChunk.seed, confidence, admitted: prompt.admitted, videos: prompt.videos, sampling, prompt: prompt.recordedPrompt });
    yield { kind: 'final', choice, finishReason, usage, timings, sources: prompt.sources };
  }

  private async retrieve(req: ValidChatRequest, call: CallOptions): Promise<ChatSource[]> {
    const c = req.collection!;
    const res = await this.retrieval.query(
      {
        collection: c.name,
        query: { $case: 'text', text: retrievalQuery(req.messages) },
        k: c.k,
        ...(c.filter && { where: c.filter }),
        mode: 0,
        includeVectors: false,
      } as retrievalV1.QueryRequest,
      call,
    );
    return res.results.map((r) => ({ id: r.id, score: r.score, relevance: r.relevance, text: r.text, metadata: (r.metadata ?? {}) as Record<string, unknown> }));
  }

  /** Fire-and-forget: a feedback outage must not fail an answer the user already has. */
  private record(
    req: ValidChatRequest,
    ctx: ChatContext,
    r: { answer: string; sources: ChatSource[]; usage: ChatUsage; finishReason: commonV1.FinishReason; seed?: number; confidence: TokenConfidence[]; admitted: AdmittedImage[]; videos: AdmittedVideo[]; sampling: commonV1.SamplingParams; prompt: string | undefined },
  ): void {
    const summary = summarizeConfidence(r.confidence);
    const record: feedbackV1.ResponseRecord = {
      responseId: ctx.responseId,
      tenant: ctx.tenant.id,
      createdAt: new Date(),
      model: req.model,
      modelRevision: this.model.revision,
      messages: req.messages.map((m) => ({
        role: roleFromName(m.role)!,
        // feedback.v1 has no video part: a video is recorded as its frames, in order (images a trainer can read).
        content: m.parts.flatMap((p): feedbackV1.ContentPart[] =>
          p.kind === 'text'
            ? [{ part: { $case: 'text' as const, text: storableText(p.text) } }]
            : (p.kind === 'image' ? [r.admitted[p.index]!] : r.videos[p.index]!.frames).map((img) => ({ part: { $case: 'image' as const, image: imageRef(img) } })),
        ),
      })),
      sources: r.sources.map((s, i) => ({ index: i + 1, collection: req.collection?.name ?? '', id: s.id, text: s.text, relevance: s.relevance, metadata: s.metadata })),
      sampling: { ...r.sampling, ...(r.seed !== undefined && { seed: r.seed }), logprobs: req.sampling.logprobs },
      answer: storableText(r.answer),
      finishReason: r.finishReason,
      usage: usageToWire(r.usage),
      confidence: summary,
      collection: req.collection?.name ?? '',
      ...(r.prompt !== undefined && { prompt: r.prompt }),
    } as feedbackV1.ResponseRecord;
    // RecordResponse is idempotent on the response id, so a transient outage (feedback restarting, its
    // stream electing a leader after a NATS node died: seconds) is retried: 1+2+4+8 s, then given up.
    const attempt = (n: number): Promise<unknown> =>
      this.feedback.recordResponse({ response: record }, { tenant: ctx.tenant.id, requestId: ctx.requestId, timeoutMs: 10_000 }).catch(async (err: unknown) => {
        const code = (err as { code?: string }).code;
        if (n >= RECORD_ATTEMPTS || (code !== ErrorCode.UNAVAILABLE && code !== ErrorCode.DEADLINE_EXCEEDED)) throw err;
        await new Promise((r) => setTimeout(r, 1000 * 2 ** (n - 1)));
        return attempt(n + 1);
      });
    attempt(1).catch((err) => this.log.warn('feedback.record_failed', { responseId: ctx.responseId, error: String(err) }));
  }
}

/** The image-store reference feedback records: the same object the slicer read, so exports resolve it. */
function imageRef(img: AdmittedImage): commonV1.ObjectRef {
  if (!img.stored) throw new TesseraError(ErrorCode.INTERNAL, `${img.field}: the image was not stored before its response was recorded`);
  return { bucket: img.stored.bucket, key: img.stored.key, size: img.stored.size, contentType: img.stored.contentType };
}

/**
 * U+0000 is valid JSON text and the model sees it, but the feedback stores refuse it (PostgreSQL text
 * cannot hold NUL), which left such answers unrecorded; the record keeps it visibly escaped instead.
 */
function storableText(text: string): string {
  return text.includes('\u0000') ? text.replace(/\u0000/g, '\\u0000') : text;
}

function toDecoderMessage(m: ValidMessage, videoParts: number[][]): decodingV1.Message {
  const tool = m.toolCalls ? { calls: m.toolCalls.map((c) => ({ id: c.id, name: c.name, argumentsJson: c.argumentsJson })), callId: '' } : m.toolCallId ? { calls: [], callId: m.toolCallId } : undefined;
  return { role: roleFromName(m.role)!, parts: m.parts.flatMap((p) => toPromptParts(p, videoParts)), ...(tool && { tool }) };
}

function toPromptParts(p: ValidMessage['parts'][number], videoParts: number[][]): decodingV1.PromptPart[] {
  if (p.kind === 'text') return [{ part: { $case: 'text', text: p.text } }];
  const indices = p.kind === 'image' ? [p.index] : videoParts[p.index]!;
  return indices.map((imageIndex) => ({ part: { $case: 'image', image: { imageIndex } } }));
}

/** Decoder image indices of each video's embeddings: they follow the request's `images` ones, video by video. */
function videoEmbeddingIndices(images: number, videos: readonly EncodedVideo[]): number[][] {
  let next = images;
  return videos.map((v) => v.embeddings.map(() => next++));
}

/** Everything the image cost budget charges: images and every video frame. */
function sumImageTimings(encoded: ReadonlyArray<Pick<EncodedImage, 'timings'> & { cacheHit?: boolean }>, timings: Record<string, number>): void {
  if (encoded.length === 0) return;
  timings.image_preprocess_ms = encoded.reduce((n, e) => n + e.timings.preprocessMs, 0);
  timings.vision_encode_ms = encoded.reduce((n, e) => n + e.timings.visionEncodeMs, 0);
  timings.resample_ms = encoded.reduce((n, e) => n + e.timings.resampleMs, 0);
  timings.encoder_cache_hits = encoded.filter((e) => e.cacheHit).length;
  timings.images = encoded.length;
}

// ErrorInfo.code uses the gRPC status numbers (common.proto), so the runtime's table inverts to it.
const CODE_BY_NUMBER: ReadonlyMap<number, ErrorCode> = new Map(Object.entries(GRPC_STATUS).map(([code, n]) => [n, code as ErrorCode]));
function errorFromInfo(e: commonV1.ErrorInfo): TesseraError {
  return new TesseraError(CODE_BY_NUMBER.get(e.code) ?? 'INTERNAL', e.message, { ...(e.field && { field: e.field }), ...(e.limit && { limit: e.limit }), ...(e.retryAfterMs && { retryAfterMs: e.retryAfterMs }) });
}
