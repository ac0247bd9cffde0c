/**
 * Attention-only micro benchmark of paged-KV read formulations: `npx tsx bench/decoder/attention-variants.ts`.
 * An 8-layer graph of the bench preset's attention shape (4 kv heads × 64, 4 query heads per kv head),
 * one decode row, each layer reading its past K/V one way. Per variant and context: process CPU time
 * per run, minimum over BENCH_STEPS runs, contexts and variants interleaved (load drift hits all alike).
 * The last two variants (per-kv-head gathers, 17 and 18) are issue 13's fifth pass (docs/decisions.md, "Per-kv-head gather").
 * Env: BENCH_CTX (128,2048), BENCH_STEPS (30), BENCH_VARIANTS (all), TESSERA_INTRA_OP_THREADS (1), BENCH_COLD (0; 1 =
 * overwrite 256 MiB before each run so the pools come from DRAM, as in a model step).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, WeightSink, type ElemType } from '@tessera/model';

const CTX = (process.env.BENCH_CTX ?? '128,2048').split(',').map(Number);
const STEPS = Number(process.env.BENCH_STEPS ?? 30);
const THREADS = Number(process.env.TESSERA_INTRA_OP_THREADS ?? 1);
/** BENCH_COLD=1: write a 256 MiB buffer before each run (outside the timing), so the pools come from DRAM as in a real step. */
const COLD = process.env.BENCH_COLD === '1' ? new Float32Array(64 * 1024 * 1024) : undefined;
const L = 8;
const KV = 4;
const G = 4;
const HD = 64;
const maxCtx = Math.max(...CTX);

interface Variant {
  name: string;
  build(g: GraphBuilder): void;
  feeds(ctx: number): Record<string, ort.Tensor>;
}

const rand = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.5);
const f16 = (src: Float32Array): Uint16Array => {
  const out = new Uint16Array(src.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < src.length; i++) {
    f[0] = src[i]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    const e = ((x >>> 23) & 0xff) - 127 + 15;
    const m = x & 0x7fffff;
    out[i] = e <= 0 ? sign : e >= 31 ? sign | 0x7c00 : sign | (e << 10) | (m >>> 13);
  }
  return out;
};
const qFeed = (): ort.Tensor => new ort.Tensor('float32', rand(KV * G * HD), [KV, 1, G, HD]);

/** Common tail: scores → softmax → ·V, chained so no layer is dead code. */
function attendGathered(g: GraphBuilder, q: string, k: string, v: string): string {
  const s = g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]);
  return g.op('MatMul', [g.op('Softmax', [s], { axis: -1 }), v]);
}

function chain(g: GraphBuilder, layer: (i: number, q: string) => string): void {
  let q = g.input('q', 'float32', [KV, 1, G, HD]);
  for (let i = 0; i < L; i++) q = g.op('Add', [q, layer(i, q)]);
  g.output(q, 'out', 'float32', [KV, 1, G, HD]);
}

/**
 * One GEMM per query head (M = T = 1 for a decode row) with the kv head's K/V broadcast over its g query
 * heads: MLAS runs M = 1 GEMMs through its M1 kernels, which skip packing B (sgemm.cpp: "the data from
 * matrix B is not referenced multiple times, so using a local packed buffer is a wasted memory copy").
 */
function attendPerQueryHead(g: GraphBuilder, q: string, k: string, v: string): string {
  const q5 = g.op('Reshape', [q, g.constI64([KV, 1, G, 1, HD])]);
  const k5 = g.op('Unsqueeze', [k, g.constI64([2])]);
  const v5 = g.op('Unsqueeze', [v, g.constI64([2])]);
  const s = g.op('MatMul', [q5, g.op('Transpose', [k5], { perm: [0, 1, 2, 4, 3] })]);
  return g.op('Reshape', [g.op('MatMul', [g.op('Softmax', [s], { axis: -1 }), v5]), g.constI64([KV, 1, G, HD])]);
}

