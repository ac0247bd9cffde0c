import { describe, expect, it } from 'vitest';
import { Engine } from './engine.js';
import { samplingParams } from './engine-defaults.js';
import { logSumExp, rawLogprob } from './sampler.js';
import { ToyBackend, byteTokens } from '../../test/toy-backend.js';
import { collect } from '../../test/collect.js';
import type { StepInput, StepOutput } from './backend.js';
import type { EngineRequest, SamplingParams } from './types.js';

// SamplingParams.confidence (common.proto `confidence`): each generated token's log-probability under the raw
// model distribution (no penalties, bias or temperature), from the backend's log-sum-exp when it returns one
// (O(1) per token), else from one JS pass over the row. Requests with `logprobs` are unchanged by it.

const prompt = (n: number, base = 5): Int32Array => Int32Array.from({ length: n }, (_, i) => (base + i * 11) % 250);
/** Sampling that makes raw and tempered logprobs differ: temperature, a penalty and a bias. */
const SAMPLING: Partial<SamplingParams> = { ignoreEos: true, maxTokens: 6, temperature: 0.7, seed: 9n, repetitionPenalty: 1.5, logitBias: new Map([[65, 2]]) };
const req = (id: string, ids: Int32Array, p: Partial<SamplingParams>): EngineRequest => ({ requestId: id, tenant: 't', promptTokenIds: ids, params: samplingParams({ ...SAMPLING, ...p }) });

/** Independent reference: log-softmax of the no-cache forward's raw logits, in float64, at each generated token. */
async function rawReference(ids: Int32Array, generated: number[]): Promise<number[]> {
  const b = new ToyBackend();
  const out: number[] = [];
  for (let i = 0; i < generated.length; i++) {
    const logits = await b.forwardNoCache(Int32Array.from([...ids, ...generated.slice(0, i)]));
    const xs = Array.from(logits);
    const max = Math.max(...xs);
    const z = xs.reduce((acc, x) => acc + Math.exp(x - max), 0);
    out.push(xs[generated[i]!]! - max - Math.log(z));
  }
  return out;
}

/** A backend whose log-sum-exp is off by exactly +1: a logprob 1 lower shows the engine used it (no pass of its own). */
class ShiftedLse extends ToyBackend {
  override async step(x: StepInput): Promise<StepOutput> {
    const out = await super.step(x);
    return { logits: out.logits, logSumExp: out.logSumExp!.map((v) => v + 1) };
  }
}

describe('engine confidence (raw chosen-token logprob)', () => {
  for (const withLogSumExp of [false, true]) {
    it(`equals the raw log-softmax of the chosen token, batched with other requests, and leaves the tokens as they are (${withLogSumExp ? 'backend log-sum-exp' : 'JS pass'})`, async () => {
      const engine = new Engine({ backend: Object.assign(new ToyBackend(), { withLogSumExp }), tokenBytes: byteTokens, limits: { maxBatchSize: 8 } });
      const ids = [prompt(9), prompt(14, 31), prompt(4, 77)];
      const [conf, conf2, plain, full] = await Promise.all([
        collect(engine.submit(req('c', ids[0]!, { confidence: true }))),
        // With prompt logprobs its prefill rows return every position's logits (and LSE): the chosen token's is the last.
        collect(engine.submit({ ...req('c2', ids[1]!, { confidence: true, temperature: 0 }), promptLogprobs: 1 })),
        collect(engine.submit(req('p', ids[0]!, {}))),
        collect(engine.submit(req('f', ids[2]!, { logprobs: true, topLogprobs: 2 }))),
      ]);
      await engine.close();
      // Same seed, same tokens: confidence does not touch sampling.
      expect(conf.tokenIds).toEqual(plain.tokenIds);
      expect(plain.chunks.some((c) => c.logprobs)).toBe(false);
      for (const [got, prompt_] of [[conf, ids[0]!], [conf2, ids[1]!]] as const) {
        const lps = got.chunks.flatMap((c) => c.logprobs ?? []);
        expect(lps.map((l) => l.tokenId)).toEqual(got.tokenIds);
        expect(lps.every((l) => l.top.length === 0 && l.logprob <= 0)).toBe(true);
        const want = await rawReference(prompt_, got.tokenIds);
        lps.forEach((l, i) => expect(l.logprob).toBeCloseTo(want[i]!, 5));
      }
      // The logprobs request keeps its alternatives (its own semantics: after penalties and temperature).
      expect(full.chunks.flatMap((c) => c.logprobs ?? []).every((l) => l.top.length === 2)).toBe(true);
    });
  }

  it('takes the backend\'s log-sum-exp when it returns one (no pass over the vocabulary)', async () => {
    const ids = prompt(9);
    const engine = new Engine({ backend: Object.assign(new ShiftedLse(), { withLogSumExp: true }), tokenBytes: byteTokens });
    const got = await collect(engine.submit(req('s', ids, { confidence: true, temperature: 0, repetitionPenalty: 1, logitBias: undefined })));
    await engine.close();
    const want = await rawReference(ids, got.tokenIds);
    got.chunks.flatMap((c) => c.logprobs ?? []).forEach((l, i) => expect(l.logprob).toBeCloseTo(want[i]! - 1, 5));
  });

  it('requests with logprobs are unchanged: the same chunks with or without confidence, tempered and penalised as before', async () => {
    for (const withLogSumExp of [false, true]) {
      const run = async (p: Partial<SamplingParams>) => {
        const engine = new Engine({ backend: Object.assign(new ToyBackend(), { withLogSumExp }), tokenBytes: byteTokens });
        const out = await collect(engine.submit(req('l', prompt(12), p)));
        await engine.close();
        return out.chunks.map((c) => ({ tokenIds: c.tokenIds, logprobs: c.logprobs }));
      };
      const before = await run({ logprobs: true, topLogprobs: 3 });
      expect(await run({ logprobs: true, topLogprobs: 3, confidence: true })).toEqual(before);
      // …and those are not the raw ones (temperature 0.7, penalty and bias apply), so the two semantics differ here.
      const raw = await run({ confidence: true });
      expect(raw.map((c) => c.tokenIds)).toEqual(before.map((c) => c.tokenIds));
      expect(raw.some((c, i) => c.logprobs && Math.abs(c.logprobs[0]!.logprob - before[i]!.logprobs![0]!.logprob) > 1e-3)).toBe(true);
    }
  });

  it('rawLogprob: with or without a given log-sum-exp, the row\'s log-softmax at the token', () => {
    const row = Float32Array.from([1, 3, -2, 0.5, 3]);
    const lse = Math.log([...row].reduce((a, x) => a + Math.exp(x), 0));
    expect(logSumExp(row)).toBeCloseTo(lse, 6);
    expect(rawLogprob(row, 1).logprob).toBeCloseTo(3 - lse, 6);
    expect(rawLogprob(row, 2, lse)).toEqual({ tokenId: 2, logprob: -2 - lse, top: [] });
    expect(logSumExp(Float32Array.from([-Infinity, -Infinity]))).toBe(-Infinity);
  });
});
