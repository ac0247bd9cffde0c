/**
 * The generation engine: continuous batching over a DecoderBackend with a paged KV cache.
 *
 * The loop only alternates policy and execution, one step at a time:
 *   1. reap     — cancelled and expired sequences leave (queued, preempted or running) and free their blocks;
 *   2. schedule — the pure Scheduler returns a StepPlan (which rows decode, which prefill which chunk,
 *                 who was preempted), see scheduler.ts;
 *   3. execute  — decode rows (1 token each) in one backend step, prefill chunks of several sequences
 *                 in a second one (batched prefill), both reading and writing the cache in place;
 *   4. complete — the scheduler records what is now cached, then rows that reached the end of their
 *                 tokens sample their next token, stream it, and finished sequences leave at once.
 * Every sequence owns its PRNG, penalties and detokenizer, so batching, chunking, prefix hits and
 * preemption (recompute) change no result.
 */
import { ErrorCode, TesseraError, resourceExhausted } from '@tessera/runtime';
import type { DecoderBackend, StepOutput, StepRow } from './backend.js';
import { BlockPool } from './block-pool.js';
import { ChunkStream } from './chunk-stream.js';
import type { TokenBytes } from './detokenizer.js';
import { DEFAULT_LIMITS, type EngineLimits } from './limits.js';
import type { EngineObserver } from './observer.js';
import { Sampler, rawLogprob, type SampleResult } from './sampler.js';
import { Scheduler, type ScheduledRow, type StepPlan } from './scheduler.js';
import { Sequence } from './sequence.js';
import type { EngineChunk, EngineRequest, FinishReason } from './types.js';
import { validateRequest } from './validate.js';

export interface GenerationHandle {
  readonly requestId: string;
  readonly chunks: AsyncIterable<EngineChunk>;
  cancel(reason?: string | TesseraError): void;
}

export interface EngineStats {
  running: number;
  waiting: number;
  /** Bytes of the KV blocks held by live sequences. */
  kvUsedBytes: number;
  /** Bytes of all KV blocks (the pool allocated from the budget). */
  kvBudgetBytes: number;
  kvBytesPerToken: number;
  kvBlockSize: number;
  kvBlocksTotal: number;
  kvBlocksUsed: number;
  /** Free blocks that still hold a cached prefix (evicted LRU when needed). */
  kvBlocksCached: number;
  maxBatchSize: number;
  steps: number;
  preemptions: number;
  /** Prefix-cache lookups and hits, in prompt tokens (as vLLM counts them). */
  prefixCacheQueries: number;
  prefixCacheHits: number;
  /** Tokens generated since start. */
  generatedTokens: number;
}

export interface EngineOptions {
  backend: DecoderBackend;
  tokenBytes: TokenBytes;
  limits?: Partial<EngineLimits>;
  observer?: EngineObserver;
}

export class Engine {
  readonly limits: EngineLimits;
  private readonly backend: DecoderBackend;
  private readonly tokenBytes: TokenBytes;
  private readonly observer: EngineObserver;
  private readonly sampler: Sampler;
  private readonly pool: BlockPool;
  private readonly scheduler: Scheduler<Sequence>;
  private readonly byId = new Map<string, Sequence>();
  private readonly bytesPerBlock: number;
  private steps = 0;
  private generatedTokens = 0;
  private stopped = false;
  private idle: (() => void) | undefined;
  private loopDone: Promise<void>;
  /** EWMA of request service time (ms), for retry-after hints. */
  private serviceMs = 0;

