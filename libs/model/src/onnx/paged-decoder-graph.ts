/**
 * Qwen2 decoder over a paged KV pool (the `decoder` stage; contract in paged-decoder-io.ts).
 *
 * Attention per layer, with g = heads / kv_heads query heads per kv head stacked along the query axis
 * and kv heads as the leading batch axis (the pool is head-major, so the gathered past needs no transpose):
 *   past   K_p = Gather(key_cache, block_tables, axis 1) → [kv, B, N·bs, hd]   masked where j ≥ past_lengths[b]
 *   new    K_n = the T new keys [kv, B, T, hd] (also the new_key output)       causal among themselves
 *   probs  = softmax([q·K_pᵀ | q·K_nᵀ]);  ctx = probs_p·V_p + probs_n·V_n
 * Splitting past and new keys avoids concatenating K/V (a copy of the whole context per layer); only
 * the [.., g·T, N·bs + T] scores are concatenated, which for a decode step is one row per head.
 */
import type { MiniCPMVConfig } from '../checkpoint/config.js';
import { qkvHeads, ropeRotator } from './decoder-graph.js';
import type { GraphBuilder, ValueSig } from './graph-builder.js';
import { linear, rmsNorm, silu, type WeightSource } from './layers.js';
import { PagedIo, type KvCacheDtype } from './paged-decoder-io.js';

/** The pool inputs and new-token outputs of attention layer i for a KV cache dtype (contract in paged-decoder-io.ts). */
export function pagedKvSignature(i: number, kvHeads: number, headDim: number, dtype: KvCacheDtype): { inputs: ValueSig[]; outputs: ValueSig[] } {
  const pool = [kvHeads, 'num_blocks', 'block_size', headDim];
  const fresh = [kvHeads, 'batch', 'sequence', headDim];
  const inputs: ValueSig[] = [
    { name: PagedIo.keyCache(i), dtype, shape: pool },
    { name: PagedIo.valueCache(i), dtype, shape: pool },
  ];
  const outputs: ValueSig[] = [
    { name: PagedIo.newKey(i), dtype, shape: fresh },
    { name: PagedIo.newValue(i), dtype, shape: fresh },
  ];
  if (dtype === 'int8') {
    inputs.push({ name: PagedIo.keyScale(i), dtype: 'float32', shape: pool.slice(0, 3) }, { name: PagedIo.valueScale(i), dtype: 'float32', shape: pool.slice(0, 3) });
    outputs.push({ name: PagedIo.newKeyScale(i), dtype: 'float32', shape: fresh.slice(0, 3) }, { name: PagedIo.newValueScale(i), dtype: 'float32', shape: fresh.slice(0, 3) });
  }
  return { inputs, outputs };
}

/**
 * The new tokens' K or V [kv, B, T, hd] (float32) as the pool stores them, written to the graph output
 * `name` (and `scaleName` for int8): float16 by Cast (round to nearest even), int8 as round(x / s) with
 * s = max|x| / 127 per (kv head, token) — Round is half-to-even, |x / s| ≤ 127, so the Cast never saturates.
 */
export function storeNewKv(g: GraphBuilder, x: string, dtype: KvCacheDtype, name: string, scaleName: string): void {
  if (dtype === 'float32') {
    g.op('Identity', [x], {}, { outputs: [name] });
  } else if (dtype === 'float16') {
    g.op('Cast', [x], { to: 10 }, { outputs: [name] });
  } else {
    const absMax = g.op('ReduceMax', [g.op('Abs', [x])], { axes: [3], keepdims: 1 }); // [kv,B,T,1]
    // A zero row keeps scale 0 (its values dequantise to 0); the divisor is floored so it stays finite.
    const scale = g.op('Div', [absMax, g.scalarF32(127)]);
    g.op('Cast', [g.op('Round', [g.op('Div', [x, g.op('Max', [scale, g.scalarF32(1e-30)])])])], { to: 3 }, { outputs: [name] });
    g.op('Squeeze', [scale, g.constI64([3])], {}, { outputs: [scaleName] });
  }
}

/**
 * Layer i's past K and V for the rows' blocks as float32 [kv, B, P, hd] (Gather over the head-major pool:
 * no transpose), and for int8 pools the scales as [kv, B, 1, P] to multiply into the scores (K) and the
 * probabilities (V) — [kv, B, g·T, P] values instead of a pass over the dequantised [kv, B, P, hd].
 */
export function gatherPastKv(g: GraphBuilder, i: number, headDim: number, dtype: KvCacheDtype): { k: string; v: string; kScale?: string; vScale?: string } {
  const shape = g.constI64([0, 0, -1, headDim]);
  const read = (pool: string): string => {
    const x = g.op('Reshape', [g.op('Gather', [pool, PagedIo.blockTables], { axis: 1 }), shape]);
    return dtype === 'float32' ? x : g.op('Cast', [x], { to: 1 });
  };
  const out: { k: string; v: string; kScale?: string; vScale?: string } = { k: read(PagedIo.keyCache(i)), v: read(PagedIo.valueCache(i)) };
  if (dtype === 'int8') {
    const sShape = g.constI64([0, 0, 1, -1]);
    out.kScale = g.op('Reshape', [g.op('Gather', [PagedIo.keyScale(i), PagedIo.blockTables], { axis: 1 }), sShape]);
    out.vScale = g.op('Reshape', [g.op('Gather', [PagedIo.valueScale(i), PagedIo.blockTables], { axis: 1 }), sShape]);
  }
  return out;
}

