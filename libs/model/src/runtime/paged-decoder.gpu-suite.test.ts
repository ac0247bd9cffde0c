/**
 * The paged decoder on a GPU execution provider, always run: TESSERA_EXECUTION_PROVIDER=`webgpu` uses
 * the machine's GPU through onnxruntime-node's bundled WebGPU EP (Vulkan / Metal / D3D12), `cuda` a node
 * with onnxruntime-node's CUDA provider libraries installed; unset (CI, CPU-only machines) runs the
 * WebGPU EP on Mesa's lavapipe, a software Vulkan GPU that scripts/ensure-lavapipe.sh sets up (part of
 * `npm test`); so does `cpu`. On WebGPU the KV pools and state slots stay on the device (device-pools.ts),
 * so these tests exercise the scatter, block-copy and slot-reset graphs against the host path step by step.
 * What crosses host ↔ device per step is in docs/decisions.md (Issue 13, GPU).
 *
 * `npm test` runs this file through paged-decoder.gpu.test.ts, in a vitest of its own (that file says
 * why); `npx vitest run --config vitest.gpu.config.ts` runs it directly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../build-model.js';
import { ensureTinyModel, ensureTinyModel46Paths, ensureTinyModelPaths } from '../ensure-tiny-model.js';
import { openModel46 } from './open-any-model.js';
import { openModel } from './open-model.js';
import { PagedDecoderStage, type PagedStep } from './paged-decoder.js';
import type { ExecutionProvider } from './runtime-options.js';
import { holdGpuDevice, useSoftwareGpu, type DeviceHold } from './software-gpu.js';
import { argmaxRow } from './stages.js';
import { maxAbsDiff } from '@tessera/testing/vitest';

const requested = process.env.TESSERA_EXECUTION_PROVIDER;
// Any other value (unset, `cpu`) means "no GPU requested": these tests then run on lavapipe, so the GPU
// path is tested on every machine whatever the rest of the suite runs on.
const onRealGpu = requested === 'cuda' || requested === 'webgpu';
const ep: ExecutionProvider = onRealGpu ? requested : 'webgpu';
const softwareGpu = onRealGpu ? undefined : useSoftwareGpu();
console.log(`[gpu] paged decoder on ${ep}${softwareGpu ? ` (software GPU: ${softwareGpu}; TESSERA_EXECUTION_PROVIDER=${requested ?? 'unset'})` : ''}`);

/** Runs the same cache operations on a GPU stage and a CPU stage and compares each step's logits. */
class Mirror {
  worst = 0;
  constructor(
    readonly gpu: PagedDecoderStage,
    readonly cpu: PagedDecoderStage,
    private readonly embed: (ids: number[]) => Promise<Float32Array>,
  ) {}
  allocate(numBlocks: number, blockSize: number, numStateSlots: number): void {
    for (const s of [this.gpu, this.cpu]) s.allocate({ numBlocks, blockSize, numStateSlots });
  }
  copyBlock(from: number, to: number): void {
    for (const s of [this.gpu, this.cpu]) s.copyBlock(from, to);
  }
  resetState(slot: number): void {
    for (const s of [this.gpu, this.cpu]) s.resetState(slot);
  }
  /** rows: token ids per row (padded to the longest with the row's last id), the rest as PagedStep. */
  async step(rows: number[][], x: Omit<PagedStep, 'batch' | 'seqLen' | 'inputsEmbeds' | 'queryLengths'>): Promise<Float32Array> {
    const T = Math.max(...rows.map((r) => r.length));
    const ids = rows.flatMap((r) => [...r, ...new Array<number>(T - r.length).fill(r[r.length - 1]!)]);
    const step: PagedStep = { ...x, batch: rows.length, seqLen: T, inputsEmbeds: await this.embed(ids), queryLengths: rows.map((r) => r.length) };
    const [a, b] = [await this.gpu.step(step), await this.cpu.step(step)];
    this.worst = Math.max(this.worst, maxAbsDiff(a, b));
    return b;
  }
}

