/**
 * The Qwen3.5 hybrid decoder of MiniCPM-V 4.6 as one ONNX graph that runs T new tokens on top of an
 * explicit cache (reference/minicpmv4x.md §4; float64 twin: families/minicpmv4_6/text-reference.ts):
 *   inputs_embeds             float32 [B, T, hidden]
 *   attention_mask            int64   [B, past+T]  0 = padding (left padding of KV rows; see below)
 *   position_ids              int64   [B, T]        (4.6: the three M-RoPE rows are equal → plain 1-D)
 *   past_key_values.{i}.key|value  float32 [B, kv_heads, past, head_dim]  full-attention layers i only
 *   past_conv.{i}             float32 [B, conv_dim, K−1]   last K−1 pre-conv rows, oldest first (HF/vLLM axis order)
 *   past_recurrent.{i}        float32 [B, Hv, d_k, d_v]    Gated DeltaNet state S (HF layout)
 *   → logits [B, vocab] (last position), present.{i}.key|value, present_conv.{i}, present_recurrent.{i}
 * One graph serves prefill chunks and decode steps (T = 1): Gated DeltaNet runs in the chunked WY form
 * over all T tokens at once, with (I + A)⁻¹ of the strictly lower-triangular A computed as
 * Π_{s<m} (I + (−A)^{2^s}) — exact because A^T = 0, so m = ⌈log₂ maxChunk⌉ squarings cover any T ≤ maxChunk,
 * with no Loop and no triangular solve (not in ONNX). The runtime feeds at most `maxChunk` tokens per call
 * (manifest `decoder.maxChunk`; decisions.md has the measurement that chose 64).
 * Padding: tokens whose attention_mask is 0 are zeroed before each linear-attention mixer and get decay 0,
 * which makes left padding exact for sequences that start from an empty state (batched fresh prefill and
 * batched decode); padding inside a sequence with history is not supported (the conv window would see it).
 */
import { convDim, fullAttentionLayers, type HybridTextConfig } from '../families/minicpmv4_6/config.js';
import { TEXT_PREFIX } from '../families/minicpmv4_6/text-tensors.js';
import type { GraphBuilder, ValueSig } from './graph-builder.js';
import { linear, rmsNorm, silu, type WeightSource } from './layers.js';

export const DEFAULT_MAX_CHUNK = 64;

