/**
 * KV pools and state slots that live on the GPU for the whole life of the cache (WebGPU execution
 * provider): the decoder session returns the new tokens' K/V and state as GPU buffers
 * (`preferredOutputLocation: 'gpu-buffer'`, onnxruntime-node's IO binding), a small write graph
 * (onnx/pool-graphs.ts) scatters them into the pools, and the next step feeds the pools back as
 * GPU tensors. Per step, host → device: the embeddings [B, T, hidden], positions, lengths, block
 * tables and the write indices (∝ new tokens); device → host: the logits [B, vocab]. Nothing
 * proportional to the context or the pool crosses the bus.
 *
 * The scatter is out of place (ScatterND writes a new output buffer; onnxruntime gives no in-place
 * guarantee for a graph input), so each step also copies every pool device → device: ~2 × pool bytes
 * of GPU memory traffic (1 GiB pools at the H200's ~4 TB/s: ≈ 0.5 ms) and, while it runs, the pools
 * exist twice. Block copies and slot resets are queued and run on the device before the next step,
 * so the stage's synchronous API does not change.
 */
import * as ort from 'onnxruntime-node';
import { copyBlockGraph, initPoolsGraph, kvPoolNames, PoolIo, resetSlotGraph, updated, writePoolsGraph } from '../onnx/pool-graphs.js';
import { PagedIo, pagedLayoutOf, type PagedCacheLayout } from '../onnx/paged-decoder-io.js';
import type { StageManifest } from '../manifest.js';
import { sessionOptions, type RuntimeOptions } from './runtime-options.js';

export interface PoolSize {
  numBlocks: number;
  blockSize: number;
  numStateSlots: number;
}

/** What a step wrote: row b's first q_b of T new tokens go to positions past_b … past_b + q_b − 1. */
export interface StepPlacement {
  batch: number;
  seqLen: number;
  pastLengths: ArrayLike<number>;
  queryLengths: ArrayLike<number>;
  blockTables: ArrayLike<number>[];
  stateSlots?: ArrayLike<number>;
}

type Pending = { kind: 'copy'; from: number; to: number } | { kind: 'reset'; slot: number };

interface PoolSessions {
  write: Promise<ort.InferenceSession>;
  copy: Promise<ort.InferenceSession> | null;
  reset: Promise<ort.InferenceSession> | null;
}

/**
 * The outputs a stage's session should leave on the GPU: a paged decoder's new K/V and state when it
 * runs on the WebGPU EP with float32 / float16 KV (int8 pools carry per-token scales that the device
 * path does not keep, so they stay on the host path). Empty for every other stage and provider.
 */
export function outputsKeptOnDevice(manifest: StageManifest, opts: RuntimeOptions): string[] {
  if (opts.executionProvider !== 'webgpu') return [];
  if (!manifest.inputs.some((v) => v.name === PagedIo.inputsEmbeds) || !manifest.outputs.some((v) => v.name === PagedIo.logits)) return [];
  if (!manifest.inputs.some((v) => /^key_cache\.|^state\./.test(v.name))) return [];
  const layout = pagedLayoutOf(manifest.inputs, manifest.outputs);
  if (layout.kvDtype === 'int8') return [];
  return [...layout.attentionLayers.flatMap((l) => [PagedIo.newKey(l), PagedIo.newValue(l)]), ...layout.states.map((s) => s.output)];
}

/** One set of helper sessions per decoder session (their pool dims are symbolic, so any cache size). */
const sessionsByDecoder = new WeakMap<object, PoolSessions>();

/** Releases the helper sessions of a decoder session (StageSession.release); the next pools create them again. */
export async function releasePoolSessions(decoder: object): Promise<void> {
  const shared = sessionsByDecoder.get(decoder);
  if (!shared) return;
  sessionsByDecoder.delete(decoder);
  await Promise.all([shared.write, shared.copy, shared.reset].map(async (p) => (await p)?.release()));
}

const onDevice = (opts: RuntimeOptions): ort.InferenceSession.SessionOptions => ({ ...sessionOptions(opts), preferredOutputLocation: 'gpu-buffer' });

export class DevicePools {
  private pools = new Map<string, ort.Tensor>();
  private ready: Promise<void> | null = null;
  private pending: Pending[] = [];
  private sessions: PoolSessions | null = null;
  private closed = false;

  constructor(
    private readonly layout: PagedCacheLayout,
    private readonly size: PoolSize,
    private readonly opts: RuntimeOptions,
    /** The decoder session these pools serve (keys the shared helper sessions). */
    private readonly decoder: object,
  ) {}

  copyBlock(from: number, to: number): void {
    this.pending.push({ kind: 'copy', from, to });
  }

  resetState(slot: number): void {
    this.pending.push({ kind: 'reset', slot });
  }

  /** The pools as feeds, after the queued copies and resets ran. */
  async feeds(): Promise<Record<string, ort.Tensor>> {
    if (this.closed) throw new Error('paged decoder: the device pools were released; allocate() the cache again');
    this.ready ??= this.init().catch((err: unknown) => {
      this.ready = null;
      throw err;
    });
    await this.ready;
    // An op leaves the queue once it ran: if one fails, it and the ones behind it are still queued and the
    // next step retries them (failing again, loudly) instead of running on a cache that silently missed them.
    for (let op = this.pending[0]; op; this.pending.shift(), op = this.pending[0]) {
      if (op.kind === 'copy') {
        const to = new BigInt64Array(this.layout.kvHeads * 2);
        for (let h = 0; h < this.layout.kvHeads; h++) to.set([BigInt(h), BigInt(op.to)], h * 2);
        await this.run(this.sessions!.copy!, kvPoolNames(this.layout), {
          [PoolIo.from]: new ort.Tensor('int64', BigInt64Array.of(BigInt(op.from)), [1]),
          [PoolIo.toIndex]: new ort.Tensor('int64', to, [this.layout.kvHeads, 1, 2]),
        });
      } else {
        await this.run(this.sessions!.reset!, this.layout.states.map((s) => s.input), {
          [PoolIo.slot]: new ort.Tensor('int64', BigInt64Array.of(BigInt(op.slot)), [1, 1]),
        });
      }
    }
    return Object.fromEntries(this.pools);
  }

