/**
 * The pure scheduler over plans, without any model: what it decides for given queues, pool and
 * budgets (preemption order, tenant fairness, chunking next to decodes, prefix sharing and isolation).
 */
import { describe, expect, it } from 'vitest';
import { BlockPool } from './block-pool.js';
import { Scheduler, type SchedSeq, type StepPlan } from './scheduler.js';

class FakeSeq implements SchedSeq {
  status: SchedSeq['status'] = 'waiting';
  numComputed = 0;
  blockTable: number[] = [];
  blockHashes: string[] = [];
  numCachedTokens = 0;
  stateSlot = -1;
  preemptions = 0;
  readonly tokens: number[];
  constructor(readonly id: string, readonly tenant: string, prompt: number[], readonly cacheScope: string | undefined = tenant) {
    this.tokens = [...prompt];
  }
  get numTokens(): number { return this.tokens.length; }
  get promptLength(): number { return this.tokens.length; }
  tokenAt(i: number): number { return this.tokens[i]!; }
  blockExtra(): string { return ''; }
}

const range = (n: number, base = 0): number[] => Array.from({ length: n }, (_, i) => base + i);

/** Runs the scheduler's plan as an engine would: rows that reach the end of their tokens get one more token. */
function step(s: Scheduler<FakeSeq>): StepPlan<FakeSeq> {
  const plan = s.schedule();
  s.complete(plan);
  for (const r of plan.rows) if (r.samples) r.seq.tokens.push(1000 + r.seq.tokens.length);
  return plan;
}

const sched = (blocks: number, o: Partial<ConstructorParameters<typeof Scheduler>[1]> = {}, blockSize = 4) =>
  new Scheduler<FakeSeq>(new BlockPool(blocks, blockSize), { maxBatchSize: 8, maxPrefillTokensPerStep: 64, prefixCaching: true, numStateSlots: 0, ...o });

