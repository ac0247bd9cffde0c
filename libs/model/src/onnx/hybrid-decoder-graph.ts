/**
 * The Qwen3.5 hybrid decoder of MiniCPM-V 4.6 as one ONNX graph over the paged decoder contract
 * (onnx/paged-decoder-io.ts — the engine v2 drives it like the 2.6 decoder) plus per-sequence state
 * (reference/minicpmv4x.md §4; float64 twin: families/minicpmv4_6/text-reference.ts):
 *   inputs_embeds [B, T, hidden], position_ids [B, T], past_lengths [B], query_lengths [B] (rows right-padded to T),
 *   block_tables [B, N]; per FULL-attention layer i: key_cache.{i} / value_cache.{i} [kv_heads, num_blocks, block_size, head_dim];
 *   state_slots [B]; per LINEAR layer i: state.{i}.conv [num_slots, conv_dim, K−1] (last K−1 pre-conv rows, oldest
 *   first; HF/vLLM axis order) and state.{i}.recurrent [num_slots, Hv, d_k, d_v] (S, HF layout)
 *   logits_indices [L] → logits [L, vocab] of the new tokens it names (paged-decoder-io.ts); new_key.{i} / new_value.{i} [kv_heads, B, T, head_dim];
 *     new_state.{i}.conv / new_state.{i}.recurrent [B, …] after each row's q_b tokens.
 * One graph serves prefill chunks and decode steps (T = 1): Gated DeltaNet runs in the chunked WY form
 * over all T tokens at once, with (I + A)⁻¹ of the strictly lower-triangular A computed as
 * Π_{s<m} (I + (−A)^{2^s}) — exact because A^T = 0, so m = ⌈log₂ maxChunk⌉ squarings cover any T ≤ maxChunk,
 * with no Loop and no triangular solve (not in ONNX). Callers feed at most `maxChunk` new tokens per row
 * (manifest `decoder.maxChunk`). The product is exact in exact arithmetic but not in float32: the entries of
 * (−A)^k grow like C(T−1, k)·β^k when keys are alike (repeated tokens), and the alternating sum cancels —
 * for "word word …" on the tiny model the logits were off by 0.8 at T = 64, 2e-5 at T = 32 and ≤ 1e-5 at
 * T ≤ 24 against token-by-token; worst case (equal keys, β = 1, no decay) C(15, 7)·ε ≈ 4e-4 at T = 16 vs
 * 1e17·ε at 64. Hence 16 (docs/decisions.md; it was also the fastest chunk on CPU).
 * Right padding (t ≥ q_b) never advances a row's state: its decay is 0, its key and β are 0, and the new
 * conv state is gathered at the row's own last K−1 rows.
 */
import { convDim, fullAttentionLayers, type HybridTextConfig } from '../families/minicpmv4_6/config.js';
import { TEXT_PREFIX } from '../families/minicpmv4_6/text-tensors.js';
import type { GraphBuilder, ValueSig } from './graph-builder.js';
import { linear, rmsNorm, silu, type WeightSource } from './layers.js';
import { emitLogits, gatherLogitRows } from './paged-decoder-graph.js';
import { PagedIo } from './paged-decoder-io.js';

export const DEFAULT_MAX_CHUNK = 16;

