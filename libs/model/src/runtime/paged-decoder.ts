/**
 * Runs a paged decoder graph (onnx/paged-decoder-io.ts) over KV pools and state slots that this
 * stage allocates ONCE and keeps: per attention layer a key and a value pool
 * [kv_heads, num_blocks, block_size, head_dim], per state tensor a pool [num_slots, …].
 *
 * Per step, what crosses between JS and onnxruntime (CPU execution provider, onnxruntime-node 1.30):
 *  - in, zero-copy: the pools (ort.Tensor objects created once over our Float32Arrays; the binding
 *    wraps CPU tensor memory, it does not copy it), the embeddings [B, T, hidden], positions, lengths,
 *    block tables (one int64 per block);
 *  - out, copied by the binding into new JS buffers: logits [L, vocab] (L = B unless a row asks for
 *    every position's, for prompt logprobs), the new tokens' K/V
 *    [kv, B, T, hd] per attention layer, the rows' new state [B, …];
 *  - then this stage copies the first q_b tokens of each row's K/V into its blocks and each row's
 *    state into its slot. Nothing is proportional to a sequence's context.
 * Inside onnxruntime the Gather of the row's blocks reads the context once per layer (the attention
 * reads it anyway).
 *
 * With the WebGPU execution provider (float32 / float16 KV) the pools and state slots live on the GPU
 * instead (device-pools.ts): the new K/V and state stay on the device, only the logits come back.
 */
import * as ort from 'onnxruntime-node';
import { KV_ELEMENT_BYTES, PagedIo, pagedLayoutOf, type KvCacheDtype, type PagedCacheLayout } from '../onnx/paged-decoder-io.js';
import { DevicePools } from './device-pools.js';
import { checkLength, toI64, type StageSession } from './stage-session.js';

export interface PagedStep {
  batch: number;
  /** T: new tokens per row after padding (max query length). */
  seqLen: number;
  /** [B, T, hidden] */
  inputsEmbeds: Float32Array;
  /** [B, T]; default past_lengths[b] + t. */
  positionIds?: BigInt64Array;
  pastLengths: ArrayLike<number>;
  queryLengths: ArrayLike<number>;
  /** Row b's blocks in position order; must cover past + query tokens. */
  blockTables: ArrayLike<number>[];
  /** Row b's state slot (graphs with state only). */
  stateSlots?: ArrayLike<number>;
  /**
   * New tokens whose logits come back, as flat indices b·T + t (paged-decoder-io.ts `logits_indices`), in
   * the order returned. Default: each row's last new token, b·T + q_b − 1 (one row of logits per row).
   */
  logitsIndices?: ArrayLike<number>;
}

export interface PagedStepOutput {
  /** [L, vocab] */
  logits: Float32Array;
  /** [L]: log Σ exp of each logits row, from graphs that return `logits_lse`. */
  logSumExp?: Float32Array;
}

const outputOf = (out: Record<string, ort.Tensor>): PagedStepOutput => {
  const lse = out[PagedIo.logitsLogSumExp];
  return { logits: out[PagedIo.logits]!.data as Float32Array, ...(lse && { logSumExp: lse.data as Float32Array }) };
};

export interface PagedCacheSize {
  numBlocks: number;
  blockSize: number;
  numStateSlots: number;
}

type PoolArray = Float32Array | Uint16Array | Int8Array;

interface Pool<A extends PoolArray = PoolArray> {
  data: A;
  tensor: ort.Tensor;
}

/** A KV pool: elements in the graph's KV dtype, plus for int8 a float32 scale per (kv head, token). */
interface KvPool extends Pool {
  scale?: Pool<Float32Array>;
}

const poolOf = (dtype: KvCacheDtype, n: number, dims: number[]): Pool => {
  const data = dtype === 'float32' ? new Float32Array(n) : dtype === 'float16' ? new Uint16Array(n) : new Int8Array(n);
  return { data, tensor: new ort.Tensor(dtype, data, dims) };
};
const f32Pool = (n: number, dims: number[]): Pool<Float32Array> => {
  const data = new Float32Array(n);
  return { data, tensor: new ort.Tensor('float32', data, dims) };
};

export class PagedDecoderStage {
  readonly layout: PagedCacheLayout;
  private size: PagedCacheSize | undefined;
  private keys = new Map<number, KvPool>();
  private values = new Map<number, KvPool>();
  private states = new Map<string, Pool<Float32Array>>();
  /** Set when the pools live on the GPU (WebGPU EP); the host maps above stay empty then. */
  private device: DevicePools | null = null;
  private stepping = false;