describe('scheduler plans', () => {
  it('batches several new prompts into one prefill step, then decodes them together', () => {
    const s = sched(32);
    const seqs = ['a', 'b', 'c'].map((id) => new FakeSeq(id, 't', range(6, id.charCodeAt(0) * 10)));
    seqs.forEach((q) => s.add(q));
    const p1 = step(s);
    expect(p1.rows.map((r) => [r.seq.id, r.start, r.count, r.samples])).toEqual([['a', 0, 6, true], ['b', 0, 6, true], ['c', 0, 6, true]]);
    const p2 = step(s);
    expect(p2.rows.map((r) => [r.seq.id, r.start, r.count])).toEqual([['a', 6, 1], ['b', 6, 1], ['c', 6, 1]]);
  });

  it("caps every row at the graph's maxQueryLength even when the prefill budget is larger", () => {
    // The 4.6 hybrid graph takes at most 16 new tokens per row per call (manifest decoder.maxChunk).
    const s = sched(64, { maxPrefillTokensPerStep: 512, maxQueryLength: 5, numStateSlots: 2, prefixCaching: false });
    s.add(new FakeSeq('a', 't', range(12)));
    s.add(new FakeSeq('b', 't', range(3, 50)));
    const p1 = step(s);
    expect(p1.rows.map((r) => [r.seq.id, r.start, r.count, r.samples])).toEqual([['a', 0, 5, false], ['b', 0, 3, true]]);
    const p2 = step(s);
    expect(p2.rows.map((r) => [r.seq.id, r.start, r.count])).toEqual([['a', 5, 5], ['b', 3, 1]]);
    const p3 = step(s);
    expect(p3.rows.map((r) => [r.seq.id, r.start, r.count, r.samples])).toEqual([['a', 10, 2, true], ['b', 4, 1, true]]);
  });

  it('a long prompt is chunked and never stalls running decodes', () => {
    const s = sched(64, { maxPrefillTokensPerStep: 8 });
    const running = new FakeSeq('run', 't', range(3));
    s.add(running);
    step(s);
    s.add(new FakeSeq('long', 't', range(40, 100)));
    for (let i = 0; i < 5; i++) {
      const p = step(s);
      expect(p.rows[0]).toMatchObject({ seq: running, count: 1 }); // the decode comes first, every step
      expect(p.rows[1]).toMatchObject({ count: 8, start: i * 8, samples: i === 4 });
    }
    expect(step(s).rows.map((r) => r.count)).toEqual([1, 1]);
  });

  it('budget exhausted: the newest running sequence is preempted (recompute), the oldest keeps going', () => {
    const s = sched(6); // 6 blocks of 4 tokens
    const seqs = ['old', 'mid', 'new'].map((id) => new FakeSeq(id, 't', range(8)));
    seqs.forEach((q) => s.add(q));
    step(s); // 3 × 2 full blocks = all 6
    const p = step(s); // each decode needs a 3rd block: 'new' is preempted, 'old' and 'mid' get its two
    expect(p.preempted.map((q) => q.id)).toEqual(['new']);
    expect(seqs[2]!.status).toBe('waiting');
    expect(seqs[2]!.numComputed).toBe(0);
    expect(seqs[2]!.blockTable).toEqual([]);
    expect(p.rows.map((r) => r.seq.id)).toEqual(['old', 'mid']);
    expect(p.admitted).toEqual([]); // nothing new in a step that preempted
    // The preempted sequence is first in line again and resumes from its own cached blocks' hashes,
    // prompt + generated tokens, once the others finish.
    s.finish(seqs[0]!);
    s.finish(seqs[1]!);
    const r = step(s);
    expect(r.admitted.map((q) => q.id)).toEqual(['new']);
    // Prompt + its 1 generated token = 9 tokens; the 8 prompt tokens' blocks are still cached (same tenant, same content).
    expect(r.rows[0]).toMatchObject({ start: 8, count: 1, samples: true });
    expect(s.counters.preemptions).toBe(1);
  });

  it('admits round-robin across tenants, not first come', () => {
    const s = sched(64, { maxBatchSize: 4 });
    for (const [id, t] of [['a1', 'A'], ['a2', 'A'], ['a3', 'A'], ['b1', 'B'], ['c1', 'C']] as const) s.add(new FakeSeq(id, t, range(3)));
    expect(step(s).admitted.map((q) => q.id)).toEqual(['a1', 'b1', 'c1', 'a2']);
  });

  it('head of line waits for blocks rather than being skipped by a smaller request', () => {
    const s = sched(4);
    s.add(new FakeSeq('first', 't', range(10))); // 3 blocks
    step(s);
    s.add(new FakeSeq('big', 'u', range(9))); // needs 3, 1 free
    s.add(new FakeSeq('small', 'v', range(2))); // needs 1
    const p = step(s);
    expect(p.admitted).toEqual([]);
  });

  it('shares full blocks by content within a tenant; tenant B never gets tenant A blocks', () => {
    const s = sched(64);
    const a1 = new FakeSeq('a1', 'A', range(13));
    s.add(a1);
    step(s);
    s.finish(a1); // blocks freed but still cached
    const a2 = new FakeSeq('a2', 'A', [...range(13), 77]);
    const b1 = new FakeSeq('b1', 'B', [...range(13), 77]);
    s.add(a2);
    s.add(b1);
    const p = step(s);
    expect(p.rows.find((r) => r.seq === a2)).toMatchObject({ start: 12, count: 2 });
    expect(p.rows.find((r) => r.seq === b1)).toMatchObject({ start: 0, count: 14 });
    expect(a2.blockTable.slice(0, 3)).toEqual(a1Blocks(s, a2));
    expect(b1.blockTable.some((b) => a2.blockTable.slice(0, 3).includes(b))).toBe(false);
    expect(s.counters).toMatchObject({ prefixQueryTokens: 13 + 14 + 14, prefixHitTokens: 12 });
  });

  it('evicts cached blocks least recently freed first, and only when the memory is needed', () => {
    const s = sched(4);
    const a = new FakeSeq('a', 'A', range(9)); // 3 blocks, 2 full
    s.add(a);
    step(s);
    const hashes = [...a.blockHashes];
    s.finish(a); // freed last block first: the prompt's head stays cached longest
    expect(s.pool.numCached).toBe(2);
    s.add(new FakeSeq('b', 'B', range(9, 50))); // 3 blocks: the never-used one, a's tail, then a's block 1
    step(s);
    expect(s.pool.lookup(hashes[0]!)).toBeDefined();
    expect(s.pool.lookup(hashes[1]!)).toBeUndefined();
  });
});

function a1Blocks(s: Scheduler<FakeSeq>, seq: FakeSeq): number[] {
  return seq.blockHashes.slice(0, 3).map((h) => s.pool.lookup(h)!);
}