export function hybridDecoderSignature(t: HybridTextConfig): { inputs: ValueSig[]; outputs: ValueSig[] } {
  const inputs: ValueSig[] = [
    { name: PagedIo.inputsEmbeds, dtype: 'float32', shape: ['batch', 'sequence', t.hiddenSize] },
    { name: PagedIo.positionIds, dtype: 'int64', shape: ['batch', 'sequence'] },
    { name: PagedIo.pastLengths, dtype: 'int64', shape: ['batch'] },
    { name: PagedIo.queryLengths, dtype: 'int64', shape: ['batch'] },
    { name: PagedIo.blockTables, dtype: 'int64', shape: ['batch', 'table_blocks'] },
    { name: PagedIo.stateSlots, dtype: 'int64', shape: ['batch'] },
    { name: PagedIo.logitsIndices, dtype: 'int64', shape: ['logit_rows'] },
  ];
  const outputs: ValueSig[] = [
    { name: PagedIo.logits, dtype: 'float32', shape: ['logit_rows', t.vocabSize] },
    { name: PagedIo.logitsLogSumExp, dtype: 'float32', shape: ['logit_rows'] },
  ];
  const C = convDim(t);
  const conv = [C, t.linearConvKernel - 1];
  const rec = [t.linearNumValueHeads, t.linearKeyHeadDim, t.linearValueHeadDim];
  t.layerTypes.forEach((lt, i) => {
    if (lt === 'full_attention') {
      inputs.push({ name: PagedIo.keyCache(i), dtype: 'float32', shape: [t.numKvHeads, 'num_blocks', 'block_size', t.headDim] });
      inputs.push({ name: PagedIo.valueCache(i), dtype: 'float32', shape: [t.numKvHeads, 'num_blocks', 'block_size', t.headDim] });
      outputs.push({ name: PagedIo.newKey(i), dtype: 'float32', shape: [t.numKvHeads, 'batch', 'sequence', t.headDim] });
      outputs.push({ name: PagedIo.newValue(i), dtype: 'float32', shape: [t.numKvHeads, 'batch', 'sequence', t.headDim] });
    } else {
      inputs.push({ name: PagedIo.state(i, 'conv'), dtype: 'float32', shape: ['num_slots', ...conv] });
      inputs.push({ name: PagedIo.state(i, 'recurrent'), dtype: 'float32', shape: ['num_slots', ...rec] });
      outputs.push({ name: PagedIo.newState(i, 'conv'), dtype: 'float32', shape: ['batch', ...conv] });
      outputs.push({ name: PagedIo.newState(i, 'recurrent'), dtype: 'float32', shape: ['batch', ...rec] });
    }
  });
  return { inputs, outputs };
}

const plusOne = (w: Float32Array): Float32Array => w.map((x) => 1 + x);