  /** Scatters a step's new K/V and state (the decoder's GPU outputs) into the pools, then frees them. */
  async store(out: Record<string, ort.Tensor>, x: StepPlacement): Promise<void> {
    try {
      if (this.closed) throw new Error('paged decoder: the device pools were released or re-allocated during the step');
      await this.run(this.sessions!.write, ...this.writeFeeds(out, x));
    } finally {
      // Every GPU output of the step is freed here, also when building the indices or the write throws
      // (the logits and their log-sum-exp are host tensors the caller reads).
      for (const [name, t] of Object.entries(out)) if (name !== PagedIo.logits && name !== PagedIo.logitsLogSumExp) t.dispose();
    }
  }

  /** The write graph's pools and extra feeds: the step's GPU outputs plus the (row, head, block, offset) indices. */
  private writeFeeds(out: Record<string, ort.Tensor>, x: StepPlacement): [string[], Record<string, ort.Tensor>] {
    const { kvHeads: kv } = this.layout;
    const bs = this.size.blockSize;
    const extra: Record<string, ort.Tensor> = {};
    const names: string[] = [];
    if (this.layout.attentionLayers.length) {
      let n = 0;
      for (let b = 0; b < x.batch; b++) n += x.queryLengths[b]!;
      const rows = new BigInt64Array(n);
      const index = new BigInt64Array(kv * n * 3);
      let i = 0;
      for (let b = 0; b < x.batch; b++) {
        const table = x.blockTables[b]!;
        for (let t = 0; t < x.queryLengths[b]!; t++, i++) {
          const p = x.pastLengths[b]! + t;
          rows[i] = BigInt(b * x.seqLen + t);
          for (let h = 0; h < kv; h++) index.set([BigInt(h), BigInt(table[Math.floor(p / bs)]!), BigInt(p % bs)], (h * n + i) * 3);
        }
      }
      extra[PoolIo.rows] = new ort.Tensor('int64', rows, [n]);
      extra[PoolIo.kvIndex] = new ort.Tensor('int64', index, [kv, n, 3]);
      for (const l of this.layout.attentionLayers) {
        for (const name of [PagedIo.newKey(l), PagedIo.newValue(l)]) extra[name] = out[name]!;
      }
      names.push(...kvPoolNames(this.layout));
    }
    if (this.layout.states.length) {
      extra[PoolIo.slots] = new ort.Tensor('int64', BigInt64Array.from(Array.from(x.stateSlots!, BigInt)), [x.batch, 1]);
      for (const s of this.layout.states) extra[s.output] = out[s.output]!;
      names.push(...this.layout.states.map((s) => s.input));
    }
    return [names, extra];
  }

  /** Frees the device memory (the stage is dropped or re-allocated); these pools cannot be used again. */
  release(): void {
    this.closed = true;
    for (const t of this.pools.values()) t.dispose();
    this.pools.clear();
    this.pending = [];
  }

  private async init(): Promise<void> {
    let shared = sessionsByDecoder.get(this.decoder);
    if (!shared) {
      const { layout, opts } = this;
      const create = (graph: Uint8Array): Promise<ort.InferenceSession> => ort.InferenceSession.create(graph, onDevice(opts));
      shared = {
        write: create(writePoolsGraph(layout)),
        copy: layout.attentionLayers.length ? create(copyBlockGraph(layout)) : null,
        reset: layout.states.length ? create(resetSlotGraph(layout)) : null,
      };
      // Registered before awaiting, so a second stage on this decoder (forwardNoCache's scratch) shares them.
      sessionsByDecoder.set(this.decoder, shared);
    }
    try {
      await Promise.all([shared.write, shared.copy, shared.reset]); // a failure surfaces here, not as an unhandled rejection later
    } catch (err) {
      if (sessionsByDecoder.get(this.decoder) === shared) sessionsByDecoder.delete(this.decoder);
      throw err;
    }
    this.sessions = shared;
    const session = await ort.InferenceSession.create(initPoolsGraph(this.layout, this.size), onDevice(this.opts));
    try {
      const out = (await session.run({})) as Record<string, ort.Tensor>;
      // release() may have run while the pools were being created: free them instead of keeping them.
      for (const [name, t] of Object.entries(out)) this.closed ? t.dispose() : this.pools.set(name, t);
    } finally {
      await session.release();
    }
  }

  /** Runs a pool graph over `names` (+ extra feeds) and swaps in the updated pools. */
  private async run(session: Promise<ort.InferenceSession>, names: string[], extra: Record<string, ort.Tensor>): Promise<void> {
    const feeds: Record<string, ort.Tensor> = { ...extra };
    for (const name of names) feeds[name] = this.pools.get(name)!;
    const out = (await (await session).run(feeds)) as Record<string, ort.Tensor>;
    for (const name of names) {
      this.pools.get(name)!.dispose();
      this.pools.set(name, out[updated(name)]!);
    }
  }
}
