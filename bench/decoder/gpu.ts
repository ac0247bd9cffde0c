/**
 * Decode on a GPU execution provider against the CPU, same run: `npx tsx bench/decoder/gpu.ts [model dir]`
 * (default: the bench preset, 2.6 layout). Times one decode step through PagedDecoderStage — the
 * engine's stage, pools kept where the provider keeps them (WebGPU: on the device) — at each context of
 * BENCH_CTX for batch 1 and BENCH_BATCH rows, on TESSERA_EXECUTION_PROVIDER (default webgpu) and on
 * the CPU EP (TESSERA_INTRA_OP_THREADS, default 2), and prints ms per step, tokens/s and the GPU ÷ CPU
 * speed-up. The past is synthetic (zero K/V at length ctx): a step's cost depends on shapes, not values.
 * BENCH_WEIGHTS=fp32,int4 adds the int4 build (MatMulNBits, built once next to the model). A vision
 * section times the vision encoder on 1 and 10 slices of 448² on both providers and prints the largest
 * feature difference. Without TESSERA_EXECUTION_PROVIDER (cuda / webgpu) it runs WebGPU on Mesa's lavapipe
 * (scripts/ensure-lavapipe.sh, set up by `npm test`): a software GPU, which only shows the bench runs.
 * Env: BENCH_CTX (128,2048), BENCH_BATCH (8), BENCH_STEPS (10), BENCH_WEIGHTS (fp32).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildModel, ensurePresetModelPaths, holdGpuDevice, openModel, readManifest, useSoftwareGpu, type ExecutionProvider, type RuntimeOptions } from '@tessera/model';
import { timeIt } from '../model/probes.js';

const CTX = (process.env.BENCH_CTX ?? '128,2048').split(',').map(Number);
const BATCH = Number(process.env.BENCH_BATCH ?? 8);
const STEPS = Number(process.env.BENCH_STEPS ?? 10);
const BS = 16; // the engine's kvBlockSize
const requested = process.env.TESSERA_EXECUTION_PROVIDER;
const ep: ExecutionProvider = requested === 'cuda' ? 'cuda' : 'webgpu';
const softwareGpu = requested === 'cuda' || requested === 'webgpu' ? undefined : useSoftwareGpu();
const cpuThreads = Number(process.env.TESSERA_INTRA_OP_THREADS ?? 2);
const WEIGHTS = (process.env.BENCH_WEIGHTS ?? 'fp32').split(',') as ('fp32' | 'int4')[];
const base = process.argv[2] ?? (await ensurePresetModelPaths('bench')).model;
const runtime = (provider: ExecutionProvider): RuntimeOptions => (provider === 'cpu' ? { intraOpNumThreads: cpuThreads } : { executionProvider: provider });

async function measure(dir: string, provider: ExecutionProvider): Promise<Map<string, number>> {
  const m = await openModel(dir, runtime(provider));
  const hidden = m.decoder.layout.hidden;
  const out = new Map<string, number>();
  for (const B of [1, BATCH]) {
    for (const ctx of CTX) {
      const per = Math.ceil((ctx + 1) / BS);
      m.decoder.allocate({ numBlocks: B * per, blockSize: BS, numStateSlots: B });
      const tables = Array.from({ length: B }, (_, b) => Array.from({ length: per }, (_, k) => b * per + k));
      const step = () => m.decoder.step({ batch: B, seqLen: 1, inputsEmbeds: new Float32Array(B * hidden).fill(0.01), pastLengths: new Array<number>(B).fill(ctx), queryLengths: new Array<number>(B).fill(1), blockTables: tables, stateSlots: tables.map((_, b) => b) });
      // One warm-up step: session creation, shader compilation, pool allocation.
      out.set(`${B}/${ctx}`, (await timeIt(STEPS, step, 1)).median);
    }
  }
  console.log(`${provider}: KV pools on the ${m.decoder.poolsOnDevice ? 'device' : 'host'}`);
  await m.release(); // frees the device pools too
  return out;
}

console.log(`bench/decoder/gpu: ${base}, ${STEPS} steps per cell (median), CPU EP with ${cpuThreads} threads${softwareGpu ? `; ${ep} on the software GPU ${softwareGpu}` : ''}`);
// Each section opens and releases its models: one device for the whole run (software-gpu.ts says why).
const device = await holdGpuDevice(ep);
for (const weights of WEIGHTS) {
  const dir = weights === 'fp32' ? base : `${base}-int4`;
  if (!existsSync(join(dir, 'manifest.json'))) await buildModel(readManifest(base).source.checkpoint, dir, { decoderWeights: weights, overwrite: true });
  console.log(`\n## decode, ${weights} weights`);
  decodeTable(await measure(dir, ep), await measure(dir, 'cpu'));
}
await visionSection();
await device.release();

function decodeTable(gpu: Map<string, number>, cpu: Map<string, number>): void {
console.log(`| rows | ctx | ${ep} ms/step | cpu ms/step | ${ep} tok/s | cpu tok/s | ${ep} ÷ cpu speed |`);
console.log('|---|---|---|---|---|---|---|');
for (const key of gpu.keys()) {
  const [B, ctx] = key.split('/').map(Number) as [number, number];
  const g = gpu.get(key)!;
  const c = cpu.get(key)!;
  console.log(`| ${B} | ${ctx} | ${g.toFixed(2)} | ${c.toFixed(2)} | ${((B / g) * 1000).toFixed(1)} | ${((B / c) * 1000).toFixed(1)} | ${(c / g).toFixed(2)}× |`);
}
for (const B of [1, BATCH]) {
  const lo = Math.min(...CTX), hi = Math.max(...CTX);
  console.log(`rows ${B}: ctx ${hi} ÷ ctx ${lo} decode speed: ${ep} ${(gpu.get(`${B}/${lo}`)! / gpu.get(`${B}/${hi}`)!).toFixed(2)}, cpu ${(cpu.get(`${B}/${lo}`)! / cpu.get(`${B}/${hi}`)!).toFixed(2)}`);
}
}

async function visionSection(): Promise<void> {
  const slice = { data: new Float32Array(3 * 448 * 448).map((_, i) => Math.sin(i) * 0.5), height: 448, width: 448 };
  const times = new Map<string, number>();
  const feats: Float32Array[] = [];
  for (const provider of [ep, 'cpu'] as const) {
    const m = await openModel(base, runtime(provider));
    feats.push((await m.vision.encodeSlices([slice]))[0]!.features); // warm-up, and the features compared below
    for (const n of [1, 10]) times.set(`${provider}/${n}`, (await timeIt(3, () => m.vision.encodeSlices(Array(n).fill(slice)), 0)).median);
    await m.release();
  }
  let diff = 0;
  for (let i = 0; i < feats[0]!.length; i++) diff = Math.max(diff, Math.abs(feats[0]![i]! - feats[1]![i]!));
  console.log(`\n## vision encoder (448² slices; max |feature diff| ${ep} vs cpu ${diff.toExponential(2)})`);
  console.log(`| slices | ${ep} ms | cpu ms | ${ep} ÷ cpu speed |\n|---|---|---|---|`);
  for (const n of [1, 10]) console.log(`| ${n} | ${times.get(`${ep}/${n}`)!.toFixed(1)} | ${times.get(`cpu/${n}`)!.toFixed(1)} | ${(times.get(`cpu/${n}`)! / times.get(`${ep}/${n}`)!).toFixed(2)}× |`);
}