export function buildHybridDecoderGraph(g: GraphBuilder, t: HybridTextConfig, w0: WeightSource, maxChunk = DEFAULT_MAX_CHUNK): void {
  const w = (name: string): Float32Array => w0(TEXT_PREFIX + name);
  const H = t.hiddenSize;
  const sig = hybridDecoderSignature(t);
  for (const i of sig.inputs) g.input(i.name, i.dtype, i.shape);
  const full = fullAttentionLayers(t);

  const sq = (x: string): string => g.op('Squeeze', [x, g.constI64([0])]);
  const one = g.scalarI64(1);
  const zero = g.scalarI64(0);
  const T = g.op('Shape', [PagedIo.inputsEmbeds], { start: 1, end: 2 });
  const tIdx = g.op('Range', [zero, sq(T), one]); // [T]
  const rowIdx = g.op('Unsqueeze', [tIdx, g.constI64([1])]);
  const colIdx = g.op('Unsqueeze', [tIdx, g.constI64([0])]);
  // Intra-chunk masks [T, T]: j ≤ i (outputs, and the new-key causal mask) and j < i (the triangular system).
  const lowerIncl = g.op('GreaterOrEqual', [rowIdx, colIdx]);
  const lowerStrict = g.op('Greater', [rowIdx, colIdx]);
  const eye = g.op('Cast', [g.op('Equal', [rowIdx, colIdx])], { to: 1 });
  // Valid new tokens [B, T]: t < query_lengths[b].
  const valid = g.op('Cast', [g.op('Less', [colIdx, g.op('Unsqueeze', [PagedIo.queryLengths, g.constI64([1])])])], { to: 1 });

  let attn: AttnShared | null = null;
  if (full.length) {
    const group = t.numHeads / t.numKvHeads;
    // Past key columns: N table blocks × block_size, read from the first attention layer's pool shape.
    const N = g.op('Shape', [PagedIo.blockTables], { start: 1, end: 2 });
    const bs = g.op('Shape', [PagedIo.keyCache(full[0])], { start: 2, end: 3 });
    const P = g.op('Mul', [N, bs]);
    const cols = g.op('Range', [zero, sq(P), one]);
    const pastOk = g.op('Less', [g.op('Unsqueeze', [cols, g.constI64([0])]), g.op('Unsqueeze', [PagedIo.pastLengths, g.constI64([1])])]); // [B, P]
    const pastBias = g.op('Unsqueeze', [g.op('Where', [pastOk, g.scalarF32(0), g.scalarF32(-1e9)]), g.constI64([0, 2])]); // [1, B, 1, P]
    const newBias0 = g.op('Where', [lowerIncl, g.scalarF32(0), g.scalarF32(-1e9)]); // [T, T]
    const newBias = group > 1 ? g.op('Tile', [newBias0, g.constI64([group, 1])]) : newBias0;
    // Partial RoPE over rotary_dim: angles [B, 1, T, rd] (halves duplicated, NeoX rotate-half), float32 like torch.
    const rd = t.rotaryDim;
    const inv = new Float32Array(rd / 2);
    for (let i = 0; i < rd / 2; i++) inv[i] = 1 / Math.pow(t.ropeTheta, (2 * i) / rd);
    const ang = g.op('Mul', [g.op('Unsqueeze', [g.op('Cast', [PagedIo.positionIds], { to: 1 }), g.constI64([2])]), g.constF32(inv)]);
    const emb = g.op('Unsqueeze', [g.op('Concat', [ang, ang], { axis: -1 }), g.constI64([1])]);
    attn = { pastBias, newBias, cos: g.op('Cos', [emb]), sin: g.op('Sin', [emb]), splitAt: g.op('Unsqueeze', [sq(P), g.constI64([0])]) };
  }
  const gdn: GdnShared = { valid, lowerIncl, lowerStrict, eye, NEG: g.scalarF32(-1e30), T, maxChunk };

  let x: string = PagedIo.inputsEmbeds;
  for (let i = 0; i < t.numLayers; i++) {
    const p = `layers.${i}.`;
    x = g.withScope(`decoder/layer${i}`, () => {
      const h = rmsNorm(g, x, TEXT_PREFIX + p + 'input_layernorm', plusOne(w(p + 'input_layernorm.weight')), t.rmsNormEps);
      const mixed = t.layerTypes[i] === 'full_attention' ? fullAttention(g, t, w, i, h, attn!) : gatedDeltaNet(g, t, w, i, h, gdn);
      const x1 = g.op('Add', [x, mixed]);
      const h2 = rmsNorm(g, x1, TEXT_PREFIX + p + 'post_attention_layernorm', plusOne(w(p + 'post_attention_layernorm.weight')), t.rmsNormEps);
      const gate = silu(g, linear(g, h2, TEXT_PREFIX + p + 'mlp.gate_proj', w(p + 'mlp.gate_proj.weight'), t.intermediateSize, H));
      const up = linear(g, h2, TEXT_PREFIX + p + 'mlp.up_proj', w(p + 'mlp.up_proj.weight'), t.intermediateSize, H);
      return g.op('Add', [x1, linear(g, g.op('Mul', [gate, up]), TEXT_PREFIX + p + 'mlp.down_proj', w(p + 'mlp.down_proj.weight'), H, t.intermediateSize)]);
    });
  }
  const normed = rmsNorm(g, gatherLogitRows(g, x, H), TEXT_PREFIX + 'norm', plusOne(w('norm.weight')), t.rmsNormEps);
  const headName = t.tieWordEmbeddings ? TEXT_PREFIX + 'embed_tokens.weight' : 'lm_head.weight';
  const head = t.tieWordEmbeddings ? w('embed_tokens.weight') : w0('lm_head.weight');
  // Tied head: Gemm(transB) reads the [vocab, hidden] embedding table as stored (no 1 GB transpose copy).
  const logits = g.weightFormat === 'fp32' ? g.op('Gemm', [normed, g.weight(headName, head, [t.vocabSize, H])], { transB: 1 }) : linear(g, normed, headName.replace(/\.weight$/, ''), head, t.vocabSize, H);
  emitLogits(g, logits);
  g.outputs.push(...sig.outputs);
}

interface AttnShared {
  pastBias: string;
  newBias: string;
  cos: string;
  sin: string;
  splitAt: string;
}

/**
 * Gated softmax attention over the paged KV (same split as the 2.6 paged graph: past and new keys are
 * scored separately and only the scores are concatenated, so the context's K/V are never copied).
 */
