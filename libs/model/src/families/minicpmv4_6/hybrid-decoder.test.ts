/**
 * The 4.6 hybrid decoder graph against the float64 reference on the tiny 4.6 checkpoint (3 Gated DeltaNet
 * layers + 1 gated full-attention layer, grouped value heads): recurrent vs chunked Gated DeltaNet,
 * one-call prefill (logits and every cache tensor), chunked prefill, decode with state at every position,
 * a left-padded batch, and greedy decoding with the cache vs without it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmaxRow, ensureTinyModel46Paths, gdnChunked, gdnRecurrent, HybridTextReference, openModel46, readAnyCheckpoint, type HybridCache, type Model46 } from '../../index.js';
import { Rng } from '../../generate/prng.js';
import { maxAbsDiff } from '@tessera/testing/vitest';

const TOL = 1e-4;

let model: Model46;
let ref: HybridTextReference;
// A chat-shaped prompt in the tiny vocabulary (ids < 151643 are BPE, 248044+ specials).
// 16 tokens = maxChunk: the one-call tests below feed it whole.
const prompt = [248045, 872, 198, 3838, 374, 419, 30, 248046, 198, 248045, 77091, 198, 1000, 2000, 3000, 4000];

beforeAll(async () => {
  const paths = await ensureTinyModel46Paths();
  model = await openModel46(paths.model, { intraOpNumThreads: 1, allowSpinning: false });
  const ck = readAnyCheckpoint(paths.checkpoint);
  if (ck.family !== '4.6') throw new Error('expected a 4.6 checkpoint');
  ref = new HybridTextReference(ck, ck.config.text);
});
afterAll(async () => {
  await model?.release();
});

/** Reference logits at every position of `ids` (one float64 pass). */
function refLogitsAll(ids: number[]): Float64Array[] {
  const st = ref.emptyState();
  const hidden = ref.forward(ref.embed(ids), ids.length, st);
  return ids.map((_, i) => ref.logits(hidden, i));
}

describe('Gated DeltaNet reference', () => {
  it('recurrent and chunked forms agree (chunks of 1, 5, 64 over 37 tokens, non-zero initial state)', () => {
    const rng = new Rng(7);
    const T = 37, H = 3, dk = 6, dv = 5;
    const rnd = (n: number, s = 1): Float64Array => Float64Array.from({ length: n }, () => s * (2 * rng.next() - 1));
    const unit = (x: Float64Array, d: number): Float64Array => {
      for (let r = 0; r < x.length / d; r++) {
        let n = 0;
        for (let e = 0; e < d; e++) n += x[r * d + e] ** 2;
        for (let e = 0; e < d; e++) x[r * d + e] /= Math.sqrt(n);
      }
      return x;
    };
    const x = { T, H, dk, dv, q: unit(rnd(T * H * dk), dk), k: unit(rnd(T * H * dk), dk), v: rnd(T * H * dv), g: rnd(T * H).map((v) => -0.5 * Math.abs(v)), beta: rnd(T * H).map((v) => 0.5 + 0.5 * v) };
    const S0 = rnd(H * dk * dv);
    const rec = gdnRecurrent(x, S0.slice());
    for (const C of [1, 5, 64]) {
      const ch = gdnChunked(x, S0.slice(), C);
      expect(maxAbsDiff(ch.out, rec.out)).toBeLessThan(1e-12);
      expect(maxAbsDiff(ch.state, rec.state)).toBeLessThan(1e-12);
    }
    // The whole text model in both modes.
    const a = ref.forward(ref.embed(prompt), prompt.length, ref.emptyState(), { kind: 'recurrent' });
    const b = ref.forward(ref.embed(prompt), prompt.length, ref.emptyState(), { kind: 'chunked', chunk: 4 });
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-10);
  });
});

