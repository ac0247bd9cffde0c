/**
 * Explicit-cache wrapper over the 4.6 hybrid decoder graph (onnx/hybrid-decoder-graph.ts, paged I/O):
 * for tests, run-stage and tools that want the cache as plain arrays rather than the engine's block pools.
 * It feeds the graph a trivial paged layout — one KV block per row (block_size = capacity), state slot
 * b = row b — and grows the KV rows itself. Full-attention layers hold KV [kv_heads, B, capacity, head_dim];
 * Gated DeltaNet layers a fixed conv state [B, conv_dim, K−1] and recurrent state [B, Hv, d_k, d_v] that do
 * not grow with the context. The engine drives the same graph through PagedDecoderStage.
 */
import * as ort from 'onnxruntime-node';
import type { Manifest46 } from '../manifest.js';
import { PagedIo } from '../onnx/paged-decoder-io.js';
import { checkLength, f32, i64, type StageSession } from './stage-session.js';

export type HybridLayerCache = { kind: 'full'; key: Float32Array; value: Float32Array } | { kind: 'linear'; conv: Float32Array; recurrent: Float32Array };

export interface HybridCache {
  batch: number;
  /** Tokens in the cache per row. */
  lengths: number[];
  /** KV positions allocated per row (≥ every length). */
  capacity: number;
  layers: HybridLayerCache[];
}

export interface HybridDecoderInputs {
  /** [batch, seq, hidden]; rows are right-padded to seq. */
  inputsEmbeds: Float32Array;
  batch: number;
  seq: number;
  /** New tokens per row (1…seq), default seq for every row. */
  queryLengths?: ArrayLike<number>;
  past?: HybridCache;
}

type TextCfg = Manifest46['config']['text'];

export class HybridDecoderStage {
  constructor(
    readonly session: StageSession,
    readonly text: TextCfg,
    /** Most new tokens per row per graph call (manifest decoder.maxChunk). */
    readonly maxChunk: number,
  ) {}

  get vocabSize(): number {
    return this.text.vocabSize;
  }

  private get convDim(): number {
    const t = this.text;
    return 2 * t.linearNumKeyHeads * t.linearKeyHeadDim + t.linearNumValueHeads * t.linearValueHeadDim;
  }

  /** Fixed bytes of one sequence's linear-layer state (conv + recurrent, fp32) — independent of length. */
  get stateBytesPerSequence(): number {
    const t = this.text;
    const per = this.convDim * (t.linearConvKernel - 1) + t.linearNumValueHeads * t.linearKeyHeadDim * t.linearValueHeadDim;
    return 4 * per * t.layerTypes.filter((l) => l === 'linear_attention').length;
  }

  /** fp32 KV bytes per token per sequence (full-attention layers only). */
  get kvBytesPerToken(): number {
    const t = this.text;
    return 4 * 2 * t.numKvHeads * t.headDim * t.layerTypes.filter((l) => l === 'full_attention').length;
  }

  emptyCache(batch: number): HybridCache {
    const t = this.text;
    return {
      batch,
      lengths: new Array<number>(batch).fill(0),
      capacity: 0,
      layers: t.layerTypes.map((lt) =>
        lt === 'full_attention'
          ? { kind: 'full', key: new Float32Array(0), value: new Float32Array(0) }
          : { kind: 'linear', conv: new Float32Array(batch * this.convDim * (t.linearConvKernel - 1)), recurrent: new Float32Array(batch * t.linearNumValueHeads * t.linearKeyHeadDim * t.linearValueHeadDim) },
      ),
    };
  }