function fullAttention(g: GraphBuilder, t: HybridTextConfig, w: (n: string) => Float32Array, i: number, h: string, s: AttnShared): string {
  const p = `layers.${i}.self_attn.`;
  const P = TEXT_PREFIX + p;
  const { numHeads: nH, numKvHeads: kv, headDim: hd, rotaryDim: rd, hiddenSize: H } = t;
  const ax3 = g.constI64([3]);
  const at = (v: number): string => g.constI64([v]);
  // q_proj → [B, T, nH, 2·hd]: per head the query then its gate.
  const qg = g.op('Reshape', [linear(g, h, P + 'q_proj', w(p + 'q_proj.weight'), 2 * nH * hd, H), g.constI64([0, 0, nH, 2 * hd])]);
  const q0 = g.op('Slice', [qg, at(0), at(hd), ax3]);
  const gate = g.op('Reshape', [g.op('Slice', [qg, at(hd), at(2 * hd), ax3]), g.constI64([0, 0, nH * hd])]);
  const q1 = rmsNorm(g, q0, P + 'q_norm', plusOne(w(p + 'q_norm.weight')), t.rmsNormEps);
  const k0 = g.op('Reshape', [linear(g, h, P + 'k_proj', w(p + 'k_proj.weight'), kv * hd, H), g.constI64([0, 0, kv, hd])]);
  const k1 = rmsNorm(g, k0, P + 'k_norm', plusOne(w(p + 'k_norm.weight')), t.rmsNormEps);
  const v = g.op('Transpose', [g.op('Reshape', [linear(g, h, P + 'v_proj', w(p + 'v_proj.weight'), kv * hd, H), g.constI64([0, 0, kv, hd])])], { perm: [0, 2, 1, 3] });
  const rope = (x4: string): string => {
    const x = g.op('Transpose', [x4], { perm: [0, 2, 1, 3] }); // [B, heads, T, hd]
    const xr = g.op('Slice', [x, at(0), at(rd), ax3]);
    const x1 = g.op('Slice', [xr, at(0), at(rd / 2), ax3]);
    const x2 = g.op('Slice', [xr, at(rd / 2), at(rd), ax3]);
    const rot = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: 3 });
    const roped = g.op('Add', [g.op('Mul', [xr, s.cos]), g.op('Mul', [rot, s.sin])]);
    return rd === hd ? roped : g.op('Concat', [roped, g.op('Slice', [x, at(rd), at(hd), ax3])], { axis: 3 });
  };
  const q = rope(q1); // [B, nH, T, hd]
  const k = rope(k1); // [B, kv, T, hd]
  const kNew = g.op('Transpose', [k], { perm: [1, 0, 2, 3] }, { outputs: [PagedIo.newKey(i)] }); // [kv, B, T, hd]
  const vNew = g.op('Transpose', [v], { perm: [1, 0, 2, 3] }, { outputs: [PagedIo.newValue(i)] });
  const pastShape = g.constI64([0, 0, -1, hd]);
  const kPast = g.op('Reshape', [g.op('Gather', [PagedIo.keyCache(i), PagedIo.blockTables], { axis: 1 }), pastShape]); // [kv, B, P, hd]
  const vPast = g.op('Reshape', [g.op('Gather', [PagedIo.valueCache(i), PagedIo.blockTables], { axis: 1 }), pastShape]);
  // [B, nH, T, hd] → [B, kv, g·T, hd] → [kv, B, g·T, hd]: the g query heads of a kv head stacked on the query axis.
  const qk = g.op('Transpose', [g.op('Reshape', [g.op('Mul', [q, g.scalarF32(1 / Math.sqrt(hd))]), g.constI64([0, kv, -1, hd])])], { perm: [1, 0, 2, 3] });
  const sPast = g.op('Add', [g.op('MatMul', [qk, g.op('Transpose', [kPast], { perm: [0, 1, 3, 2] })]), s.pastBias]);
  const sNew = g.op('Add', [g.op('MatMul', [qk, g.op('Transpose', [kNew], { perm: [0, 1, 3, 2] })]), s.newBias]);
  const probs = g.op('Softmax', [g.op('Concat', [sPast, sNew], { axis: 3 })], { axis: -1 });
  const pPast = g.op('Slice', [probs, g.constI64([0]), s.splitAt, ax3]);
  const pNew = g.op('Slice', [probs, s.splitAt, g.constI64([2 ** 62]), ax3]);
  const ctx = g.op('Add', [g.op('MatMul', [pPast, vPast]), g.op('MatMul', [pNew, vNew])]); // [kv, B, g·T, hd]
  const ctxB = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [1, 0, 2, 3] }), g.constI64([0, nH, -1, hd])]);
  const merged = g.op('Reshape', [g.op('Transpose', [ctxB], { perm: [0, 2, 1, 3] }), g.constI64([0, 0, nH * hd])]);
  return linear(g, g.op('Mul', [merged, g.op('Sigmoid', [gate])]), P + 'o_proj', w(p + 'o_proj.weight'), H, nH * hd);
}

interface GdnShared {
  /** [B, T] float: 1 for t < q_b. */
  valid: string;
  lowerIncl: string;
  lowerStrict: string;
  eye: string;
  NEG: string;
  T: string;
  maxChunk: number;
}