/** attendPerQueryHead for one kv head: q [1,1,G,HD], k/v [1,1,P,HD]. */
function attendPerQueryHead1(g: GraphBuilder, q: string, k: string, v: string): string {
  const q5 = g.op('Reshape', [q, g.constI64([1, 1, G, 1, HD])]);
  const k5 = g.op('Unsqueeze', [k, g.constI64([2])]);
  const v5 = g.op('Unsqueeze', [v, g.constI64([2])]);
  const s = g.op('MatMul', [q5, g.op('Transpose', [k5], { perm: [0, 1, 2, 4, 3] })]);
  return g.op('Reshape', [g.op('MatMul', [g.op('Softmax', [s], { axis: -1 }), v5]), g.constI64([1, 1, G, HD])]);
}

/** q, a block table walking the pool backwards (as a fragmented pool would), the layers' pools (and scales). */
function pooledFeeds(ctx: number, bs: number, nb: number, pools: ort.Tensor[], scales?: ort.Tensor[]): Record<string, ort.Tensor> {
  const nbl = Math.ceil(ctx / bs);
  const f: Record<string, ort.Tensor> = { q: qFeed(), table: new ort.Tensor('int64', BigInt64Array.from({ length: nbl }, (_, j) => BigInt(nb - 1 - j)), [1, nbl]) };
  for (let i = 0; i < L; i++) {
    f[`k${i}`] = pools[2 * i]!;
    f[`v${i}`] = pools[2 * i + 1]!;
    if (scales) {
      f[`ks${i}`] = scales[2 * i]!;
      f[`vs${i}`] = scales[2 * i + 1]!;
    }
  }
  return f;
}

function pooled(name: string, bs: number, dtype: ElemType, cast: boolean, m1 = false): Variant {
  const nb = Math.ceil(maxCtx / bs) + 1;
  const n = nb * KV * bs * HD;
  const pools = Array.from({ length: 2 * L }, () =>
    dtype === 'float16' ? new ort.Tensor('float16', f16(rand(n)), [KV, nb, bs, HD]) : new ort.Tensor('float32', rand(n), [KV, nb, bs, HD]),
  );
  return {
    name,
    build(g) {
      const shape = g.constI64([0, 0, -1, HD]);
      chain(g, (i, q) => {
        const kc = g.input(`k${i}`, dtype, [KV, 'nb', bs, HD]);
        const vc = g.input(`v${i}`, dtype, [KV, 'nb', bs, HD]);
        const tb = i === 0 ? g.input('table', 'int64', [1, 'n']) : 'table';
        let k = g.op('Reshape', [g.op('Gather', [kc, tb], { axis: 1 }), shape]);
        let v = g.op('Reshape', [g.op('Gather', [vc, tb], { axis: 1 }), shape]);
        if (dtype === 'float16' && cast) {
          k = g.op('Cast', [k], { to: 1 });
          v = g.op('Cast', [v], { to: 1 });
          return attendGathered(g, q, k, v);
        }
        if (dtype === 'float16') return g.op('Cast', [attendGathered(g, g.op('Cast', [q], { to: 10 }), k, v)], { to: 1 });
        return m1 ? attendPerQueryHead(g, q, k, v) : attendGathered(g, q, k, v);
      });
    },
    feeds: (ctx) => pooledFeeds(ctx, bs, nb, pools),
  };
}

/** Past K/V given directly as [kv, 1, P, hd]: what a zero-copy view of a contiguous run would cost. */
function direct(m1 = false): Variant {
  const data = Array.from({ length: 2 * L }, () => rand(KV * maxCtx * HD));
  return {
    name: `direct [kv,1,P,hd] (no gather)${m1 ? ', M=1 per query head' : ''}`,
    build(g) {
      chain(g, (i, q) => (m1 ? attendPerQueryHead : attendGathered)(g, q, g.input(`k${i}`, 'float32', [KV, 1, 'p', HD]), g.input(`v${i}`, 'float32', [KV, 1, 'p', HD])));
    },
    feeds(ctx) {
      const f: Record<string, ort.Tensor> = { q: qFeed() };
      for (let i = 0; i < L; i++) {
        f[`k${i}`] = new ort.Tensor('float32', data[2 * i]!.subarray(0, KV * ctx * HD), [KV, 1, ctx, HD]);
        f[`v${i}`] = new ort.Tensor('float32', data[2 * i + 1]!.subarray(0, KV * ctx * HD), [KV, 1, ctx, HD]);
      }
      return f;
    },
  };
}