export function hybridDecoderSignature(t: HybridTextConfig): { inputs: ValueSig[]; outputs: ValueSig[] } {
  const inputs: ValueSig[] = [
    { name: 'inputs_embeds', dtype: 'float32', shape: ['batch', 'sequence', t.hiddenSize] },
    { name: 'attention_mask', dtype: 'int64', shape: ['batch', 'total_sequence'] },
    { name: 'position_ids', dtype: 'int64', shape: ['batch', 'sequence'] },
  ];
  const outputs: ValueSig[] = [{ name: 'logits', dtype: 'float32', shape: ['batch', t.vocabSize] }];
  const C = convDim(t);
  t.layerTypes.forEach((lt, i) => {
    if (lt === 'full_attention') {
      for (const kv of ['key', 'value']) {
        inputs.push({ name: `past_key_values.${i}.${kv}`, dtype: 'float32', shape: ['batch', t.numKvHeads, 'past_sequence', t.headDim] });
        outputs.push({ name: `present.${i}.${kv}`, dtype: 'float32', shape: ['batch', t.numKvHeads, 'total_sequence', t.headDim] });
      }
    } else {
      inputs.push({ name: `past_conv.${i}`, dtype: 'float32', shape: ['batch', C, t.linearConvKernel - 1] });
      inputs.push({ name: `past_recurrent.${i}`, dtype: 'float32', shape: ['batch', t.linearNumValueHeads, t.linearKeyHeadDim, t.linearValueHeadDim] });
      outputs.push({ name: `present_conv.${i}`, dtype: 'float32', shape: ['batch', C, t.linearConvKernel - 1] });
      outputs.push({ name: `present_recurrent.${i}`, dtype: 'float32', shape: ['batch', t.linearNumValueHeads, t.linearKeyHeadDim, t.linearValueHeadDim] });
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

  // Lengths: T new tokens; past from the first full layer's cache (every full layer holds the same length).
  const sq = (x: string): string => g.op('Squeeze', [x, g.constI64([0])]);
  const one = g.scalarI64(1);
  const zero = g.scalarI64(0);
  const T = g.op('Shape', ['inputs_embeds'], { start: 1, end: 2 });
  const past = full.length ? g.op('Shape', [`past_key_values.${full[0]}.key`], { start: 2, end: 3 }) : g.constI64([0]);
  const S = g.op('Add', [past, T]);
  const tIdx = g.op('Range', [zero, sq(T), one]); // [T]
  const rowIdx = g.op('Unsqueeze', [tIdx, g.constI64([1])]);
  const colIdx = g.op('Unsqueeze', [tIdx, g.constI64([0])]);
  const NEG = g.scalarF32(-1e30);
  const zeroF = g.scalarF32(0);
  // Intra-chunk masks [T, T]: j ≤ i (output) and j < i (the triangular system), plus the identity.
  const lowerIncl = g.op('GreaterOrEqual', [rowIdx, colIdx]);
  const lowerStrict = g.op('Greater', [rowIdx, colIdx]);
  const eye = g.op('Cast', [g.op('Equal', [rowIdx, colIdx])], { to: 1 });
  // Mask of the new tokens [B, T] (float) for the linear layers.
  const maskNew = g.op('Cast', [g.op('Slice', ['attention_mask', g.op('Neg', [T]), g.constI64([Number.MAX_SAFE_INTEGER]), g.constI64([1])])], { to: 1 });
  const maskNew3 = g.op('Unsqueeze', [maskNew, g.constI64([2])]); // [B, T, 1]

  // Full attention bias [B, 1, g·T, S]: causal over past+T and attention_mask (same scheme as the 2.6 decoder).
  let biasG = '';
  let cos = '';
  let sin = '';
  if (full.length) {
    const kpos = g.op('Range', [zero, sq(S), one]);
    const qpos = g.op('Range', [sq(past), sq(S), one]);
    const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [kpos, g.constI64([0])]), g.op('Unsqueeze', [qpos, g.constI64([1])])]);
    const pad = g.op('Unsqueeze', [g.op('Cast', ['attention_mask'], { to: 9 }), g.constI64([1, 2])]);
    const allowed = g.op('And', [g.op('Unsqueeze', [causal, g.constI64([0, 1])]), pad]);
    const bias = g.op('Where', [allowed, zeroF, g.scalarF32(-1e9)]);
    const group = t.numHeads / t.numKvHeads;
    biasG = group > 1 ? g.op('Tile', [bias, g.constI64([1, 1, group, 1])]) : bias;
    // Partial RoPE tables over rotary_dim: angles [B, 1, T, rd] (halves duplicated, NeoX rotate-half).
    const rd = t.rotaryDim;
    const inv = new Float32Array(rd / 2);
    for (let i = 0; i < rd / 2; i++) inv[i] = 1 / Math.pow(t.ropeTheta, (2 * i) / rd);
    const ang = g.op('Mul', [g.op('Unsqueeze', [g.op('Cast', ['position_ids'], { to: 1 }), g.constI64([2])]), g.constF32(inv)]);
    const emb = g.op('Unsqueeze', [g.op('Concat', [ang, ang], { axis: -1 }), g.constI64([1])]);
    cos = g.op('Cos', [emb]);
    sin = g.op('Sin', [emb]);
  }

  let x = 'inputs_embeds';
  for (let i = 0; i < t.numLayers; i++) {
    const p = `layers.${i}.`;
    x = g.withScope(`decoder/layer${i}`, () => {
      const h = rmsNorm(g, x, TEXT_PREFIX + p + 'input_layernorm', plusOne(w(p + 'input_layernorm.weight')), t.rmsNormEps);
      const mixed = t.layerTypes[i] === 'full_attention' ? fullAttention(g, t, w, i, h, { biasG, cos, sin }) : gatedDeltaNet(g, t, w, i, g.op('Mul', [h, maskNew3]), { maskNew, lowerIncl, lowerStrict, eye, NEG, T, maxChunk });
      const x1 = g.op('Add', [x, mixed]);
      const h2 = rmsNorm(g, x1, TEXT_PREFIX + p + 'post_attention_layernorm', plusOne(w(p + 'post_attention_layernorm.weight')), t.rmsNormEps);
      const gate = silu(g, linear(g, h2, TEXT_PREFIX + p + 'mlp.gate_proj', w(p + 'mlp.gate_proj.weight'), t.intermediateSize, H));
      const up = linear(g, h2, TEXT_PREFIX + p + 'mlp.up_proj', w(p + 'mlp.up_proj.weight'), t.intermediateSize, H);
      return g.op('Add', [x1, linear(g, g.op('Mul', [gate, up]), TEXT_PREFIX + p + 'mlp.down_proj', w(p + 'mlp.down_proj.weight'), H, t.intermediateSize)]);
    });
  }
  const last = g.op('Gather', [x, g.op('Sub', [sq(T), one])], { axis: 1 }); // [B, hidden]
  const normed = rmsNorm(g, last, TEXT_PREFIX + 'norm', plusOne(w('norm.weight')), t.rmsNormEps);
  const headName = t.tieWordEmbeddings ? TEXT_PREFIX + 'embed_tokens.weight' : 'lm_head.weight';
  const head = t.tieWordEmbeddings ? w('embed_tokens.weight') : w0('lm_head.weight');
  // Tied head: Gemm(transB) reads the [vocab, hidden] embedding table as stored (no 1 GB transpose copy).
  const logits = g.weightFormat === 'fp32' ? g.op('Gemm', [normed, g.weight(headName, head, [t.vocabSize, H])], { transB: 1 }) : linear(g, normed, headName.replace(/\.weight$/, ''), head, t.vocabSize, H);
  g.output(logits, 'logits', 'float32', sig.outputs[0].shape);
  // Outputs in signature order: logits first, then the caches (declared, produced under their names above).
  const declared = g.outputs.splice(0);
  g.outputs.push(declared[declared.length - 1], ...sig.outputs.slice(1));
}

