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
import { PagedIo } from './paged-decoder-io.js';

export function pagedDecoderSignature(cfg: MiniCPMVConfig): { inputs: ValueSig[]; outputs: ValueSig[] } {
  const l = cfg.llm;
  const inputs: ValueSig[] = [
    { name: PagedIo.inputsEmbeds, dtype: 'float32', shape: ['batch', 'sequence', l.hiddenSize] },
    { name: PagedIo.positionIds, dtype: 'int64', shape: ['batch', 'sequence'] },
    { name: PagedIo.pastLengths, dtype: 'int64', shape: ['batch'] },
    { name: PagedIo.queryLengths, dtype: 'int64', shape: ['batch'] },
    { name: PagedIo.blockTables, dtype: 'int64', shape: ['batch', 'table_blocks'] },
  ];
  const outputs: ValueSig[] = [{ name: PagedIo.logits, dtype: 'float32', shape: ['batch', l.vocabSize] }];
  for (let i = 0; i < l.numLayers; i++) {
    inputs.push({ name: PagedIo.keyCache(i), dtype: 'float32', shape: [l.numKvHeads, 'num_blocks', 'block_size', l.headDim] });
    inputs.push({ name: PagedIo.valueCache(i), dtype: 'float32', shape: [l.numKvHeads, 'num_blocks', 'block_size', l.headDim] });
    outputs.push({ name: PagedIo.newKey(i), dtype: 'float32', shape: [l.numKvHeads, 'batch', 'sequence', l.headDim] });
    outputs.push({ name: PagedIo.newValue(i), dtype: 'float32', shape: [l.numKvHeads, 'batch', 'sequence', l.headDim] });
  }
  return { inputs, outputs };
}

export function buildPagedDecoderGraph(g: GraphBuilder, cfg: MiniCPMVConfig, w: WeightSource): void {
  const l = cfg.llm;
  const H = l.hiddenSize;
  const hd = l.headDim;
  const kv = l.numKvHeads;
  const group = l.numHeads / kv;
  const sig = pagedDecoderSignature(cfg);
  for (const i of sig.inputs) g.input(i.name, i.dtype, i.shape);

  const sq = (x: string): string => g.op('Squeeze', [x, g.constI64([0])]);
  const zero = g.scalarI64(0);
  const one = g.scalarI64(1);
  const B = g.op('Shape', [PagedIo.inputsEmbeds], { start: 0, end: 1 });
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
  const pastShape = g.constI64([0, 0, -1, hd]);
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
      const kNew = g.op('Transpose', [k], { perm: [1, 0, 2, 3] }, { outputs: [PagedIo.newKey(i)] }); // [kv,B,T,hd]
      const vNew = g.op('Transpose', [v], { perm: [1, 0, 2, 3] }, { outputs: [PagedIo.newValue(i)] });
      const kPast = g.op('Reshape', [g.op('Gather', [PagedIo.keyCache(i), PagedIo.blockTables], { axis: 1 }), pastShape]); // [kv,B,P,hd]
      const vPast = g.op('Reshape', [g.op('Gather', [PagedIo.valueCache(i), PagedIo.blockTables], { axis: 1 }), pastShape]);
      // [B,H,T,hd] → [B,kv,g·T,hd] → [kv,B,g·T,hd]
      const qk = g.op('Transpose', [g.op('Reshape', [g.op('Mul', [q, scale]), g.constI64([0, kv, -1, hd])])], { perm: [1, 0, 2, 3] });
      const sPast = g.op('Add', [g.op('MatMul', [qk, g.op('Transpose', [kPast], { perm: [0, 1, 3, 2] })]), pastBias]);
      const sNew = g.op('Add', [g.op('MatMul', [qk, g.op('Transpose', [kNew], { perm: [0, 1, 3, 2] })]), newBias]);
      const probs = g.op('Softmax', [g.op('Concat', [sPast, sNew], { axis: 3 })], { axis: -1 });
      const pPast = g.op('Slice', [probs, g.constI64([0]), splitAt, axis3b]);
      const pNew = g.op('Slice', [probs, splitAt, maxI, axis3b]);
      const ctx = g.op('Add', [g.op('MatMul', [pPast, vPast]), g.op('MatMul', [pNew, vNew])]); // [kv,B,g·T,hd]
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
  // Logits of each row's last valid token: flat index b·T + query_lengths[b] − 1, gathered before the
  // final norm (per position) so lm_head runs on B rows only.
  const flat = g.op('Reshape', [x, g.constI64([-1, H])]);
  const rowStart = g.op('Mul', [g.op('Range', [zero, sq(B), one]), sq(T)]);
  const lastIdx = g.op('Add', [rowStart, g.op('Sub', [PagedIo.queryLengths, one])]);
  const last = g.op('Gather', [flat, lastIdx], { axis: 0 }); // [B, hidden]
  const normed = rmsNorm(g, last, 'llm.model.norm', w('llm.model.norm.weight'), l.rmsNormEps);
  const logits =
    g.weightFormat === 'fp32'
      ? g.op('Gemm', [normed, g.weight('llm.lm_head.weight', w('llm.lm_head.weight'), [l.vocabSize, H])], { transB: 1 })
      : linear(g, normed, 'llm.lm_head', w('llm.lm_head.weight'), l.vocabSize, H);
  g.op('Identity', [logits], {}, { outputs: [PagedIo.logits] });
  g.outputs.push(...sig.outputs);
}