  constructor(readonly session: StageSession) {
    this.layout = pagedLayoutOf(session.manifest.inputs, session.manifest.outputs);
  }

  /** Whether the KV pools and state slots live on the GPU (the session leaves the new K/V and state there). */
  get poolsOnDevice(): boolean {
    return this.session.outputsOnDevice.length > 0;
  }

  /** Bytes of KV one block holds across all attention layers (key + value), in the graph's KV dtype. */
  bytesPerBlock(blockSize: number): number {
    const { kvDtype, headDim } = this.layout;
    const perHeadToken = headDim * KV_ELEMENT_BYTES[kvDtype] + (kvDtype === 'int8' ? 4 : 0);
    return this.layout.attentionLayers.length * 2 * this.layout.kvHeads * blockSize * perHeadToken;
  }

  /** Bytes of state one sequence holds across all stateful layers. */
  bytesPerStateSlot(): number {
    return this.layout.states.reduce((n, s) => n + s.size * 4, 0);
  }

  get vocabSize(): number {
    return this.layout.vocab;
  }

  get cacheSize(): PagedCacheSize | undefined {
    return this.size;
  }

  /** Allocates the pools (once; a second call with another size replaces them). */
  allocate(size: PagedCacheSize): void {
    const { kvHeads: kv, headDim: hd, kvDtype } = this.layout;
    const dims = [kv, size.numBlocks, size.blockSize, hd];
    const tokens = kv * size.numBlocks * size.blockSize;
    const kvPool = (): KvPool => ({ ...poolOf(kvDtype, tokens * hd, dims), scale: kvDtype === 'int8' ? f32Pool(tokens, dims.slice(0, 3)) : undefined });
    this.keys.clear();
    this.values.clear();
    this.states.clear();
    this.device?.release();
    if (this.poolsOnDevice) {
      const slots = Math.max(1, size.numStateSlots);
      this.device = new DevicePools(this.layout, { ...size, numStateSlots: slots }, this.session.opts, this.session);
      this.size = { ...size, numStateSlots: this.layout.states.length ? slots : size.numStateSlots };
      return;
    }
    for (const layer of this.layout.attentionLayers) {
      this.keys.set(layer, kvPool());
      this.values.set(layer, kvPool());
    }
    const slots = Math.max(1, size.numStateSlots);
    for (const s of this.layout.states) this.states.set(s.input, f32Pool(slots * s.size, [slots, ...s.shape]));
    this.size = { ...size, numStateSlots: this.layout.states.length ? slots : size.numStateSlots };
  }

  /** Zeroes a state slot (a sequence starting from token 0). */
  resetState(slot: number): void {
    const size = this.requireSize();
    if (!(slot >= 0 && slot < size.numStateSlots)) throw new RangeError(`state slot ${slot} is outside [0, ${size.numStateSlots})`);
    if (this.device) return this.device.resetState(slot);
    for (const s of this.layout.states) this.states.get(s.input)!.data.fill(0, slot * s.size, (slot + 1) * s.size);
  }

  /** Copies one KV block (all layers) — copy-on-write of a shared partial block. */
  copyBlock(from: number, to: number): void {
    const size = this.requireSize();
    for (const b of [from, to]) if (!(b >= 0 && b < size.numBlocks)) throw new RangeError(`block ${b} is outside the pool [0, ${size.numBlocks})`);
    if (this.device) return this.device.copyBlock(from, to);
    const { kvHeads: kv, headDim: hd } = this.layout;
    const run = size.blockSize * hd;
    for (const pools of [this.keys, this.values]) {
      for (const p of pools.values()) {
        for (let h = 0; h < kv; h++) {
          const base = h * size.numBlocks * run;
          p.data.copyWithin(base + to * run, base + from * run, base + (from + 1) * run);
          const sb = h * size.numBlocks * size.blockSize;
          p.scale?.data.copyWithin(sb + to * size.blockSize, sb + from * size.blockSize, sb + (from + 1) * size.blockSize);
        }
      }
    }
  }

  /** One forward over B rows; returns logits [L, vocab] (see PagedStep.logitsIndices) and stores the new KV/state in place. */
  async step(x: PagedStep): Promise<Float32Array> {
    return (await this.stepScored(x)).logits;
  }

