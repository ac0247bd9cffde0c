import { describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/runtime';
import { Engine } from './engine.js';
import { samplingParams } from './engine-defaults.js';
import { argmax } from './sampler.js';
import { ToyBackend, byteTokens } from './testing/toy-backend.js';
import { collect } from './testing/collect.js';
import type { EngineRequest, SamplingParams } from './types.js';

// Scheduler unit tests on the pure-TS toy backend (admission, fairness, budgets, cancel).
// Model-level equality against the reference forward lives in ../backend-ort.test.ts.

const prompt = (n: number, base = 7): Int32Array => Int32Array.from({ length: n }, (_, i) => (base + i * 13) % 250);
const req = (id: string, n: number, p: Partial<SamplingParams> = {}, extra: Partial<EngineRequest> = {}): EngineRequest => ({
  requestId: id, tenant: 't', promptTokenIds: prompt(n, n), params: samplingParams({ ignoreEos: true, ...p }), ...extra,
});

/** Greedy without any cache: the full sequence through forward() at every step. */
async function noCacheGreedy(b: ToyBackend, ids: Int32Array, n: number): Promise<number[]> {
  const seq = Array.from(ids);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const T = seq.length;
    const r = await b.forward({
      batch: 1, seqLen: T, pastLen: 0, inputsEmbeds: await b.embedTokens(Int32Array.from(seq)),
      attentionMask: new BigInt64Array(T).fill(1n), positionIds: BigInt64Array.from(seq, (_, t) => BigInt(t)),
      past: [{ key: new Float32Array(0), value: new Float32Array(0) }],
    });
    const t = argmax(r.logits);
    out.push(t);
    seq.push(t);
  }
  return out;
}

