// Device probe (not committed): which onnxruntime-node execution providers load on the GPU machine and
// whether our 2.6 paged decoder and the 4.6 hybrid decoder give the CPU answers on them.
import * as ort from 'onnxruntime-node';
import { openModel } from './libs/model/src/runtime/open-model.js';
import { argmaxRow } from './libs/model/src/runtime/stages.js';
import { openModel46 } from './libs/model/src/index.js';
import { ensureTinyModel, ensureTinyModel46Paths } from './libs/model/src/ensure-tiny-model.js';

const t00 = performance.now();
const dir26 = await ensureTinyModel(), dir46 = (await ensureTinyModel46Paths()).model;
console.log('models built in', (performance.now() - t00).toFixed(0), 'ms');
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };
console.log('backends', JSON.stringify((ort as any).listSupportedBackends?.()));
async function paged(ep: 'cuda' | 'webgpu' | 'cpu') {
  const t0 = performance.now();
  const m = await openModel(dir26, { executionProvider: ep });
  const cpu = await openModel(dir26, { intraOpNumThreads: 1 });
  console.log(ep, 'opened in', (performance.now() - t0).toFixed(0), 'ms');
  const V = m.decoder.vocabSize;
  const prompt = [151644, 872, 198, 9707, 11, 1879, 0];
  const table = [3, 0, 2, 1];
  m.decoder.allocate({ numBlocks: 4, blockSize: 4, numStateSlots: 1 });
  let logits = await m.decoder.step({ batch: 1, seqLen: prompt.length, inputsEmbeds: await m.embed.run(prompt, [1, prompt.length]), pastLengths: [0], queryLengths: [prompt.length], blockTables: [table], stateSlots: [0] });
  const ids = [...prompt]; let worst = 0; let same = 0; const times: number[] = [];
  for (let i = 0; i < 8; i++) {
    const next = argmaxRow(logits, 0, V);
    const ref = await cpu.decoder.forwardNoCache(await cpu.embed.run(ids, [1, ids.length]), [ids.length]);
    worst = Math.max(worst, maxAbs(logits.subarray(0, V), ref.subarray(0, V)));
    if (next === argmaxRow(ref, 0, V)) same++;
    ids.push(next);
    const s = performance.now();
    logits = await m.decoder.step({ batch: 1, seqLen: 1, inputsEmbeds: await m.embed.run([next], [1, 1]), pastLengths: [ids.length - 1], queryLengths: [1], blockTables: [table], stateSlots: [0] });
    times.push(performance.now() - s);
  }
  console.log(`${ep} 2.6 paged: greedy equal ${same}/8, max |logit diff| ${worst.toExponential(2)}, step ms ${times.map((t) => t.toFixed(1)).join(' ')}`);
  await m.release(); await cpu.release();
}
async function hybrid(ep: 'cuda' | 'webgpu') {
  const m = await openModel46(dir46, { executionProvider: ep });
  const c = await openModel46(dir46, { intraOpNumThreads: 1 });
  const prompt = [248045, 872, 198, 3838, 374, 419, 30, 248046, 198, 248045, 77091, 198, 1000, 2000, 3000, 4000];
  const a = await m.decoder.run({ inputsEmbeds: await m.embed.run(prompt, [1, prompt.length]), batch: 1, seq: prompt.length });
  const b = await c.decoder.run({ inputsEmbeds: await c.embed.run(prompt, [1, prompt.length]), batch: 1, seq: prompt.length });
  console.log(`${ep} 4.6 hybrid prefill: max |logit diff| ${maxAbs(a.logits, b.logits).toExponential(2)}`);
  await m.release(); await c.release();
}
for (const ep of ['cuda', 'webgpu'] as const) {
  try { await paged(ep); } catch (e) { console.log(`${ep} 2.6 FAILED:`, String((e as Error).message).slice(0, 600)); }
  try { await hybrid(ep); } catch (e) { console.log(`${ep} 4.6 FAILED:`, String((e as Error).message).slice(0, 600)); }
}