  constructor(opts: EngineOptions) {
    this.backend = opts.backend;
    this.tokenBytes = opts.tokenBytes;
    this.observer = opts.observer ?? {};
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...opts.limits });
    const info = this.backend.info;
    this.sampler = new Sampler(info.vocabSize);
    const bs = this.limits.kvBlockSize;
    // One state slot per running sequence comes out of the budget first; the rest is KV blocks.
    const numStateSlots = info.stateBytesPerSequence > 0 ? this.limits.maxBatchSize : 0;
    this.bytesPerBlock = Math.max(1, info.kvBytesPerToken * bs);
    const kvBytes = this.limits.kvBudgetBytes - numStateSlots * info.stateBytesPerSequence;
    const numBlocks = info.kvBytesPerToken > 0 ? Math.max(0, Math.floor(kvBytes / this.bytesPerBlock)) : Math.ceil(this.maxContext() / bs) * this.limits.maxBatchSize;
    this.backend.allocateCache({ numBlocks, blockSize: bs, numStateSlots });
    this.pool = new BlockPool(numBlocks, bs);
    this.scheduler = new Scheduler<Sequence>(this.pool, {
      maxBatchSize: this.limits.maxBatchSize,
      maxPrefillTokensPerStep: this.limits.maxPrefillTokensPerStep,
      prefixCaching: this.limits.prefixCaching && numStateSlots === 0,
      numStateSlots,
      ...(info.maxQueryLength !== undefined && { maxQueryLength: info.maxQueryLength }),
    });
    this.loopDone = this.loop();
  }

  get info() {
    return this.backend.info;
  }

  /**
   * Validates and queues a request. Throws INVALID_ARGUMENT (naming the field) for a bad request
   * and RESOURCE_EXHAUSTED when the queue is full (with retryAfterMs) or when the KV budget cannot
   * hold the sequence even alone (naming the limit).
   */
  submit(req: EngineRequest): GenerationHandle {
    if (this.stopped) throw new TesseraError(ErrorCode.UNAVAILABLE, 'decoder engine is shutting down');
    try {
      validateRequest(req, this.backend.info, this.limits);
      const tokens = req.promptTokenIds.length + req.params.maxTokens;
      const fit = this.pool.numBlocks * this.pool.blockSize;
      if (this.scheduler.blocksFor(tokens) > this.pool.numBlocks) {
        throw resourceExhausted('kv_budget', `prompt + max_tokens = ${tokens} tokens do not fit the KV cache budget (TESSERA_DECODER_KV_BUDGET = ${this.limits.kvBudgetBytes} bytes holds ${fit} tokens)`, `prompt + max_tokens <= ${fit}`);
      }
      if (this.byId.has(req.requestId)) throw new TesseraError(ErrorCode.ALREADY_EXISTS, `request ${req.requestId} is already running`, { field: 'request_id' });
      const waiting = this.scheduler.waiting.size;
      // Requests the next step will admit anyway (free batch slots) do not count against the queue.
      const waitingForSlot = this.scheduler.running.length + waiting >= this.limits.maxBatchSize;
      if (waitingForSlot && waiting >= this.limits.maxQueue) {
        throw resourceExhausted('queue', `decoder queue is full (${this.limits.maxQueue} waiting)`, `waiting <= ${this.limits.maxQueue}`, this.retryAfterMs());
      }
      if (this.scheduler.waiting.sizeOf(req.tenant) >= this.limits.maxQueuePerTenant) {
        throw resourceExhausted('tenant', `tenant ${req.tenant} has ${this.limits.maxQueuePerTenant} requests waiting`, `waiting per tenant <= ${this.limits.maxQueuePerTenant}`, this.retryAfterMs());
      }
    } catch (err) {
      this.observer.onRejected?.(req.tenant, err instanceof TesseraError ? err.code : ErrorCode.INTERNAL);
      throw err;
    }
    const stream = new ChunkStream<EngineChunk>();
    const seq = new Sequence(req, stream, this.tokenBytes, this.backend.info.eosTokenIds, this.limits.maxPromptLogitsPerStep);
    seq.cacheScope = `${req.tenant}\u0000${req.cacheSalt ?? ''}`;
    this.scheduler.add(seq);
    this.byId.set(req.requestId, seq);
    this.wake();
    return {
      requestId: req.requestId,
      chunks: stream,
      cancel: (reason?: string | TesseraError) => this.cancel(req.requestId, reason),
    };
  }

  /** Marks a sequence cancelled; it leaves (and frees its blocks) at the next step boundary. */
  cancel(requestId: string, reason: string | TesseraError = 'cancelled by client'): boolean {
    const seq = this.byId.get(requestId);
    if (!seq || seq.status === 'finished') return false;
    seq.cancelRequested ??= typeof reason === 'string' ? new TesseraError(ErrorCode.CANCELLED, reason) : reason;
    this.wake();
    return true;
  }

  /** Tenant of a live request (Cancel checks it), undefined when unknown or finished. */
  tenantOf(requestId: string): string | undefined {
    return this.byId.get(requestId)?.tenant;
  }

  stats(): EngineStats {
    const c = this.scheduler.counters;
    return {
      running: this.scheduler.running.length,
      waiting: this.scheduler.waiting.size,
      kvUsedBytes: this.pool.numUsed * this.bytesPerBlock,
      kvBudgetBytes: this.pool.numBlocks * this.bytesPerBlock,
      kvBytesPerToken: this.backend.info.kvBytesPerToken,
      kvBlockSize: this.pool.blockSize,
      kvBlocksTotal: this.pool.numBlocks,
      kvBlocksUsed: this.pool.numUsed,
      kvBlocksCached: this.pool.numCached,
      maxBatchSize: this.limits.maxBatchSize,
      steps: this.steps,
      preemptions: c.preemptions,
      prefixCacheQueries: c.prefixQueryTokens,
      prefixCacheHits: c.prefixHitTokens,
      generatedTokens: this.generatedTokens,
    };
  }

  /** Stops accepting work; `drain` lets running and queued sequences finish first. */
  async close(opts: { drain?: boolean } = {}): Promise<void> {
    if (opts.drain) while (this.byId.size > 0) await new Promise((r) => setTimeout(r, 10));
    this.stopped = true;
    const err = new TesseraError(ErrorCode.UNAVAILABLE, 'decoder engine shut down');
    for (const s of this.byId.values()) s.cancelRequested ??= err;
    // The loop reaps them at its next step boundary (never in the middle of a step) and then exits.
    this.wake();
    await this.loopDone;
  }

  private maxContext(): number {
    return Math.min(this.limits.maxContext, this.backend.info.maxContext);
  }

  private wake(): void {
    const w = this.idle;
    this.idle = undefined;
    w?.();
  }

  private retryAfterMs(): number {
    const per = this.serviceMs || 1000;
    const waves = Math.ceil((this.scheduler.waiting.size + 1) / this.limits.maxBatchSize);
    return Math.min(30_000, Math.max(100, Math.round(per * waves)));
  }

  /** The only place sequences change state, so a step never sees its batch change under it. */
  private async loop(): Promise<void> {
    for (;;) {
      try {
        this.reap();
        if (this.stopped && this.byId.size === 0) return;
        const plan = this.scheduler.schedule();
        this.observer.onStats?.(this.stats());
        if (plan.rows.length === 0) {
          await new Promise<void>((resolve) => (this.idle = resolve));
          continue;
        }
        const now = performance.now();
        for (const seq of plan.admitted) {
          seq.tAdmit ||= now;
          seq.tPrefillStart ||= now;
          if (seq.cachedPromptTokens < 0) seq.cachedPromptTokens = seq.numCachedTokens;
          if (seq.stateSlot >= 0) this.backend.resetState(seq.stateSlot);
        }
        if (plan.preempted.length) this.observer.onPreempted?.(plan.preempted.length);
        await this.execute(plan);
        this.steps++;
      } catch (err) {
        // A bug here must not kill the engine: fail what is running and keep serving the queue.
        const e = TesseraError.from(err);
        for (const s of [...this.scheduler.running]) this.finish(s, 'error', { error: e });
      }
      // Let transports flush chunks and take new requests between steps.
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Removes cancelled and expired sequences, queued or running; frees their blocks at once. */
  private reap(): void {
    const now = Date.now();
    for (const seq of [...this.byId.values()]) {
      if (!seq.cancelRequested && seq.req.deadlineMs !== undefined && seq.req.deadlineMs <= now) {
        seq.cancelRequested = new TesseraError(ErrorCode.DEADLINE_EXCEEDED, `deadline passed after ${seq.generated.length} generated tokens`);
      }
      const err = seq.cancelRequested;
      if (!err) continue;
      // decoding.v1: a client cancel and an expired deadline both end with CANCELLED (the error says which).
      const cancelled = err.code === ErrorCode.CANCELLED || err.code === ErrorCode.DEADLINE_EXCEEDED;
      this.finish(seq, cancelled ? 'cancelled' : 'error', { error: err });
    }
  }

  /** Decode rows first (running streams get their token before any prefill work), then prefill chunks. */
  private async execute(plan: StepPlan<Sequence>): Promise<void> {
    const decodes = plan.rows.filter((r) => r.count === 1);
    const prefills = plan.rows.filter((r) => r.count > 1);
    for (const group of [decodes, prefills]) {
      if (group.length === 0) continue;
      const out = await this.runGroup(group);
      if (!out) continue;
      const { logits, logSumExp } = out;
      this.scheduler.complete({ rows: group.filter((r) => r.seq.status === 'running'), preempted: [], admitted: [] });
      const V = this.backend.info.vocabSize;
      let at = 0;
      for (const r of group) {
        const n = logitRows(r);
        const rowLogits = logits.subarray(at * V, (at + n) * V);
        at += n;
        if (r.seq.status !== 'running') continue;
        const seq = r.seq;
        // Row j of this row's logits scores the token after position start + count − n + j.
        seq.recordPromptLogprobs(r.start + r.count - n, n, rowLogits, V, logSumExp?.subarray(at - n, at));
        if (!r.samples) continue;
        if (!seq.tPrefillEnd) seq.tPrefillEnd = performance.now();
        const last = rowLogits.subarray((n - 1) * V);
        const p = seq.req.params;
        const s = this.sampler.sample(last, p, seq.penalties, seq.prng, seq.req.constraint, seq.belowMinTokens() ? seq.stopIds : undefined);
        // Confidence only: the chosen token's raw logprob from the backend's log-sum-exp of this row (O(1));
        // a backend without it (models built before `logits_lse`) costs one pass over the row here.
        if (p.confidence && !p.logprobs) s.logprob = rawLogprob(last, s.tokenId, logSumExp?.[at - 1]);
        this.emit(seq, s);
      }
    }
  }

  /**
   * One backend step over rows; on a failure of a multi-row step each row is retried alone, so a
   * fault caused by one request fails that request only (the port writes nothing on a failed step).
   * The logits follow the rows: logitRows(r) of them per row (zeros for a row that failed alone).
   */
  private async runGroup(rows: ScheduledRow<Sequence>[]): Promise<StepOutput | undefined> {
    try {
      return await this.backend.step(await this.stepInput(rows));
    } catch (err) {
      if (rows.length === 1) {
        this.finish(rows[0]!.seq, 'error', { error: TesseraError.from(err) });
        return undefined;
      }
    }
    const V = this.backend.info.vocabSize;
    const L = rows.reduce((n, r) => n + logitRows(r), 0);
    const logits = new Float32Array(L * V);
    const lse = new Float32Array(L);
    let withLse = true;
    let at = 0;
    for (const r of rows) {
      const one = await this.runGroup([r]);
      if (one) {
        logits.set(one.logits, at * V);
        if (one.logSumExp) lse.set(one.logSumExp, at);
        else withLse = false;
      }
      at += logitRows(r);
    }
    return { logits, ...(withLse && { logSumExp: lse }) };
  }

  /** Embeds each row's tokens [start, start + count), places visual embeddings, right-pads to T. */
  private async stepInput(rows: ScheduledRow<Sequence>[]) {
    const H = this.backend.info.hiddenSize;
    const T = Math.max(...rows.map((r) => r.count));
    const total = rows.reduce((n, r) => n + r.count, 0);
    const ids = new Int32Array(total);
    let k = 0;
    for (const r of rows) for (let t = 0; t < r.count; t++) ids[k++] = r.seq.tokenAt(r.start + t);
    const flat = await this.backend.embedTokens(ids);
    let embeds = flat;
    if (total !== rows.length * T) {
      embeds = new Float32Array(rows.length * T * H);
      k = 0;
      rows.forEach((r, b) => {
        embeds.set(flat.subarray(k * H, (k + r.count) * H), b * T * H);
        k += r.count;
      });
    }
    rows.forEach((r, b) => {
      const v = r.seq.req.visual;
      if (!v) return;
      for (let i = 0; i < v.positions.length; i++) {
        const p = v.positions[i]!;
        if (p >= r.start && p < r.start + r.count) embeds.set(v.embeddings.subarray(i * H, (i + 1) * H), (b * T + p - r.start) * H);
      }
    });
    const stepRows: StepRow[] = rows.map((r) => ({ pastLength: r.start, queryLength: r.count, blockTable: r.seq.blockTable, stateSlot: r.seq.stateSlot, ...(logitRows(r) > 1 && { allLogits: true }) }));
    return { rows: stepRows, seqLen: T, inputsEmbeds: embeds };
  }

  /** Records a sampled token, streams its text delta, and ends the sequence on a stop or the length cap. */
  private emit(seq: Sequence, s: SampleResult): void {
    const now = performance.now();
    if (seq.tFirst === 0) {
      seq.tFirst = now;
      const t = seq.timings(now);
      this.observer.onFirstToken?.(seq.tenant, t.timeToFirstTokenS, t.queueS, t.prefillS);
    } else {
      this.observer.onToken?.(seq.tenant, (now - seq.tLast) / 1000);
    }
    seq.tLast = now;
    const id = s.tokenId;
    seq.generated.push(id);
    this.generatedTokens++;
    seq.penalties.outputCounts.set(id, (seq.penalties.outputCounts.get(id) ?? 0) + 1);

    let end = seq.finishCheck(id);
    // A stop token's own text is part of the answer, as vLLM returns it; special tokens (the model's
    // end-of-sequence among them) have none. A stop string is cut off, and wins over a stop token.
    // Within min_tokens (this token included) stop strings are not looked for, as in vLLM.
    const d = seq.detok.push(id, seq.generated.length > seq.req.params.minTokens);
    let text = d.text;
    if (d.stop !== undefined) end = { reason: 'stop', stop: d.stop };
    if (end && typeof end.stop !== 'string') text += seq.detok.finish();
    const promptLogprobs = seq.takePromptLogprobs();
    const chunk: EngineChunk = { text, tokenIds: [id], ...(s.logprob && { logprobs: [s.logprob] }), ...(promptLogprobs && { promptLogprobs }) };
    if (end) this.finish(seq, end.reason, { chunk, stopReason: end.stop });
    else seq.stream.push(chunk);
  }

  private finish(seq: Sequence, reason: FinishReason, o: { chunk?: EngineChunk; stopReason?: string | number; error?: TesseraError }): void {
    if (seq.status === 'finished') return;
    this.scheduler.finish(seq);
    this.byId.delete(seq.req.requestId);
    const now = performance.now();
    const usage = seq.usage();
    const timings = seq.timings(now);
    const last: EngineChunk = {
      ...(o.chunk ?? { text: '', tokenIds: [] }),
      finishReason: reason,
      seed: seq.seed,
      usage,
      timings,
      ...(o.stopReason !== undefined && { stopReason: o.stopReason }),
      ...(o.error && { error: o.error }),
    };
    seq.stream.push(last);
    seq.stream.end();
    if (reason === 'stop' || reason === 'length') this.serviceMs = this.serviceMs ? 0.8 * this.serviceMs + 0.2 * timings.totalS * 1000 : timings.totalS * 1000;
    this.observer.onFinish?.(seq.tenant, reason, usage, timings, o.error?.code);
  }
}

/** Rows of logits a scheduled row gets back: every new token's while its prompt logprobs are computed, else its last. */
function logitRows(r: ScheduledRow<Sequence>): number {
  return r.seq.needsAllLogits(r.start, r.count) ? r.count : 1;
}
