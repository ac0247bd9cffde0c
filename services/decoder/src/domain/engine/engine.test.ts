import { describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/runtime';
import { Engine } from './engine.js';
import { samplingParams } from './engine-defaults.js';
import { argmax } from './sampler.js';
import { TOY_KV_BYTES_PER_TOKEN as BPT, ToyBackend, byteTokens } from '../../test/toy-backend.js';
import { collect } from '../../test/collect.js';
import type { EngineRequest, SamplingParams } from './types.js';

// Engine tests on the pure-TS toy backend (admission, fairness, budgets, preemption, prefix cache, cancel).
// Model-level equality against the reference forward lives in ../backend-ort.test.ts.

const prompt = (n: number, base = 7): Int32Array => Int32Array.from({ length: n }, (_, i) => (base + i * 13) % 250);
const req = (id: string, n: number, p: Partial<SamplingParams> = {}, extra: Partial<EngineRequest> = {}): EngineRequest => ({
  requestId: id, tenant: 't', promptTokenIds: prompt(n, n), params: samplingParams({ ignoreEos: true, ...p }), ...extra,
});

/** Greedy without any cache: the full sequence through the backend at every step. */
async function noCacheGreedy(b: ToyBackend, ids: Int32Array, n: number): Promise<number[]> {
  const seq = Array.from(ids);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = argmax(await b.forwardNoCache(Int32Array.from(seq)));
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
    expect(Math.max(...backend.steps.map((c) => c.rows))).toBe(8);
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
    expect([s.kvUsedBytes, s.kvBlocksUsed, s.running, s.waiting]).toEqual([0, 0, 0, 0]);
    await engine.close();
  });

  it('an expired deadline ends the sequence with DEADLINE_EXCEEDED', async () => {
    // 400 steps of 5 ms outlive the 30 ms deadline on any machine (a free-running toy backend could
    // finish all 400 tokens first on a quiet one).
    const backend = new ToyBackend();
    backend.stepDelayMs = 5;
    const engine = new Engine({ backend, tokenBytes: byteTokens });
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

  it('back-pressures a full queue with RESOURCE_EXHAUSTED and a retry hint', async () => {
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens, limits: { maxQueue: 2, maxBatchSize: 1 } });
    const hs = [1, 2].map((i) => engine.submit(req(`k${i}`, 10, { maxTokens: 5 })));
    let err: unknown;
    try { engine.submit(req('overflow', 10, { maxTokens: 5 })); } catch (e) { err = e; }
    expect((err as TesseraError).code).toBe('RESOURCE_EXHAUSTED');
    expect((err as TesseraError).details.field).toBe('queue');
    expect((err as TesseraError).details.retryAfterMs).toBeGreaterThan(0);
    await Promise.all(hs.map(collect));
    await engine.close();
  });

  it('a budget too small for one sequence is RESOURCE_EXHAUSTED naming the limit, not a hang', async () => {
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens, limits: { kvBudgetBytes: 4 * 16 * BPT } }); // 4 blocks of 16
    let err: TesseraError | undefined;
    try { engine.submit(req('big', 10, { maxTokens: 60 })); } catch (e) { err = e as TesseraError; }
    expect(err?.code).toBe('RESOURCE_EXHAUSTED');
    expect(err?.details.field).toBe('kv_budget');
    expect(err?.message).toMatch(/TESSERA_DECODER_KV_BUDGET.*holds 64 tokens/);
    expect((await collect(engine.submit(req('fits', 10, { maxTokens: 50 })))).last.finishReason).toBe('length');
    await engine.close();
  });

  it('preempts when blocks run out and resumes by recompute with the same greedy tokens; blocks never exceed the budget', async () => {
    const ref = new ToyBackend();
    const lens = [20, 9, 14, 30, 5];
    const expected = await Promise.all(lens.map((n) => noCacheGreedy(ref, prompt(n, n), 24)));
    const backend = new ToyBackend();
    // 8 blocks of 8 tokens: each sequence alone needs 4–7 blocks, all five together ~27.
    const engine = new Engine({ backend, tokenBytes: byteTokens, limits: { kvBudgetBytes: 8 * 8 * BPT, kvBlockSize: 8, prefixCaching: false } });
    let maxUsed = 0;
    const outs = await Promise.all(lens.map((n, i) => {
      const h = engine.submit(req(`p${i}`, n, { maxTokens: 24 }));
      return (async () => {
        const ids: number[] = [];
        let last;
        for await (const c of h.chunks) { ids.push(...c.tokenIds); maxUsed = Math.max(maxUsed, engine.stats().kvBlocksUsed); last = c; }
        return { ids, last: last! };
      })();
    }));
    outs.forEach((o, i) => expect(o.ids, `seq ${i}`).toEqual(expected[i]));
    expect(engine.stats().preemptions).toBeGreaterThan(0);
    expect(maxUsed).toBeLessThanOrEqual(8);
    expect(engine.stats().kvBlocksUsed).toBe(0);
    await engine.close();
  });

  it('a sequence cancelled while preempted frees everything and the others finish', async () => {
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens, limits: { kvBudgetBytes: 4 * 8 * BPT, kvBlockSize: 8, prefixCaching: false } });
    const a = engine.submit(req('a', 8, { maxTokens: 20 }));
    const b = engine.submit(req('b', 8, { maxTokens: 20 }));
    const bOut = collect(b);
    let aIds = 0;
    let aLast;
    for await (const c of a.chunks) {
      aIds += c.tokenIds.length;
      aLast = c;
      // b (the newer) is preempted when a needs its 4th block; cancel it while it waits.
      if (engine.stats().preemptions > 0 && engine.stats().waiting > 0) b.cancel();
    }
    const aOut = { last: aLast! };
    expect(aIds).toBe(20);
    const last = (await bOut).last;
    expect(engine.stats().preemptions).toBeGreaterThan(0);
    expect(aOut.last.finishReason).toBe('length');
    expect(last?.finishReason).toBe('cancelled');
    const s = engine.stats();
    expect([s.kvBlocksUsed, s.running, s.waiting]).toEqual([0, 0, 0]);
    await engine.close();
  });

  it('chunked prefill (chunk < prompt) keeps decoding running streams and gives the reference tokens', async () => {
    const ref = new ToyBackend();
    const backend = new ToyBackend();
    const engine = new Engine({ backend, tokenBytes: byteTokens, limits: { maxPrefillTokensPerStep: 8 } });
    const short = engine.submit(req('short', 5, { maxTokens: 30 }));
    const it = short.chunks[Symbol.asyncIterator]();
    const first = await it.next();
    const long = collect(engine.submit(req('long', 60, { maxTokens: 6 })));
    const shortIds = [...first.value!.tokenIds];
    for (let c = await it.next(); !c.done; c = await it.next()) shortIds.push(...c.value.tokenIds);
    expect((await long).tokenIds).toEqual(await noCacheGreedy(ref, prompt(60, 60), 6));
    expect(shortIds).toEqual(await noCacheGreedy(ref, prompt(5, 5), 30));
    // The 60-token prompt went in chunks of ≤ 8, each step next to the running decode.
    const prefillSteps = backend.steps.filter((s) => s.seqLen > 1);
    expect(prefillSteps.length).toBeGreaterThanOrEqual(7);
    expect(Math.max(...prefillSteps.map((s) => s.seqLen))).toBeLessThanOrEqual(8);
    await engine.close();
  });

  it('per-sequence state slots (hybrid models) give the reference tokens alone, batched and chunked', async () => {
    const ref = new ToyBackend(300, [299], true);
    const lens = [3, 19, 7, 12];
    const expected = await Promise.all(lens.map((n) => noCacheGreedy(ref, prompt(n, n), 8)));
    const engine = new Engine({ backend: new ToyBackend(300, [299], true), tokenBytes: byteTokens, limits: { maxBatchSize: 3, maxPrefillTokensPerStep: 6 } });
    const outs = await Promise.all(lens.map((n, i) => collect(engine.submit(req(`s${i}`, n, { maxTokens: 8 })))));
    outs.forEach((o, i) => expect(o.tokenIds).toEqual(expected[i]));
    expect(engine.stats().prefixCacheQueries).toBe(0); // no block sharing with state
    await engine.close();
  });

  it("a stop token id ends the answer with its own text in it (vLLM's stop_token_ids); a special one adds none", async () => {
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens });
    const free = await collect(engine.submit(req('free', 9, { maxTokens: 8 })));
    const third = free.tokenIds[2]!;
    expect(third).toBeLessThan(256); // a byte token: it has text
    const stopped = await collect(engine.submit(req('stopped', 9, { maxTokens: 8, stopTokenIds: [third] })));
    expect(stopped.tokenIds).toEqual(free.tokenIds.slice(0, free.tokenIds.indexOf(third) + 1));
    expect(stopped.last.finishReason).toBe('stop');
    expect(stopped.text).toBe(new TextDecoder().decode(Uint8Array.from(stopped.tokenIds)));
    // A token without text (here any id ≥ 256, as a special token) ends the answer and adds nothing.
    const special = new Engine({ backend: new ToyBackend(), tokenBytes: { bytesOf: (id: number) => (id === third ? new Uint8Array(0) : byteTokens.bytesOf(id)) } });
    const quiet = await collect(special.submit(req('quiet', 9, { maxTokens: 8, stopTokenIds: [third] })));
    expect(quiet.text).toBe(new TextDecoder().decode(Uint8Array.from(quiet.tokenIds.slice(0, -1))));
    await engine.close();
    await special.close();
  });

  it("min_tokens (vLLM's): no stop id is sampled and no stop string is looked for inside the first min_tokens tokens; after them both end the answer", async () => {
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens });
    const free = await collect(engine.submit(req('free', 9, { maxTokens: 12 })));
    const third = free.tokenIds[2]!;
    const stopped = await collect(engine.submit(req('stopped', 9, { maxTokens: 12, stopTokenIds: [third] })));
    const at = stopped.tokenIds.length - 1; // where the stop id ends the free run
    expect(at).toBeLessThanOrEqual(2);
    // Held past it: the greedy pick there is masked, so the run takes the next-best token and goes on.
    const held = await collect(engine.submit(req('held', 9, { maxTokens: 12, stopTokenIds: [third], minTokens: at + 2 })));
    expect(held.tokenIds.slice(0, at)).toEqual(free.tokenIds.slice(0, at));
    expect(held.tokenIds.slice(0, at + 2)).not.toContain(third);
    expect(held.tokenIds.length).toBeGreaterThanOrEqual(at + 2);
    // After min_tokens the stop id ends it again: wherever the answer stops on it, that is past min_tokens.
    if (held.last.finishReason === 'stop') expect(held.tokenIds.indexOf(third)).toBe(held.tokenIds.length - 1);
    else expect(held.tokenIds).toHaveLength(12);
    // A stop string: found in the first token's text it ends the answer at once (empty); inside min_tokens it is text.
    const firstChar = new TextDecoder().decode(Uint8Array.of(free.tokenIds[0]!));
    expect(free.tokenIds[0]).toBeLessThan(128); // one ASCII character, so the stop string is well formed
    const cut = await collect(engine.submit(req('cut', 9, { maxTokens: 12, stop: [firstChar] })));
    expect([cut.text, cut.last.finishReason]).toEqual(['', 'stop']);
    const kept = await collect(engine.submit(req('kept', 9, { maxTokens: 12, stop: [firstChar], minTokens: 3 })));
    const freeText = new TextDecoder().decode(Uint8Array.from(free.tokenIds));
    expect(kept.text.startsWith(new TextDecoder().decode(Uint8Array.from(free.tokenIds.slice(0, 3))))).toBe(true);
    // Past min_tokens the stop string is looked for in the new text only: the answer ends before its next occurrence.
    const next = freeText.indexOf(firstChar, new TextDecoder().decode(Uint8Array.from(free.tokenIds.slice(0, 3))).length);
    expect(kept.text).toBe(next < 0 ? freeText : freeText.slice(0, next));
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
      [{ p: { logitBias: new Map([[300, 5]]) } }, 'logit_bias'],
      [{ p: { logitBias: new Map([[7, 100.5]]) } }, 'logit_bias.7'],
      [{ p: { logitBias: new Map(Array.from({ length: 301 }, (_, i): [number, number] => [i, 1])) } }, 'logit_bias'],
      [{ p: { maxTokens: 4, minTokens: 5 } }, 'min_tokens'],
      [{ p: { minTokens: -1 } }, 'min_tokens'],
      [{ p: { minTokens: 1.5 } }, 'min_tokens'],
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

  it('stops on a stop token and reuses a shared prompt prefix (same tenant only)', async () => {
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens });
    const base = await collect(engine.submit(req('p1', 40, { maxTokens: 5 })));
    const stopAt = base.tokenIds[2]!;
    const r = await collect(engine.submit(req('p2', 40, { maxTokens: 5, stopTokenIds: [stopAt] })));
    expect(r.last.finishReason).toBe('stop');
    expect(r.last.stopReason).toBe(stopAt);
    expect(r.tokenIds).toEqual(base.tokenIds.slice(0, base.tokenIds.indexOf(stopAt) + 1));
    expect(r.last.usage?.cachedPromptTokens).toBe(32); // two full blocks of 16 (one token is always computed)
    // Tenant B never reuses tenant A's blocks; a different salt is another scope too.
    const b = await collect(engine.submit({ ...req('p3', 40, { maxTokens: 5 }), tenant: 'B' }));
    expect(b.last.usage?.cachedPromptTokens).toBe(0);
    expect(b.tokenIds).toEqual(base.tokenIds);
    const salted = await collect(engine.submit({ ...req('p4', 40, { maxTokens: 5 }), cacheSalt: 'x' }));
    expect(salted.last.usage?.cachedPromptTokens).toBe(0);
    expect(engine.stats().prefixCacheHits).toBe(32);
    expect(engine.stats().prefixCacheQueries).toBe(160);
    await engine.close();
  });
});
