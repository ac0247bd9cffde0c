/**
 * DecoderService (decoding.v1), written once and bound to gRPC and NATS by @tessera/runtime.
 * Transport → this service → the engine and prompt assembly (domain).
 */
import type { NatsConnection } from 'nats';
import { commonV1, decodingV1, endHoldingConflict, finishReasonFromName, roleName, tensorProblem, tensorToFloat32 } from '@tessera/contracts';
import { checkModelRevision } from '@tessera/errors';
import { ErrorCode, TesseraError, invalidArgument, resolveTensor, type CallContext, type ServiceImpl } from '@tessera/runtime';
import type { Engine } from './domain/engine/engine.js';
import type { GenerationDefaults } from './domain/engine/generation-defaults.js';
import type { EngineChunk, LogitsConstraint, SamplingParams, TokenLogprob } from './domain/engine/types.js';
import { checkText, type AssembledPrompt } from './domain/prompt/assemble-prompt.js';
import { AfterReasoning, constraintFor } from './domain/structured-output.js';
import type { PromptTokenizer } from './domain/prompt/prompt-tokenizer.js';
import type { ChatEnding, ChatPromptMessage, PromptImage, PromptInput, PromptPart } from './domain/prompt/prompt-types.js';

type Def = typeof decodingV1.DecoderServiceService;