  /** step(), also returning each logits row's log-sum-exp when the graph computes it (`logits_lse`, [L]). */
  async stepScored(x: PagedStep): Promise<PagedStepOutput> {
    const size = this.requireSize();
    const { batch: B, seqLen: T } = x;
    const { hidden, kvHeads: kv, headDim: hd } = this.layout;
    const bs = size.blockSize;
    checkLength('inputs_embeds', x.inputsEmbeds.length, B * T * hidden);
    let pos = x.positionIds;
    if (!pos) {
      pos = new BigInt64Array(B * T);
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = BigInt(x.pastLengths[b]! + t);
    }
    // Only the blocks that hold past tokens are gathered; at least one column keeps shapes non-empty.
    let N = 1;
    for (let b = 0; b < B; b++) N = Math.max(N, Math.ceil(x.pastLengths[b]! / bs));
    const table = new BigInt64Array(B * N);
    for (let b = 0; b < B; b++) {
      const row = x.blockTables[b]!;
      const need = Math.ceil((x.pastLengths[b]! + x.queryLengths[b]!) / bs);
      if (row.length < need) throw new RangeError(`block table of row ${b} has ${row.length} blocks; ${need} needed`);
      // On the GPU an out-of-range block is not an error (WebGPU clamps the read or drops the write), so
      // a bad table would corrupt the cache silently: checked here for both paths.
      for (let j = 0; j < need; j++) {
        if (!(row[j]! >= 0 && row[j]! < size.numBlocks)) throw new RangeError(`block table of row ${b}: block ${row[j]} is outside the pool [0, ${size.numBlocks})`);
      }
      for (let j = 0; j < N; j++) table[b * N + j] = BigInt(j < row.length ? row[j]! : row[0]!);
    }
    const feeds: Record<string, ort.Tensor> = {
      [PagedIo.inputsEmbeds]: new ort.Tensor('float32', x.inputsEmbeds, [B, T, hidden]),
      [PagedIo.positionIds]: new ort.Tensor('int64', pos, [B, T]),
      [PagedIo.pastLengths]: new ort.Tensor('int64', BigInt64Array.from(Array.from(x.pastLengths, BigInt)), [B]),
      [PagedIo.queryLengths]: new ort.Tensor('int64', BigInt64Array.from(Array.from(x.queryLengths, BigInt)), [B]),
      [PagedIo.blockTables]: new ort.Tensor('int64', table, [B, N]),
    };
    const lastOfRows = Array.from({ length: B }, (_, b) => b * T + x.queryLengths[b]! - 1);
    const indices = x.logitsIndices ?? lastOfRows;
    for (let i = 0; i < indices.length; i++) {
      if (!(indices[i]! >= 0 && indices[i]! < B * T)) throw new RangeError(`logits_indices[${i}] = ${indices[i]} is outside [0, ${B * T})`);
    }
    if (this.layout.logitsIndices) feeds[PagedIo.logitsIndices] = new ort.Tensor('int64', toI64(indices), [indices.length]);
    else if (indices.length !== B || lastOfRows.some((v, b) => v !== indices[b])) {
      throw new RangeError('this decoder graph returns only each row\'s last logits (built before logits_indices): rebuild the model (`tessera model build`) for prompt logprobs');
    }
    if (this.layout.states.length) {
      if (!x.stateSlots) throw new RangeError('state_slots is required by this graph');
      for (let b = 0; b < B; b++) {
        const slot = x.stateSlots[b]!;
        if (!(slot >= 0 && slot < size.numStateSlots)) throw new RangeError(`state_slots[${b}] = ${slot} is outside [0, ${size.numStateSlots})`);
      }
      feeds[PagedIo.stateSlots] = new ort.Tensor('int64', toI64(x.stateSlots), [B]);
    }
    if (this.device) return this.stepOnDevice(x, feeds);
    for (const layer of this.layout.attentionLayers) {
      const k = this.keys.get(layer)!;
      const v = this.values.get(layer)!;
      feeds[PagedIo.keyCache(layer)] = k.tensor;
      feeds[PagedIo.valueCache(layer)] = v.tensor;
      if (k.scale) feeds[PagedIo.keyScale(layer)] = k.scale.tensor;
      if (v.scale) feeds[PagedIo.valueScale(layer)] = v.scale.tensor;
    }
    for (const s of this.layout.states) feeds[s.input] = this.states.get(s.input)!.tensor;
    const out = (await (await this.session.load()).run(feeds)) as Record<string, ort.Tensor>;

    // Store the new tokens' K/V (already in the pool's dtype): row b's token t goes to position past_b + t.
    for (const layer of this.layout.attentionLayers) {
      const nk = out[PagedIo.newKey(layer)]!.data as PoolArray;
      const nv = out[PagedIo.newValue(layer)]!.data as PoolArray;
      const keys = this.keys.get(layer)!;
      const values = this.values.get(layer)!;
      const pk = keys.data;
      const pv = values.data;
      const nks = keys.scale && (out[PagedIo.newKeyScale(layer)]!.data as Float32Array);
      const nvs = values.scale && (out[PagedIo.newValueScale(layer)]!.data as Float32Array);
      for (let h = 0; h < kv; h++) {
        const poolHead = h * size.numBlocks * bs; // in tokens
        for (let b = 0; b < B; b++) {
          const row = x.blockTables[b]!;
          const past = x.pastLengths[b]!;
          const q = x.queryLengths[b]!;
          const src = ((h * B + b) * T) * hd;
          // Copy runs of consecutive tokens that share a block in one set().
          for (let t = 0; t < q; ) {
            const p = past + t;
            const off = p % bs;
            const n = Math.min(q - t, bs - off);
            const dstToken = poolHead + row[Math.floor(p / bs)]! * bs + off;
            // Output and pool share the graph's KV dtype (one typed-array kind), so set() is a memcpy.
            pk.set(nk.subarray(src + t * hd, src + (t + n) * hd) as never, dstToken * hd);
            pv.set(nv.subarray(src + t * hd, src + (t + n) * hd) as never, dstToken * hd);
            if (nks && nvs) {
              const srcToken = (h * B + b) * T + t;
              keys.scale!.data.set(nks.subarray(srcToken, srcToken + n), dstToken);
              values.scale!.data.set(nvs.subarray(srcToken, srcToken + n), dstToken);
            }
            t += n;
          }
        }
      }
    }
    for (const s of this.layout.states) {
      const ns = out[s.output]!.data as Float32Array;
      const pool = this.states.get(s.input)!.data;
      for (let b = 0; b < B; b++) pool.set(ns.subarray(b * s.size, (b + 1) * s.size), x.stateSlots![b]! * s.size);
    }
    return outputOf(out);
  }

