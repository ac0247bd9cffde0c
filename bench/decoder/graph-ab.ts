/**
 * Whole paged decoder graph, A/B of builds: `npx tsx bench/decoder/graph-ab.ts <model dir> [<model dir> …]`.
 * One decode row per run at each context of BENCH_CTX (128,2048), the model dirs and contexts interleaved
 * over BENCH_STEPS (30) runs in one process (load drift hits all alike); prints per dir the wall median, wall
 * minimum and process-CPU minimum per step and their ctx-max ÷ ctx-min ratio (tok/s of the graph alone).
 * context-profile.ts says where one build's time goes; this says whether a graph change moves the whole step.
 * Env: BENCH_CTX, BENCH_STEPS, TESSERA_INTRA_OP_THREADS (1), BENCH_SPIN (0; 1 = intra-op spinning on),
 * BENCH_EXEC (sequential | parallel) with BENCH_INTER (inter-op threads).
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readManifest } from '@tessera/model';
import { decodeRowFeeds } from './decode-row-feeds.js';

const CTX = (process.env.BENCH_CTX ?? '128,2048').split(',').map(Number);
const STEPS = Number(process.env.BENCH_STEPS ?? 30);
const BS = 16; // tokens per KV block (the engine's default)
const THREADS = Number(process.env.TESSERA_INTRA_OP_THREADS ?? 1);
const dirs = process.argv.slice(2);
if (!dirs.length) throw new Error('usage: graph-ab.ts <model dir> [<model dir> …]');
const blocks = Math.ceil(Math.max(...CTX) / BS) + 1;
const models = await Promise.all(dirs.map(async (dir) => {
  const man = readManifest(dir).stages.decoder;
  const sig = (name: string) => man.inputs.find((v) => v.name === name)!;
  const hidden = sig('inputs_embeds').shape[2] as number;
  const [kv, , , hd] = sig('key_cache.0').shape as number[];
  const session = await ort.InferenceSession.create(join(dir, man.file), {
    intraOpNumThreads: THREADS,
    interOpNumThreads: Number(process.env.BENCH_INTER ?? 1),
    graphOptimizationLevel: 'all',
    executionMode: process.env.BENCH_EXEC === 'parallel' ? 'parallel' : 'sequential',
    extra: { session: { 'intra_op.allow_spinning': process.env.BENCH_SPIN === '1' ? '1' : '0' } },
  });
  if (sig('key_cache.0').dtype !== 'float32') throw new Error(`${dir}: float32 KV builds only (context-profile.ts handles the others)`);
  // Pools as context-profile.ts fills them; the table walks the pool backwards, as a fragmented pool would.
  const poolLen = kv! * blocks * BS * hd!;
  const pools: Record<string, ort.Tensor> = {};
  for (const v of man.inputs) if (/^(key|value)_cache\./.test(v.name)) pools[v.name] = new ort.Tensor('float32', Float32Array.from({ length: poolLen }, (_, i) => Math.sin(i) * 0.1), [kv!, blocks, BS, hd!]);
  const feeds = (ctx: number): Record<string, ort.Tensor> => decodeRowFeeds(ctx, hidden, blocks, BS, pools);
  return { dir, session, feeds, acc: CTX.map(() => ({ wall: [] as number[], cpu: [] as number[] })) };
}));
for (const m of models) for (const c of CTX) for (let i = 0; i < 3; i++) await m.session.run(m.feeds(c));
// After 3 warm-up runs per context: dirs and contexts interleaved.
for (let i = 0; i < STEPS; i++) for (const m of models) for (const [ci, c] of CTX.entries()) {
  const f = m.feeds(c);
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  await m.session.run(f);
  const t1 = performance.now();
  const u1 = process.cpuUsage(u0);
  m.acc[ci]!.wall.push(t1 - t0);
  m.acc[ci]!.cpu.push((u1.user + u1.system) / 1000);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const min = (xs: number[]) => Math.min(...xs);
for (const m of models) {
  const a = m.acc;
  const row = (f: (xs: number[]) => number, k: 'wall' | 'cpu') => `${a.map((x) => f(x[k]).toFixed(2)).join(' / ')} → ${(f(a[0]![k]) / f(a[a.length - 1]![k])).toFixed(3)}`;
  console.log(`${m.dir.split('/').pop()}: wall med ${row(med, 'wall')} | wall min ${row(min, 'wall')} | cpu min ${row(min, 'cpu')}`);
}
console.log(`(${THREADS} threads, ctx ${CTX.join(',')})`);
for (const m of models) await m.session.release();