export interface DecoderServiceDeps {
  engine: Engine;
  tokenizer: PromptTokenizer;
  revision: string;
  /**
   * The model family's prompt assembly (2.6 ChatML + resampler slots with Hermes tool turns, 4.6 the
   * checkpoint's Jinja template — its own tools section — + `<|image_pad|>` expansion).
   */
  assemble: (input: PromptInput, limits: { maxImages: number }) => AssembledPrompt;
  defaults: { maxTokens: number; temperature: number } & Partial<GenerationDefaults>;
  maxImages: number;
  /** For visual tokens that arrive as an ObjectRef (claim check). */
  nc?: NatsConnection;
  /** Engine events for metrics that the service adds (visual token counts are in usage). */
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function decoderService(d: DecoderServiceDeps): ServiceImpl<Def> {
  const { engine } = d;
  return {
    generate(req: decodingV1.GenerateRequest, ctx: CallContext): AsyncIterable<decodingV1.GenerateResponse> {
      return generate(d, req, ctx);
    },

    async cancel(req: decodingV1.CancelRequest, ctx: CallContext): Promise<decodingV1.CancelResponse> {
      if (!req.requestId) throw invalidArgument('request_id', 'request_id is empty');
      const owner = engine.tenantOf(req.requestId);
      if (owner === undefined) return { found: false };
      if (owner !== ctx.tenant) throw new TesseraError(ErrorCode.PERMISSION_DENIED, `request ${req.requestId} belongs to another tenant`, { field: 'request_id' });
      return { found: engine.cancel(req.requestId, 'cancelled by Cancel RPC') };
    },

    async getEngineStats(): Promise<decodingV1.GetEngineStatsResponse> {
      const s = engine.stats();
      return {
        numRunning: s.running,
        numWaiting: s.waiting,
        kvCacheUsage: s.kvBudgetBytes ? s.kvUsedBytes / s.kvBudgetBytes : 0,
        kvCacheCapacityTokens: Math.floor(s.kvBudgetBytes / s.kvBytesPerToken),
        kvCacheUsedTokens: Math.round(s.kvUsedBytes / s.kvBytesPerToken),
        maxRunning: s.maxBatchSize,
        modelRevision: d.revision,
        generatedTokensTotal: s.generatedTokens,
      };
    },
  };
}

/**
 * Generate as edge sites call it on the model's site subjects (TESSERA_DECODER_SITE_ACCESS): text
 * only. A site's orchestrator sends no images on that route (they take the hub gateway's), and an
 * ObjectRef here would let a site credential read the hub's encoder cache under any tenant it names.
 */
export function siteGenerate(generate: ServiceImpl<Def>['generate']): ServiceImpl<Def>['generate'] {
  return async function* (req, ctx) {
    if (req.images.length > 0) throw new TesseraError(ErrorCode.PERMISSION_DENIED, "images: an edge site's request for a hub model carries text only (images go through the hub gateway)", { field: 'images' });
    yield* generate(req, ctx);
  };
}

async function* generate(d: DecoderServiceDeps, req: decodingV1.GenerateRequest, ctx: CallContext): AsyncGenerator<decodingV1.GenerateResponse> {
  const requestId = req.requestId || ctx.requestId;
  if (!REQUEST_ID.test(requestId)) throw invalidArgument('request_id', 'request_id must be 1..128 characters of [A-Za-z0-9._:-]', '1..128 of [A-Za-z0-9._:-]');
  checkModelRevision(req.modelRevision, d.revision, 'decoder');
  const images = await Promise.all(req.images.map((img, i) => toPromptImage(img, i, d.nc, ctx.tenant)));
  // Tools are shown to the model unless tool_choice is "none" (then the turn is plain text, as OpenAI's "none" means).
  const tools = req.toolChoice === 'none' ? [] : req.tools;
  const constraint = constraintFor(req, { tokenBytes: d.tokenizer.tokenBytes, vocabSize: d.engine.info.vocabSize, eosTokenIds: d.engine.info.eosTokenIds });
  // Unless asked, a constrained request renders thinking off: a long reasoning would spend max_tokens
  // before the document the client asked for. Asked (or a template that always opens `<think>`), the
  // constraint starts after `</think>`, as vLLM's does behind its reasoning parser.
  const endHeld = constraint && endHoldingConflict(req.sampling);
  if (endHeld) throw invalidArgument(endHeld.field, endHeld.message);
  const enableThinking = req.enableThinking ?? (constraint ? false : undefined);
  const ending = chatEnding(req);
  const prompt =
    req.promptTokenIds
      ? givenTokenIds(req.promptTokenIds.ids, req)
      : d.assemble({ messages: req.messages.map(toMessage), tools, prompt: req.prompt.map((p, j) => toPart(p, `prompt[${j}]`)), images, ...(enableThinking !== undefined && { enableThinking }), ...(ending && { ending }) }, { maxImages: d.maxImages });
  const reasoning = prompt.reasoning ?? false;
  ctx.throwIfAborted();
  const handle = d.engine.submit({
    requestId,
    tenant: ctx.tenant,
    promptTokenIds: prompt.tokenIds,
    ...(prompt.visual && { visual: prompt.visual }),
    params: toParams(req.sampling, d.defaults),
    deadlineMs: ctx.deadline,
    cacheSalt: ctx.headers['x-cache-salt'],
    ...(req.promptLogprobs !== undefined && { promptLogprobs: req.promptLogprobs }),
    ...(constraint && { constraint: reasoning ? afterReasoning(constraint, d.tokenizer) : constraint }),
  });
  // Client cancel, client gone, deadline or shutdown: the sequence leaves the batch at the next step.
  const onAbort = (): void => {
    const r: unknown = ctx.signal.reason;
    handle.cancel(r instanceof TesseraError ? r : r instanceof Error ? r.message : 'call aborted');
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let first = true;
  try {
    for await (const c of handle.chunks) {
      yield toResponse(c, d, first, reasoning, prompt.tokenIds);
      first = false;
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    handle.cancel('stream closed by the caller'); // no-op once finished
  }
}

/** The constraint deferred past the reasoning; a vocabulary without a `</think>` token cannot open reasoning (reasoning.ts). */
function afterReasoning(constraint: LogitsConstraint, tok: PromptTokenizer): LogitsConstraint {
  const thinkEnd = tok.addedTokenId('</think>');
  if (thinkEnd === undefined) throw new TesseraError(ErrorCode.INTERNAL, 'the prompt opens reasoning but the vocabulary has no </think> token');
  return new AfterReasoning(constraint, thinkEnd);
}

/**
 * A prompt given as token ids (vLLM's prompt_token_ids): the whole prompt, used as it is, so nothing
 * else may shape it. The engine checks each id against the vocabulary and the length against the context.
 */
function givenTokenIds(ids: readonly number[], req: decodingV1.GenerateRequest): AssembledPrompt {
  const other = req.messages.length > 0 ? 'messages' : req.prompt.length > 0 ? 'prompt' : req.images.length > 0 ? 'images' : undefined;
  if (other) throw invalidArgument('prompt_token_ids', `prompt_token_ids is the whole prompt: it cannot be combined with ${other}`);
  return { tokenIds: Int32Array.from(ids), visualTokens: 0, reasoning: false };
}

/** vLLM's add_generation_prompt / continue_final_message → how the chat ends; undefined = the default (a new assistant turn). */
function chatEnding(req: decodingV1.GenerateRequest): ChatEnding | undefined {
  if (req.continueFinalMessage) {
    if (req.addGenerationPrompt) throw invalidArgument('continue_final_message', 'continue_final_message and add_generation_prompt cannot both be true: the last message is continued, so no new turn is opened');
    return 'continue-final';
  }
  return req.addGenerationPrompt === false ? 'closed' : undefined;
}

function toMessage(m: decodingV1.Message, i: number): ChatPromptMessage {
  const role = roleName(m.role);
  if (!role) throw invalidArgument(`messages[${i}].role`, `role ${m.role} is not system, user, assistant or tool`);
  const calls = m.tool?.calls ?? [];
  if (calls.length > 0 && role !== 'assistant') throw invalidArgument(`messages[${i}].tool.calls`, 'only assistant messages carry tool calls');
  return {
    role,
    parts: m.parts.map((p, j) => toPart(p, `messages[${i}].parts[${j}]`)),
    ...(calls.length > 0 && { toolCalls: calls.map((c) => ({ name: c.name, argumentsJson: c.argumentsJson })) }),
  };
}

function toPart(p: decodingV1.PromptPart, field: string): PromptPart {
  if (p.part?.$case === 'text') return { kind: 'text', text: p.part.text };
  if (p.part?.$case === 'image') return { kind: 'image', imageIndex: p.part.image.imageIndex };
  throw invalidArgument(field, `${field} has neither text nor image`);
}

async function toPromptImage(img: decodingV1.ImageEmbedding, i: number, nc: NatsConnection | undefined, tenant: string): Promise<PromptImage> {
  const field = `images[${i}].visual_tokens`;
  let t = img.visualTokens;
  if (t?.data?.$case === 'ref') {
    if (!nc) throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `${field} is an ObjectRef but this decoder has no NATS connection`, { field });
    // Visual tokens are tenant-scoped (the resampler wrote them into the encoder cache for this tenant).
    t = await resolveTensor(nc, t, { tenant });
  }
  const problem = tensorProblem(t, field);
  if (problem) throw invalidArgument(problem.field, problem.message, problem.limit);
  if (![commonV1.Dtype.FLOAT32, commonV1.Dtype.FLOAT16, commonV1.Dtype.BFLOAT16].includes(t!.dtype)) {
    throw invalidArgument(`${field}.dtype`, `visual tokens must be FLOAT32, FLOAT16 or BFLOAT16`);
  }
  const perImage = img.layout?.tokensPerImage;
  if (img.video && img.video.groupSizes.length === 0) throw invalidArgument(`images[${i}].video.group_sizes`, 'a video needs its frames per group (one entry per group)', 'group_sizes >= 1 entry');
  return {
    tokens: tensorToFloat32(t!),
    shape: t!.shape.map(Number),
    gridCols: img.gridCols,
    gridRows: img.gridRows,
    useImageId: img.useImageId,
    ...(perImage && perImage.length > 0 && { tokensPerImage: [...perImage] }),
    ...(img.video && { videoGroups: img.video.groupSizes.length }),
  };
}

export function toParams(s: commonV1.SamplingParams | undefined, defaults: { maxTokens: number; temperature: number } & Partial<GenerationDefaults>): SamplingParams {
  const stop = s?.stop ?? [];
  stop.forEach((x, i) => checkText(x, `sampling.stop[${i}]`));
  return {
    maxTokens: s?.maxTokens ?? defaults.maxTokens,
    temperature: s?.temperature ?? defaults.temperature,
    topK: s?.topK ?? defaults.topK ?? 0,
    topP: s?.topP ?? defaults.topP ?? 1,
    minP: s?.minP ?? defaults.minP ?? 0,
    repetitionPenalty: s?.repetitionPenalty ?? defaults.repetitionPenalty ?? 1,
    presencePenalty: s?.presencePenalty ?? defaults.presencePenalty ?? 0,
    frequencyPenalty: s?.frequencyPenalty ?? defaults.frequencyPenalty ?? 0,
    ...(s?.seed !== undefined && { seed: BigInt.asUintN(64, BigInt(s.seed)) }),
    stop,
    stopTokenIds: s?.stopTokenIds ?? [],
    ignoreEos: s?.ignoreEos ?? false,
    minTokens: s?.minTokens ?? 0,
    logprobs: s?.logprobs ?? false,
    topLogprobs: s?.logprobs ? (s?.topLogprobs ?? 0) : 0,
    ...(s?.confidence && { confidence: true }),
    ...(s?.logitBias && Object.keys(s.logitBias.bias).length > 0 && { logitBias: new Map(Object.entries(s.logitBias.bias).map(([id, b]) => [Number(id), b])) }),
  };
}

const ms = (s: number): number => s * 1000;

/** One token's text (a partial UTF-8 character decodes to U+FFFD, as the contract says); one TextDecoder per chunk. */
function tokenTexts(d: DecoderServiceDeps): (id: number) => string {
  const dec = new TextDecoder();
  return (id) => dec.decode(d.tokenizer.tokenBytes.bytesOf(id));
}

/** Entry 0 (nothing precedes it) goes out as the token with logprob 0 and no alternatives (common.proto PromptLogprobs). */
function promptLogprobsToWire(lps: readonly (TokenLogprob | null)[], ids: Int32Array, d: DecoderServiceDeps, text: (id: number) => string): commonV1.PromptLogprobs {
  const bytes = Buffer.concat(Array.from(ids, (id) => d.tokenizer.tokenBytes.bytesOf(id)));
  return {
    tokens: lps.map((l, i) => (l ? toTokenLogprob(l, text) : { tokenId: ids[i]!, token: text(ids[i]!), logprob: 0, topLogprobs: [] })),
    text: new TextDecoder().decode(bytes),
  };
}

function toTokenLogprob(l: TokenLogprob, text: (id: number) => string): commonV1.TokenLogprob {
  return { tokenId: l.tokenId, token: text(l.tokenId), logprob: l.logprob, topLogprobs: l.top.map((t) => ({ tokenId: t.tokenId, token: text(t.tokenId), logprob: t.logprob })), ...(l.rank !== undefined && { rank: l.rank }) };
}

function toResponse(c: EngineChunk, d: DecoderServiceDeps, first: boolean, reasoning: boolean, promptIds: Int32Array): decodingV1.GenerateResponse {
  const text = tokenTexts(d);
  const res: decodingV1.GenerateResponse = {
    textDelta: c.text,
    tokenIds: c.tokenIds,
    logprobs: (c.logprobs ?? []).map((l) => toTokenLogprob(l, text)),
    ...(c.promptLogprobs && { promptLogprobs: promptLogprobsToWire(c.promptLogprobs, promptIds, d, text) }),
    finishReason: c.finishReason ? finishReasonFromName(c.finishReason)! : commonV1.FinishReason.UNSPECIFIED,
    matchedStop: typeof c.stopReason === 'string' ? c.stopReason : '',
    modelRevision: first || c.finishReason ? d.revision : '',
    reasoning: first && reasoning,
  };
  if (c.usage) {
    const u = c.usage;
    res.usage = { promptTokens: u.promptTokens, visualTokens: u.visualTokens, completionTokens: u.completionTokens, totalTokens: u.promptTokens + u.completionTokens, cachedTokens: u.cachedPromptTokens };
  }
  if (c.timings) {
    const t = c.timings;
    res.timings = { queueMs: ms(t.queueS), prefillMs: ms(t.prefillS), timeToFirstTokenMs: ms(t.timeToFirstTokenS), decodePerTokenMs: ms(t.perTokenS), decodeMs: ms(t.decodeS), totalMs: ms(t.totalS) };
  }
  if (c.seed !== undefined) res.seed = Number(BigInt.asIntN(64, c.seed));
  if (c.error) {
    const e = c.error;
    res.error = {
      code: commonV1.ErrorCode[e.code as keyof typeof commonV1.ErrorCode] ?? commonV1.ErrorCode.INTERNAL,
      message: e.message,
      field: e.details.field ?? '',
      limit: e.details.limit ?? '',
      retryAfterMs: e.details.retryAfterMs ?? 0,
      metadata: {},
    };
  }
  return res;
}