interface AttnShared {
  biasG: string;
  cos: string;
  sin: string;
}

function fullAttention(g: GraphBuilder, t: HybridTextConfig, w: (n: string) => Float32Array, i: number, h: string, s: AttnShared): string {
  const p = `layers.${i}.self_attn.`;
  const P = TEXT_PREFIX + p;
  const { numHeads: nH, numKvHeads: nKv, headDim: hd, rotaryDim: rd, hiddenSize: H } = t;
  const ax3 = g.constI64([3]);
  const at = (v: number): string => g.constI64([v]);
  // q_proj → [B, T, nH, 2·hd]: per head the query then its gate.
  const qg = g.op('Reshape', [linear(g, h, P + 'q_proj', w(p + 'q_proj.weight'), 2 * nH * hd, H), g.constI64([0, 0, nH, 2 * hd])]);
  const q0 = g.op('Slice', [qg, at(0), at(hd), ax3]);
  const gate = g.op('Reshape', [g.op('Slice', [qg, at(hd), at(2 * hd), ax3]), g.constI64([0, 0, nH * hd])]);
  const q1 = rmsNorm(g, q0, P + 'q_norm', plusOne(w(p + 'q_norm.weight')), t.rmsNormEps);
  const k0 = g.op('Reshape', [linear(g, h, P + 'k_proj', w(p + 'k_proj.weight'), nKv * hd, H), g.constI64([0, 0, nKv, hd])]);
  const k1 = rmsNorm(g, k0, P + 'k_norm', plusOne(w(p + 'k_norm.weight')), t.rmsNormEps);
  const v = g.op('Transpose', [g.op('Reshape', [linear(g, h, P + 'v_proj', w(p + 'v_proj.weight'), nKv * hd, H), g.constI64([0, 0, nKv, hd])])], { perm: [0, 2, 1, 3] });
  const rope = (x4: string): string => {
    const x = g.op('Transpose', [x4], { perm: [0, 2, 1, 3] }); // [B, heads, T, hd]
    const xr = g.op('Slice', [x, at(0), at(rd), ax3]);
    const x1 = g.op('Slice', [xr, at(0), at(rd / 2), ax3]);
    const x2 = g.op('Slice', [xr, at(rd / 2), at(rd), ax3]);
    const rot = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: 3 });
    const roped = g.op('Add', [g.op('Mul', [xr, s.cos]), g.op('Mul', [rot, s.sin])]);
    return rd === hd ? roped : g.op('Concat', [roped, g.op('Slice', [x, at(rd), at(hd), ax3])], { axis: 3 });
  };
  const q = rope(q1);
  const k = rope(k1);
  const kAll = g.op('Concat', [`past_key_values.${i}.key`, k], { axis: 2 }, { outputs: [`present.${i}.key`] });
  const vAll = g.op('Concat', [`past_key_values.${i}.value`, v], { axis: 2 }, { outputs: [`present.${i}.value`] });
  const qg2 = g.op('Reshape', [g.op('Mul', [q, g.scalarF32(1 / Math.sqrt(hd))]), g.constI64([0, nKv, -1, hd])]); // [B, kv, g·T, hd]
  const scores = g.op('MatMul', [qg2, g.op('Transpose', [kAll], { perm: [0, 1, 3, 2] })]);
  const probs = g.op('Softmax', [g.op('Add', [scores, s.biasG])], { axis: -1 });
  const ctx = g.op('Reshape', [g.op('MatMul', [probs, vAll]), g.constI64([0, nH, -1, hd])]);
  const merged = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), g.constI64([0, 0, nH * hd])]);
  return linear(g, g.op('Mul', [merged, g.op('Sigmoid', [gate])]), P + 'o_proj', w(p + 'o_proj.weight'), H, nH * hd);
}

