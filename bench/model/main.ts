/**
 * Model-path benchmark on the `bench` preset (~420 M parameters, fp32):
 *   - latency per stage (vision 1 and 10 slices of 448², resampler, embed);
 *   - decoder prefill at 128 / 512 / 2048 tokens as a fraction of the MatMul GFLOP/s measured here;
 *   - single-stream decode tokens/s at context 128 / 512 / 2048 with model-bandwidth utilisation
 *     (weight + KV bytes read per token ÷ memory read bandwidth measured here);
 *   - intra-op threads / spinning settings compared on the decode step.
 * Run: `npx tsx bench/model/main.ts [--quick] [--decoder-weights int8|int4]` (TESSERA_MODEL_DIR=… to
 * use another built model). Quantised variants are built once next to the fp32 bench model.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { argmaxRow, buildModel, ensurePresetModelPaths, openModel, type Model, type RuntimeOptions } from '@tessera/model';
import { loadavg } from 'node:os';
import { matmulProbe, memcpyReadGBs, ortReadProbe, timeIt, type Stats } from './probes.js';

const quick = process.argv.includes('--quick');
const log = (s: string): void => console.log(s);
const f1 = (x: number): string => x.toFixed(1);
const pct = (x: number): string => `${(100 * x).toFixed(0)} %`;

async function decodeStep(model: Model, ctx: number, steps: number): Promise<Stats> {
  const H = model.config.llm.hiddenSize;
  const ids = Array.from({ length: ctx }, (_, i) => 1000 + ((i * 37) % 5000));
  const e = await model.embed.run(ids, [1, ctx]);
  const bs = 16;
  const table = Array.from({ length: Math.ceil((ctx + steps + 2) / bs) }, (_, j) => j);
  model.decoder.allocate({ numBlocks: table.length, blockSize: bs, numStateSlots: 1 });
  let logits = await model.decoder.step({ batch: 1, seqLen: ctx, inputsEmbeds: e, pastLengths: [0], queryLengths: [ctx], blockTables: [table], stateSlots: [0] });
  let past = ctx;
  const one = new Float32Array(H);
  return timeIt(steps, async () => {
    const next = argmaxRow(logits, 0, model.decoder.vocabSize);
    one.set((await model.embed.run([next], [1, 1])).subarray(0, H));
    logits = await model.decoder.step({ batch: 1, seqLen: 1, inputsEmbeds: one, pastLengths: [past], queryLengths: [1], blockTables: [table], stateSlots: [0] });
    past += 1;
  }, 1);
}

async function main(): Promise<void> {
  const wi = process.argv.indexOf('--decoder-weights');
  const weights = wi > 0 ? process.argv[wi + 1] : 'fp32';
  let dir = process.env.TESSERA_MODEL_DIR ?? (await ensurePresetModelPaths('bench')).model;
  if (weights === 'int8' || weights === 'int4') {
    const paths = await ensurePresetModelPaths('bench');
    dir = `${paths.model}-${weights}`;
    if (!existsSync(join(dir, 'manifest.json'))) {
      log(`building the ${weights} decoder variant into ${dir} (once)`);
      await buildModel(paths.checkpoint, dir, { overwrite: true, decoderWeights: weights });
    }
  }
  log(`model ${dir}${quick ? ' (quick)' : ''}\n`);

  // 1. Threads / spinning on the decode step (context 128).
  const settings: Array<[string, RuntimeOptions]> = [
    ['1 thread', { intraOpNumThreads: 1, allowSpinning: false }],
    ['2 threads, no spin', { intraOpNumThreads: 2, allowSpinning: false }],
    ['2 threads, spin', { intraOpNumThreads: 2, allowSpinning: true }],
  ];
  let bestRt = settings[0][1];
  let bestMs = Infinity;
  log('threads (decode step, context 128, median ms):');
  for (const [name, rt] of settings) {
    const m = await openModel(dir, rt);
    const s = await decodeStep(m, 128, quick ? 4 : 8);
    await m.release();
    log(`  ${name.padEnd(20)} ${f1(s.median)} ms (best ${f1(s.best)})`);
    if (s.median < bestMs) {
      bestMs = s.median;
      bestRt = rt;
    }
  }
  const rt = bestRt;
  log(`→ using intraOpNumThreads=${rt.intraOpNumThreads}, spinning=${rt.allowSpinning}\n`);

  // 2. Baselines in the same run. The machine is shared, so the probes are re-measured right next to
  // each model measurement (same statistic: median) and the ratio uses the faster of before/after.
  const memcpy = await memcpyReadGBs();
  const bwProbe = await ortReadProbe(rt);
  const l = (await openModel(dir, rt)).config.llm;
  const mmProbe = await matmulProbe(rt, 512, l.hiddenSize, l.intermediateSize);
  const bw0 = await bwProbe.measure(7);
  const mm0 = await mmProbe.measure(7);
  log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${(await import('node:os')).cpus().length} cores`);
  log(`memory read bandwidth: memcpy ${f1(memcpy.median)} GB/s (best ${f1(memcpy.best)}), ORT ReduceSum 512 MB ${f1(bw0.median)} GB/s (best ${f1(bw0.best)})`);
  log(`MatMul 512×${l.hiddenSize}×${l.intermediateSize}: ${f1(mm0.median)} GFLOP/s (best ${f1(mm0.best)})\n`);

  const model = await openModel(dir, rt);
  await model.load();
  const m = model.manifest;
  const layerParams = m.stages.decoder.parameters - l.vocabSize * l.hiddenSize;

  // 3. Stage latency.
  const slice = { data: new Float32Array(3 * 448 * 448).map((_, i) => Math.sin(i) * 0.5), height: 448, width: 448 };
  const v1 = await timeIt(quick ? 2 : 3, () => model.vision.encodeSlices([slice]));
  const feats = await model.vision.encodeSlices([slice]);
  const v10 = await timeIt(1, () => model.vision.encodeSlices(Array(10).fill(slice)), 0);
  const r1 = await timeIt(quick ? 2 : 5, () => model.resampler.resampleSlices(feats));
  const r10 = await timeIt(2, () => model.resampler.resampleSlices(Array(10).fill(feats[0])));
  const ids128 = Array.from({ length: 128 }, (_, i) => 1000 + i);
  const emb = await timeIt(5, () => model.embed.run(ids128, [1, 128]));
  log('stage latency (median ms):');
  log(`  vision     1 slice 448² (1024 patches) ${f1(v1.median)}   10 slices ${f1(v10.median)} (${f1(v10.median / 10)} per slice)`);
  log(`  resampler  1 slice ${f1(r1.median)}   10 slices ${f1(r10.median)}`);
  log(`  embed      128 tokens ${f1(emb.median)}`);

  // 4. Prefill and decode per context.
  log('\ncontext  prefill ms  prefill tok/s  GFLOP/s  %MatMul | decode ms/tok  tok/s  GB/tok  GB/s (probe)  MBU');
  const rows: string[] = [];
  for (const ctx of quick ? [128, 512] : [128, 512, 2048]) {
    const ids = Array.from({ length: ctx }, (_, i) => 1000 + ((i * 37) % 5000));
    const e = await model.embed.run(ids, [1, ctx]);
    const mmA = await mmProbe.measure();
    const pf = await timeIt(ctx >= 2048 ? 1 : 2, () => model.decoder.forwardNoCache(e, [ctx]), ctx >= 2048 ? 0 : 1);
    const mmB = await mmProbe.measure();
    const mmRef = Math.max(mmA.median, mmB.median);
    // Useful prefill FLOPs: 2·params per token in the layers, causal attention (QKᵀ and PV, half
    // the square), and the last position's lm_head.
    const flops = 2 * layerParams * ctx + l.numLayers * 2 * 2 * l.hiddenSize * (ctx * (ctx + 1)) / 2 + 2 * l.vocabSize * l.hiddenSize;
    const gfs = flops / pf.median / 1e6;
    const bwA = await bwProbe.measure();
    const ds = await decodeStep(model, ctx, quick ? 4 : 8);
    const bwB = await bwProbe.measure();
    const bw = Math.max(bwA.median, bwB.median);
    const kvBytes = 2 * l.numLayers * l.numKvHeads * l.headDim * (ctx + 1) * 4;
    const bytes = m.stages.decoder.weightBytes + kvBytes;
    const mbu = bytes / (ds.median / 1000) / 1e9 / bw;
    rows.push(`${String(ctx).padStart(7)}  ${f1(pf.median).padStart(10)}  ${f1((ctx / pf.median) * 1000).padStart(13)}  ${f1(gfs).padStart(7)}  ${pct(gfs / mmRef).padStart(7)} | ${f1(ds.median).padStart(13)}  ${f1(1000 / ds.median).padStart(5)}  ${(bytes / 1e9).toFixed(2).padStart(6)}  ${f1(bytes / (ds.median / 1000) / 1e9).padStart(5)} (${f1(bw)})  ${pct(mbu).padStart(4)}`);
    log(rows[rows.length - 1]);
  }
  log('\ntargets: decode MBU ≥ 50 % (fp32), prefill ≥ 40 % of MatMul GFLOP/s');
  await model.release();
  await bwProbe.release();
  await mmProbe.release();
}

await main();