/**
 * The new tokens that get logits (`logits_indices`, flat b·T + t; paged-decoder-io.ts), gathered before the
 * final norm (per position) so the norm and lm_head run on those L rows only: one per row while decoding,
 * a whole chunk for a prompt whose logprobs are asked for. [L, hidden]
 */
export function gatherLogitRows(g: GraphBuilder, x: string, hidden: number): string {
  return g.op('Gather', [g.op('Reshape', [x, g.constI64([-1, hidden])]), PagedIo.logitsIndices], { axis: 0 });
}

/** The `logits` output and its per-row log-sum-exp `logits_lse` (paged-decoder-io.ts). */
export function emitLogits(g: GraphBuilder, logits: string): void {
  g.op('Identity', [logits], {}, { outputs: [PagedIo.logits] });
  g.op('ReduceLogSumExp', [logits], { axes: [1], keepdims: 0 }, { outputs: [PagedIo.logitsLogSumExp] });
}

export function pagedDecoderSignature(cfg: MiniCPMVConfig, kvDtype: KvCacheDtype = 'float32'): { inputs: ValueSig[]; outputs: ValueSig[] } {
  const l = cfg.llm;
  const inputs: ValueSig[] = [
    { name: PagedIo.inputsEmbeds, dtype: 'float32', shape: ['batch', 'sequence', l.hiddenSize] },
    { name: PagedIo.positionIds, dtype: 'int64', shape: ['batch', 'sequence'] },
    { name: PagedIo.pastLengths, dtype: 'int64', shape: ['batch'] },
    { name: PagedIo.queryLengths, dtype: 'int64', shape: ['batch'] },
    { name: PagedIo.blockTables, dtype: 'int64', shape: ['batch', 'table_blocks'] },
    { name: PagedIo.logitsIndices, dtype: 'int64', shape: ['logit_rows'] },
  ];
  const outputs: ValueSig[] = [
    { name: PagedIo.logits, dtype: 'float32', shape: ['logit_rows', l.vocabSize] },
    { name: PagedIo.logitsLogSumExp, dtype: 'float32', shape: ['logit_rows'] },
  ];
  for (let i = 0; i < l.numLayers; i++) {
    const kv = pagedKvSignature(i, l.numKvHeads, l.headDim, kvDtype);
    inputs.push(...kv.inputs);
    outputs.push(...kv.outputs);
  }
  return { inputs, outputs };
}