/** Block-major pool [blocks, kv, bs, hd]; a contiguous run fed as a view [n, kv, bs, hd]; per-block GEMMs. */
function blockMajor(bs: number): Variant {
  const data = Array.from({ length: 2 * L }, () => rand(KV * (Math.ceil(maxCtx / bs) + 1) * bs * HD));
  return {
    name: `block-major view [n,kv,${bs},hd], per-block GEMMs`,
    build(g) {
      chain(g, (i, q) => {
        const k = g.input(`k${i}`, 'float32', ['n', KV, bs, HD]);
        const v = g.input(`v${i}`, 'float32', ['n', KV, bs, HD]);
        const q4 = g.op('Reshape', [q, g.constI64([1, KV, G, HD])]);
        const s = g.op('MatMul', [q4, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]); // [n,kv,g,bs]
        const st = g.op('Reshape', [g.op('Transpose', [s], { perm: [1, 2, 0, 3] }), g.constI64([KV, G, -1])]); // [kv,g,n·bs]
        const p = g.op('Softmax', [st], { axis: -1 });
        const p4 = g.op('Transpose', [g.op('Reshape', [p, g.constI64([KV, G, -1, bs])])], { perm: [2, 0, 1, 3] }); // [n,kv,g,bs]
        const c = g.op('ReduceSum', [g.op('MatMul', [p4, v]), g.constI64([0])], { keepdims: 1 }); // [1,kv,g,hd]
        return g.op('Reshape', [c, g.constI64([KV, 1, G, HD])]);
      });
    },
    feeds(ctx) {
      const n = Math.ceil(ctx / bs);
      const f: Record<string, ort.Tensor> = { q: qFeed() };
      for (let i = 0; i < L; i++) {
        f[`k${i}`] = new ort.Tensor('float32', data[2 * i]!.subarray(0, n * KV * bs * HD), [n, KV, bs, HD]);
        f[`v${i}`] = new ort.Tensor('float32', data[2 * i + 1]!.subarray(0, n * KV * bs * HD), [n, KV, bs, HD]);
      }
      return f;
    },
  };
}

/**
 * Head-major pool, one view input per kv head ([1, P, hd] each): 4× the attention nodes. `streaming`: GEMM
 * shapes that stream the view instead of packing it — scores as K_h·q_hᵀ (K_h the A operand, [P, hd] ×
 * [hd, g]) and p·V per query head (M = 1: MLAS' GEMV kernel, B = V_h unpacked).
 */
function perHead(streaming = false): Variant {
  const data = Array.from({ length: 2 * L * KV }, () => rand(maxCtx * HD));
  return {
    name: streaming ? 'per-head views, K·qᵀ + M=1 p·V' : 'per-head views [1,P,hd] ×4 per layer',
    build(g) {
      chain(g, (i, q) => {
        const qs = g.opN('Split', [q, g.constI64([1, 1, 1, 1])], { axis: 0 }, { outputs: KV });
        const outs = qs.map((qh, h) => {
          const k = g.input(`k${i}.${h}`, 'float32', [1, 'p', HD]);
          const v = g.input(`v${i}.${h}`, 'float32', [1, 'p', HD]);
          const q3 = g.op('Reshape', [qh, g.constI64([1, G, HD])]);
          if (!streaming) return g.op('MatMul', [g.op('Softmax', [g.op('MatMul', [q3, g.op('Transpose', [k], { perm: [0, 2, 1] })])], { axis: -1 }), v]);
          const s = g.op('Transpose', [g.op('MatMul', [k, g.op('Transpose', [q3], { perm: [0, 2, 1] })])], { perm: [0, 2, 1] }); // [1,g,P]
          const p = g.op('Reshape', [g.op('Softmax', [s], { axis: -1 }), g.constI64([G, 1, -1])]); // g × [1,P]
          return g.op('Reshape', [g.op('MatMul', [p, v]), g.constI64([1, G, HD])]); // M = 1 per query head
        });
        return g.op('Reshape', [g.op('Concat', outs, { axis: 0 }), g.constI64([KV, 1, G, HD])]);
      });
    },
    feeds(ctx) {
      const f: Record<string, ort.Tensor> = { q: qFeed() };
      for (let i = 0; i < L; i++)
        for (let h = 0; h < KV; h++) {
          f[`k${i}.${h}`] = new ort.Tensor('float32', data[(2 * i) * KV + h]!.subarray(0, ctx * HD), [1, ctx, HD]);
          f[`v${i}.${h}`] = new ort.Tensor('float32', data[(2 * i + 1) * KV + h]!.subarray(0, ctx * HD), [1, ctx, HD]);
        }
      return f;
    },
  };
}

