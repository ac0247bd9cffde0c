/**
 * The engine on the real tiny model (onnxruntime-node, libs/model graphs): greedy decoding equals
 * libs/model's decoder run without any KV cache (the whole sequence recomputed every token),
 * alone and with 8 concurrent sequences of different lengths; seeded sampling is reproducible;
 * real byte-level tokens stream UTF-8-safely.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmaxRow, ensureTinyModel } from '@tessera/model';
import { Engine } from './domain/engine/engine.js';
import { samplingParams } from './domain/engine/engine-defaults.js';
import { collect } from './test/collect.js';
import { logSumExp, topLogprobs } from './domain/engine/sampler.js';
import type { DecoderBackend, StepOutput } from './domain/engine/backend.js';
import type { SamplingParams } from './domain/engine/types.js';
import { loadDecoderModel, type LoadedDecoderModel } from './adapters/load-model.js';
import { assemblePrompt } from './domain/prompt/assemble-prompt.js';

let m: LoadedDecoderModel;

beforeAll(async () => {
  m = await loadDecoderModel(await ensureTinyModel(), { intraOpNumThreads: 1 });
});
afterAll(async () => m?.model.release());

const chat = (text: string): Int32Array =>
  assemblePrompt({ messages: [{ role: 'user', parts: [{ kind: 'text', text }] }], images: [] }, m.tokenizer, { hiddenSize: m.backend.info.hiddenSize, queryNum: m.queryNum }, { maxImages: 4 }).tokenIds;

async function noCacheGreedy(ids: Int32Array, n: number): Promise<number[]> {
  const seq = Array.from(ids);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const emb = await m.model.embed.run(Int32Array.from(seq), [1, seq.length]);
    const logits = await m.model.decoder.forwardNoCache(emb, [seq.length]);
    const t = argmaxRow(logits, 0, m.backend.info.vocabSize);
    out.push(t);
    seq.push(t);
  }
  return out;
}

const params = (p: Partial<SamplingParams>): SamplingParams => samplingParams({ ignoreEos: true, maxTokens: 8, ...p });

describe('engine on the ORT tiny model', () => {
  it('prompt logprobs equal the log-softmax of a no-cache forward of each prefix, in 7-token chunks beside another request', async () => {
    const ids = chat('Bonjour, ça va ? A prompt long enough for several chunks.');
    const engine = new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes, limits: { maxPromptLogitsPerStep: 7 } });
    const [got] = await Promise.all([
      collect(engine.submit({ requestId: 'p', tenant: 't', promptTokenIds: ids, params: params({ maxTokens: 2 }), promptLogprobs: 3 })),
      collect(engine.submit({ requestId: 'o', tenant: 't', promptTokenIds: chat('Hi'), params: params({ maxTokens: 4 }) })),
    ]);
    const lp = got.chunks[0]!.promptLogprobs!;
    expect(lp).toHaveLength(ids.length);
    expect(lp[0]).toBeNull();
    for (let i = 1; i < ids.length; i++) {
      const logits = await m.model.decoder.forwardNoCache(await m.model.embed.run(ids.subarray(0, i), [1, i]), [i]);
      const ref = topLogprobs(logits, ids[i]!, 3);
      expect(lp[i]!.tokenId).toBe(ids[i]);
      expect(lp[i]!.logprob).toBeCloseTo(ref.logprob, 4);
      expect(lp[i]!.top.map((t) => t.tokenId)).toEqual(ref.top.map((t) => t.tokenId));
    }
    await engine.close();
  });

  it('confidence: the chosen token\'s raw logprob from the graph\'s logits_lse matches a JS log-softmax of the same row (~1e-5) and of a no-cache forward', async () => {
    // Every step's output, as the engine sees it (decode rows: one logits row and one LSE per sequence).
    const outs: StepOutput[] = [];
    const spy: DecoderBackend = { info: m.backend.info, allocateCache: (s) => m.backend.allocateCache(s), resetState: (s) => m.backend.resetState(s), embedTokens: (ids) => m.backend.embedTokens(ids), step: async (x) => { const o = await m.backend.step(x); outs.push(o); return o; } };
    const engine = new Engine({ backend: spy, tokenBytes: m.tokenizer.tokenBytes, limits: { maxBatchSize: 4 } });
    const prompts = ['Bonjour, ça va ?', 'What is in this picture?', '1 2 3'].map(chat);
    const p = params({ maxTokens: 5, temperature: 0.8, seed: 3n, repetitionPenalty: 1.3 });
    const got = await Promise.all(prompts.map((ids, i) => collect(engine.submit({ requestId: `c${i}`, tenant: 't', promptTokenIds: ids, params: { ...p, confidence: true } }))));
    await engine.close();
    const V = m.backend.info.vocabSize;
    // The graph returns logits_lse (the O(1) path), and it is the row's log-sum-exp.
    expect(outs.every((o) => o.logSumExp !== undefined)).toBe(true);
    // onnxruntime sums ~152k float32 terms, JS in float64: ~1e-6 of the LSE (≈ 12 here; 1.65e-5 measured), so ≤ 5e-5.
    let worst = 0;
    for (const o of outs) {
      for (let r = 0; r < o.logSumExp!.length; r++) worst = Math.max(worst, Math.abs(o.logSumExp![r]! - logSumExp(o.logits.subarray(r * V, (r + 1) * V))));
    }
    expect(worst).toBeLessThan(5e-5);
    for (const [i, g] of got.entries()) {
      const lps = g.chunks.flatMap((c) => c.logprobs ?? []);
      expect(lps.map((l) => l.tokenId)).toEqual(g.tokenIds);
      const seq = Array.from(prompts[i]!);
      for (const [k, l] of lps.entries()) {
        expect(l.top).toEqual([]);
        const logits = await m.model.decoder.forwardNoCache(await m.model.embed.run(Int32Array.from(seq), [1, seq.length]), [seq.length]);
        expect(l.logprob).toBeCloseTo(logits[g.tokenIds[k]!]! - logSumExp(logits), 4);
        seq.push(g.tokenIds[k]!);
      }
    }
  });

  it('greedy equals the no-cache reference, alone and with 8 concurrent sequences', async () => {
    const texts = ['Hi', 'What is in this picture?', 'Bonjour, ça va ?', 'x'.repeat(40), '1 2 3 4 5 6 7 8 9', '你好，世界', 'A longer prompt about nothing in particular, with commas, and more words.', '🙂'];
    const prompts = texts.map(chat);
    const expected: number[][] = [];
    for (const p of prompts) expected.push(await noCacheGreedy(p, 8));
    const engine = new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes, limits: { maxBatchSize: 8 } });
    const alone = await collect(engine.submit({ requestId: 'alone', tenant: 't', promptTokenIds: prompts[1]!, params: params({}) }));
    expect(alone.tokenIds).toEqual(expected[1]);
    const outs = await Promise.all(prompts.map((p, i) => collect(engine.submit({ requestId: `r${i}`, tenant: `t${i % 3}`, promptTokenIds: p, params: params({}) }))));
    outs.forEach((o, i) => expect(o.tokenIds, texts[i]).toEqual(expected[i]));
    // Continuous batching: half join while the other half is already decoding.
    const early = prompts.slice(0, 4).map((p, i) => engine.submit({ requestId: `e${i}`, tenant: 't', promptTokenIds: p, params: params({}) }));
    const it = early[0]!.chunks[Symbol.asyncIterator]();
    const firstChunk = await it.next();
    const late = prompts.slice(4).map((p, i) => collect(engine.submit({ requestId: `l${i}`, tenant: 'u', promptTokenIds: p, params: params({}) })));
    const rest: number[] = [...(firstChunk.value?.tokenIds ?? [])];
    for (let c = await it.next(); !c.done; c = await it.next()) rest.push(...c.value.tokenIds);
    expect(rest).toEqual(expected[0]);
    const others = await Promise.all([...early.slice(1).map(collect), ...late]);
    others.forEach((o, i) => expect(o.tokenIds, `staggered ${i + 1}`).toEqual(expected[i + 1]));
    expect(engine.stats().kvBlocksUsed).toBe(0);
    await engine.close();

    // Paged-cache paths on the real graph: prefix-cache hits (the shared system prompt), chunked
    // prefill (chunk 8 < every prompt), and preemption + resume (5 blocks of 16 cannot hold all 8).
    const tight = new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes, limits: { maxBatchSize: 8, maxPrefillTokensPerStep: 8, kvBudgetBytes: 5 * 16 * m.backend.info.kvBytesPerToken } });
    await collect(tight.submit({ requestId: 'warm', tenant: 't', promptTokenIds: prompts[0]!, params: params({}) }));
    const again = await Promise.all(prompts.map((p, i) => collect(tight.submit({ requestId: `g${i}`, tenant: 't', promptTokenIds: p, params: params({}) }))));
    again.forEach((o, i) => expect(o.tokenIds, `paged ${texts[i]}`).toEqual(expected[i]));
    const st = tight.stats();
    expect(st.prefixCacheHits).toBeGreaterThan(0);
    expect(st.preemptions).toBeGreaterThan(0);
    expect(st.kvBlocksUsed).toBe(0);
    await tight.close();
  });

  it('seeded sampling is reproducible alone and in a batch; streamed text is valid and complete', async () => {
    const engine = new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes, limits: { maxBatchSize: 4 } });
    const p = params({ temperature: 1, topP: 0.95, topK: 200, seed: 1234n, maxTokens: 12 });
    const alone = await collect(engine.submit({ requestId: 'a', tenant: 't', promptTokenIds: chat('seed test'), params: p }));
    const batch = await Promise.all([
      collect(engine.submit({ requestId: 'b0', tenant: 't', promptTokenIds: chat('other one'), params: params({ temperature: 0.9, maxTokens: 12 }) })),
      collect(engine.submit({ requestId: 'b1', tenant: 't', promptTokenIds: chat('seed test'), params: p })),
    ]);
    expect(batch[1]!.tokenIds).toEqual(alone.tokenIds);
    expect(batch[1]!.text).toBe(alone.text);
    // The streamed deltas concatenate to exactly the decode of all tokens (no lost or split characters).
    expect(alone.text).toBe(m.model.tokenizer.decode(alone.tokenIds, { skipSpecialTokens: true }));
    for (const c of alone.chunks) expect(c.text).not.toMatch(/[\ud800-\udbff]$/);
    await engine.close();
  });

  it('cuts at a stop string that spans token boundaries, and the text before it is intact', async () => {
    const engine = new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes });
    const p = params({ maxTokens: 16 });
    const full = await collect(engine.submit({ requestId: 'full', tenant: 't', promptTokenIds: chat('stop test'), params: p }));
    // Find a spot where two consecutive tokens both carry text; the stop string takes the tail of one
    // and the head of the next.
    const pieces = full.tokenIds.map((id) => new TextDecoder().decode(m.tokenizer.tokenBytes.bytesOf(id)));
    const k = pieces.findIndex((t, i) => i > 0 && t.length >= 1 && !t.includes('\ufffd') && (pieces[i + 1] ?? '').length >= 1 && !pieces[i + 1]!.includes('\ufffd'));
    expect(k).toBeGreaterThan(0);
    const before = pieces.slice(0, k).join('');
    const stop = pieces[k]!.slice(-1) + pieces[k + 1]!.slice(0, 1);
    const cut = full.text.indexOf(stop);
    const r = await collect(engine.submit({ requestId: 'cut', tenant: 't', promptTokenIds: chat('stop test'), params: { ...p, stop: [stop] } }));
    expect(r.last.finishReason).toBe('stop');
    expect(r.last.stopReason).toBe(stop);
    expect(r.text).toBe(full.text.slice(0, cut));
    expect(r.text.length).toBeLessThanOrEqual(before.length + pieces[k]!.length);
    await engine.close();
  });
});
