/**
 * The paged decoder graph contract: the inputs and outputs every decoder graph takes and returns,
 * so one engine drives an attention-only model (MiniCPM-V 2.6's Qwen2) and a hybrid one (4.6: 18
 * Gated-DeltaNet layers with per-sequence conv + recurrent state, 6 attention layers with KV) alike.
 *
 * One call runs B rows. Row b brings q_b = query_lengths[b] new tokens (1 for a decode, a chunk for
 * a prefill), padded to T = max q_b. Nothing in a call is sized by a sequence's context except the
 * block table (one int64 per block of `block_size` tokens).
 *
 * Inputs
 *   inputs_embeds           f32 [B, T, hidden]   row b's new tokens; positions ≥ q_b are padding (any value)
 *   position_ids            i64 [B, T]           past_lengths[b] + t
 *   past_lengths            i64 [B]              tokens of row b already in the cache
 *   query_lengths           i64 [B]              1 ≤ q_b ≤ T
 *   block_tables            i64 [B, N]           row b's KV blocks in position order: token p lives in block
 *                                                block_tables[b, ⌊p / block_size⌋] at offset p mod block_size;
 *                                                entries past the row's blocks hold any valid block id; N ≥ 1
 *   key_cache.{i}           f32 [kv_heads, num_blocks, block_size, head_dim]   one per ATTENTION layer i
 *   value_cache.{i}         f32 (same)                                          (i = model layer index)
 *   key_scale.{i}           f32 [kv_heads, num_blocks, block_size]   int8 pools only: token p of kv head h is
 *   value_scale.{i}         f32 (same)                                 key_cache[h, blk, off, :] · key_scale[h, blk, off]
 *   state_slots             i64 [B]              row b's state slot (graphs with state layers only)
 *   state.{i}.{kind}        f32 [num_slots, …fixed]   per-sequence state of layer i (kind e.g. conv, recurrent)
 *   logits_indices          i64 [L]              which new tokens get logits, as flat indices b·T + t: the
 *                                                engine passes b·T + q_b − 1 per row (the next token), and every
 *                                                prompt position of a row whose request asks for prompt logprobs
 *                                                (lm_head then runs on L rows, not on B·T)
 * Outputs
 *   logits                  f32 [L, vocab]       of the tokens logits_indices names, in that order
 *   logits_lse              f32 [L]              log Σ exp(logits) per row (ReduceLogSumExp in onnxruntime): a
 *                                                prompt token's logprob is logits[t, id] − logits_lse[t] without a
 *                                                JS pass of exp over the vocabulary (2.2 ms per row of 151,666)
 *   new_key.{i}             f32 [kv_heads, B, T, head_dim]   the new tokens' keys (after RoPE); the engine
 *   new_value.{i}           f32 (same)                        stores the first q_b of row b into its blocks
 *                                                (in the pool's element type: see KvCacheDtype)
 *   new_key_scale.{i}       f32 [kv_heads, B, T]  int8 pools only: the new tokens' scales
 *   new_value_scale.{i}     f32 (same)
 *   new_state.{i}.{kind}    f32 [B, …fixed]      row b's state after its q_b tokens (padding must not advance it)
 *
 * Why outputs and not in-place writes: onnxruntime never writes a graph input, and an in-graph
 * ScatterND would copy the whole pool (it returns a new tensor). The pools are fed zero-copy (an
 * ort.Tensor over the engine's own Float32Array, created once), the graph gathers the blocks it
 * needs, and the engine copies only the new tokens' K/V (∝ T) and the fixed-size state back.
 * `block_size` and `num_blocks` are symbolic: the engine picks them (config), not the graph.
 */
import type { ValueSig } from './graph-builder.js';

export const PagedIo = {
  inputsEmbeds: 'inputs_embeds',
  positionIds: 'position_ids',
  pastLengths: 'past_lengths',
  queryLengths: 'query_lengths',
  blockTables: 'block_tables',
  stateSlots: 'state_slots',
  logitsIndices: 'logits_indices',
  logits: 'logits',
  logitsLogSumExp: 'logits_lse',
  keyCache: (layer: number): string => `key_cache.${layer}`,
  valueCache: (layer: number): string => `value_cache.${layer}`,
  newKey: (layer: number): string => `new_key.${layer}`,
  newValue: (layer: number): string => `new_value.${layer}`,
  keyScale: (layer: number): string => `key_scale.${layer}`,
  valueScale: (layer: number): string => `value_scale.${layer}`,
  newKeyScale: (layer: number): string => `new_key_scale.${layer}`,
  newValueScale: (layer: number): string => `new_value_scale.${layer}`,
  state: (layer: number, kind: string): string => `state.${layer}.${kind}`,
  newState: (layer: number, kind: string): string => `new_state.${layer}.${kind}`,
} as const;

