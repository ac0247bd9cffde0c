/**
 * Typed wrapper over the 4.6 hybrid decoder graph (onnx/hybrid-decoder-graph.ts). The cache is explicit
 * and per layer: full-attention layers hold KV [B, kv_heads, length, head_dim]; Gated DeltaNet layers
 * hold a fixed-size conv state [B, conv_dim, K−1] and recurrent state [B, Hv, d_k, d_v] that do not
 * grow with the context. `run` is one graph call (≤ maxChunk new tokens); `prefill` splits a long
 * prompt into maxChunk-token calls, carrying the cache between them.
 */
import type { Manifest46 } from '../manifest.js';
import { checkLength, f32, i64, toI64, type StageSession } from './stage-session.js';

export type HybridLayerCache = { kind: 'full'; key: Float32Array; value: Float32Array } | { kind: 'linear'; conv: Float32Array; recurrent: Float32Array };

export interface HybridCache {
  batch: number;
  /** KV length of the full-attention layers (= tokens seen, padding included). */
  length: number;
  layers: HybridLayerCache[];
}

export interface HybridDecoderInputs {
  /** [batch, seq, hidden] */
  inputsEmbeds: Float32Array;
  batch: number;
  seq: number;
  /** [batch, past + seq], default all ones. */
  attentionMask?: ArrayLike<number | bigint>;
  /** [batch, seq], default past … past + seq − 1. */
  positionIds?: ArrayLike<number | bigint>;
  past?: HybridCache;
}

type TextCfg = Manifest46['config']['text'];

export class HybridDecoderStage {
  constructor(
    readonly session: StageSession,
    readonly text: TextCfg,
    /** Most new tokens per graph call (manifest decoder.maxChunk). */
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
      length: 0,
      layers: t.layerTypes.map((lt) =>
        lt === 'full_attention'
          ? { kind: 'full', key: new Float32Array(0), value: new Float32Array(0) }
          : { kind: 'linear', conv: new Float32Array(batch * this.convDim * (t.linearConvKernel - 1)), recurrent: new Float32Array(batch * t.linearNumValueHeads * t.linearKeyHeadDim * t.linearValueHeadDim) },
      ),
    };
  }

  /** One graph call: logits of the last position [batch, vocab] and the advanced cache. */
  async run(x: HybridDecoderInputs): Promise<{ logits: Float32Array; present: HybridCache }> {
    const t = this.text;
    const { batch: B, seq: T } = x;
    if (T < 1 || T > this.maxChunk) throw new RangeError(`seq ${T} must be in [1, ${this.maxChunk}] (decoder.maxChunk; use prefill() for longer inputs)`);
    const past = x.past ?? this.emptyCache(B);
    if (past.batch !== B) throw new RangeError(`past.batch ${past.batch} does not match batch ${B}`);
    const P = past.length;
    const S = P + T;
    checkLength('inputs_embeds', x.inputsEmbeds.length, B * T * t.hiddenSize);
    const mask = x.attentionMask ? toI64(x.attentionMask) : new BigInt64Array(B * S).fill(1n);
    checkLength('attention_mask', mask.length, B * S);
    let pos: BigInt64Array;
    if (x.positionIds) pos = toI64(x.positionIds);
    else {
      pos = new BigInt64Array(B * T);
      for (let b = 0; b < B; b++) for (let i = 0; i < T; i++) pos[b * T + i] = BigInt(P + i);
    }
    checkLength('position_ids', pos.length, B * T);
    const feeds: Record<string, ReturnType<typeof f32>> = {
      inputs_embeds: f32(x.inputsEmbeds, [B, T, t.hiddenSize]),
      attention_mask: i64(mask, [B, S]),
      position_ids: i64(pos, [B, T]),
    };
    const K1 = t.linearConvKernel - 1;
    past.layers.forEach((l, i) => {
      if (l.kind === 'full') {
        feeds[`past_key_values.${i}.key`] = f32(l.key, [B, t.numKvHeads, P, t.headDim]);
        feeds[`past_key_values.${i}.value`] = f32(l.value, [B, t.numKvHeads, P, t.headDim]);
      } else {
        feeds[`past_conv.${i}`] = f32(l.conv, [B, this.convDim, K1]);
        feeds[`past_recurrent.${i}`] = f32(l.recurrent, [B, t.linearNumValueHeads, t.linearKeyHeadDim, t.linearValueHeadDim]);
      }
    });
    const out = await this.session.runFeeds(feeds);
    const data = (n: string): Float32Array => out[n].data as Float32Array;
    const layers: HybridLayerCache[] = past.layers.map((l, i) =>
      l.kind === 'full' ? { kind: 'full', key: data(`present.${i}.key`), value: data(`present.${i}.value`) } : { kind: 'linear', conv: data(`present_conv.${i}`), recurrent: data(`present_recurrent.${i}`) },
    );
    return { logits: data('logits'), present: { batch: B, length: S, layers } };
  }

  /**
   * Any number of new tokens: consecutive calls of at most `chunk` (default maxChunk) tokens. Masks and
   * positions are sliced per call; the logits are those of the last position.
   */
  async prefill(x: HybridDecoderInputs & { chunk?: number }): Promise<{ logits: Float32Array; present: HybridCache }> {
    const chunk = Math.min(x.chunk ?? this.maxChunk, this.maxChunk);
    const { batch: B, seq: T } = x;
    const H = this.text.hiddenSize;
    let cache = x.past ?? this.emptyCache(B);
    const P0 = cache.length;
    const mask = x.attentionMask ? toI64(x.attentionMask) : null;
    const pos = x.positionIds ? toI64(x.positionIds) : null;
    let result: { logits: Float32Array; present: HybridCache } | null = null;
    for (let s = 0; s < T; s += chunk) {
      const n = Math.min(chunk, T - s);
      const emb = new Float32Array(B * n * H);
      for (let b = 0; b < B; b++) emb.set(x.inputsEmbeds.subarray((b * T + s) * H, (b * T + s + n) * H), b * n * H);
      let m: BigInt64Array | undefined;
      if (mask) {
        const cols = P0 + s + n;
        m = new BigInt64Array(B * cols);
        for (let b = 0; b < B; b++) m.set(mask.subarray(b * (P0 + T), b * (P0 + T) + cols), b * cols);
      }
      let p: BigInt64Array | undefined;
      if (pos) {
        p = new BigInt64Array(B * n);
        for (let b = 0; b < B; b++) p.set(pos.subarray(b * T + s, b * T + s + n), b * n);
      }
      result = await this.run({ inputsEmbeds: emb, batch: B, seq: n, attentionMask: m, positionIds: p, past: cache });
      cache = result.present;
    }
    if (!result) throw new RangeError('prefill needs at least one token');
    return result;
  }
}
