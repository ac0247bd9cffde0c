/**
 * The generation engine: continuous batching over a DecoderBackend.
 *
 * One loop, one step at a time:
 *   1. reap   — cancelled and expired sequences leave (queued or running) and free their KV;
 *   2. admit  — waiting sequences join, fair across tenants, while the batch has room, the KV budget
 *               covers prompt + max_tokens, and the step's prefill-token budget is not spent;
 *   3. prefill each admitted sequence alone (B = 1) and sample its first token;
 *   4. one batched decode step (T = 1) over every running sequence with left-padded pasts.
 * New sequences therefore join between steps and finished ones leave at once. Every sequence owns
 * its PRNG, penalties and detokenizer, so batching changes no result.
 */
import { ErrorCode, TesseraError, resourceExhausted, invalidArgument } from '@tessera/runtime';
import { kvBytesPerToken, type DecoderBackend, type ForwardOutput, type LayerKv } from './backend.js';
import { BatchKv } from './batch-kv.js';
import { ChunkStream } from './chunk-stream.js';
import type { TokenBytes } from './detokenizer.js';
import { FairQueue } from './fair-queue.js';
import { DEFAULT_LIMITS, type EngineLimits } from './limits.js';
import type { EngineObserver } from './observer.js';
import { PrefixCache } from './prefix-cache.js';
import { Sampler, type SampleResult } from './sampler.js';
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
  /** Bytes of KV actually held by live sequences. */
  kvUsedBytes: number;
  /** Bytes reserved at admission (prompt + max_tokens per running sequence). */
  kvReservedBytes: number;
  kvBudgetBytes: number;
  /** Bytes of the batch tensors, padding included. */
  kvAllocatedBytes: number;
  kvBytesPerToken: number;
  maxBatchSize: number;
  steps: number;
  prefixCacheHits: number;
  prefixCacheQueries: number;
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
  private readonly queue = new FairQueue<Sequence>();
  private readonly batch: BatchKv<Sequence>;
  private readonly live = new Set<Sequence>();
  private readonly byId = new Map<string, Sequence>();
  private readonly bpt: number;
  private readonly prefixCache: PrefixCache;
  private reservedBytes = 0;
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
    this.sampler = new Sampler(this.backend.info.vocabSize);
    this.batch = new BatchKv<Sequence>(this.backend.info);
    this.bpt = kvBytesPerToken(this.backend.info);
    this.prefixCache = new PrefixCache(this.limits.prefixCacheEntries, this.backend.info.numKvHeads);
    this.loopDone = this.loop();
  }

  get info() {
    return this.backend.info;
  }

  /**
   * Validates and queues a request. Throws INVALID_ARGUMENT (naming the field) for a bad request
   * and RESOURCE_EXHAUSTED with retryAfterMs when the queue is full.
   */
  submit(req: EngineRequest): GenerationHandle {
    if (this.stopped) throw new TesseraError(ErrorCode.UNAVAILABLE, 'decoder engine is shutting down');
    try {
      validateRequest(req, this.backend.info, this.limits);
      const need = (req.promptTokenIds.length + req.params.maxTokens) * this.bpt;
      if (need > this.limits.kvBudgetBytes) {
        const fit = Math.floor(this.limits.kvBudgetBytes / this.bpt);
        throw invalidArgument('max_tokens', `prompt + max_tokens needs ${need} bytes of KV cache; the budget holds ${fit} tokens`, `prompt + max_tokens <= ${fit}`);
      }
      if (this.byId.has(req.requestId)) throw new TesseraError(ErrorCode.ALREADY_EXISTS, `request ${req.requestId} is already running`, { field: 'request_id' });
      // Requests the next step will admit anyway (free batch slots) do not count against the queue.
      const waitingForSlot = this.live.size + this.queue.size >= this.limits.maxBatchSize;
      if (waitingForSlot && this.queue.size >= this.limits.maxQueue) {
        throw resourceExhausted('queue', `decoder queue is full (${this.limits.maxQueue} waiting)`, `waiting <= ${this.limits.maxQueue}`, this.retryAfterMs());
      }
      if (this.queue.sizeOf(req.tenant) >= this.limits.maxQueuePerTenant) {
        throw resourceExhausted('tenant', `tenant ${req.tenant} has ${this.limits.maxQueuePerTenant} requests waiting`, `waiting per tenant <= ${this.limits.maxQueuePerTenant}`, this.retryAfterMs());
      }
    } catch (err) {
      this.observer.onRejected?.(req.tenant, err instanceof TesseraError ? err.code : ErrorCode.INTERNAL);
      throw err;
    }
    const stream = new ChunkStream<EngineChunk>();
    const seq = new Sequence(req, stream, this.tokenBytes, this.backend.info.eosTokenIds);
    this.queue.push(seq);
    this.byId.set(req.requestId, seq);
    this.wake();
    return {
      requestId: req.requestId,
      chunks: stream,
      cancel: (reason?: string | TesseraError) => this.cancel(req.requestId, reason),
    };
  }

  /** Marks a sequence cancelled; it leaves the batch (and frees its KV) at the next step. */
  cancel(requestId: string, reason: string | TesseraError = 'cancelled by client'): boolean {
    const seq = this.byId.get(requestId);
    if (!seq || seq.state === 'finished') return false;
    seq.cancelRequested ??= typeof reason === 'string' ? new TesseraError(ErrorCode.CANCELLED, reason) : reason;
    this.wake();
    return true;
  }

  /** Tenant of a live request (Cancel checks it), undefined when unknown or finished. */
  tenantOf(requestId: string): string | undefined {
    return this.byId.get(requestId)?.tenant;
  }

  stats(): EngineStats {
    let used = 0;
    for (const s of this.live) used += s.kvLen;
    return {
      running: this.live.size,
      waiting: this.queue.size,
      kvUsedBytes: used * this.bpt,
      kvReservedBytes: this.reservedBytes,
      kvBudgetBytes: this.limits.kvBudgetBytes,
      kvAllocatedBytes: this.batch.allocatedBytes() + this.prefixCache.bytes,
      kvBytesPerToken: this.bpt,
      maxBatchSize: this.limits.maxBatchSize,
      steps: this.steps,
      prefixCacheHits: this.prefixCache.hits,
      prefixCacheQueries: this.prefixCache.queries,
      generatedTokens: this.generatedTokens,
    };
  }

  /** Stops accepting work; `drain` lets running and queued sequences finish first. */
  async close(opts: { drain?: boolean } = {}): Promise<void> {
    if (opts.drain) while (this.live.size + this.queue.size > 0) await new Promise((r) => setTimeout(r, 10));
    this.stopped = true;
    const err = new TesseraError(ErrorCode.UNAVAILABLE, 'decoder engine shut down');
    for (const s of [...this.queue, ...this.live]) s.cancelRequested ??= err;
    // The loop reaps them at its next step boundary (never in the middle of a step) and then exits.
    this.wake();
    await this.loopDone;
  }

  private wake(): void {
    const w = this.idle;
    this.idle = undefined;
    w?.();
  }

  private retryAfterMs(): number {
    const per = this.serviceMs || 1000;
    const waves = Math.ceil((this.queue.size + 1) / this.limits.maxBatchSize);
    return Math.min(30_000, Math.max(100, Math.round(per * waves)));
  }

  /** The only place sequences change state, so a step never sees its batch change under it. */
  private async loop(): Promise<void> {
    for (;;) {
      try {
        this.reap();
        if (this.stopped && this.live.size === 0 && this.queue.size === 0) return;
        const admitted = this.admit();
        this.observer.onStats?.(this.stats());
        if (admitted.length === 0 && this.batch.size === 0) {
          await new Promise<void>((resolve) => (this.idle = resolve));
          continue;
        }
        for (const seq of admitted) await this.prefill(seq);
        this.reap();
        if (this.batch.size > 0) await this.decodeStep();
        this.steps++;
      } catch (err) {
        // A bug here must not kill the engine: fail what is running and keep serving the queue.
        const e = TesseraError.from(err);
        for (const s of [...this.live]) this.finish(s, 'error', { error: e });
        this.batch.flush();
      }
      // Let transports flush chunks and take new requests between steps.
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Removes cancelled and expired sequences, queued or running; frees their KV at once. */
  private reap(): void {
    const now = Date.now();
    for (const seq of [...this.queue, ...this.live]) {
      if (!seq.cancelRequested && seq.req.deadlineMs !== undefined && seq.req.deadlineMs <= now) {
        seq.cancelRequested = new TesseraError(ErrorCode.DEADLINE_EXCEEDED, `deadline passed after ${seq.generated.length} generated tokens`);
      }
      const err = seq.cancelRequested;
      if (!err) continue;
      this.queue.remove(seq);
      // decoding.v1: a client cancel and an expired deadline both end with CANCELLED (the error says which).
      const cancelled = err.code === ErrorCode.CANCELLED || err.code === ErrorCode.DEADLINE_EXCEEDED;
      this.finish(seq, cancelled ? 'cancelled' : 'error', { error: err });
    }
    this.batch.flush();
  }

  private admit(): Sequence[] {
    const out: Sequence[] = [];
    let tokens = 0;
    while (this.queue.size > 0 && this.live.size < this.limits.maxBatchSize) {
      const seq = this.queue.peek()!;
      const n = seq.req.promptTokenIds.length;
      const need = (n + seq.req.params.maxTokens) * this.bpt;
      if (this.reservedBytes + need > this.limits.kvBudgetBytes) break; // head-of-line waits: keeps order fair
      if (out.length > 0 && tokens + n > this.limits.maxPrefillTokensPerStep) break;
      this.queue.shift();
      seq.reservedBytes = need;
      this.reservedBytes += need;
      seq.state = 'prefill';
      seq.tAdmit = performance.now();
      this.live.add(seq);
      out.push(seq);
      tokens += n;
    }
    return out;
  }

  private async prefill(seq: Sequence): Promise<void> {
    if (seq.state !== 'prefill') return; // cancelled while waiting for its turn
    const { info } = this.backend;
    seq.tPrefillStart = performance.now();
    try {
      const ids = seq.req.promptTokenIds;
      const hit = seq.req.visual ? undefined : this.prefixCache.lookup(seq.req, ids);
      const from = hit?.len ?? 0;
      const embeds = await this.backend.embedTokens(ids.subarray(from));
      const v = seq.req.visual;
      if (v) {
        const H = info.hiddenSize;
        for (let i = 0; i < v.positions.length; i++) embeds.set(v.embeddings.subarray(i * H, (i + 1) * H), v.positions[i]! * H);
      }
      const T = ids.length - from;
      const positions = new BigInt64Array(T);
      for (let t = 0; t < T; t++) positions[t] = BigInt(from + t);
      const out = await this.backend.forward({
        batch: 1,
        seqLen: T,
        pastLen: from,
        inputsEmbeds: embeds,
        attentionMask: new BigInt64Array(ids.length).fill(1n),
        positionIds: positions,
        past: hit?.layers ?? emptyPast(this.backend),
      });
      seq.cachedPromptTokens = from;
      seq.tPrefillEnd = performance.now();
      if (seq.cancelRequested || seq.state !== 'prefill') return;
      seq.kvLen = ids.length;
      this.prefixCache.store(seq.req, ids, out.present);
      seq.state = 'running';
      this.batch.join(seq, { len: ids.length, layers: out.present });
      this.emit(seq, this.sampler.sample(out.logits, seq.req.params, seq.penalties, seq.prng, seq.req.constraint));
    } catch (err) {
      this.finish(seq, 'error', { error: TesseraError.from(err) });
    }
  }

  private async decodeStep(): Promise<void> {
    this.batch.flush();
    const members = [...this.batch.members];
    let out: ForwardOutput;
    try {
      const embeds = await this.backend.embedTokens(Int32Array.from(members, (s) => s.lastToken));
      const input = this.batch.decodeInput(embeds);
      out = await this.backend.forward(input);
      this.batch.commitStep(out.present);
    } catch (err) {
      // A failed batched step is an engine fault (requests were validated before admission).
      const e = TesseraError.from(err);
      for (const s of members) this.finish(s, 'error', { error: e });
      this.batch.flush();
      return;
    }
    const V = this.backend.info.vocabSize;
    members.forEach((seq, r) => {
      if (seq.state !== 'running') return;
      seq.kvLen += 1;
      this.emit(seq, this.sampler.sample(out.logits.subarray(r * V, (r + 1) * V), seq.req.params, seq.penalties, seq.prng, seq.req.constraint));
    });
    // Finished rows release their KV now, not at the next step.
    this.batch.flush();
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
    seq.lastToken = id;
    seq.penalties.outputCounts.set(id, (seq.penalties.outputCounts.get(id) ?? 0) + 1);

    let end = seq.finishCheck(id);
    let text = '';
    if (end?.stop === undefined) {
      const d = seq.detok.push(id);
      text = d.text;
      if (d.stop !== undefined) end = { reason: 'stop', stop: d.stop };
    }
    if (end && typeof end.stop !== 'string') text += seq.detok.finish();
    const chunk: EngineChunk = { text, tokenIds: [id], ...(s.logprob && { logprobs: [s.logprob] }) };
    if (end) this.finish(seq, end.reason, { chunk, stopReason: end.stop });
    else seq.stream.push(chunk);
  }

  private finish(seq: Sequence, reason: FinishReason, o: { chunk?: EngineChunk; stopReason?: string | number; error?: TesseraError }): void {
    if (seq.state === 'finished') return;
    if (seq.state === 'running') this.batch.leave(seq);
    if (seq.reservedBytes) this.reservedBytes -= seq.reservedBytes;
    seq.reservedBytes = 0;
    seq.kvLen = 0;
    seq.state = 'finished';
    this.live.delete(seq);
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

function emptyPast(backend: DecoderBackend): LayerKv[] {
  const out: LayerKv[] = [];
  const mk = () => (backend.info.kvDtype === 'float16' ? new Uint16Array(0) : new Float32Array(0));
  for (let l = 0; l < backend.info.numLayers; l++) out.push({ key: mk(), value: mk() });
  return out;
}