/** int8 pool with a float scale per (kv head, token): scales fold into the scores and the probabilities. */
function int8(bs: number): Variant {
  const nb = Math.ceil(maxCtx / bs) + 1;
  const n = nb * KV * bs * HD;
  const pools = Array.from({ length: 2 * L }, () => new ort.Tensor('int8', Int8Array.from({ length: n }, (_, i) => Math.round(Math.sin(i * 0.37) * 127)), [KV, nb, bs, HD]));
  const scales = Array.from({ length: 2 * L }, () => new ort.Tensor('float32', new Float32Array(KV * nb * bs).fill(0.004), [KV, nb, bs]));
  return {
    name: `gather int8 + per-token scales (block ${bs})`,
    build(g) {
      const shape = g.constI64([0, 0, -1, HD]);
      const sshape = g.constI64([0, 1, 1, -1]);
      chain(g, (i, q) => {
        const kc = g.input(`k${i}`, 'int8', [KV, 'nb', bs, HD]);
        const vc = g.input(`v${i}`, 'int8', [KV, 'nb', bs, HD]);
        const ks = g.input(`ks${i}`, 'float32', [KV, 'nb', bs]);
        const vs = g.input(`vs${i}`, 'float32', [KV, 'nb', bs]);
        const tb = i === 0 ? g.input('table', 'int64', [1, 'n']) : 'table';
        const k = g.op('Cast', [g.op('Reshape', [g.op('Gather', [kc, tb], { axis: 1 }), shape])], { to: 1 });
        const v = g.op('Cast', [g.op('Reshape', [g.op('Gather', [vc, tb], { axis: 1 }), shape])], { to: 1 });
        const ksc = g.op('Reshape', [g.op('Gather', [ks, tb], { axis: 1 }), sshape]);
        const vsc = g.op('Reshape', [g.op('Gather', [vs, tb], { axis: 1 }), sshape]);
        const s = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), ksc]);
        return g.op('MatMul', [g.op('Mul', [g.op('Softmax', [s], { axis: -1 }), vsc]), v]);
      });
    },
    feeds: (ctx) => pooledFeeds(ctx, bs, nb, pools, scales),
  };
}

/** q, the head-major pools, and per (layer, kv head) a view of the first ctx tokens of blocks 0… (empty when fed as gather). */
function viewFeeds(ctx: number, mode: 'view' | 'gather', bs: number, nb: number, pools: Float32Array[], tensors: ort.Tensor[]): Record<string, ort.Tensor> {
  const pv = mode === 'view' ? ctx : 0;
  const f: Record<string, ort.Tensor> = { q: qFeed() };
  for (let i = 0; i < L; i++) {
    f[`k${i}`] = tensors[2 * i]!;
    f[`v${i}`] = tensors[2 * i + 1]!;
    for (let h = 0; h < KV; h++) {
      const o = h * nb * bs * HD;
      f[`kv${i}.${h}`] = new ort.Tensor('float32', pools[2 * i]!.subarray(o, o + pv * HD), [1, pv, HD]);
      f[`vv${i}.${h}`] = new ort.Tensor('float32', pools[2 * i + 1]!.subarray(o, o + pv * HD), [1, pv, HD]);
    }
  }
  return f;
}

