/**
 * Decode on a GPU execution provider against the CPU, same run: `npx tsx bench/decoder/gpu.ts [model dir]`
 * (default: the bench preset, 2.6 layout). Times one decode step through PagedDecoderStage — the
 * engine's stage, pools kept where the provider keeps them (WebGPU: on the device) — at each context of
 * BENCH_CTX for batch 1 and BENCH_BATCH rows, on TESSERA_EXECUTION_PROVIDER (default webgpu) and on
 * the CPU EP (TESSERA_INTRA_OP_THREADS, default 2), and prints ms per step, tokens/s and the GPU ÷ CPU
 * speed-up. The past is synthetic (zero K/V at length ctx): a step's cost depends on shapes, not values.
 * With no GPU, WebGPU runs on whatever Vulkan driver the loader finds (lavapipe: a software GPU,
 * only useful to check that the bench runs). Env: BENCH_CTX (128,2048), BENCH_BATCH (8), BENCH_STEPS (10).
 */
import { ensurePresetModelPaths, openModel, type ExecutionProvider } from '@tessera/model';

const CTX = (process.env.BENCH_CTX ?? '128,2048').split(',').map(Number);
const BATCH = Number(process.env.BENCH_BATCH ?? 8);
const STEPS = Number(process.env.BENCH_STEPS ?? 10);
const BS = 16; // the engine's kvBlockSize
const ep = (process.env.TESSERA_EXECUTION_PROVIDER ?? 'webgpu') as ExecutionProvider;
const cpuThreads = Number(process.env.TESSERA_INTRA_OP_THREADS ?? 2);
const dir = process.argv[2] ?? (await ensurePresetModelPaths('bench')).model;

async function measure(provider: ExecutionProvider): Promise<Map<string, number>> {
  const m = await openModel(dir, provider === 'cpu' ? { intraOpNumThreads: cpuThreads } : { executionProvider: provider });
  const hidden = m.decoder.layout.hidden;
  const out = new Map<string, number>();
  for (const B of [1, BATCH]) {
    for (const ctx of CTX) {
      const per = Math.ceil((ctx + 1) / BS);
      m.decoder.allocate({ numBlocks: B * per, blockSize: BS, numStateSlots: B });
      const tables = Array.from({ length: B }, (_, b) => Array.from({ length: per }, (_, k) => b * per + k));
      const step = () => m.decoder.step({ batch: B, seqLen: 1, inputsEmbeds: new Float32Array(B * hidden).fill(0.01), pastLengths: new Array<number>(B).fill(ctx), queryLengths: new Array<number>(B).fill(1), blockTables: tables, stateSlots: tables.map((_, b) => b) });
      await step(); // warm-up: session creation, shader compilation, pool allocation
      const times: number[] = [];
      for (let i = 0; i < STEPS; i++) {
        const t = performance.now();
        await step();
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      out.set(`${B}/${ctx}`, times[Math.floor(times.length / 2)]!);
    }
  }
  console.log(`${provider}: KV pools on the ${m.decoder.poolsOnDevice ? 'device' : 'host'}`);
  m.decoder.release();
  await m.release();
  return out;
}

console.log(`bench/decoder/gpu: ${dir}, ${STEPS} steps per cell (median), CPU EP with ${cpuThreads} threads`);
const gpu = await measure(ep);
const cpu = await measure('cpu');
console.log(`\n| rows | ctx | ${ep} ms/step | cpu ms/step | ${ep} tok/s | cpu tok/s | ${ep} ÷ cpu speed |`);
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