describe('engine scheduling (toy backend)', () => {
  it('greedy equals the no-cache loop, alone and in a batch of 8 different lengths', async () => {
    const ref = new ToyBackend();
    const lens = [3, 9, 5, 17, 1, 12, 7, 25];
    const expected = await Promise.all(lens.map((n) => noCacheGreedy(ref, prompt(n, n), 10)));
    const alone = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens });
    expect((await collect(alone.submit(req('a', lens[3]!, { maxTokens: 10 })))).tokenIds).toEqual(expected[3]);
    const backend = new ToyBackend();
    const engine = new Engine({ backend, tokenBytes: byteTokens, limits: { maxBatchSize: 8 } });
    const outs = await Promise.all(lens.map((n, i) => collect(engine.submit(req(`r${i}`, n, { maxTokens: 10 })))));
    outs.forEach((o, i) => expect(o.tokenIds).toEqual(expected[i]));
    expect(Math.max(...backend.forwardCalls.map((c) => c.batch))).toBe(8);
    await engine.close();
    await alone.close();
  });

  it('seeded sampling is reproducible alone and inside a batch', async () => {
    const p = { temperature: 1.3, topP: 0.9, topK: 50, seed: 42n, maxTokens: 12 };
    const e1 = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens });
    const alone = await collect(e1.submit(req('s', 6, p)));
    const e2 = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens });
    const batch = await Promise.all([
      collect(e2.submit(req('x1', 9, { temperature: 0.8, seed: 1n }))),
      collect(e2.submit(req('s', 6, p))),
      collect(e2.submit(req('x2', 4, { temperature: 2 }))),
    ]);
    expect(batch[1]!.tokenIds).toEqual(alone.tokenIds);
    const other = await collect(e1.submit(req('s2', 6, { ...p, seed: 43n })));
    expect(other.tokenIds).not.toEqual(alone.tokenIds);
    await e1.close();
    await e2.close();
  });

  it('cancel removes a running sequence and returns KV usage to zero', async () => {
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens });
    const h = engine.submit(req('c', 8, { maxTokens: 400 }));
    const other = engine.submit(req('keep', 5, { maxTokens: 6 }));
    const seen: number[] = [];
    for await (const c of h.chunks) {
      seen.push(...c.tokenIds);
      if (seen.length === 3) {
        expect(engine.stats().kvUsedBytes).toBeGreaterThan(0);
        h.cancel();
      }
      if (c.finishReason) {
        expect(c.finishReason).toBe('cancelled');
        expect(c.error?.code).toBe('CANCELLED');
      }
    }
    expect(seen.length).toBeLessThanOrEqual(5); // gone within one step
    const kept = await collect(other);
    expect(kept.last.finishReason).toBe('length');
    const s = engine.stats();
    expect([s.kvUsedBytes, s.kvReservedBytes, s.kvAllocatedBytes, s.running, s.waiting]).toEqual([0, 0, 0, 0, 0]);
    await engine.close();
  });

  it('an expired deadline ends the sequence with DEADLINE_EXCEEDED', async () => {
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens });
    const r = await collect(engine.submit(req('d', 4, { maxTokens: 400 }, { deadlineMs: Date.now() + 30 })));
    expect(r.last.finishReason).toBe('cancelled');
    expect(r.last.error?.code).toBe('DEADLINE_EXCEEDED');
    expect(engine.stats().kvUsedBytes).toBe(0);
    await engine.close();
  });

  it('serves tenants round-robin, not first-come', async () => {
    const backend = new ToyBackend();
    const engine = new Engine({ backend, tokenBytes: byteTokens, limits: { maxBatchSize: 1 } });
    const order: string[] = [];
    const run = (id: string, tenant: string) => collect(engine.submit({ ...req(id, 3, { maxTokens: 2 }), tenant })).then(() => order.push(id));
    await Promise.all([run('a1', 'A'), run('a2', 'A'), run('a3', 'A'), run('b1', 'B'), run('c1', 'C')]);
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'a3']);
    await engine.close();
  });

  it('admits only what the KV budget covers and back-pressures a full queue', async () => {
    const backend = new ToyBackend();
    const bpt = 2 * 8 * 4; // 1 layer × K,V × 8 dims × f32
    const engine = new Engine({ backend, tokenBytes: byteTokens, limits: { kvBudgetBytes: 2 * 30 * bpt, maxQueue: 5, maxBatchSize: 3 } });
    const hs = [1, 2, 3, 4, 5].map((i) => engine.submit(req(`k${i}`, 10, { maxTokens: 20 })));
    let err: unknown;
    try { engine.submit(req('overflow', 10, { maxTokens: 20 })); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe('RESOURCE_EXHAUSTED');
    expect((err as TesseraError).details.retryAfterMs).toBeGreaterThan(0);
    let maxRunning = 0;
    const timer = setInterval(() => { maxRunning = Math.max(maxRunning, engine.stats().running); }, 1);
    await Promise.all(hs.map(collect));
    clearInterval(timer);
    expect(Math.max(...backend.forwardCalls.map((c) => c.batch))).toBe(2);
    expect(maxRunning).toBeLessThanOrEqual(2);
    await engine.close();
  });

  it('refuses bad input with INVALID_ARGUMENT naming the field, without disturbing running sequences', async () => {
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens, limits: { maxTokensLimit: 100 } });
    const running = engine.submit(req('ok', 5, { maxTokens: 30 }));
    const cases: [Partial<EngineRequest> & { p?: Partial<SamplingParams> }, string][] = [
      [{ p: { maxTokens: 0 } }, 'max_tokens'],
      [{ p: { maxTokens: 101 } }, 'max_tokens'],
      [{ p: { temperature: -0.1 } }, 'temperature'],
      [{ p: { topP: 0 } }, 'top_p'],
      [{ p: { topP: 1.5 } }, 'top_p'],
      [{ promptTokenIds: Int32Array.of(1, 2, 300) }, 'prompt_token_ids[2]'],
      [{ promptTokenIds: prompt(600) }, 'prompt'],
      [{ visual: { positions: Int32Array.of(1, 2), embeddings: new Float32Array(8) } }, 'visual_tokens'],
      [{ p: { stop: ['a\ud800'] } }, 'stop[0]'],
    ];
    for (const [c, field] of cases) {
      const { p, ...rest } = c;
      let err: TesseraError | undefined;
      try { engine.submit({ ...req(`bad-${field}`, 5, p), ...rest }); } catch (e) { err = e as TesseraError; }
      expect(err?.code, field).toBe('INVALID_ARGUMENT');
      expect(err?.details.field).toBe(field);
    }
    const r = await collect(running);
    expect(r.last.finishReason).toBe('length');
    expect(r.tokenIds.length).toBe(30);
    await engine.close();
  });

  it('a backend fault in one prefill fails that request only', async () => {
    const backend = new ToyBackend();
    const engine = new Engine({ backend, tokenBytes: byteTokens });
    const good = engine.submit(req('g', 4, { maxTokens: 8 }));
    const ids = Int32Array.of(0, 5, 6); // token 0 embeds to sin(0) = 0 in its first value
    backend.failOnValue = 0;
    const bad = await collect(engine.submit({ ...req('b', 3), promptTokenIds: ids }));
    backend.failOnValue = undefined;
    expect(bad.last.finishReason).toBe('error');
    expect(bad.last.error?.code).toBe('INTERNAL');
    expect((await collect(good)).last.finishReason).toBe('length');
    await engine.close();
  });

  it('stops on a stop token and reuses a shared prompt prefix', async () => {
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens, limits: { prefixCacheEntries: 4 } });
    const base = await collect(engine.submit(req('p1', 40, { maxTokens: 5 })));
    const stopAt = base.tokenIds[2]!;
    const long = Int32Array.from([...prompt(40, 40)]);
    const r = await collect(engine.submit({ ...req('p2', 40, { maxTokens: 5, stopTokenIds: [stopAt] }), promptTokenIds: long }));
    expect(r.last.finishReason).toBe('stop');
    expect(r.last.stopReason).toBe(stopAt);
    expect(r.tokenIds).toEqual(base.tokenIds.slice(0, base.tokenIds.indexOf(stopAt) + 1));
    expect(r.last.usage?.cachedPromptTokens).toBe(39);
    expect(engine.stats().prefixCacheHits).toBe(1);
    await engine.close();
  });
});
