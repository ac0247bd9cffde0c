import { describe, expect, it } from 'vitest';
import { samplingParams } from './engine-defaults.js';
import { Prng } from './prng.js';
import { Sampler, topLogprobs } from './sampler.js';

const logits = Float32Array.from([1, 5, 3, 4.9, -2, 0, 2.5, 4.8]);
const noPenalty = () => ({ outputCounts: new Map<number, number>() });

function histogram(over: Parameters<typeof samplingParams>[0], n = 3000, x = logits): Map<number, number> {
  const s = new Sampler(x.length);
  const prng = new Prng(7n);
  const h = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const t = s.sample(x, samplingParams(over), noPenalty(), prng).tokenId;
    h.set(t, (h.get(t) ?? 0) + 1);
  }
  return h;
}

describe('sampler', () => {
  it('greedy picks the argmax', () => {
    expect(new Sampler(8).sample(logits, samplingParams(), noPenalty(), new Prng(1n)).tokenId).toBe(1);
  });

  it('top-k, top-p and min-p restrict the support', () => {
    expect([...histogram({ temperature: 1, topK: 2 }).keys()].sort()).toEqual([1, 3]);
    // softmax mass of {1,3,7} ≈ 0.86 at T=1, so top_p 0.8 keeps exactly those three.
    expect([...histogram({ temperature: 1, topP: 0.8 }).keys()].sort()).toEqual([1, 3, 7]);
    // p ≥ 0.5·p_max ⇔ logit ≥ 5 + ln 0.5 ≈ 4.31
    expect([...histogram({ temperature: 1, minP: 0.5 }).keys()].sort()).toEqual([1, 3, 7]);
    expect(histogram({ temperature: 1 }).size).toBeGreaterThan(4);
  });

  it('temperature sampling follows the softmax', () => {
    const h = histogram({ temperature: 1 }, 20000);
    const z = [...logits].reduce((a, v) => a + Math.exp(v), 0);
    expect(h.get(1)! / 20000).toBeCloseTo(Math.exp(5) / z, 1);
  });

  it('logit_bias offsets the named logits: +100 forces a token, -100 bans one, logprobs see the biased distribution', () => {
    const s = new Sampler(8);
    const pick = (bias: Array<[number, number]>, over: Parameters<typeof samplingParams>[0] = {}) => s.sample(logits, samplingParams({ ...over, logitBias: new Map(bias) }), noPenalty(), new Prng(3n));
    expect(pick([[4, 100]]).tokenId).toBe(4); // the lowest logit (-2) wins at +100
    expect(pick([[1, -100]]).tokenId).toBe(3); // the argmax banned: the next best (4.9)
    expect(pick([[1, -0.05], [3, 0.05]]).tokenId).toBe(3); // 4.95 vs 4.95 - 0: small offsets count too
    expect([...histogram({ temperature: 1, logitBias: new Map([[1, -100], [3, -100], [7, -100]]) }).keys()]).not.toContain(1);
    const lp = pick([[4, 100]], { logprobs: true, topLogprobs: 1 }).logprob!;
    expect(lp.logprob).toBeCloseTo(0, 5);
    expect(logits[4]).toBe(-2); // the caller's logits are not modified
  });

  it('banned ids (stop ids inside min_tokens) are never drawn, not even with logit_bias +100; the caller\'s logits stay as they were', () => {
    const s = new Sampler(8);
    const banned = new Set([1, 4]);
    expect(s.sample(logits, samplingParams(), noPenalty(), new Prng(1n), undefined, banned).tokenId).toBe(3);
    expect(s.sample(logits, samplingParams({ logitBias: new Map([[4, 100]]) }), noPenalty(), new Prng(1n), undefined, banned).tokenId).toBe(3);
    const prng = new Prng(5n);
    for (let i = 0; i < 500; i++) expect(banned.has(s.sample(logits, samplingParams({ temperature: 2 }), noPenalty(), prng, undefined, banned).tokenId)).toBe(false);
    expect([logits[1], logits[4]]).toEqual([5, -2]);
  });

  it('penalties change the choice', () => {
    const s = new Sampler(8);
    const rep = { outputCounts: new Map([[1, 1]]) };
    expect(s.sample(logits, samplingParams({ repetitionPenalty: 1.1 }), rep, new Prng(1n)).tokenId).toBe(3);
    const freq = { outputCounts: new Map([[1, 3], [3, 1]]) };
    expect(s.sample(logits, samplingParams({ frequencyPenalty: 0.2 }), freq, new Prng(1n)).tokenId).toBe(7);
    expect(s.sample(logits, samplingParams({ presencePenalty: 0.25 }), freq, new Prng(1n)).tokenId).toBe(7);
  });

  it('same seed, same draws; logprobs are the raw log-softmax', () => {
    const a = histogram({ temperature: 0.7, topP: 0.95 }, 50);
    const b = histogram({ temperature: 0.7, topP: 0.95 }, 50);
    expect([...a]).toEqual([...b]);
    const lp = topLogprobs(logits, 3, 2);
    expect(lp.top.map((t) => t.tokenId)).toEqual([1, 3]);
    const z = [...logits].reduce((acc, v) => acc + Math.exp(v), 0);
    expect(lp.logprob).toBeCloseTo(4.9 - Math.log(z), 5);
  });

  it('top-p on a flat 152k vocabulary still returns quickly and inside the vocabulary', () => {
    const flat = Float32Array.from({ length: 151666 }, (_, i) => Math.sin(i) * 0.01);
    const t = new Sampler(flat.length).sample(flat, samplingParams({ temperature: 1, topP: 0.9 }), noPenalty(), new Prng(3n)).tokenId;
    expect(t).toBeGreaterThanOrEqual(0);
    expect(t).toBeLessThan(flat.length);
  });
});
