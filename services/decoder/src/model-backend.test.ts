/**
 * The engine on the real tiny model (onnxruntime-node, libs/model graphs): greedy decoding equals
 * libs/model's decoder run without any KV cache (the whole sequence recomputed every token),
 * alone and with 8 concurrent sequences of different lengths; seeded sampling is reproducible;
 * real byte-level tokens stream UTF-8-safely.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmaxRow, ensureTinyModel } from '@tessera/model';
import { Engine } from './engine/engine.js';
import { samplingParams } from './engine/engine-defaults.js';
import { collect } from './engine/testing/collect.js';
import type { SamplingParams } from './engine/types.js';
import { loadDecoderModel, type LoadedDecoderModel } from './load-model.js';
import { assemblePrompt } from './prompt/assemble-prompt.js';

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
    const { logits } = await m.model.decoder.run({ inputsEmbeds: emb, batch: 1, seq: seq.length });
    const t = argmaxRow(logits, 0, m.backend.info.vocabSize);
    out.push(t);
    seq.push(t);
  }
  return out;
}

const params = (p: Partial<SamplingParams>): SamplingParams => samplingParams({ ignoreEos: true, maxTokens: 8, ...p });

describe('engine on the ORT tiny model', () => {
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
    expect(engine.stats().kvAllocatedBytes).toBe(0);
    await engine.close();
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
});