interface GdnShared {
  maskNew: string;
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

  // Depthwise causal conv over [K−1 cached rows | T new rows]; the new cache is the last K−1 rows.
  const ext = g.op('Concat', [`past_conv.${i}`, g.op('Transpose', [qkv], { perm: [0, 2, 1] })], { axis: 2 }); // [B, C, K−1+T]
  g.op('Slice', [ext, at(-(K - 1)), at(Number.MAX_SAFE_INTEGER), at(2)], {}, { outputs: [`present_conv.${i}`] });
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
  const Kh = bhtd(toValueHeads(l2(heads(Hk * dk, 2 * Hk * dk, Hk, dk), 1)));
  const V = bhtd(heads(2 * Hk * dk, C, Hv, dv));
  const KhT = g.op('Transpose', [Kh], { perm: [0, 1, 3, 2] });

  // β = sigmoid(b); g = −e^{A_log}·softplus(a + dt_bias), 0 for padding tokens; layout [B, Hv, T].
  const bht = (x: string): string => g.op('Transpose', [x], { perm: [0, 2, 1] });
  const beta = bht(g.op('Sigmoid', [b]));
  const negA = Float32Array.from(w(p + 'A_log'), (v) => -Math.exp(v));
  const decay = g.op('Mul', [g.op('Mul', [g.op('Softplus', [g.op('Add', [a, g.weight(P + 'dt_bias', w(p + 'dt_bias'), [Hv])])]), g.weight(P + 'neg_exp_A_log', negA, [Hv])]), g.op('Unsqueeze', [s.maskNew, g.constI64([2])])]);
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
  const S0 = `past_recurrent.${i}`;
  const Vn = g.op('Sub', [U, g.op('MatMul', [W, S0])]);
  const O = g.op('Add', [g.op('MatMul', [g.op('Mul', [Q, expG]), S0]), g.op('MatMul', [g.op('Mul', [g.op('MatMul', [Q, KhT]), dIncl]), Vn])]); // [B, Hv, T, dv]
  const gLast = g.op('Gather', [gam, g.op('Sub', [g.op('Squeeze', [s.T, g.constI64([0])]), g.scalarI64(1)])], { axis: 2 }); // [B, Hv]
  const kDecay = g.op('Exp', [g.op('Sub', [g.op('Unsqueeze', [gLast, g.constI64([2])]), gam])]); // [B, Hv, T]
  const Kd = g.op('Mul', [Kh, g.op('Unsqueeze', [kDecay, g.constI64([3])])]);
  const sDecay = g.op('Exp', [g.op('Unsqueeze', [gLast, g.constI64([2, 3])])]);
  g.op('Add', [g.op('Mul', [S0, sDecay]), g.op('MatMul', [g.op('Transpose', [Kd], { perm: [0, 1, 3, 2] }), Vn])], {}, { outputs: [`present_recurrent.${i}`] });

  // Gated RMSNorm per value head (plain weight, no +1) times silu(z), then out_proj.
  const o = g.op('Transpose', [O], { perm: [0, 2, 1, 3] }); // [B, T, Hv, dv]
  const z4 = g.op('Reshape', [z, g.constI64([0, 0, Hv, dv])]);
  const normed = g.op('Mul', [rmsNorm(g, o, P + 'norm', w(p + 'norm.weight'), t.rmsNormEps), silu(g, z4)]);
  return linear(g, g.op('Reshape', [normed, g.constI64([0, 0, Hv * dv])]), P + 'out_proj', w(p + 'out_proj.weight'), H, Hv * dv);
}