function gatedDeltaNet(g: GraphBuilder, t: HybridTextConfig, w: (n: string) => Float32Array, i: number, h: string, s: GdnShared): string {
  const p = `layers.${i}.linear_attn.`;
  const P = TEXT_PREFIX + p;
  const H = t.hiddenSize;
  const C = convDim(t);
  const K = t.linearConvKernel;
  const { linearNumKeyHeads: Hk, linearNumValueHeads: Hv, linearKeyHeadDim: dk, linearValueHeadDim: dv } = t;
  const at = (v: number): string => g.constI64([v]);
  const qkv = linear(g, h, P + 'in_proj_qkv', w(p + 'in_proj_qkv.weight'), C, H); // [B, T, C]
  const z = linear(g, h, P + 'in_proj_z', w(p + 'in_proj_z.weight'), Hv * dv, H);
  const b = linear(g, h, P + 'in_proj_b', w(p + 'in_proj_b.weight'), Hv, H);
  const a = linear(g, h, P + 'in_proj_a', w(p + 'in_proj_a.weight'), Hv, H);

  // Depthwise causal conv over [K−1 cached rows | T new rows]; the new state is rows q_b … q_b+K−2 of that
  // window (the row's own last K−1 inputs, right padding excluded).
  const pastConv = g.op('Gather', [PagedIo.state(i, 'conv'), PagedIo.stateSlots], { axis: 0 }); // [B, C, K−1]
  const ext = g.op('Concat', [pastConv, g.op('Transpose', [qkv], { perm: [0, 2, 1] })], { axis: 2 }); // [B, C, K−1+T]
  const keep = g.op('Add', [g.op('Unsqueeze', [PagedIo.queryLengths, g.constI64([1])]), g.constI64(Array.from({ length: K - 1 }, (_, j) => j))]); // [B, K−1]
  const keepIdx = g.op('Expand', [g.op('Unsqueeze', [keep, g.constI64([1])]), g.op('Shape', [pastConv])]);
  g.op('GatherElements', [ext, keepIdx], { axis: 2 }, { outputs: [PagedIo.newState(i, 'conv')] });
  const conv = g.op('Conv', [ext, g.weight(P + 'conv1d.weight', w(p + 'conv1d.weight'), [C, 1, K])], { group: C, kernel_shape: [K] });
  const u = g.op('Transpose', [silu(g, conv)], { perm: [0, 2, 1] }); // [B, T, C]

  // q, k: per-head L2 norm (eps 1e-6 inside the sqrt), q also / √d_k; repeat key heads to the value heads.
  const heads = (from: number, to: number, n: number, d: number): string => g.op('Reshape', [g.op('Slice', [u, at(from), at(to), at(2)]), g.constI64([0, 0, n, d])]);
  const l2 = (x: string, scale: number): string => {
    const ss = g.op('ReduceSum', [g.op('Mul', [x, x]), g.constI64([-1])], { keepdims: 1 });
    return g.op('Mul', [x, g.op('Div', [g.scalarF32(scale), g.op('Sqrt', [g.op('Add', [ss, g.scalarF32(1e-6)])])])]);
  };
  const r = Hv / Hk;
  const toValueHeads = (x: string): string => (r === 1 ? x : g.op('Reshape', [g.op('Tile', [g.op('Unsqueeze', [x, g.constI64([3])]), g.constI64([1, 1, 1, r, 1])]), g.constI64([0, 0, Hv, dk])]));
  const bhtd = (x: string): string => g.op('Transpose', [x], { perm: [0, 2, 1, 3] });
  const Q = bhtd(toValueHeads(l2(heads(0, Hk * dk, Hk, dk), 1 / Math.sqrt(dk)))); // [B, Hv, T, dk]
  // Padding tokens (t ≥ q_b) get key 0, β 0 and decay 0 below, so they leave the state untouched.
  const validU = g.op('Unsqueeze', [s.valid, g.constI64([1, 3])]); // [B, 1, T, 1]
  const Kh = g.op('Mul', [bhtd(toValueHeads(l2(heads(Hk * dk, 2 * Hk * dk, Hk, dk), 1))), validU]);
  const V = bhtd(heads(2 * Hk * dk, C, Hv, dv));
  const KhT = g.op('Transpose', [Kh], { perm: [0, 1, 3, 2] });

  // β = sigmoid(b); g = −e^{A_log}·softplus(a + dt_bias), 0 for padding tokens; layout [B, Hv, T].
  const bht = (x: string): string => g.op('Transpose', [x], { perm: [0, 2, 1] });
  const valid3 = g.op('Unsqueeze', [s.valid, g.constI64([2])]); // [B, T, 1]
  const beta = bht(g.op('Mul', [g.op('Sigmoid', [b]), valid3]));
  const negA = Float32Array.from(w(p + 'A_log'), (v) => -Math.exp(v));
  const decay = g.op('Mul', [g.op('Mul', [g.op('Softplus', [g.op('Add', [a, g.weight(P + 'dt_bias', w(p + 'dt_bias'), [Hv])])]), g.weight(P + 'neg_exp_A_log', negA, [Hv])]), valid3]);
  const gam = g.op('CumSum', [bht(decay), g.scalarI64(2)]); // [B, Hv, T]
  const diff = g.op('Sub', [g.op('Unsqueeze', [gam, g.constI64([3])]), g.op('Unsqueeze', [gam, g.constI64([2])])]); // γi − γj
  const dIncl = g.op('Exp', [g.op('Where', [s.lowerIncl, diff, s.NEG])]);
  const dStrict = g.op('Exp', [g.op('Where', [s.lowerStrict, diff, s.NEG])]);
  const betaU = g.op('Unsqueeze', [beta, g.constI64([3])]);
  const Kb = g.op('Mul', [Kh, betaU]);
  const Vb = g.op('Mul', [V, betaU]);
  const negA_ = g.op('Neg', [g.op('Mul', [g.op('MatMul', [Kb, KhT]), dStrict])]); // −A
  // (I + A)⁻¹ = Π_{s<m} (I + (−A)^{2^s}); the factors are polynomials in A, so they commute.
  let inv = g.op('Add', [s.eye, negA_]);
  let pow = negA_;
  for (let k = 1; 1 << k < s.maxChunk; k++) {
    pow = g.op('MatMul', [pow, pow]);
    inv = g.op('MatMul', [inv, g.op('Add', [s.eye, pow])]);
  }
  const expG = g.op('Unsqueeze', [g.op('Exp', [gam]), g.constI64([3])]); // [B, Hv, T, 1]
  const U = g.op('MatMul', [inv, Vb]);
  const W = g.op('MatMul', [inv, g.op('Mul', [Kb, expG])]);
  const S0 = g.op('Gather', [PagedIo.state(i, 'recurrent'), PagedIo.stateSlots], { axis: 0 }); // [B, Hv, dk, dv]
  const Vn = g.op('Sub', [U, g.op('MatMul', [W, S0])]);
  const O = g.op('Add', [g.op('MatMul', [g.op('Mul', [Q, expG]), S0]), g.op('MatMul', [g.op('Mul', [g.op('MatMul', [Q, KhT]), dIncl]), Vn])]); // [B, Hv, T, dv]
  const gLast = g.op('Gather', [gam, g.op('Sub', [g.op('Squeeze', [s.T, g.constI64([0])]), g.scalarI64(1)])], { axis: 2 }); // [B, Hv]
  const kDecay = g.op('Exp', [g.op('Sub', [g.op('Unsqueeze', [gLast, g.constI64([2])]), gam])]); // [B, Hv, T]
  const Kd = g.op('Mul', [Kh, g.op('Unsqueeze', [kDecay, g.constI64([3])])]);
  const sDecay = g.op('Exp', [g.op('Unsqueeze', [gLast, g.constI64([2, 3])])]);
  g.op('Add', [g.op('Mul', [S0, sDecay]), g.op('MatMul', [g.op('Transpose', [Kd], { perm: [0, 1, 3, 2] }), Vn])], {}, { outputs: [PagedIo.newState(i, 'recurrent')] });

  // Gated RMSNorm per value head (plain weight, no +1) times silu(z), then out_proj.
  const o = g.op('Transpose', [O], { perm: [0, 2, 1, 3] }); // [B, T, Hv, dv]
  const z4 = g.op('Reshape', [z, g.constI64([0, 0, Hv, dv])]);
  const normed = g.op('Mul', [rmsNorm(g, o, P + 'norm', w(p + 'norm.weight'), t.rmsNormEps), silu(g, z4)]);
  return linear(g, g.op('Reshape', [normed, g.constI64([0, 0, Hv * dv])]), P + 'out_proj', w(p + 'out_proj.weight'), H, Hv * dv);
}
