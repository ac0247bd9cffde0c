/**
 * The engine's runtime stage (PagedDecoderStage: block pools + state slots) driving the 4.6 hybrid graph:
 * 8 sequences, prompts prefilled in 4-token chunks into blocks of 4, then batched greedy decode steps,
 * give the same tokens as a no-cache prefill over the whole text (HybridDecoderStage, one call).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmaxRow, ensureTinyModel46Paths, openModel46, type Model46 } from '../../index.js';
import { PagedDecoderStage } from '../../runtime/paged-decoder.js';

let model: Model46;
beforeAll(async () => {
  model = await openModel46((await ensureTinyModel46Paths()).model, { intraOpNumThreads: 1, allowSpinning: false });
});
afterAll(async () => {
  await model?.release();
});

describe('4.6 through PagedDecoderStage', () => {
  it('8 concurrent sequences: paged prefill chunks + batched decode == no-cache greedy', async () => {
    const paged = new PagedDecoderStage(model.sessions.decoder);
    const bs = 4;
    const per = 8; // blocks per sequence (32 tokens)
    paged.allocate({ numBlocks: 8 * per, blockSize: bs, numStateSlots: 8 });
    const V = model.decoder.vocabSize;
    const prompts = Array.from({ length: 8 }, (_, s) => Array.from({ length: 3 + ((s * 5) % 9) }, (_, i) => 300 + ((s * 7919 + i * 104729) % 150000)));
    const tables = prompts.map((_, b) => Array.from({ length: per }, (_, k) => b * per + k));
    const lengths = prompts.map(() => 0);
    for (let b = 0; b < 8; b++) paged.resetState(b);
    // Prefill each prompt in chunks of 4 (one row per call, rows interleaved).
    const last = new Float32Array(8 * V);
    for (let b = 0; b < 8; b++) {
      for (let s = 0; s < prompts[b].length; s += 4) {
        const chunk = prompts[b].slice(s, s + 4);
        const e = await model.embed.run(chunk, [1, chunk.length]);
        const logits = await paged.step({ batch: 1, seqLen: chunk.length, inputsEmbeds: e, pastLengths: [lengths[b]], queryLengths: [chunk.length], blockTables: [tables[b]], stateSlots: [b] });
        lengths[b] += chunk.length;
        last.set(logits.subarray(0, V), b * V);
      }
    }
    const out: number[][] = prompts.map(() => []);
    let logits: Float32Array = last;
    for (let step = 0; step < 5; step++) {
      const next = prompts.map((_, b) => argmaxRow(logits, b, V));
      next.forEach((n, b) => out[b].push(n));
      const e = await model.embed.run(next, [8, 1]);
      logits = await paged.step({ batch: 8, seqLen: 1, inputsEmbeds: e, pastLengths: [...lengths], queryLengths: next.map(() => 1), blockTables: tables, stateSlots: [0, 1, 2, 3, 4, 5, 6, 7] });
      for (let b = 0; b < 8; b++) lengths[b] += 1;
    }
    for (let b = 0; b < 8; b++) {
      const seq = [...prompts[b]];
      for (let step = 0; step < 5; step++) {
        const ef = await model.embed.run(seq, [1, seq.length]);
        const rf = await model.decoder.run({ inputsEmbeds: ef, batch: 1, seq: seq.length });
        seq.push(argmaxRow(rf.logits, 0, V));
      }
      expect(out[b]).toEqual(seq.slice(prompts[b].length));
    }
  });
});