  /** One graph call: logits of each row's last new token [batch, vocab] and the advanced cache. */
  async run(x: HybridDecoderInputs): Promise<{ logits: Float32Array; present: HybridCache }> {
    const t = this.text;
    const { batch: B, seq: T } = x;
    if (T < 1 || T > this.maxChunk) throw new RangeError(`seq ${T} must be in [1, ${this.maxChunk}] (decoder.maxChunk; use prefill() for longer inputs)`);
    const past = x.past ?? this.emptyCache(B);
    if (past.batch !== B) throw new RangeError(`past.batch ${past.batch} does not match batch ${B}`);
    checkLength('inputs_embeds', x.inputsEmbeds.length, B * T * t.hiddenSize);
    const q = Array.from(x.queryLengths ?? new Array<number>(B).fill(T), Number);
    checkLength('query_lengths', q.length, B);
    for (const [b, n] of q.entries()) if (!(n >= 1 && n <= T)) throw new RangeError(`query_lengths[${b}] = ${n} must be in [1, ${T}]`);
    const cap = Math.max(1, past.capacity);
    const pos = new BigInt64Array(B * T);
    for (let b = 0; b < B; b++) for (let i = 0; i < T; i++) pos[b * T + i] = BigInt(past.lengths[b] + i);
    const rows = BigInt64Array.from({ length: B }, (_, b) => BigInt(b));
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: f32(x.inputsEmbeds, [B, T, t.hiddenSize]),
      position_ids: i64(pos, [B, T]),
      past_lengths: i64(BigInt64Array.from(past.lengths, BigInt), [B]),
      query_lengths: i64(BigInt64Array.from(q, BigInt), [B]),
      block_tables: i64(rows, [B, 1]),
      state_slots: i64(rows.slice(), [B]),
    };
    // Each row's last new token (graphs built before logits_indices gather it themselves).
    if (this.session.manifest.inputs.some((v) => v.name === PagedIo.logitsIndices)) feeds[PagedIo.logitsIndices] = i64(BigInt64Array.from(q, (n, b) => BigInt(b * T + n - 1)), [B]);
    const K1 = t.linearConvKernel - 1;
    const kvDims = [t.numKvHeads, B, cap, t.headDim];
    const kvSize = kvDims.reduce((a, c) => a * c, 1);
    past.layers.forEach((l, i) => {
      if (l.kind === 'full') {
        feeds[`key_cache.${i}`] = f32(l.key.length === kvSize ? l.key : new Float32Array(kvSize), kvDims);
        feeds[`value_cache.${i}`] = f32(l.value.length === kvSize ? l.value : new Float32Array(kvSize), kvDims);
      } else {
        feeds[`state.${i}.conv`] = f32(l.conv, [B, this.convDim, K1]);
        feeds[`state.${i}.recurrent`] = f32(l.recurrent, [B, t.linearNumValueHeads, t.linearKeyHeadDim, t.linearValueHeadDim]);
      }
    });
    const out = await this.session.runFeeds(feeds);
    const data = (n: string): Float32Array => out[n].data as Float32Array;
    const lengths = past.lengths.map((n, b) => n + q[b]);
    const capacity = Math.max(past.capacity, ...lengths);
    const grow = (old: Float32Array, fresh: Float32Array): Float32Array => {
      // old [kv, B, past.capacity, hd] + the first q_b of fresh [kv, B, T, hd] → [kv, B, capacity, hd]
      const hd = t.headDim;
      const outKv = new Float32Array(t.numKvHeads * B * capacity * hd);
      for (let h = 0; h < t.numKvHeads; h++) {
        for (let b = 0; b < B; b++) {
          const dst = (h * B + b) * capacity * hd;
          const pl = past.lengths[b];
          if (pl > 0) outKv.set(old.subarray((h * B + b) * past.capacity * hd, ((h * B + b) * past.capacity + pl) * hd), dst);
          outKv.set(fresh.subarray((h * B + b) * T * hd, ((h * B + b) * T + q[b]) * hd), dst + pl * hd);
        }
      }
      return outKv;
    };
    const layers: HybridLayerCache[] = past.layers.map((l, i) =>
      l.kind === 'full'
        ? { kind: 'full', key: grow(l.key, data(`new_key.${i}`)), value: grow(l.value, data(`new_value.${i}`)) }
        : { kind: 'linear', conv: data(`new_state.${i}.conv`), recurrent: data(`new_state.${i}.recurrent`) },
    );
    return { logits: data('logits'), present: { batch: B, lengths, capacity, layers } };
  }

  /** Any number of new tokens (the same count for every row): consecutive calls of at most `chunk` (default maxChunk) tokens. */
  async prefill(x: Omit<HybridDecoderInputs, 'queryLengths'> & { chunk?: number }): Promise<{ logits: Float32Array; present: HybridCache }> {
    const chunk = Math.min(x.chunk ?? this.maxChunk, this.maxChunk);
    const { batch: B, seq: T } = x;
    const H = this.text.hiddenSize;
    let cache = x.past ?? this.emptyCache(B);
    let result: { logits: Float32Array; present: HybridCache } | null = null;
    for (let s = 0; s < T; s += chunk) {
      const n = Math.min(chunk, T - s);
      const emb = new Float32Array(B * n * H);
      for (let b = 0; b < B; b++) emb.set(x.inputsEmbeds.subarray((b * T + s) * H, (b * T + s + n) * H), b * n * H);
      result = await this.run({ inputsEmbeds: emb, batch: B, seq: n, past: cache });
      cache = result.present;
    }
    if (!result) throw new RangeError('prefill needs at least one token');
    return result;
  }
}