/**
 * Head-major pool read two ways in one graph, branch-free: one view per kv head [1, Pv, hd] of the row's
 * contiguous block run (zero-copy subarrays of the pool) plus a Gather of the remaining blocks; either
 * part may be empty. `mode` picks which part the feeds fill (the fallback feeds Pv = 0).
 */
function union(mode: 'view' | 'gather', bs = 16): Variant {
  const nb = Math.ceil(maxCtx / bs) + 1;
  const n = nb * KV * bs * HD;
  const pools = Array.from({ length: 2 * L }, () => rand(n));
  const tensors = pools.map((d) => new ort.Tensor('float32', d, [KV, nb, bs, HD]));
  return {
    name: `union per-head view + gather, fed as ${mode}`,
    build(g) {
      const shape = g.constI64([0, 0, -1, HD]);
      let tb = '';
      let flat = '';
      let back = '';
      let flatP = '';
      chain(g, (i, q) => {
        const kc = g.input(`k${i}`, 'float32', [KV, 'nb', bs, HD]);
        const vc = g.input(`v${i}`, 'float32', [KV, 'nb', bs, HD]);
        const kv = Array.from({ length: KV }, (_, h) => [g.input(`kv${i}.${h}`, 'float32', [1, 'pv', HD]), g.input(`vv${i}.${h}`, 'float32', [1, 'pv', HD])] as const);
        if (i === 0) {
          tb = g.input('table', 'int64', [1, 'n']);
          // [kv, B·g·T, ·] ↔ [kv, B, g·T, ·]: shapes from q and the view length, computed once.
          flat = g.constI64([KV, -1, HD]);
          const qs = g.op('Shape', [q], { start: 0, end: 3 });
          const pvDim = g.op('Shape', [kv[0]![0]], { start: 1, end: 2 });
          back = g.op('Concat', [qs, pvDim], { axis: 0 });
          const rows = g.op('Mul', [g.op('Shape', [q], { start: 1, end: 2 }), g.op('Shape', [q], { start: 2, end: 3 })]);
          flatP = g.op('Concat', [g.constI64([KV]), rows, pvDim], { axis: 0 });
        }
        const k = g.op('Reshape', [g.op('Gather', [kc, tb], { axis: 1 }), shape]);
        const v = g.op('Reshape', [g.op('Gather', [vc, tb], { axis: 1 }), shape]);
        const sG = g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]);
        const qh = g.opN('Split', [g.op('Reshape', [q, flat]), g.constI64(Array(KV).fill(1))], { axis: 0 }, { outputs: KV });
        const sV = g.op('Reshape', [g.op('Concat', qh.map((x, h) => g.op('MatMul', [x, g.op('Transpose', [kv[h]![0]], { perm: [0, 2, 1] })])), { axis: 0 }), back], { allowzero: 1 });
        const pg = g.op('Shape', [sG], { start: 3, end: 4 });
        const p = g.op('Softmax', [g.op('Concat', [sG, sV], { axis: 3 })], { axis: -1 });
        const pG = g.op('Slice', [p, g.constI64([0]), pg, g.constI64([3])]);
        const pV = g.op('Slice', [p, pg, g.constI64([2 ** 62]), g.constI64([3])]);
        const ph = g.opN('Split', [g.op('Reshape', [pV, flatP], { allowzero: 1 }), g.constI64(Array(KV).fill(1))], { axis: 0 }, { outputs: KV });
        const cV = g.op('Reshape', [g.op('Concat', ph.map((x, h) => g.op('MatMul', [x, kv[h]![1]])), { axis: 0 }), g.op('Shape', [q])]);
        return g.op('Add', [g.op('MatMul', [pG, v]), cV]);
      });
    },
    feeds(ctx) {
      const nbl = mode === 'view' ? 0 : Math.ceil(ctx / bs);
      const table = new ort.Tensor('int64', BigInt64Array.from({ length: nbl }, (_, j) => BigInt(nb - 1 - j)), [1, nbl]);
      return { ...viewFeeds(ctx, mode, bs, nb, pools, tensors), table };
    },
  };
}

