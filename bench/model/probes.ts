/**
 * Machine baselines measured in the same run as the model numbers: memory read bandwidth (memcpy and
 * an ORT ReduceSum over a 512 MB tensor) and ORT MatMul GFLOP/s at a prefill-like shape.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, WeightSink, sessionOptions, type RuntimeOptions } from '@tessera/model';

export const log = (s: string): void => console.log(s);
/** The 1/5/15-minute load average, printed next to every number (the machine is shared). */
export const loadAvg = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');

/** What a real-shape bench gets from `runBench`. */
export interface Bench {
  /** `--quick`: fewer runs and cases. */
  quick: boolean;
  /** `--threads N` (default min(2, cores)): ORT intra-op threads. */
  threads: number;
  rt: RuntimeOptions;
  /** A temp directory for the built graph and its external data (GBs), removed when the bench ends. */
  dir: string;
  /** Runs `fn` when the bench ends, failed or not, before `dir` is removed (latest first): sessions. */
  cleanup(fn: () => Promise<unknown> | unknown): void;
}

/**
 * The run-and-cleanup frame of the real-shape benches (resampler45, hybrid46, vision46): flags, a temp
 * directory, cleanups that run even when the bench throws (a session left open keeps GBs mapped), and
 * exit code 1 on failure.
 */
export function runBench(name: string, body: (b: Bench) => Promise<void>): void {
  const ti = process.argv.indexOf('--threads');
  const threads = ti > 0 ? Number(process.argv[ti + 1]) : Math.min(2, cpus().length);
  const dir = mkdtempSync(join(tmpdir(), `tessera-bench-${name}-`));
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const bench: Bench = { quick: process.argv.includes('--quick'), threads, rt: { intraOpNumThreads: threads, allowSpinning: false }, dir, cleanup: (fn) => void cleanups.push(fn) };
  // Stopped by Ctrl-C or `timeout`: the graph's GBs of external data must not stay in the temp dir.
  const onSignal = (sig: NodeJS.Signals): void => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  body(bench)
    .finally(async () => {
      for (const fn of cleanups.reverse()) await Promise.resolve().then(fn).catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
      rmSync(dir, { recursive: true, force: true });
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}

export interface Stats {
  median: number;
  best: number;
}
export async function timeIt(n: number, fn: () => Promise<unknown> | unknown, warmup = 1): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return { median: ts[Math.floor(ts.length / 2)], best: ts[0] };
}

/** memcpy of 512 MB: GB/s of read traffic (bytes copied / s; the write stream is extra). */
export async function memcpyReadGBs(): Promise<Stats> {
  const size = 512 * 1024 * 1024;
  const a = Buffer.alloc(size, 1);
  const b = Buffer.alloc(size);
  const s = await timeIt(7, () => a.copy(b));
  return { median: size / s.median / 1e6, best: size / s.best / 1e6 };
}

export interface Probe {
  /** One measurement (median/best over `n` runs) in GB/s or GFLOP/s. */
  measure(n?: number): Promise<Stats>;
  release(): Promise<void>;
}

/** Streams a 512 MB initializer through ReduceSum (memory-bound, like a decode step's weight reads). */
export async function ortReadProbe(rt: RuntimeOptions): Promise<Probe> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bw-'));
  {
    const n = 128 * 1024 * 1024;
    const sink = new WeightSink(join(dir, 'bw.onnx.data'));
    const g = new GraphBuilder('bw', sink);
    g.input('x', 'float32', [1]);
    const w = new Float32Array(n).fill(0.5);
    g.weight('w', w, [1024, n / 1024]);
    const s = g.op('ReduceSum', ['w'], { keepdims: 0 });
    g.output(g.op('Add', [s, 'x']), 'y', 'float32', [1]);
    sink.close();
    g.save(join(dir, 'bw.onnx'));
    // 'disabled' so the constant ReduceSum is not folded away at session creation.
    const sess = await ort.InferenceSession.create(join(dir, 'bw.onnx'), { ...sessionOptions(rt), graphOptimizationLevel: 'disabled' });
    const x = new ort.Tensor('float32', new Float32Array([0]), [1]);
    return {
      async measure(runs = 5) {
        const st = await timeIt(runs, () => sess.run({ x }));
        return { median: (n * 4) / st.median / 1e6, best: (n * 4) / st.best / 1e6 };
      },
      async release() {
        await sess.release();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/** MatMul [M, K]·[K, N] GFLOP/s (weights as an initializer, as in the stage graphs). */
export async function matmulProbe(rt: RuntimeOptions, M: number, K: number, N: number): Promise<Probe> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-mm-'));
  {
    const g = new GraphBuilder('mm', new WeightSink(null));
    g.input('a', 'float32', [M, K]);
    const w = new Float32Array(K * N).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    g.output(g.op('MatMul', ['a', g.weight('b', w, [K, N])]), 'c', 'float32', [M, N]);
    g.save(join(dir, 'mm.onnx'));
    const sess = await ort.InferenceSession.create(join(dir, 'mm.onnx'), sessionOptions(rt));
    const a = new ort.Tensor('float32', new Float32Array(M * K).fill(0.1), [M, K]);
    const flop = 2 * M * K * N;
    rmSync(dir, { recursive: true, force: true });
    return {
      async measure(runs = 5) {
        const st = await timeIt(runs, () => sess.run({ a }));
        return { median: flop / st.median / 1e6, best: flop / st.best / 1e6 };
      },
      release: () => sess.release(),
    };
  }
}

/**
 * Seeded uniform weights for the real-shape bench graphs (values only need O(1) activations, not a
 * distribution): a cheap LCG per tensor name, std `std` around `offset`; `alog` = Gated DeltaNet A_log
 * (log of a value in (0.05, 1]).
 */
export function seededWeights(name: string, n: number, std: number, offset: number, alog = false): Float32Array {
  let s = 0x9e3779b9;
  for (let i = 0; i < name.length; i++) s = Math.imul(s ^ name.charCodeAt(i), 0x01000193) >>> 0;
  const out = new Float32Array(n);
  const half = Math.sqrt(3) * std;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 4294967296;
    out[i] = alog ? Math.log(0.05) * u : offset + half * (2 * u - 1);
  }
  return out;
}

/**
 * The weight callback the real-shape benches hand to a graph builder: `seededWeights` per tensor of
 * `specs`, std from its init kind and fan-in (each bench keeps its own rule), norms around 1.
 */
export function seededInit(specs: ReadonlyMap<string, { shape: readonly number[]; init: string }>, std: (init: string, fanIn: number) => number): (name: string) => Float32Array {
  return (name) => {
    const t = specs.get(name);
    if (!t) throw new Error(`the graph asks for ${name}, which the tensor inventory does not list`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    const fanIn = t.shape.slice(1).reduce((a, b) => a * b, 1) || 1;
    return seededWeights(name, n, std(t.init, fanIn), t.init === 'norm' ? 1 : 0, t.init === 'alog');
  };
}
