/**
 * GroupQueryAttention in place vs today's Gather: `npx tsx bench/decoder/gqa-inplace.ts` (issue 13, fifth pass).
 * com.microsoft GroupQueryAttention over a contiguous per-sequence KV buffer [1, kv, S, hd], fed as past_key
 * and also passed as the preallocated present_key fetch: the CPU kernel skips the copy of the past only when
 * the two are the same memory (its share-buffer mode), and then its M = 1 GEMMs stream K/V without packing.
 * Against today's path (Gather of the row's blocks from the head-major pool + q·Kᵀ, softmax, ·V), 8 layers of
 * the bench shape, one decode row, CPU ms per run (min), contexts and variants interleaved.
 * First it checks where the new key went. Result with onnxruntime-node 1.30: the present comes back in a new
 * buffer (copied into ours after the run), so the kernel saw past ≠ present and zeroed and refilled the whole
 * present per call (4.7 ms at ctx 128) — see docs/decisions.md, issue 13 fifth pass.
 * Env: BENCH_CTX (128,2048), BENCH_STEPS (30), TESSERA_INTRA_OP_THREADS (1), BENCH_COLD (0; 1 = evict caches).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, WeightSink } from '@tessera/model';

const CTX = (process.env.BENCH_CTX ?? '128,2048').split(',').map(Number);
const STEPS = Number(process.env.BENCH_STEPS ?? 30);
const THREADS = Number(process.env.TESSERA_INTRA_OP_THREADS ?? 1);
const COLD = process.env.BENCH_COLD === '1' ? new Float32Array(64 * 1024 * 1024) : undefined;
const L = 8, KV = 4, G = 4, HD = 64, H = KV * G, BS = 16;
const maxCtx = Math.max(...CTX);
const SBUF = maxCtx + BS;
const NB = SBUF / BS;
const rand = (n: number, s = 0.37): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * s) * 0.5);

// GQA: query [1,1,H·hd], key/value [1,1,KV·hd] (the new token), past/present [1,KV,SBUF,hd] aliased.
function gqaGraph(): GraphBuilder {
  const g = new GraphBuilder('gqa', new WeightSink(null));
  let q = g.input('query', 'float32', [1, 1, H * HD]);
  g.input('key', 'float32', [1, 1, KV * HD]);
  g.input('value', 'float32', [1, 1, KV * HD]);
  // (the builder has no int32 inputs: int64 in, Cast to int32 — two tiny nodes)
  const sk = g.op('Cast', [g.input('seqlens_k', 'int64', [1])], { to: 6 });
  const tl = g.op('Cast', [g.input('total_sequence_length', 'int64', [])], { to: 6 });
  for (let i = 0; i < L; i++) {
    g.input(`past_key.${i}`, 'float32', [1, KV, SBUF, HD]);
    g.input(`past_value.${i}`, 'float32', [1, KV, SBUF, HD]);
    const [o] = g.opN('GroupQueryAttention', [q, 'key', 'value', `past_key.${i}`, `past_value.${i}`, sk, tl], { num_heads: H, kv_num_heads: KV }, { domain: 'com.microsoft', outputs: [`gqa_out.${i}`, `present_key.${i}`, `present_value.${i}`] });
    q = g.op('Add', [q, o!]);
    g.outputs.push({ name: `present_key.${i}`, dtype: 'float32', shape: [1, KV, SBUF, HD] }, { name: `present_value.${i}`, dtype: 'float32', shape: [1, KV, SBUF, HD] });
  }
  g.output(q, 'out', 'float32', [1, 1, H * HD]);
  return g;
}

// Today's path: Gather of the row's blocks from the head-major pool, q·Kᵀ, softmax, ·V (as paged-decoder-graph.ts).
function gatherGraph(): GraphBuilder {
  const g = new GraphBuilder('gather', new WeightSink(null));
  let q = g.input('q', 'float32', [KV, 1, G, HD]);
  g.input('table', 'int64', [1, 'n']);
  const shape = g.constI64([0, 0, -1, HD]);
  for (let i = 0; i < L; i++) {
    const k = g.op('Reshape', [g.op('Gather', [g.input(`k${i}`, 'float32', [KV, NB, BS, HD]), 'table'], { axis: 1 }), shape]);
    const v = g.op('Reshape', [g.op('Gather', [g.input(`v${i}`, 'float32', [KV, NB, BS, HD]), 'table'], { axis: 1 }), shape]);
    const s = g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]);
    q = g.op('Add', [q, g.op('MatMul', [g.op('Softmax', [s], { axis: -1 }), v])]);
  }
  g.output(q, 'out', 'float32', [KV, 1, G, HD]);
  return g;
}

const dir = mkdtempSync(join(tmpdir(), 'tessera-gqa-'));
const open = async (g: GraphBuilder, name: string) => {
  const f = join(dir, name);
  g.save(f);
  return ort.InferenceSession.create(f, { intraOpNumThreads: THREADS, interOpNumThreads: 1, graphOptimizationLevel: 'all', extra: { session: { 'intra_op.allow_spinning': '0' } } });
};
const sG = await open(gqaGraph(), 'gqa.onnx');
const sP = await open(gatherGraph(), 'gather.onnx');
rmSync(dir, { recursive: true, force: true });

// Per-sequence buffers (GQA) and pools (Gather), same contents.
const kvBufs = Array.from({ length: 2 * L }, (_, j) => new ort.Tensor('float32', rand(KV * SBUF * HD, 0.37 + j * 0.01), [1, KV, SBUF, HD]));
const pools = Array.from({ length: 2 * L }, (_, j) => new ort.Tensor('float32', rand(KV * SBUF * HD, 0.37 + j * 0.01), [KV, NB, BS, HD]));
/** Each layer's per-sequence buffer as both its past (feed) and its present (pre-allocated fetch): GQA's share-buffer mode. */
function bindSharedKv(feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor | null> {
  const fetches: Record<string, ort.Tensor | null> = { out: null };
  for (let i = 0; i < L; i++) {
    feeds[`past_key.${i}`] = kvBufs[2 * i]!;
    feeds[`past_value.${i}`] = kvBufs[2 * i + 1]!;
    fetches[`present_key.${i}`] = kvBufs[2 * i]!;
    fetches[`present_value.${i}`] = kvBufs[2 * i + 1]!;
  }
  return fetches;
}
const gqaRun = async (ctx: number) => {
  const feeds: Record<string, ort.Tensor> = {
    query: new ort.Tensor('float32', rand(H * HD), [1, 1, H * HD]),
    key: new ort.Tensor('float32', rand(KV * HD, 0.5), [1, 1, KV * HD]),
    value: new ort.Tensor('float32', rand(KV * HD, 0.6), [1, 1, KV * HD]),
    seqlens_k: new ort.Tensor('int64', BigInt64Array.of(BigInt(ctx)), [1]), // total − 1 = past
    total_sequence_length: new ort.Tensor('int64', BigInt64Array.of(BigInt(ctx + 1)), []),
  };
  const fetches = bindSharedKv(feeds);
  return sG.run(feeds, fetches);
};
const gatherRun = async (ctx: number) => {
  const n = Math.ceil(ctx / BS);
  const feeds: Record<string, ort.Tensor> = { q: new ort.Tensor('float32', rand(H * HD), [KV, 1, G, HD]), table: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, j) => BigInt(j)), [1, n]) };
  for (let i = 0; i < L; i++) {
    feeds[`k${i}`] = pools[2 * i]!;
    feeds[`v${i}`] = pools[2 * i + 1]!;
  }
  return sP.run(feeds);
};