  /** Frees the GPU pools (host pools are garbage-collected); allocate() again before the next step. */
  release(): void {
    this.device?.release();
    this.device = null;
    this.size = undefined;
  }

  private async stepOnDevice(x: PagedStep, feeds: Record<string, ort.Tensor>): Promise<PagedStepOutput> {
    // Each step feeds the pools and then replaces (and frees) them with the write graph's outputs, so a
    // second step started before the first stored would run on freed buffers. The engine awaits each step.
    if (this.stepping) throw new Error('paged decoder: step() calls on one stage must not overlap (the device pools are replaced by each step)');
    this.stepping = true;
    try {
      const device = this.device!;
      Object.assign(feeds, await device.feeds());
      const out = (await (await this.session.load()).run(feeds)) as Record<string, ort.Tensor>;
      await device.store(out, x);
      return outputOf(out);
    } finally {
      this.stepping = false;
    }
  }

  /**
   * No-cache forward of whole sequences (the reference the engine is tested against): each row's
   * prompt from position 0 into scratch blocks, nothing kept. Uses its own pools, so it never touches
   * the serving cache.
   */
  async forwardNoCache(embeds: Float32Array, lengths: number[]): Promise<Float32Array> {
    const T = Math.max(...lengths);
    const B = lengths.length;
    const scratch = new PagedDecoderStage(this.session);
    const bs = 16;
    const per = Math.ceil(T / bs);
    scratch.allocate({ numBlocks: B * per, blockSize: bs, numStateSlots: B });
    for (let b = 0; b < B; b++) scratch.resetState(b);
    try {
      return await scratch.step({
        batch: B,
        seqLen: T,
        inputsEmbeds: embeds,
        pastLengths: lengths.map(() => 0),
        queryLengths: lengths,
        blockTables: lengths.map((_, b) => Array.from({ length: per }, (_, j) => b * per + j)),
        stateSlots: lengths.map((_, b) => b),
      });
    } finally {
      scratch.release();
    }
  }

  private requireSize(): PagedCacheSize {
    if (!this.size) throw new Error('paged decoder: allocate() the cache before the first step');
    return this.size;
  }
}
