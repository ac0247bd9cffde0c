/** One request's state inside the engine. */
import { createHash } from 'node:crypto';
import type { TesseraError } from '@tessera/runtime';
import type { ChunkStream } from './chunk-stream.js';
import { IncrementalDetokenizer, type TokenBytes } from './detokenizer.js';
import { Prng, randomSeed } from './prng.js';
import { topIds, topLogprobs, type PenaltyState } from './sampler.js';
import type { SchedSeq, SeqStatus } from './scheduler.js';
import type { EngineChunk, EngineRequest, FinishReason, Timings, TokenLogprob, Usage } from './types.js';

export class Sequence implements SchedSeq {
  // Scheduler bookkeeping (scheduler.ts).
  status: SeqStatus = 'waiting';
  numComputed = 0;
  blockTable: number[] = [];
  blockHashes: string[] = [];
  numCachedTokens = 0;
  stateSlot = -1;
  preemptions = 0;

  readonly prng: Prng;
  readonly penalties: PenaltyState;
  readonly detok: IncrementalDetokenizer;
  readonly stopIds: Set<number>;
  readonly generated: number[] = [];
  /** Cached prompt tokens at the first admission (usage reports this one). */
  cachedPromptTokens = -1;
  /**
   * With req.promptLogprobs: entry i is prompt token i's logprob given tokens < i (entry 0 stays null),
   * filled as the prefill chunks' logits arrive; a recompute after preemption keeps what it has.
   */
  readonly promptLogprobs: (TokenLogprob | null)[] | undefined;
  /** Prompt logprobs not yet computed (the first chunk that samples carries them all). */
  private promptLogprobsMissing: number;
  private promptLogprobsSent = false;
  readonly chunkCap: number | undefined;
  /** Set by cancel(); acted on at the start of the next engine step. */
  cancelRequested: TesseraError | undefined;

  readonly tSubmit = performance.now();
  tAdmit = 0;
  tPrefillStart = 0;
  tPrefillEnd = 0;
  tFirst = 0;
  tLast = 0;

  readonly seed: bigint;

  constructor(
    readonly req: EngineRequest,
    readonly stream: ChunkStream<EngineChunk>,
    tokenBytes: TokenBytes,
    eosTokenIds: readonly number[],
    maxPromptLogitsPerStep = Infinity,
  ) {
    this.seed = req.params.seed ?? randomSeed();
    this.prng = new Prng(this.seed);
    const p = req.params;
    this.penalties = { outputCounts: new Map() };
    this.detok = new IncrementalDetokenizer(tokenBytes, p.stop);
    this.stopIds = new Set([...p.stopTokenIds, ...(p.ignoreEos ? [] : eosTokenIds)]);
    const wantsPrompt = req.promptLogprobs !== undefined;
    this.promptLogprobs = wantsPrompt ? new Array<TokenLogprob | null>(req.promptTokenIds.length).fill(null) : undefined;
    this.promptLogprobsMissing = wantsPrompt ? req.promptTokenIds.length - 1 : 0;
    this.chunkCap = wantsPrompt ? maxPromptLogitsPerStep : undefined;
  }

  /** Prompt logprobs need every prompt position computed: no prefix-cache hit (scheduler.ts). */
  get computesWholePrompt(): boolean {
    return this.promptLogprobs !== undefined;
  }

  /** Whether a step computing tokens [start, start + count) must return every position's logits. */
  needsAllLogits(start: number, count: number): boolean {
    return this.promptLogprobsMissing > 0 && start < this.promptLength - 1 && count > 1;
  }

  /**
   * Takes the logits of positions [start, start + count) ([count, vocab] in `logits`): position p scores
   * prompt token p + 1 from the raw logits, as vLLM's prompt_logprobs (no penalties, bias or temperature).
   * With the rows' log-sum-exp from the model (`logSumExp`, [count]) no pass of exp over the vocabulary
   * runs here: only the passes that find the alternatives and the rank.
   */
  recordPromptLogprobs(start: number, count: number, logits: Float32Array, vocab: number, logSumExp?: Float32Array): void {
    const list = this.promptLogprobs;
    if (!list || this.promptLogprobsMissing === 0) return;
    const top = this.req.promptLogprobs ?? 0;
    for (let t = 0; t < count; t++) {
      const next = start + t + 1;
      if (next >= this.promptLength || list[next]) continue;
      const row = logits.subarray(t * vocab, (t + 1) * vocab);
      const token = this.req.promptTokenIds[next]!;
      list[next] = logSumExp ? scoreToken(row, token, top, logSumExp[t]!) : { ...topLogprobs(row, token, top), rank: rankOf(row, token) };
      this.promptLogprobsMissing--;
    }
  }