/** The same two reads behind an If per layer (then: per-head views; else: Gather), to price the If. */
function ifPerLayer(mode: 'view' | 'gather', bs = 16): Variant {
  const nb = Math.ceil(maxCtx / bs) + 1;
  const n = nb * KV * bs * HD;
  const pools = Array.from({ length: 2 * L }, () => rand(n));
  const tensors = pools.map((d) => new ort.Tensor('float32', d, [KV, nb, bs, HD]));
  return {
    name: `If per layer (views | gather), fed as ${mode}`,
    build(g) {
      const shape = g.constI64([0, 0, -1, HD]);
      chain(g, (i, q) => {
        const kc = g.input(`k${i}`, 'float32', [KV, 'nb', bs, HD]);
        const vc = g.input(`v${i}`, 'float32', [KV, 'nb', bs, HD]);
        const kv = Array.from({ length: KV }, (_, h) => [g.input(`kv${i}.${h}`, 'float32', [1, 'pv', HD]), g.input(`vv${i}.${h}`, 'float32', [1, 'pv', HD])] as const);
        if (i === 0) {
          g.input('table', 'int64', [1, 'n']);
          g.input('cond', 'bool', []);
        }
        const out = `ifout${i}`;
        const thenB = g.subgraph(`then${i}`, (s) => {
          const qh = s.opN('Split', [s.op('Reshape', [q, s.constI64([KV, -1, HD])]), s.constI64(Array(KV).fill(1))], { axis: 0 }, { outputs: KV });
          const o = qh.map((x, h) => s.op('MatMul', [s.op('Softmax', [s.op('MatMul', [x, s.op('Transpose', [kv[h]![0]], { perm: [0, 2, 1] })])], { axis: -1 }), kv[h]![1]]));
          s.output(s.op('Reshape', [s.op('Concat', o, { axis: 0 }), s.constI64([KV, 1, G, HD])]), `then${i}/out`, 'float32', [KV, 1, G, HD]);
        });
        const elseB = g.subgraph(`else${i}`, (s) => {
          const k = s.op('Reshape', [s.op('Gather', [kc, 'table'], { axis: 1 }), shape]);
          const v = s.op('Reshape', [s.op('Gather', [vc, 'table'], { axis: 1 }), shape]);
          s.output(attendGathered(s, q, k, v), `else${i}/out`, 'float32', [KV, 1, G, HD]);
        });
        return g.op('If', ['cond'], { then_branch: thenB, else_branch: elseB }, { outputs: [out] });
      });
    },
    feeds(ctx) {
      const nbl = Math.ceil(ctx / bs);
      return {
        ...viewFeeds(ctx, mode, bs, nb, pools, tensors),
        cond: new ort.Tensor('bool', new Uint8Array([mode === 'view' ? 1 : 0]), []),
        table: new ort.Tensor('int64', BigInt64Array.from({ length: nbl }, (_, j) => BigInt(nb - 1 - j)), [1, nbl]),
      };
    },
  };
}

/**
 * Gather per kv head (the pool viewed as [kv·blocks, bs·hd], indices offset by h·blocks): each head's
 * gathered K (V) is P·hd·4 B (512 KiB at ctx 2048), small enough to stay in L2 until its GEMM reads it.
 */
function gatherPerHead(bs: number, m1 = false): Variant {
  const nb = Math.ceil(maxCtx / bs) + 1;
  const n = nb * KV * bs * HD;
  const pools = Array.from({ length: 2 * L }, () => new ort.Tensor('float32', rand(n), [KV, nb, bs, HD]));
  return {
    name: `gather per kv head (block ${bs})${m1 ? ', M=1 per query head' : ''}`,
    build(g) {
      const flat = g.constI64([KV * nb, bs * HD]);
      const shape = g.constI64([1, 0, -1, HD]);
      const idx: string[] = [];
      chain(g, (i, q) => {
        const kc = g.op('Reshape', [g.input(`k${i}`, 'float32', [KV, nb, bs, HD]), flat]);
        const vc = g.op('Reshape', [g.input(`v${i}`, 'float32', [KV, nb, bs, HD]), flat]);
        if (i === 0) {
          const tb = g.op('Unsqueeze', [g.input('table', 'int64', [1, 'n']), g.constI64([0])]);
          for (let h = 0; h < KV; h++) idx.push(h === 0 ? tb : g.op('Add', [tb, g.constI64([h * nb])]));
        }
        const outs: string[] = [];
        for (let h = 0; h < KV; h++) {
          const qh = g.op('Gather', [q, g.constI64([h])], { axis: 0 });
          const k = g.op('Reshape', [g.op('Gather', [kc, idx[h]!], { axis: 0 }), shape]);
          const v = g.op('Reshape', [g.op('Gather', [vc, idx[h]!], { axis: 0 }), shape]);
          outs.push(m1 ? attendPerQueryHead1(g, qh, k, v) : attendGathered(g, qh, k, v));
        }
        return g.op('Concat', outs, { axis: 0 });
      });
    },
    feeds: (ctx) => pooledFeeds(ctx, bs, nb, pools),
  };
}