// Is the past shared with the present (the kernel's share-buffer mode needs the same data pointer)? Mark
// position 100 of head 0 in our buffer, run a step at past 100 with the new keys all 0.25, and look where
// they went. (onnxruntime-node 1.30: the returned present is another buffer, so the kernel saw past ≠ present.)
{
  const ours = kvBufs[0]!.data as Float32Array;
  ours[100 * HD] = 12345;
  ours[100 * HD + 1] = 12345;
  const keyFill = new Float32Array(KV * HD).fill(0.25);
  const feeds: Record<string, ort.Tensor> = {
    query: new ort.Tensor('float32', rand(H * HD), [1, 1, H * HD]),
    key: new ort.Tensor('float32', keyFill, [1, 1, KV * HD]),
    value: new ort.Tensor('float32', keyFill, [1, 1, KV * HD]),
    seqlens_k: new ort.Tensor('int64', BigInt64Array.of(100n), [1]),
    total_sequence_length: new ort.Tensor('int64', BigInt64Array.of(101n), []),
  };
  const fetches = bindSharedKv(feeds);
  const out = await sG.run(feeds, fetches);
  const present = out['present_key.0']!.data as Float32Array;
  console.log(`present_key.0 returned in our buffer: ${present.buffer === ours.buffer}; its position 100 = ${present[100 * HD]}; our buffer's position 100 = ${ours[100 * HD]}`);
}

const variants: [string, (c: number) => Promise<unknown>][] = [['gather pool + GEMMs (today)', gatherRun], ['GQA in place on a contiguous buffer', gqaRun]];
const best = variants.map(() => CTX.map(() => Infinity));
for (let r = -2; r < STEPS; r++)
  for (let vi = 0; vi < variants.length; vi++)
    for (let ci = 0; ci < CTX.length; ci++) {
      COLD?.fill(r);
      const c0 = process.cpuUsage();
      await variants[vi]![1](CTX[ci]!);
      const c = process.cpuUsage(c0);
      if (r >= 0) best[vi]![ci] = Math.min(best[vi]![ci]!, (c.user + c.system) / 1000);
    }
console.log(`attention only, ${L} layers, ${H} q heads / ${KV} kv × ${HD}, 1 decode row, ${THREADS} thread(s), cold ${!!COLD}; CPU ms per run (min of ${STEPS})`);
console.log(`| variant | ${CTX.map((c) => `ctx ${c}`).join(' | ')} | Δ |\n|---|${CTX.map(() => '---|').join('')}---|`);
variants.forEach(([name], vi) => console.log(`| ${name} | ${best[vi]!.map((x) => x.toFixed(3)).join(' | ')} | ${(best[vi]![CTX.length - 1]! - best[vi]![0]!).toFixed(3)} |`));
