/**
 * The paged decoder on the CUDA execution provider: runs where TESSERA_EXECUTION_PROVIDER=cuda (a GPU
 * node with onnxruntime-node's CUDA provider libraries installed), skipped with the reason printed
 * elsewhere. Greedy decoding through the paged cache on CUDA must equal the CPU no-cache reference.
 * What crosses host ↔ device per step is documented in docs/decisions.md (Issue 13, CUDA).
 */
import { describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../ensure-tiny-model.js';
import { openModel } from './open-model.js';
import { argmaxRow } from './stages.js';

const ep = process.env.TESSERA_EXECUTION_PROVIDER;
const skipReason = ep === 'cuda' ? undefined : `TESSERA_EXECUTION_PROVIDER is ${ep ? `'${ep}'` : 'unset'}, not 'cuda' (no GPU on this machine)`;
if (skipReason) console.log(`[skipped] paged decoder on CUDA: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('paged decoder on the CUDA execution provider', () => {
  it('greedy decode through the paged cache equals the CPU no-cache reference', async () => {
    const dir = await ensureTinyModel();
    const gpu = await openModel(dir, { executionProvider: 'cuda' });
    const cpu = await openModel(dir, { intraOpNumThreads: 1 });
    const V = gpu.decoder.vocabSize;
    const prompt = [151644, 872, 198, 9707, 11, 1879, 0];
    const table = [3, 0, 2, 1];
    gpu.decoder.allocate({ numBlocks: 4, blockSize: 4, numStateSlots: 1 });
    let logits = await gpu.decoder.step({ batch: 1, seqLen: prompt.length, inputsEmbeds: await gpu.embed.run(prompt, [1, prompt.length]), pastLengths: [0], queryLengths: [prompt.length], blockTables: [table], stateSlots: [0] });
    const ids = [...prompt];
    for (let i = 0; i < 8; i++) {
      const next = argmaxRow(logits, 0, V);
      const ref = await cpu.decoder.forwardNoCache(await cpu.embed.run(ids, [1, ids.length]), [ids.length]);
      expect(next).toBe(argmaxRow(ref, 0, V));
      ids.push(next);
      logits = await gpu.decoder.step({ batch: 1, seqLen: 1, inputsEmbeds: await gpu.embed.run([next], [1, 1]), pastLengths: [ids.length - 1], queryLengths: [1], blockTables: [table], stateSlots: [0] });
    }
    await gpu.release();
    await cpu.release();
  });
});