/**
 * Element type of the KV pools, chosen at build time (`tessera model build --kv-cache-dtype`, like vLLM's
 * `--kv-cache-dtype`) and read back from the graph's `key_cache.*` inputs:
 *  - float32 (default): bit-faithful to the no-cache forward;
 *  - float16: half the bytes; the graph Casts the gathered blocks back to float32 before the GEMMs;
 *  - int8: a quarter of the bytes plus one float32 scale per (kv head, token) — symmetric, s = max|x| / 127
 *    over the head's head_dim values. Per token and not per block because decode appends one token at a
 *    time: a per-block scale would have to re-quantise the block whenever a larger value arrives. The
 *    scales fold into the scores (q·kᵀ·s) and the probabilities (p·s before ·V), so no dequantised copy
 *    of the pool is scaled.
 * The new tokens attend to each other in float32 within their own call; later calls read them from the pool.
 */
export type KvCacheDtype = 'float32' | 'float16' | 'int8';
export const KV_CACHE_DTYPES: readonly KvCacheDtype[] = ['float32', 'float16', 'int8'];
/** Bytes per stored element; int8 adds a 4-byte scale per (kv head, token). */
export const KV_ELEMENT_BYTES: Readonly<Record<KvCacheDtype, number>> = { float32: 4, float16: 2, int8: 1 };

/** One per-sequence state tensor of a stateful (linear-attention) layer. */
export interface StateTensorSpec {
  layer: number;
  kind: string;
  /** Per-sequence shape (the graph input's dims after `num_slots`), all fixed. */
  shape: number[];
  /** Elements per sequence. */
  size: number;
  input: string;
  output: string;
}

/** What a paged decoder graph keeps per token (KV) and per sequence (state), read from its signature. */
export interface PagedCacheLayout {
  /** Model layers with paged KV, ascending. */
  attentionLayers: number[];
  kvHeads: number;
  headDim: number;
  /** Element type of the KV pools (float32 unless built with another). */
  kvDtype: KvCacheDtype;
  /** Per-sequence state tensors (empty for attention-only models). */
  states: StateTensorSpec[];
  hidden: number;
  vocab: number;
  /**
   * The graph takes `logits_indices` (any new token's logits). Graphs built before it (GRAPH_VERSION 2,
   * GRAPH_VERSION_46 4) gather each row's last token themselves: they serve, without prompt logprobs.
   */
  logitsIndices: boolean;
  /** The graph returns `logits_lse` (GRAPH_VERSION 4 / 4.6's 6 on); earlier graphs leave the log-softmax to JS. */
  logitsLogSumExp: boolean;
}

/**
 * Reads the cache layout from a graph's inputs (as the manifest records them), so a new decoder
 * family only has to follow the names above: nothing in the runtime or engine is keyed by family.
 */
export function pagedLayoutOf(inputs: ValueSig[], outputs: ValueSig[]): PagedCacheLayout {
  const attentionLayers: number[] = [];
  let kvHeads = 0;
  let headDim = 0;
  let kvDtype: KvCacheDtype = 'float32';
  const states: StateTensorSpec[] = [];
  for (const v of inputs) {
    const kc = /^key_cache\.(\d+)$/.exec(v.name);
    if (kc) {
      attentionLayers.push(Number(kc[1]));
      kvHeads = fixed(v, 0);
      headDim = fixed(v, 3);
      if (!(KV_CACHE_DTYPES as readonly string[]).includes(v.dtype)) throw new Error(`${v.name}: element type ${v.dtype} is not a KV cache dtype (${KV_CACHE_DTYPES.join(', ')})`);
      kvDtype = v.dtype as KvCacheDtype;
      continue;
    }
    const st = /^state\.(\d+)\.([A-Za-z0-9_]+)$/.exec(v.name);
    if (st) {
      const shape = v.shape.slice(1).map((_, k) => fixed(v, k + 1));
      const layer = Number(st[1]);
      const kind = st[2]!;
      states.push({ layer, kind, shape, size: shape.reduce((a, b) => a * b, 1), input: v.name, output: PagedIo.newState(layer, kind) });
    }
  }
  const embeds = inputs.find((v) => v.name === PagedIo.inputsEmbeds);
  const logits = outputs.find((v) => v.name === PagedIo.logits);
  if (!embeds || !logits) throw new Error(`not a paged decoder graph: ${PagedIo.inputsEmbeds} or ${PagedIo.logits} missing`);
  attentionLayers.sort((a, b) => a - b);
  states.sort((a, b) => a.layer - b.layer || a.kind.localeCompare(b.kind));
  const logitsIndices = inputs.some((v) => v.name === PagedIo.logitsIndices);
  const logitsLogSumExp = outputs.some((v) => v.name === PagedIo.logitsLogSumExp);
  return { attentionLayers, kvHeads, headDim, kvDtype, states, hidden: fixed(embeds, 2), vocab: fixed(logits, 1), logitsIndices, logitsLogSumExp };
}

function fixed(v: ValueSig, axis: number): number {
  const d = v.shape[axis];
  if (typeof d !== 'number') throw new Error(`${v.name}: dim ${axis} must be fixed (got ${String(d)})`);
  return d;
}