export function buildPagedDecoderGraph(g: GraphBuilder, cfg: MiniCPMVConfig, w: WeightSource, kvDtype: KvCacheDtype = 'float32'): void {
  const l = cfg.llm;
  const H = l.hiddenSize;
  const hd = l.headDim;
  const kv = l.numKvHeads;
  const group = l.numHeads / kv;
  const sig = pagedDecoderSignature(cfg, kvDtype);
  for (const i of sig.inputs) g.input(i.name, i.dtype, i.shape);

  const sq = (x: string): string => g.op('Squeeze', [x, g.constI64([0])]);
  const zero = g.scalarI64(0);
  const one = g.scalarI64(1);
  const T = g.op('Shape', [PagedIo.inputsEmbeds], { start: 1, end: 2 });
  // Past key columns: N table blocks × block_size (from the pool's shape: the graph fixes neither).
  const N = g.op('Shape', [PagedIo.blockTables], { start: 1, end: 2 });
  const bs = g.op('Shape', [PagedIo.keyCache(0)], { start: 2, end: 3 });
  const P = g.op('Mul', [N, bs]);

  // Past mask [1, B, 1, P]: column j is row b's token j iff j < past_lengths[b].
  const cols = g.op('Range', [zero, sq(P), one]);
  const pastOk = g.op('Less', [g.op('Unsqueeze', [cols, g.constI64([0])]), g.op('Unsqueeze', [PagedIo.pastLengths, g.constI64([1])])]); // [B, P]
  const pastBias = g.op('Unsqueeze', [g.op('Where', [pastOk, g.scalarF32(0), g.scalarF32(-1e9)]), g.constI64([0, 2])]);
  // New-token mask [g·T, T]: query t sees new keys ≤ t; rows repeat per stacked query head.
  const tpos = g.op('Range', [zero, sq(T), one]);
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [tpos, g.constI64([0])]), g.op('Unsqueeze', [tpos, g.constI64([1])])]);
  const newBias0 = g.op('Where', [causal, g.scalarF32(0), g.scalarF32(-1e9)]);
  const newBias = group > 1 ? g.op('Tile', [newBias0, g.constI64([group, 1])]) : newBias0;

  // RoPE for the new positions (float32 angles as torch).
  const rope = ropeRotator(g, PagedIo.positionIds, hd, l.ropeTheta);
  const scale = g.scalarF32(1 / Math.sqrt(hd));
  const splitAt = g.op('Unsqueeze', [sq(P), g.constI64([0])]);
  const maxI = g.constI64([2 ** 62]);
  const axis3b = g.constI64([3]);

  let x: string = PagedIo.inputsEmbeds;
  for (let i = 0; i < l.numLayers; i++) {
    const p = `llm.model.layers.${i}.`;
    x = g.withScope(`decoder/layer${i}`, () => {
      const h = rmsNorm(g, x, p + 'input_layernorm', w(p + 'input_layernorm.weight'), l.rmsNormEps);
      const proj = qkvHeads(g, h, p, l, w); // Qwen2 bias / Qwen3 q_norm, k_norm (4.5)
      const q = rope(proj.q); // [B,H,T,hd]
      const k = rope(proj.k);
      const v = proj.v;
      // float32 pools: the Transposes write the outputs directly (no Identity); others store a converted copy.
      const f32 = kvDtype === 'float32';
      const kNew = g.op('Transpose', [k], { perm: [1, 0, 2, 3] }, f32 ? { outputs: [PagedIo.newKey(i)] } : {}); // [kv,B,T,hd]
      const vNew = g.op('Transpose', [v], { perm: [1, 0, 2, 3] }, f32 ? { outputs: [PagedIo.newValue(i)] } : {});
      if (!f32) {
        storeNewKv(g, kNew, kvDtype, PagedIo.newKey(i), PagedIo.newKeyScale(i));
        storeNewKv(g, vNew, kvDtype, PagedIo.newValue(i), PagedIo.newValueScale(i));
      }
      const past = gatherPastKv(g, i, hd, kvDtype); // [kv,B,P,hd]
      // [B,H,T,hd] → [B,kv,g·T,hd] → [kv,B,g·T,hd]
      const qk = g.op('Transpose', [g.op('Reshape', [g.op('Mul', [q, scale]), g.constI64([0, kv, -1, hd])])], { perm: [1, 0, 2, 3] });
      const kDot = g.op('MatMul', [qk, g.op('Transpose', [past.k], { perm: [0, 1, 3, 2] })]);
      const sPast = g.op('Add', [past.kScale ? g.op('Mul', [kDot, past.kScale]) : kDot, pastBias]);
      const sNew = g.op('Add', [g.op('MatMul', [qk, g.op('Transpose', [kNew], { perm: [0, 1, 3, 2] })]), newBias]);
      const probs = g.op('Softmax', [g.op('Concat', [sPast, sNew], { axis: 3 })], { axis: -1 });
      const pPast = g.op('Slice', [probs, g.constI64([0]), splitAt, axis3b]);
      const pNew = g.op('Slice', [probs, splitAt, maxI, axis3b]);
      const pPastV = past.vScale ? g.op('Mul', [pPast, past.vScale]) : pPast;
      const ctx = g.op('Add', [g.op('MatMul', [pPastV, past.v]), g.op('MatMul', [pNew, vNew])]); // [kv,B,g·T,hd]
      // → [B,kv,g·T,hd] → [B,H,T,hd] → [B,T,H,hd] → [B,T,hidden]
      const ctxB = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [1, 0, 2, 3] }), g.constI64([0, l.numHeads, -1, hd])]);
      const merged = g.op('Reshape', [g.op('Transpose', [ctxB], { perm: [0, 2, 1, 3] }), g.constI64([0, 0, H])]);
      const x1 = g.op('Add', [x, linear(g, merged, p + 'self_attn.o_proj', w(p + 'self_attn.o_proj.weight'), H, H)]);
      const h2 = rmsNorm(g, x1, p + 'post_attention_layernorm', w(p + 'post_attention_layernorm.weight'), l.rmsNormEps);
      const gate = silu(g, linear(g, h2, p + 'mlp.gate_proj', w(p + 'mlp.gate_proj.weight'), l.intermediateSize, H));
      const up = linear(g, h2, p + 'mlp.up_proj', w(p + 'mlp.up_proj.weight'), l.intermediateSize, H);
      return g.op('Add', [x1, linear(g, g.op('Mul', [gate, up]), p + 'mlp.down_proj', w(p + 'mlp.down_proj.weight'), H, l.intermediateSize)]);
    });
  }
  const normed = rmsNorm(g, gatherLogitRows(g, x, H), 'llm.model.norm', w('llm.model.norm.weight'), l.rmsNormEps);
  const logits =
    g.weightFormat === 'fp32'
      ? g.op('Gemm', [normed, g.weight('llm.lm_head.weight', w('llm.lm_head.weight'), [l.vocabSize, H])], { transB: 1 })
      : linear(g, normed, 'llm.lm_head', w('llm.lm_head.weight'), l.vocabSize, H);
  emitLogits(g, logits);
  g.outputs.push(...sig.outputs);
}