const all: Variant[] = [
  pooled('gather fp32 head-major (current)', 16, 'float32', false),
  direct(),
  pooled('gather fp16 + Cast → fp32 MatMul', 16, 'float16', true),
  pooled('gather fp16, fp16 MatMul', 16, 'float16', false),
  blockMajor(16),
  blockMajor(64),
  blockMajor(256),
  perHead(),
  int8(16),
  pooled('gather fp32, M=1 per query head', 16, 'float32', false, true),
  direct(true),
  pooled('gather fp16 + Cast, M=1 per query head', 16, 'float16', true, true),
  union('view'),
  union('gather'),
  ifPerLayer('view'),
  ifPerLayer('gather'),
  perHead(true),
  gatherPerHead(16),
  gatherPerHead(16, true),
];
const pick = process.env.BENCH_VARIANTS?.split(',').map(Number);
const variants = pick ? pick.map((i) => all[i]!) : all;

const dir = mkdtempSync(join(tmpdir(), 'tessera-attn-'));
const sessions: (ort.InferenceSession | string)[] = [];
for (const v of variants) {
  const g = new GraphBuilder(v.name, new WeightSink(null));
  v.build(g);
  const file = join(dir, `${sessions.length}.onnx`);
  g.save(file);
  try {
    sessions.push(
      await ort.InferenceSession.create(file, {
        intraOpNumThreads: THREADS,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        extra: { session: { 'intra_op.allow_spinning': '0' } },
      }),
    );
  } catch (e) {
    sessions.push(String(e).split('\n')[0]!);
  }
}
rmSync(dir, { recursive: true, force: true });
const best = variants.map(() => CTX.map(() => Infinity));
for (let r = -2; r < STEPS; r++)
  for (let vi = 0; vi < variants.length; vi++)
    for (let ci = 0; ci < CTX.length; ci++) {
      const s = sessions[vi]!;
      if (typeof s === 'string') continue;
      const feeds = variants[vi]!.feeds(CTX[ci]!);
      COLD?.fill(r);
      const c0 = process.cpuUsage();
      try {
        await s.run(feeds);
      } catch (e) {
        sessions[vi] = String(e).split('\n')[0]!;
        continue;
      }
      const c = process.cpuUsage(c0);
      if (r >= 0) best[vi]![ci] = Math.min(best[vi]![ci]!, (c.user + c.system) / 1000);
    }
console.log(`attention only, ${L} layers, kv ${KV} × ${HD}, ${G} q heads per kv head, 1 decode row, ${THREADS} thread(s); CPU ms per run (min of ${STEPS})`);
console.log(`| variant | ${CTX.map((c) => `ctx ${c}`).join(' | ')} | Δ |\n|---|${CTX.map(() => '---|').join('')}---|`);
variants.forEach((v, vi) => {
  const s = sessions[vi]!;
  if (typeof s === 'string') return console.log(`| ${v.name} | not runnable: ${s.slice(0, 120)} |`);
  const b = best[vi]!;
  console.log(`| ${v.name} | ${b.map((x) => x.toFixed(3)).join(' | ')} | ${(b[b.length - 1]! - b[0]!).toFixed(3)} |`);
});