describe('hybrid decoder graph vs float64 reference', () => {
  it('one-call prefill: last logits and every cache tensor (KV, conv, recurrent)', async () => {
    const e = await model.embed.run(prompt, [1, prompt.length]);
    const { logits, present } = await model.decoder.run({ inputsEmbeds: e, batch: 1, seq: prompt.length });
    const st = ref.emptyState();
    const hidden = ref.forward(ref.embed(prompt), prompt.length, st);
    expect(maxAbsDiff(logits, ref.logits(hidden, prompt.length - 1))).toBeLessThanOrEqual(TOL);
    expect(present.lengths).toEqual([prompt.length]);
    const t = ref.cfg;
    let checked = 0;
    present.layers.forEach((l, i) => {
      if (l.kind === 'linear') {
        expect(maxAbsDiff(l.recurrent, st.recurrent.get(i)!)).toBeLessThanOrEqual(TOL);
        const rows = st.conv.get(i)!; // reference: [K−1, C] time-major; graph: [C, K−1]
        const K1 = t.linearConvKernel - 1;
        const C = rows.length / K1;
        const asGraph = new Float64Array(rows.length);
        for (let k = 0; k < K1; k++) for (let c = 0; c < C; c++) asGraph[c * K1 + k] = rows[k * C + c];
        expect(maxAbsDiff(l.conv, asGraph)).toBeLessThanOrEqual(TOL);
      } else {
        // graph [kv, B = 1, capacity = T, hd]; reference one [kv·hd] row per position
        const keys = st.keys.get(i)!;
        const hd = t.headDim;
        const flat = new Float64Array(l.key.length);
        keys.forEach((row, pos) => {
          for (let h = 0; h < t.numKvHeads; h++) for (let e2 = 0; e2 < hd; e2++) flat[(h * prompt.length + pos) * hd + e2] = row[h * hd + e2];
        });
        expect(maxAbsDiff(l.key, flat)).toBeLessThanOrEqual(TOL);
      }
      checked++;
    });
    expect(checked).toBe(t.numLayers);
  });

  it('decode with state equals the full prefill at every position; chunked prefill equals one call', async () => {
    const expected = refLogitsAll(prompt);
    const V = model.decoder.vocabSize;
    let cache: HybridCache | undefined;
    for (let i = 0; i < prompt.length; i++) {
      const e = await model.embed.run([prompt[i]], [1, 1]);
      const r = await model.decoder.run({ inputsEmbeds: e, batch: 1, seq: 1, past: cache });
      cache = r.present;
      expect(maxAbsDiff(r.logits.subarray(0, V), expected[i])).toBeLessThanOrEqual(TOL);
    }
    const e = await model.embed.run(prompt, [1, prompt.length]);
    const one = await model.decoder.run({ inputsEmbeds: e, batch: 1, seq: prompt.length });
    const chunked = await model.decoder.prefill({ inputsEmbeds: e, batch: 1, seq: prompt.length, chunk: 5 });
    expect(maxAbsDiff(chunked.logits, one.logits)).toBeLessThanOrEqual(TOL);
    chunked.present.layers.forEach((l, i) => {
      const o = one.present.layers[i];
      if (l.kind === 'linear' && o.kind === 'linear') {
        expect(maxAbsDiff(l.recurrent, o.recurrent)).toBeLessThanOrEqual(TOL);
        expect(maxAbsDiff(l.conv, o.conv)).toBeLessThanOrEqual(TOL);
      }
    });
    // Step-by-step and one-call caches agree too.
    cache!.layers.forEach((l, i) => {
      const o = one.present.layers[i];
      if (l.kind === 'linear' && o.kind === 'linear') expect(maxAbsDiff(l.recurrent, o.recurrent)).toBeLessThanOrEqual(TOL);
    });
  });

  it('a prompt longer than maxChunk (70 tokens) prefills in chunks and matches the reference', async () => {
    const long = Array.from({ length: 70 }, (_, i) => (i * 7919) % 151000);
    expect(long.length).toBeGreaterThan(model.decoder.maxChunk);
    const e = await model.embed.run(long, [1, long.length]);
    await expect(model.decoder.run({ inputsEmbeds: e, batch: 1, seq: long.length })).rejects.toThrow(/maxChunk/);
    const r = await model.decoder.prefill({ inputsEmbeds: e, batch: 1, seq: long.length });
    const st = ref.emptyState();
    const hidden = ref.forward(ref.embed(long), long.length, st, { kind: 'chunked', chunk: 64 });
    expect(maxAbsDiff(r.logits, ref.logits(hidden, long.length - 1))).toBeLessThanOrEqual(TOL);
  });

  it('repeated tokens (alike keys, the worst case of the squaring inverse) stay within 1e-4 of the reference at full chunks', async () => {
    // 64 equal tokens in one call put 0.8 on the logits (float32 cancellation in Π(I + (−A)^{2^s})); maxChunk 16 holds 1e-4.
    const rep = [248045, 872, 198, ...Array(45).fill(1158)];
    const e = await model.embed.run(rep, [1, rep.length]);
    const r = await model.decoder.prefill({ inputsEmbeds: e, batch: 1, seq: rep.length });
    const hidden = ref.forward(ref.embed(rep), rep.length, ref.emptyState(), { kind: 'recurrent' });
    expect(maxAbsDiff(r.logits, ref.logits(hidden, rep.length - 1))).toBeLessThanOrEqual(TOL);
  });

  it('a ragged batch (right-padded rows, then per-row past lengths): prefill and a decode step match each alone', async () => {
    const a = prompt.slice(0, 12);
    const b = prompt.slice(3, 8);
    const T = a.length;
    const ids = [...a, ...b, ...Array(T - b.length).fill(248044)];
    const e = await model.embed.run(ids, [2, T]);
    const out = await model.decoder.run({ inputsEmbeds: e, batch: 2, seq: T, queryLengths: [a.length, b.length] });
    expect(out.present.lengths).toEqual([a.length, b.length]);
    const V = model.decoder.vocabSize;
    expect(maxAbsDiff(out.logits.subarray(0, V), refLogitsAll(a)[a.length - 1])).toBeLessThanOrEqual(TOL);
    expect(maxAbsDiff(out.logits.subarray(V), refLogitsAll(b)[b.length - 1])).toBeLessThanOrEqual(TOL);
    const nA = argmaxRow(out.logits, 0, V);
    const nB = argmaxRow(out.logits, 1, V);
    const e2 = await model.embed.run([nA, nB], [2, 1]);
    const step = await model.decoder.run({ inputsEmbeds: e2, batch: 2, seq: 1, past: out.present });
    expect(maxAbsDiff(step.logits.subarray(0, V), refLogitsAll([...a, nA])[a.length])).toBeLessThanOrEqual(TOL);
    expect(maxAbsDiff(step.logits.subarray(V), refLogitsAll([...b, nB])[b.length])).toBeLessThanOrEqual(TOL);
  });

  it('16-step greedy decode with the state equals recomputation without it', async () => {
    const V = model.decoder.vocabSize;
    const start = prompt.slice(0, 9);
    let e = await model.embed.run(start, [1, start.length]);
    let r = await model.decoder.prefill({ inputsEmbeds: e, batch: 1, seq: start.length });
    const cached: number[] = [];
    for (let i = 0; i < 16; i++) {
      const next = argmaxRow(r.logits, 0, V);
      cached.push(next);
      e = await model.embed.run([next], [1, 1]);
      r = await model.decoder.run({ inputsEmbeds: e, batch: 1, seq: 1, past: r.present });
    }
    const full = [...start];
    const recomputed: number[] = [];
    for (let i = 0; i < 16; i++) {
      const ef = await model.embed.run(full, [1, full.length]);
      const rf = await model.decoder.prefill({ inputsEmbeds: ef, batch: 1, seq: full.length });
      const next = argmaxRow(rf.logits, 0, V);
      recomputed.push(next);
      full.push(next);
    }
    expect(cached).toEqual(recomputed);
    expect(new Set(recomputed).size).toBeGreaterThan(3);
  });

  it('8 concurrent sequences, continuously batched (ragged prefill chunks + batched decode), give the no-cache greedy tokens', async () => {
    const V = model.decoder.vocabSize;
    const H = ref.cfg.hiddenSize;
    const prompts = Array.from({ length: 8 }, (_, s) => Array.from({ length: 3 + ((s * 5) % 9) }, (_, i) => 200 + ((s * 7919 + i * 104729) % 150000)));
    const STEPS = 6;
    // Batched: one ragged prefill call for all 8 (right-padded rows), then STEPS batched decode calls.
    const T = Math.max(...prompts.map((p) => p.length));
    const ids = prompts.flatMap((p) => [...p, ...Array(T - p.length).fill(248044)]);
    const e = await model.embed.run(ids, [8, T]);
    let r = await model.decoder.run({ inputsEmbeds: e, batch: 8, seq: T, queryLengths: prompts.map((p) => p.length) });
    const batched: number[][] = prompts.map(() => []);
    for (let step = 0; step < STEPS; step++) {
      const next = prompts.map((_, b) => argmaxRow(r.logits, b, V));
      next.forEach((n, b) => batched[b].push(n));
      const en = await model.embed.run(next, [8, 1]);
      expect(en.length).toBe(8 * H);
      r = await model.decoder.run({ inputsEmbeds: en, batch: 8, seq: 1, past: r.present });
    }
    // No cache: every token from a fresh one-sequence prefill over the whole text so far.
    for (let b = 0; b < 8; b++) {
      const seq = [...prompts[b]];
      for (let step = 0; step < STEPS; step++) {
        const ef = await model.embed.run(seq, [1, seq.length]);
        const rf = await model.decoder.prefill({ inputsEmbeds: ef, batch: 1, seq: seq.length });
        seq.push(argmaxRow(rf.logits, 0, V));
      }
      expect(batched[b]).toEqual(seq.slice(prompts[b].length));
    }
  });
});
