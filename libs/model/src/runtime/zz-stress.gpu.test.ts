import { it } from 'vitest';
import { ensureTinyModel } from '../ensure-tiny-model.js';
import { openModel } from './open-model.js';
import { useSoftwareGpu } from './software-gpu.js';
if (!process.env.TESSERA_EXECUTION_PROVIDER) useSoftwareGpu();
it('stress', async () => {
  const dir = await ensureTinyModel();
  for (let round = 0; round < Number(process.env.ROUNDS ?? 12); round++) {
    const gpu = await openModel(dir, { executionProvider: 'webgpu' });
    const prompt = [151644, 872, 198, 9707, 11, 1879, 0];
    gpu.decoder.allocate({ numBlocks: 4, blockSize: 4, numStateSlots: 1 });
    await gpu.decoder.step({ batch: 1, seqLen: prompt.length, inputsEmbeds: await gpu.embed.run(prompt, [1, prompt.length]), pastLengths: [0], queryLengths: [prompt.length], blockTables: [[3, 0, 2, 1]], stateSlots: [0] });
    for (let i = 0; i < 3; i++) await gpu.decoder.step({ batch: 1, seqLen: 1, inputsEmbeds: await gpu.embed.run([5], [1, 1]), pastLengths: [prompt.length + i], queryLengths: [1], blockTables: [[3, 0, 2, 1]], stateSlots: [0] });
    await gpu.release();
    console.log('[stress] round', round);
  }
}, 600_000);
