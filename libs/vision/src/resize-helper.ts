/**
 * A second thread for the resize kernels (issue 19). pil-resize.ts cuts each pass into chunks of
 * rows that write disjoint bytes; this thread and a helper thread claim chunks from one shared
 * counter until none are left, so the pixels are the ones one thread would write. Measured on a
 * quiet 2-core machine, 12 MP → overview + refine: ~42 ms of resizing on one thread.
 *
 * Hand-off through one Int32Array of shared memory, no messages: the caller writes the calls, opens
 * the counter and wakes the helper, then claims chunks itself. A helper that is not scheduled (a
 * loaded machine) costs nothing — the caller claims every chunk — and one that is descheduled holds
 * at most the chunk it claimed, which the caller waits for.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism, loadavg } from 'node:os';
import { kernelModule, type ResampleKernels, type WasmMemory } from './pil-resize-wasm.js';

/** One kernel call: [function (0 hpass, 1 vpass, 2 norm), ...its arguments]. */
export type KernelCall = readonly number[];

/**
 * Control words. NEXT = generation << 16 | next chunk index, or CLOSED between jobs: a helper that
 * wakes late for an old job sees another generation and claims nothing of the new one.
 */
const [SEQ, READY, RAN, COUNT, NEXT, DONE, FAILED, CALLS] = [0, 1, 2, 3, 4, 5, 6, 7];
const ARGS = 9;
export const MAX_CALLS = 64;
const CLOSED = -1;

/**
 * The claim loop, shared by both sides (the helper gets it as source text): claims chunk indices of
 * generation `gen` until none are left, runs each, counts it done, and wakes the caller at the last.
 */
function claimChunks(c: Int32Array, gen: number, fns: ((...a: number[]) => void)[]): number {
  let ran = 0;
  for (;;) {
    const v = Atomics.load(c, NEXT);
    if (v >>> 16 !== gen) return ran;
    const i = v & 0xffff;
    if (i >= c[COUNT]) return ran;
    if (Atomics.compareExchange(c, NEXT, v, v + 1) !== v) continue;
    const o = CALLS + i * ARGS;
    try {
      fns[c[o]](c[o + 1], c[o + 2], c[o + 3], c[o + 4], c[o + 5], c[o + 6], c[o + 7], c[o + 8]);
    } catch {
      Atomics.store(c, FAILED, 1);
    }
    ran++;
    if (Atomics.add(c, DONE, 1) + 1 === c[COUNT]) Atomics.notify(c, DONE);
  }
}

/**
 * The helper's body (plain JavaScript, evaluated: no loader needed in a worker of a worker). It blocks
 * in Atomics.wait between jobs; the 500 ms timeout only lets a terminate() in.
 */
const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control } = workerData;
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = [k.hpass, k.vpass, k.norm];
const c = new Int32Array(control);
const [SEQ, READY, RAN, COUNT, NEXT, DONE, FAILED, CALLS, ARGS] = [${SEQ}, ${READY}, ${RAN}, ${COUNT}, ${NEXT}, ${DONE}, ${FAILED}, ${CALLS}, ${ARGS}];
${claimChunks.toString()}
Atomics.store(c, READY, 1);
let seen = 0;
for (;;) {
  if (Atomics.wait(c, SEQ, seen, 500) === 'timed-out') continue;
  seen = Atomics.load(c, SEQ);
  Atomics.add(c, RAN, claimChunks(c, seen, fns));
}
`;

export class ResizeHelper {
  private readonly control = new Int32Array(new SharedArrayBuffer((CALLS + MAX_CALLS * ARGS) * 4));
  private readonly worker: Worker;
  private gen = 0;

  /** A helper over `memory` (the caller's shared memory); used once `ready`. */
  constructor(memory: WasmMemory) {
    Atomics.store(this.control, NEXT, CLOSED);
    this.worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { module: kernelModule(), memory, control: this.control.buffer } });
    this.worker.unref();
    // A helper that fails to start stays not ready: the caller keeps resizing alone.
    this.worker.on('error', () => undefined);
  }

  /** Started and waiting for jobs (checked without a message round trip). */
  get ready(): boolean {
    return Atomics.load(this.control, READY) === 1;
  }

  /** Runs `calls` (chunks writing disjoint bytes, any order) on this thread and the helper; returns when all have run. */
  run(k: ResampleKernels, calls: readonly KernelCall[]): void {
    const c = this.control;
    if (calls.length > MAX_CALLS) throw new Error(`ResizeHelper.run: ${calls.length} calls, at most ${MAX_CALLS}`);
    calls.forEach((call, i) => call.forEach((v, j) => (c[CALLS + i * ARGS + j] = v)));
    c[COUNT] = calls.length;
    Atomics.store(c, DONE, 0);
    Atomics.store(c, FAILED, 0);
    this.gen = (this.gen % 0x7fff) + 1;
    Atomics.store(c, NEXT, this.gen << 16);
    Atomics.store(c, SEQ, this.gen);
    Atomics.notify(c, SEQ);
    const fns = [k.hpass, k.vpass, k.norm] as ((...a: number[]) => void)[];
    claimChunks(c, this.gen, fns);
    for (let d = Atomics.load(c, DONE); d < calls.length; d = Atomics.load(c, DONE)) Atomics.wait(c, DONE, d, 1000);
    Atomics.store(c, NEXT, CLOSED);
    // A trap (a bug): everything has run once; run it again here, where the error reaches the caller.
    if (Atomics.load(c, FAILED)) for (const [fn, ...a] of calls) fns[fn](...a);
  }

  /** Chunks the helper thread ran (tests: it must have done some of the work). */
  chunksRun(): number {
    return Atomics.load(this.control, RAN);
  }

  close(): void {
    void this.worker.terminate();
  }
}

/**
 * When a helper is used: `auto` = when a CPU is likely idle, `always` (tests), `off`.
 * With every CPU busy a helper cannot make an image faster, and one that is preempted while holding
 * a chunk makes the caller wait a whole time slice for it (seen at load 11 on 2 cores: a 2 MP resize
 * 31 → 41 ms best case). `auto` reads the 1-minute load average (at most once a second): below the
 * CPU count + 0.5 (a quiet 2-core machine running one image: ~1–1.5).
 */
export type HelperPolicy = 'auto' | 'always' | 'off';

let loadCheckedAt = 0;
let idleCpu = false;

export function helperUseful(policy: HelperPolicy): boolean {
  if (policy === 'off' || availableParallelism() < 2) return false;
  if (policy === 'always') return true;
  const now = Date.now();
  if (now - loadCheckedAt >= 1000) {
    loadCheckedAt = now;
    idleCpu = loadavg()[0] < availableParallelism() + 0.5;
  }
  return idleCpu;
}
