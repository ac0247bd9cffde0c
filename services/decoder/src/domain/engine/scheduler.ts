/**
 * The scheduler: policy, no model and no I/O (vLLM v1's `schedule()` / `update_from_output` split).
 * `schedule()` turns (waiting, running, block pool, budgets) into a StepPlan; the engine executes the
 * plan on the backend and reports back through `complete()`; nothing else changes sequence state.
 *
 * One step:
 *  1. running sequences first, oldest first: a decode is 1 token, an unfinished (chunked) prefill
 *     continues with up to the remaining prefill-token budget. A sequence whose next token needs a
 *     block the pool cannot give preempts the NEWEST running sequence (recompute: its blocks are
 *     freed, it goes back to the front of its tenant's queue and later prefills prompt + generated
 *     tokens again — often straight from the prefix cache), until it fits or is itself the newest;
 *  2. then waiting sequences, round-robin across tenants, while the batch has room, the prefill-token
 *     budget (the chunk size) lasts and the pool has blocks; a prompt longer than the budget is
 *     prefilled one chunk per step, so running decodes never wait more than one chunk. Head-of-line
 *     waits (no skipping), so a large request is not starved by small ones. Nothing new is admitted
 *     in a step that preempted.
 * Admission reserves no `max_tokens`: blocks are taken as tokens arrive; preemption handles the rest.
 */
import { createHash } from 'node:crypto';
import { BlockPool } from './block-pool.js';
import { FairQueue } from './fair-queue.js';

export type SeqStatus = 'waiting' | 'running' | 'finished';

/** What the scheduler needs to know about a sequence (the engine's Sequence implements it). */
export interface SchedSeq {
  readonly id: string;
  readonly tenant: string;
  /** Prefix-cache scope (tenant + salt); undefined = never share this sequence's blocks. */
  readonly cacheScope: string | undefined;
  /** Prompt + generated tokens so far. */
  readonly numTokens: number;
  readonly promptLength: number;
  tokenAt(i: number): number;
  /** Extra content of a block beyond its token ids (visual embeddings), '' when none. */
  blockExtra(start: number, end: number): string;
  status: SeqStatus;
  /** Tokens whose KV is in the cache. */
  numComputed: number;
  blockTable: number[];
  /** Hashes of the full blocks of blockTable (a prefix of it). */
  blockHashes: string[];
  /** Prompt tokens served from the prefix cache at the last admission. */
  numCachedTokens: number;
  /** State slot (models with per-sequence state), −1 when none. */
  stateSlot: number;
  /** Times this sequence was preempted. */
  preemptions: number;
  /**
   * Most tokens this sequence computes in one step (undefined = the step's budget): a request for prompt
   * logprobs gets logits for every prompt token it computes, so its chunks are bounded in logit rows.
   */
  readonly chunkCap?: number;
  /** Never start from a cached prefix (prompt logprobs need every prompt position computed). */
  readonly computesWholePrompt?: boolean;
}

export interface ScheduledRow<S extends SchedSeq = SchedSeq> {
  seq: S;
  /** First token position of this step (= tokens already in the cache). */
  start: number;
  /** Tokens this step computes. */
  count: number;
  /** Whether the step's logits produce the sequence's next token (the row reaches numTokens). */
  samples: boolean;
}

export interface StepPlan<S extends SchedSeq = SchedSeq> {
  rows: ScheduledRow<S>[];
  /** Sequences preempted in this step (blocks freed, back in the waiting queue). */
  preempted: S[];
  /** Sequences admitted from the queue in this step (first chunk in `rows`). */
  admitted: S[];
}

export interface SchedulerLimits {
  maxBatchSize: number;
  /** Prompt tokens computed per step across all prefills (the chunk size). */
  maxPrefillTokensPerStep: number;
  /** Whether full blocks are shared by content hash. */
  prefixCaching: boolean;
  /** State slots (0 = the model keeps no per-sequence state). */
  numStateSlots: number;
  /** Most tokens one row computes in one step (the backend graph's cap, BackendInfo.maxQueryLength); default no cap. */
  maxQueryLength?: number;
}

