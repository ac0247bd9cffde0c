/**
 * Where a decode step's context-proportional time goes: `npx tsx bench/decoder/context-profile.ts [model dir]`
 * (default: the bench preset; BENCH_INT4=1 profiles its int4 copy, which bench/decoder/main.ts builds; a model
 * built with another KV cache dtype, e.g. `<preset>-int4-kv-int8` from BENCH_KV_DTYPE, is profiled in its dtype).
 * Runs the paged decoder graph alone (onnxruntime profiling on; 1 thread unless TESSERA_INTRA_OP_THREADS) for one decode row at each
 * context of BENCH_CTX (128,2048), the contexts interleaved, and prints per op type the kernel time per
 * step and the difference between the contexts. Each node's time is its minimum over the steps: on a
 * shared machine that drops the steps another process pre-empted, so the sum approximates an idle core.
 * The attention ops' Δ is stable between runs; the weight GEMMs' totals (MatMulNBits, the fp32 MatMuls)
 * still move by a few ms under load, so read the ratio line next to the per-op Δ.
 * Env: BENCH_CTX, BENCH_STEPS (20), BENCH_BLOCK (16, tokens per KV block), TESSERA_INTRA_OP_THREADS (1).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ensurePresetModelPaths, readManifest } from '@tessera/model';
import { decodeRowFeeds } from './decode-row-feeds.js';

const CTX = (process.env.BENCH_CTX ?? '128,2048').split(',').map(Number);
const STEPS = Number(process.env.BENCH_STEPS ?? 20);
const BS = Number(process.env.BENCH_BLOCK ?? 16);
const THREADS = Number(process.env.TESSERA_INTRA_OP_THREADS ?? 1);
const base = process.argv[2] ?? (await ensurePresetModelPaths('bench')).model;
const dir = process.env.BENCH_INT4 === '1' && !process.argv[2] ? `${base}-int4` : base;
const man = readManifest(dir).stages.decoder;
const sig = (name: string) => man.inputs.find((v) => v.name === name)!;
const hidden = sig('inputs_embeds').shape[2] as number;
const [kv, , , hd] = sig('key_cache.0').shape as number[];
const blocks = Math.ceil(Math.max(...CTX) / BS) + 1;

const profDir = mkdtempSync(join(tmpdir(), 'tessera-ctxprof-'));
const session = await ort.InferenceSession.create(join(dir, man.file), {
  intraOpNumThreads: THREADS,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  enableProfiling: true,
  profileFilePrefix: join(profDir, 'p'),
  extra: { session: { 'intra_op.allow_spinning': '0' } },
});
// Pools filled with a pattern, in the graph's KV dtype (int8 pools come with per-token scales); the
// table walks the pool backwards, as a fragmented pool would.
const poolLen = kv! * blocks * BS * hd!;
const pattern = (i: number): number => Math.sin(i) * 0.1;
const pool = (dtype: string): ort.Tensor =>
  dtype === 'int8'
    ? new ort.Tensor('int8', Int8Array.from({ length: poolLen }, (_, i) => Math.round(pattern(i) * 1270)), [kv!, blocks, BS, hd!])
    : dtype === 'float16'
      ? new ort.Tensor('float16', Uint16Array.from({ length: poolLen }, (_, i) => 0x2e66 ^ (pattern(i) < 0 ? 0x8000 : 0)), [kv!, blocks, BS, hd!]) // ±0.1
      : new ort.Tensor('float32', Float32Array.from({ length: poolLen }, (_, i) => pattern(i)), [kv!, blocks, BS, hd!]);
const pools: Record<string, ort.Tensor> = {};
for (const v of man.inputs) {
  if (/^(key|value)_cache\./.test(v.name)) pools[v.name] = pool(v.dtype);
  if (/^(key|value)_scale\./.test(v.name)) pools[v.name] = new ort.Tensor('float32', new Float32Array(kv! * blocks * BS).fill(1 / 1270), [kv!, blocks, BS]);
}
const kvDtype = sig('key_cache.0').dtype;
const feeds = (ctx: number): Record<string, ort.Tensor> => decodeRowFeeds(ctx, hidden, blocks, BS, pools);
for (const c of CTX) for (let i = 0; i < 3; i++) await session.run(feeds(c));
// After the warm-up, run k belongs to context k mod |CTX|; a node belongs to the run whose span holds it.
for (let i = 0; i < STEPS; i++) for (const c of CTX) await session.run(feeds(c));
session.endProfiling();
await session.release();
const file = readdirSync(profDir).find((f) => f.endsWith('.json'))!;
const events = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as { cat: string; name: string; ts: number; dur: number; args?: { op_name?: string } }[];
rmSync(profDir, { recursive: true, force: true });

const runs = events.filter((e) => e.name === 'model_run').sort((a, b) => a.ts - b.ts).slice(3 * CTX.length);
const nodeMin = CTX.map(() => new Map<string, { op: string; us: number }>());
runs.forEach((r, k) => {
  const ci = k % CTX.length;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < r.ts || e.ts > r.ts + r.dur) continue;
    const m = nodeMin[ci]!.get(e.name);
    if (!m || e.dur < m.us) nodeMin[ci]!.set(e.name, { op: e.args?.op_name ?? '?', us: e.dur });
  }
});
const byOp = nodeMin.map((nodes) => {
  const t = new Map<string, number>();
  for (const { op, us } of nodes.values()) t.set(op, (t.get(op) ?? 0) + us);
  return t;
});
const ops = [...new Set(byOp.flatMap((t) => [...t.keys()]))];
const lo = byOp[0]!;
const hi = byOp[byOp.length - 1]!;
ops.sort((a, b) => (hi.get(b) ?? 0) - (lo.get(b) ?? 0) - ((hi.get(a) ?? 0) - (lo.get(a) ?? 0)));
const msOf = (us = 0): string => (us / 1000).toFixed(3);
const total = byOp.map((t) => [...t.values()].reduce((a, b) => a + b, 0));
console.log(`${dir}: one decode row, KV ${kvDtype}, block ${BS}, ${THREADS} thread(s), ${STEPS} steps per context, per-node minimum (ms per step)`);
console.log(`| op | ${CTX.map((c) => `ctx ${c}`).join(' | ')} | Δ ${CTX[CTX.length - 1]} − ${CTX[0]} |\n|---|${CTX.map(() => '---|').join('')}---|`);
for (const op of ops.slice(0, 12)) console.log(`| ${op} | ${byOp.map((t) => msOf(t.get(op))).join(' | ')} | ${msOf((hi.get(op) ?? 0) - (lo.get(op) ?? 0))} |`);
console.log(`| all kernels | ${total.map((t) => msOf(t)).join(' | ')} | ${msOf(total[total.length - 1]! - total[0]!)} |`);
console.log(`kernel-time ratio ${CTX[CTX.length - 1]} ÷ ${CTX[0]} (tok/s of the graph alone, ${THREADS} thread(s)): ${(total[0]! / total[total.length - 1]!).toFixed(2)}`);
// BENCH_NODES=<op type>: that op's nodes with the largest difference between the contexts.
if (process.env.BENCH_NODES) {
  const rows = [...nodeMin[0]!].filter(([, v]) => v.op === process.env.BENCH_NODES).map(([name, v]) => [name, v.us, nodeMin[nodeMin.length - 1]!.get(name)?.us ?? 0] as const);
  rows.sort((a, b) => b[2] - b[1] - (a[2] - a[1]));
  for (const [name, a, b] of rows.slice(0, 16)) console.log(`  ${name.replace('_kernel_time', '')}: ${msOf(a)} → ${msOf(b)}`);
}