  /** The prompt logprobs, once, for the first chunk. */
  takePromptLogprobs(): (TokenLogprob | null)[] | undefined {
    if (!this.promptLogprobs || this.promptLogprobsSent) return undefined;
    this.promptLogprobsSent = true;
    return this.promptLogprobs;
  }

  get tenant(): string {
    return this.req.tenant;
  }

  get id(): string {
    return this.req.requestId;
  }

  get promptLength(): number {
    return this.req.promptTokenIds.length;
  }

  get numTokens(): number {
    return this.req.promptTokenIds.length + this.generated.length;
  }

  tokenAt(i: number): number {
    const n = this.req.promptTokenIds.length;
    return i < n ? this.req.promptTokenIds[i]! : this.generated[i - n]!;
  }

  /** Prefix-cache scope: tenant + salt (vLLM's cache_salt); set by the engine when caching is on. */
  cacheScope: string | undefined;

  /** Visual content inside [start, end): a digest of those embeddings, so equal <unk> ids of different images never share KV. */
  blockExtra(start: number, end: number): string {
    const v = this.req.visual;
    if (!v) return '';
    const H = v.embeddings.length / Math.max(1, v.positions.length);
    const h = createHash('sha256');
    let any = false;
    for (let i = 0; i < v.positions.length; i++) {
      const p = v.positions[i]!;
      if (p < start || p >= end) continue;
      any = true;
      h.update(new Uint8Array(v.embeddings.buffer, v.embeddings.byteOffset + i * H * 4, H * 4));
    }
    return any ? h.digest('base64') : '';
  }

  usage(): Usage {
    return {
      promptTokens: this.req.promptTokenIds.length,
      visualTokens: this.req.visual?.positions.length ?? 0,
      completionTokens: this.generated.length,
      cachedPromptTokens: Math.max(0, this.cachedPromptTokens),
    };
  }

  timings(now: number): Timings {
    const s = (ms: number): number => Math.max(0, ms) / 1000;
    const n = this.generated.length;
    return {
      queueS: s((this.tAdmit || now) - this.tSubmit),
      prefillS: this.tPrefillEnd ? s(this.tPrefillEnd - this.tPrefillStart) : 0,
      timeToFirstTokenS: this.tFirst ? s(this.tFirst - this.tSubmit) : 0,
      perTokenS: n > 1 ? s(this.tLast - this.tFirst) / (n - 1) : 0,
      decodeS: n > 1 ? s(this.tLast - this.tFirst) : 0,
      totalS: s(now - this.tSubmit),
    };
  }

  /** The next token is still inside min_tokens: it may not be a stop id. */
  belowMinTokens(): boolean {
    return this.generated.length < this.req.params.minTokens;
  }

  /** Records a sampled token; returns whether generation ends here and why. */
  finishCheck(tokenId: number): { reason: FinishReason; stop?: string | number } | undefined {
    if (this.stopIds.has(tokenId)) return { reason: 'stop', stop: tokenId };
    if (this.generated.length >= this.req.params.maxTokens) return { reason: 'length' };
    return undefined;
  }
}

/** A prompt token's logprob, alternatives and rank from its logits row and the row's log-sum-exp. */
function scoreToken(logits: Float32Array, token: number, n: number, lse: number): TokenLogprob {
  return { tokenId: token, logprob: logits[token]! - lse, top: topIds(logits, n).map((i) => ({ tokenId: i, logprob: logits[i]! - lse })), rank: rankOf(logits, token) };
}

/** 1-based rank of a token in one row of logits (1 = the most likely; ties share the better rank). */
function rankOf(logits: Float32Array, token: number): number {
  const x = logits[token]!;
  let above = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > x) above++;
  return above + 1;
}