export interface SchedulerCounters {
  preemptions: number;
  /** Prefix-cache queries and hits in tokens (as vLLM counts them). */
  prefixQueryTokens: number;
  prefixHitTokens: number;
}

export class Scheduler<S extends SchedSeq> {
  readonly waiting = new FairQueue<S>();
  readonly running: S[] = [];
  readonly counters: SchedulerCounters = { preemptions: 0, prefixQueryTokens: 0, prefixHitTokens: 0 };
  private readonly freeSlots: number[];

  constructor(
    readonly pool: BlockPool,
    readonly limits: SchedulerLimits,
  ) {
    this.freeSlots = Array.from({ length: limits.numStateSlots }, (_, i) => limits.numStateSlots - 1 - i);
  }

  get blockSize(): number {
    return this.pool.blockSize;
  }

  add(seq: S): void {
    seq.status = 'waiting';
    this.waiting.push(seq);
  }

  schedule(): StepPlan<S> {
    const rows: ScheduledRow<S>[] = [];
    const preempted: S[] = [];
    const admitted: S[] = [];
    let prefillBudget = this.limits.maxPrefillTokensPerStep;
    // A prompt longer than the graph's per-call cap is prefilled in several steps even when the budget is larger.
    const rowCap = this.limits.maxQueryLength ?? Infinity;

    for (let i = 0; i < this.running.length; i++) {
      const seq = this.running[i]!;
      const remaining = seq.numTokens - seq.numComputed;
      const isPrefill = remaining > 1;
      const count = isPrefill ? Math.min(remaining, prefillBudget, rowCap, seq.chunkCap ?? Infinity) : remaining;
      if (count <= 0) continue; // a prefill waiting for budget
      // Make room by preempting the newest running sequences (never one already planned).
      while (!this.ensureBlocks(seq, seq.numComputed + count)) {
        const victim = this.running[this.running.length - 1]!;
        this.preempt(victim);
        preempted.push(victim);
        if (victim === seq) break;
      }
      if (seq.status !== 'running') break;
      if (isPrefill) prefillBudget -= count;
      rows.push({ seq, start: seq.numComputed, count, samples: seq.numComputed + count === seq.numTokens });
    }

    while (preempted.length === 0 && this.waiting.size > 0 && this.running.length < this.limits.maxBatchSize && prefillBudget > 0) {
      const seq = this.waiting.peek()!;
      if (this.limits.numStateSlots > 0 && this.freeSlots.length === 0) break;
      const hit = this.matchPrefix(seq);
      const count = Math.min(seq.numTokens - hit.tokens, prefillBudget, rowCap, seq.chunkCap ?? Infinity);
      const need = Math.ceil((hit.tokens + count) / this.blockSize) - hit.blocks.length;
      // Count cached blocks that are currently free: touching them takes them off the free list.
      const freeHits = hit.blocks.filter((b) => this.pool.refCount(b) === 0).length;
      if (need + freeHits > this.pool.numFree) break; // head-of-line waits for memory
      this.waiting.shift();
      if (this.cachingFor(seq)) {
        this.counters.prefixQueryTokens += seq.numTokens;
        this.counters.prefixHitTokens += hit.tokens;
      }
      for (const b of hit.blocks) this.pool.touch(b);
      seq.blockTable = [...hit.blocks];
      seq.blockHashes = hit.hashes;
      seq.numComputed = hit.tokens;
      seq.numCachedTokens = hit.tokens;
      this.ensureBlocks(seq, hit.tokens + count);
      if (this.limits.numStateSlots > 0) seq.stateSlot = this.freeSlots.pop()!;
      seq.status = 'running';
      this.running.push(seq);
      admitted.push(seq);
      prefillBudget -= count;
      rows.push({ seq, start: seq.numComputed, count, samples: seq.numComputed + count === seq.numTokens });
    }
    return { rows, preempted, admitted };
  }