describe(`paged decoder on the ${ep} execution provider`, () => {
  // One WebGPU device for the whole file: each test releases its models, and the device would otherwise
  // be torn down and rebuilt between tests (software-gpu.ts says why that is avoided).
  let device: DeviceHold;
  beforeAll(async () => {
    device = await holdGpuDevice(ep);
  });
  afterAll(() => device.release());

  it('2.6: greedy decode through the paged cache equals the CPU no-cache reference', async () => {
    const dir = await ensureTinyModel();
    const gpu = await openModel(dir, { executionProvider: ep });
    const cpu = await openModel(dir, { intraOpNumThreads: 1 });
    expect(gpu.decoder.poolsOnDevice).toBe(ep === 'webgpu');
    const V = gpu.decoder.vocabSize;
    const prompt = [151644, 872, 198, 9707, 11, 1879, 0];
    const table = [3, 0, 2, 1];
    gpu.decoder.allocate({ numBlocks: 4, blockSize: 4, numStateSlots: 1 });
    let logits = await gpu.decoder.step({ batch: 1, seqLen: prompt.length, inputsEmbeds: await gpu.embed.run(prompt, [1, prompt.length]), pastLengths: [0], queryLengths: [prompt.length], blockTables: [table], stateSlots: [0] });
    const ids = [...prompt];
    for (let i = 0; i < 8; i++) {
      const next = argmaxRow(logits, 0, V);
      const ref = await cpu.decoder.forwardNoCache(await cpu.embed.run(ids, [1, ids.length]), [ids.length]);
      expect(next).toBe(argmaxRow(ref, 0, V));
      ids.push(next);
      logits = await gpu.decoder.step({ batch: 1, seqLen: 1, inputsEmbeds: await gpu.embed.run([next], [1, 1]), pastLengths: [ids.length - 1], queryLengths: [1], blockTables: [table], stateSlots: [0] });
    }
    await gpu.release();
    await cpu.release();
  });

  it('2.6: a forked sequence (copy-on-write block) and a batched, padded step match the host path', async () => {
    const dir = await ensureTinyModel();
    const gpu = await openModel(dir, { executionProvider: ep });
    const cpu = await openModel(dir, { intraOpNumThreads: 1 });
    const m = new Mirror(gpu.decoder, cpu.decoder, (ids) => cpu.embed.run(ids, [1, ids.length]));
    m.allocate(8, 4, 1);
    // A: 6 tokens in blocks [5, 1] (block 1 half full). B shares A's first block and forks the partial one into 2.
    await m.step([[151644, 872, 198, 9707, 11, 1879]], { pastLengths: [0], blockTables: [[5, 1]] });
    m.copyBlock(1, 2);
    await m.step([[0, 42], [77]], { pastLengths: [6, 6], blockTables: [[5, 1, 7], [5, 2]] });
    await m.step([[13], [900, 901, 902]], { pastLengths: [8, 7], blockTables: [[5, 1, 7], [5, 2, 4]] });
    expect(m.worst).toBeLessThan(1e-4);
    // Steps on one stage must not overlap: the second is refused instead of running on freed pools.
    const one = { batch: 1, seqLen: 1, inputsEmbeds: await cpu.embed.run([5], [1, 1]), pastLengths: [9], queryLengths: [1], blockTables: [[5, 1, 7]] };
    // A block outside the pool is refused (on the GPU it would be clamped or dropped, not an error).
    await expect(gpu.decoder.step({ ...one, blockTables: [[5, 1, 8]] })).rejects.toThrow(/block 8 is outside the pool \[0, 8\)/);
    expect(() => gpu.decoder.copyBlock(1, 8)).toThrow(/block 8 is outside the pool/);
    const first = gpu.decoder.step(one);
    await expect(gpu.decoder.step(one)).rejects.toThrow(/must not overlap/);
    await first;
    // Released pools refuse a step; a re-allocated cache (another size) starts from zeroed pools again.
    gpu.decoder.release();
    await expect(gpu.decoder.step(one)).rejects.toThrow(/allocate\(\)/);
    m.allocate(3, 8, 1);
    await m.step([[151644, 872, 198, 9707, 11]], { pastLengths: [0], blockTables: [[2]] });
    await m.step([[42]], { pastLengths: [5], blockTables: [[2]] });
    expect(m.worst).toBeLessThan(1e-4);
    await gpu.release();
    await cpu.release();
  });

  it('4.6 (hybrid): state slots and KV stay consistent across batched steps and a slot reset', async () => {
    const { model } = await ensureTinyModel46Paths();
    const gpuModel = await openModel46(model, { executionProvider: ep });
    const cpuModel = await openModel46(model, { intraOpNumThreads: 1 });
    const gpu = new PagedDecoderStage(gpuModel.sessions.decoder!);
    const cpu = new PagedDecoderStage(cpuModel.sessions.decoder!);
    expect(gpu.poolsOnDevice).toBe(ep === 'webgpu');
    const m = new Mirror(gpu, cpu, (ids) => cpuModel.embed.run(ids, [1, ids.length]));
    m.allocate(8, 4, 2);
    m.resetState(0);
    m.resetState(1);
    const a = [248045, 872, 198, 3838, 374, 419, 30, 248046];
    await m.step([a, [248045, 872, 198]], { pastLengths: [0, 0], blockTables: [[0, 1], [2]], stateSlots: [0, 1] });
    await m.step([[1000], [2000]], { pastLengths: [8, 3], blockTables: [[0, 1, 3], [2]], stateSlots: [0, 1] });
    // Slot 0 is reused by a new sequence: its recurrent state must start from zero again.
    m.resetState(0);
    await m.step([[248045, 77091], [3000]], { pastLengths: [0, 4], blockTables: [[4], [2, 5]], stateSlots: [0, 1] });
    await m.step([[198], [4000]], { pastLengths: [2, 5], blockTables: [[4], [2, 5]], stateSlots: [0, 1] });
    expect(m.worst).toBeLessThan(1e-4);
    // The session's other caller, the contiguous-cache stage (runFeeds: host K/V and state in, all outputs
    // back), on the same StageSession — this aborted the process before runFeeds used a host-output twin.
    const embeds = await cpuModel.embed.run([...a, 248045, 872, 198, 0, 0, 0, 0, 0], [2, a.length]);
    const [g, c] = [await gpuModel.decoder.run({ batch: 2, seq: a.length, inputsEmbeds: embeds, queryLengths: [a.length, 3] }), await cpuModel.decoder.run({ batch: 2, seq: a.length, inputsEmbeds: embeds, queryLengths: [a.length, 3] })];
    expect(maxAbsDiff(g.logits, c.logits)).toBeLessThan(1e-4);
    g.present.layers.forEach((l, i) => {
      const r = c.present.layers[i]!;
      if (l.kind === 'full' && r.kind === 'full') expect(maxAbsDiff(l.key, r.key) + maxAbsDiff(l.value, r.value)).toBeLessThan(1e-4);
      if (l.kind === 'linear' && r.kind === 'linear') expect(maxAbsDiff(l.conv, r.conv) + maxAbsDiff(l.recurrent, r.recurrent)).toBeLessThan(1e-4);
    });
    gpu.release();
    await gpuModel.release();
    await cpuModel.release();
  });

  for (const kvDtype of ['float16', 'int8'] as const) {
    it(`2.6, ${kvDtype} KV: ${kvDtype === 'int8' ? 'the pools stay on the host (per-token scales), the GPU session returns every output' : 'the device pools hold float16'}`, async () => {
      const paths = await ensureTinyModelPaths();
      const tmp = mkdtempSync(join(tmpdir(), `tessera-gpu-${kvDtype}-`));
      const dir = join(tmp, 'model');
      try {
        await buildModel(paths.checkpoint, dir, { kvCacheDtype: kvDtype });
        const gpu = await openModel(dir, { executionProvider: ep });
        const cpu = await openModel(dir, { intraOpNumThreads: 1 });
        expect(gpu.decoder.layout.kvDtype).toBe(kvDtype);
        expect(gpu.decoder.poolsOnDevice).toBe(ep === 'webgpu' && kvDtype !== 'int8');
        const m = new Mirror(gpu.decoder, cpu.decoder, (ids) => cpu.embed.run(ids, [1, ids.length]));
        m.allocate(8, 4, 1);
        await m.step([[151644, 872, 198, 9707, 11, 1879]], { pastLengths: [0], blockTables: [[5, 1]] });
        await m.step([[0, 42], [77]], { pastLengths: [6, 0], blockTables: [[5, 1], [3]] });
        await m.step([[13], [900]], { pastLengths: [8, 1], blockTables: [[5, 1, 7], [3]] });
        console.log(`[gpu] ${kvDtype} KV on ${ep}: max |logit − CPU| ${m.worst.toExponential(2)}`);
        // Measured on lavapipe: 3.9e-5 (float16: GPU and CPU may round a K/V value to fp16 one ulp apart), 3.1e-6 (int8).
        expect(m.worst).toBeLessThan(1e-3);
        await gpu.release();
        await cpu.release();
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
});
