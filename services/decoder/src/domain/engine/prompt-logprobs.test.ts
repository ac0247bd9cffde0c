import { describe, expect, it } from 'vitest';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { Engine } from './engine.js';
import { samplingParams } from './engine-defaults.js';
import { topLogprobs } from './sampler.js';
import { TOY_KV_BYTES_PER_TOKEN, ToyBackend, byteTokens } from '../../test/toy-backend.js';
import { collect } from '../../test/collect.js';
import type { EngineRequest, TokenLogprob } from './types.js';

// vLLM's prompt_logprobs on the toy backend: every prompt token scored from the no-cache forward of the
// tokens before it, whatever the chunking, batching, prefix cache or preemption.

const prompt = (n: number, base = 3): Int32Array => Int32Array.from({ length: n }, (_, i) => (base + i * 17) % 250);
const req = (id: string, ids: Int32Array, promptLogprobs: number | undefined, extra: Partial<EngineRequest> = {}): EngineRequest => ({
  requestId: id, tenant: 't', promptTokenIds: ids, params: samplingParams({ ignoreEos: true, maxTokens: 3, temperature: 0.7, seed: 5n, repetitionPenalty: 1.5 }),
  ...(promptLogprobs !== undefined && { promptLogprobs }), ...extra,
});

/** Reference: token i's logprob from a no-cache forward of tokens < i (raw logits, no sampling transforms). */
async function reference(ids: Int32Array, top: number): Promise<(TokenLogprob | null)[]> {
  const b = new ToyBackend();
  const out: (TokenLogprob | null)[] = [null];
  for (let i = 1; i < ids.length; i++) {
    const logits = await b.forwardNoCache(ids.subarray(0, i));
    out.push({ ...topLogprobs(logits, ids[i]!, top), rank: 1 + logits.filter((x) => x > logits[ids[i]!]!).length });
  }
  return out;
}

const close = (a: (TokenLogprob | null)[] | undefined, b: (TokenLogprob | null)[]) => {
  expect(a).toHaveLength(b.length);
  a!.forEach((x, i) => {
    if (b[i] === null) return expect(x).toBeNull();
    expect(x!.tokenId).toBe(b[i]!.tokenId);
    expect(x!.rank).toBe(b[i]!.rank);
    expect(x!.logprob).toBeCloseTo(b[i]!.logprob, 5);
    expect(x!.top.map((t) => t.tokenId)).toEqual(b[i]!.top.map((t) => t.tokenId));
    x!.top.forEach((t, j) => expect(t.logprob).toBeCloseTo(b[i]!.top[j]!.logprob, 5));
  });
};

describe('engine prompt logprobs (toy backend)', () => {
  it('scores every prompt token as the no-cache reference, in one chunk or many, alone or batched, and on the first chunk only', async () => {
    const ids = prompt(23);
    const expected = await reference(ids, 2);
    for (const [limits, withLogSumExp] of [[{}, false], [{ maxPromptLogitsPerStep: 5 }, false], [{ maxPromptLogitsPerStep: 1 }, false], [{ maxPrefillTokensPerStep: 4 }, false], [{ maxPromptLogitsPerStep: 5 }, true]] as const) {
      // withLogSumExp: the backend returns each row's log-sum-exp (graphs with logits_lse), the engine's other path.
      const backend = Object.assign(new ToyBackend(), { withLogSumExp });
      const engine = new Engine({ backend, tokenBytes: byteTokens, limits });
      const [got, other] = await Promise.all([collect(engine.submit(req('p', ids, 2))), collect(engine.submit(req('o', prompt(9, 8), undefined)))]);
      close(got.chunks[0]!.promptLogprobs, expected);
      expect(got.chunks.slice(1).some((c) => c.promptLogprobs)).toBe(false);
      expect(other.chunks.some((c) => c.promptLogprobs)).toBe(false);
      await engine.close();
    }
  });

  it('leaves the generated tokens as they are without it, and computes the whole prompt despite a cached prefix', async () => {
    const ids = prompt(40);
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens });
    const plain = await collect(engine.submit(req('a', ids, undefined)));
    const scored = await collect(engine.submit(req('b', ids, 0)));
    expect(scored.tokenIds).toEqual(plain.tokenIds);
    expect(scored.last.usage!.cachedPromptTokens).toBe(0);
    close(scored.chunks[0]!.promptLogprobs, await reference(ids, 0));
    const again = await collect(engine.submit(req('c', ids, undefined)));
    expect(again.last.usage!.cachedPromptTokens).toBeGreaterThan(0);
    await engine.close();
  });

  it('survives preemption (recompute): every sequence still scores its whole prompt once, as the reference', async () => {
    const lens = [20, 9, 14, 30, 5];
    const prompts = lens.map((n) => prompt(n, n));
    const expected = await Promise.all(prompts.map((ids) => reference(ids, 1)));
    // 8 blocks of 8 tokens (the engine tests' preemption setup), prompts scored 4 positions a step.
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens, limits: { kvBudgetBytes: 8 * 8 * TOY_KV_BYTES_PER_TOKEN, kvBlockSize: 8, prefixCaching: false, maxPromptLogitsPerStep: 4 } });
    const outs = await Promise.all(prompts.map((ids, i) => collect(engine.submit({ ...req(`p${i}`, ids, 1), params: samplingParams({ ignoreEos: true, maxTokens: 24 }) }))));
    expect(engine.stats().preemptions).toBeGreaterThan(0);
    outs.forEach((o, i) => {
      expect(o.chunks.filter((c) => c.promptLogprobs)).toHaveLength(1);
      close(o.chunks[0]!.promptLogprobs, expected[i]!);
    });
    await engine.close();
  });

  it('a one-token prompt has only its null entry', async () => {
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens });
    const got = await collect(engine.submit(req('one', prompt(1), 3)));
    expect(got.chunks[0]!.promptLogprobs).toEqual([null]);
    await engine.close();
  });

  it('refuses a bad count by name, and a backend without prompt logits with FAILED_PRECONDITION', async () => {
    const engine = new Engine({ backend: new ToyBackend(), tokenBytes: byteTokens });
    expect(() => engine.submit(req('x', prompt(4), 21))).toThrow(/prompt_logprobs must be in \[0, 20\]/);
    await engine.close();
    const old = new ToyBackend();
    (old.info as { promptLogits: boolean }).promptLogits = false;
    const e2 = new Engine({ backend: old, tokenBytes: byteTokens });
    let err: unknown;
    try {
      e2.submit(req('y', prompt(4), 1));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe(ErrorCode.FAILED_PRECONDITION);
    expect((err as TesseraError).details.field).toBe('prompt_logprobs');
    await e2.close();
  });
});