  /**
   * Applies a step's outcome: each row's tokens are now in the cache and its newly full blocks get
   * their content hash. (The engine appends sampled tokens to the sequence before calling this.)
   */
  complete(plan: StepPlan<S>): void {
    for (const r of plan.rows) {
      if (r.seq.status !== 'running') continue;
      r.seq.numComputed = r.start + r.count;
      this.hashFullBlocks(r.seq);
    }
  }

  /** A sequence leaves (finished, cancelled, failed): its blocks and slot are freed at once. */
  finish(seq: S): void {
    if (seq.status === 'waiting') this.waiting.remove(seq);
    const i = this.running.indexOf(seq);
    if (i >= 0) this.running.splice(i, 1);
    this.releaseAll(seq);
    seq.status = 'finished';
  }

  /** Blocks a sequence of `tokens` tokens needs. */
  blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.blockSize);
  }

  private preempt(seq: S): void {
    const i = this.running.indexOf(seq);
    if (i >= 0) this.running.splice(i, 1);
    this.releaseAll(seq);
    seq.numComputed = 0;
    seq.status = 'waiting';
    seq.preemptions++;
    this.counters.preemptions++;
    this.waiting.pushFront(seq);
  }

  private releaseAll(seq: S): void {
    this.pool.release(seq.blockTable);
    seq.blockTable = [];
    seq.blockHashes = [];
    if (seq.stateSlot >= 0) this.freeSlots.push(seq.stateSlot);
    seq.stateSlot = -1;
  }

  /** Grows the block table to hold `tokens`; false (nothing taken) when the pool is short. */
  private ensureBlocks(seq: S, tokens: number): boolean {
    const need = this.blocksFor(tokens) - seq.blockTable.length;
    if (need <= 0) return true;
    const got = this.pool.allocate(need);
    if (!got) return false;
    seq.blockTable.push(...got);
    return true;
  }

  private cachingFor(seq: S): boolean {
    return this.limits.prefixCaching && seq.cacheScope !== undefined;
  }

  /** Longest run of cached full blocks from the start, leaving at least one token to compute. */
  private matchPrefix(seq: S): { tokens: number; blocks: number[]; hashes: string[] } {
    const none = { tokens: 0, blocks: [], hashes: [] };
    if (!this.cachingFor(seq) || seq.computesWholePrompt) return none;
    const bs = this.blockSize;
    const maxBlocks = Math.floor((seq.numTokens - 1) / bs);
    const blocks: number[] = [];
    const hashes: string[] = [];
    let parent = seq.cacheScope ?? '';
    for (let j = 0; j < maxBlocks; j++) {
      const h = blockHash(parent, seq, j * bs, bs);
      const b = this.pool.lookup(h);
      if (b === undefined) break;
      blocks.push(b);
      hashes.push(h);
      parent = h;
    }
    return { tokens: blocks.length * bs, blocks, hashes };
  }

  private hashFullBlocks(seq: S): void {
    if (!this.cachingFor(seq)) return;
    const bs = this.blockSize;
    const full = Math.floor(seq.numComputed / bs);
    for (let j = seq.blockHashes.length; j < full; j++) {
      const h = blockHash(j === 0 ? (seq.cacheScope ?? '') : seq.blockHashes[j - 1]!, seq, j * bs, bs);
      seq.blockHashes.push(h);
      this.pool.register(seq.blockTable[j]!, h);
    }
  }
}

/**
 * Content key of one full block: sha256 over the parent block's key (so equal blocks after
 * different prefixes differ), the token ids and any visual content. The first block's parent is the
 * cache scope (tenant + salt), so tenants never share blocks.
 */
function blockHash(parent: string, seq: SchedSeq, start: number, bs: number): string {
  const ids = new Int32Array(bs);
  for (let t = 0; t < bs; t++) ids[t] = seq.tokenAt(start + t);
  return createHash('sha256').update(parent).update('\u0000').update(new Uint8Array(ids.buffer)).update(seq.blockExtra(start, start + bs)).digest('base64');
}
