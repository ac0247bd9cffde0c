/**
 * Qwen2 decoder with a KV cache (reference/minicpmv_checkpoint.md §5.5).
 *   inputs_embeds            float32 [B, T, hidden]
 *   attention_mask           int64   [B, past+T]   0 = padding anywhere (left-padded batched pasts)
 *   position_ids             int64   [B, T]
 *   past_key_values.{i}.key|value float32 [B, kv_heads, past, head_dim]   (past may be 0)
 *   → logits                 float32 [B, vocab]    LAST position only (full prefill logits would be GBs)
 *   → present.{i}.key|value  float32 [B, kv_heads, past+T, head_dim]
 * Attention: causal within the new T tokens (query t sees keys ≤ past+t) AND attention_mask.
 * GQA without copying K/V: the g query heads sharing a kv head are stacked along the query axis.
 */
import type { LlmConfig, MiniCPMVConfig } from '../checkpoint/config.js';
import type { GraphBuilder, ValueSig } from './graph-builder.js';
import { linear, rmsNorm, silu, type WeightSource } from './layers.js';

export function decoderSignature(cfg: MiniCPMVConfig): { inputs: ValueSig[]; outputs: ValueSig[] } {
  const l = cfg.llm;
  const inputs: ValueSig[] = [
    { name: 'inputs_embeds', dtype: 'float32', shape: ['batch', 'sequence', l.hiddenSize] },
    { name: 'attention_mask', dtype: 'int64', shape: ['batch', 'total_sequence'] },
    { name: 'position_ids', dtype: 'int64', shape: ['batch', 'sequence'] },
  ];
  const outputs: ValueSig[] = [{ name: 'logits', dtype: 'float32', shape: ['batch', l.vocabSize] }];
  for (let i = 0; i < l.numLayers; i++) {
    for (const kv of ['key', 'value']) {
      inputs.push({ name: `past_key_values.${i}.${kv}`, dtype: 'float32', shape: ['batch', l.numKvHeads, 'past_sequence', l.headDim] });
      outputs.push({ name: `present.${i}.${kv}`, dtype: 'float32', shape: ['batch', l.numKvHeads, 'total_sequence', l.headDim] });
    }
  }
  return { inputs, outputs };
}

/**
 * RoPE inverse frequencies exactly as torch computes them in float32 (HF Qwen2RotaryEmbedding:
 * `1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))`): the exponent is rounded to float32
 * before the power, the power and the reciprocal are float32. A float64 computation differs in the
 * exponent's last bits, which moved keys by 1.7e-4 at position 8000 (angle = position · inv_freq).
 */
export function ropeInvFreq(headDim: number, theta: number): Float32Array {
  const f = Math.fround;
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = f(1 / f(Math.pow(f(theta), f(f(2 * i) / f(headDim)))));
  return out;
}

/**
 * Rotary embedding for the new positions (rotate-half form, as Qwen2): angles [B, T, hd/2] in float32
 * as torch computes them, duplicated to [B, 1, T, hd]; returns x ↦ x·cos + rotate_half(x)·sin for
 * tensors laid out [B, heads, T, hd]. Shared by the contiguous and the paged decoder graphs.
 */
export function ropeRotator(g: GraphBuilder, positionIds: string, hd: number, theta: number): (x: string) => string {
  const ang = g.op('Mul', [g.op('Unsqueeze', [g.op('Cast', [positionIds], { to: 1 }), g.constI64([2])]), g.constF32(ropeInvFreq(hd, theta))]);
  const emb = g.op('Unsqueeze', [g.op('Concat', [ang, ang], { axis: -1 }), g.constI64([1])]);
  const cos = g.op('Cos', [emb]);
  const sin = g.op('Sin', [emb]);
  const halfA = g.constI64([0]);
  const halfB = g.constI64([hd / 2]);
  const end = g.constI64([hd]);
  const axis3 = g.constI64([3]);
  return (x: string): string => {
    const x1 = g.op('Slice', [x, halfA, halfB, axis3]);
    const x2 = g.op('Slice', [x, halfB, end, axis3]);
    const rot = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: 3 });
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rot, sin])]);
  };
}

/**
 * The q, k, v heads [B, n, T, head_dim] of one attention layer, before RoPE: Qwen2 (2.6) projections with
 * bias; Qwen3 (4.5) without bias (`attention_bias`) and with q_norm / k_norm, a plain-weight RMSNorm over
 * head_dim applied to every head (HF Qwen3Attention: norm on the [.., heads, head_dim] view, then RoPE).
 */
export function qkvHeads(g: GraphBuilder, h: string, p: string, l: LlmConfig, w: WeightSource): { q: string; k: string; v: string } {
  const hd = l.headDim;
  const proj = (n: 'q' | 'k' | 'v', heads: number): string => {
    const name = `${p}self_attn.${n}_proj`;
    const y = linear(g, h, name, w(`${name}.weight`), heads * hd, l.hiddenSize, l.attentionBias ? w(`${name}.bias`) : undefined);
    const x = g.op('Transpose', [g.op('Reshape', [y, g.constI64([0, 0, heads, hd])])], { perm: [0, 2, 1, 3] });
    return l.qkNorm && n !== 'v' ? rmsNorm(g, x, `${p}self_attn.${n}_norm`, w(`${p}self_attn.${n}_norm.weight`), l.rmsNormEps) : x;
  };
  return { q: proj('q', l.numHeads), k: proj('k', l.numKvHeads), v: proj('v', l.numKvHeads) };
}

export function buildDecoderGraph(g: GraphBuilder, cfg: MiniCPMVConfig, w: WeightSource): void {
  const l = cfg.llm;
  const H = l.hiddenSize;
  const hd = l.headDim;
  const group = l.numHeads / l.numKvHeads;
  const sig = decoderSignature(cfg);
  for (const i of sig.inputs) g.input(i.name, i.dtype, i.shape);

  // Lengths: T new tokens, `past` cached, S = past + T keys.
  const T = g.op('Shape', ['inputs_embeds'], { start: 1, end: 2 });
  const past = g.op('Shape', ['past_key_values.0.key'], { start: 2, end: 3 });
  const S = g.op('Add', [past, T]);
  const sq = (x: string): string => g.op('Squeeze', [x, g.constI64([0])]);
  const one = g.scalarI64(1);
  const kpos = g.op('Range', [g.scalarI64(0), sq(S), one]); // [S]
  const qpos = g.op('Range', [sq(past), sq(S), one]); // [T]
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [kpos, g.constI64([0])]), g.op('Unsqueeze', [qpos, g.constI64([1])])]); // [T, S]
  const pad = g.op('Unsqueeze', [g.op('Cast', ['attention_mask'], { to: 9 }), g.constI64([1, 2])]); // [B,1,1,S]
  const allowed = g.op('And', [g.op('Unsqueeze', [causal, g.constI64([0, 1])]), pad]); // [B,1,T,S]
  const bias = g.op('Where', [allowed, g.scalarF32(0), g.scalarF32(-1e9)]);
  // Query rows are laid out [g, T] per kv head, so the [T, S] bias repeats g times along rows.
  const biasG = group > 1 ? g.op('Tile', [bias, g.constI64([1, 1, group, 1])]) : bias;

  // RoPE for the new positions (float32 angles as torch).
  const rope = ropeRotator(g, 'position_ids', hd, l.ropeTheta);
  const scale = g.scalarF32(1 / Math.sqrt(hd));

  let x = 'inputs_embeds';
  for (let i = 0; i < l.numLayers; i++) {
    const p = `llm.model.layers.${i}.`;
    x = g.withScope(`decoder/layer${i}`, () => {
      const h = rmsNorm(g, x, p + 'input_layernorm', w(p + 'input_layernorm.weight'), l.rmsNormEps);
      const proj = qkvHeads(g, h, p, l, w);
      const q = rope(proj.q); // [B,H,T,hd]
      const k = rope(proj.k);
      const v = proj.v;
      const kAll = g.op('Concat', [`past_key_values.${i}.key`, k], { axis: 2 }, { outputs: [`present.${i}.key`] });
      const vAll = g.op('Concat', [`past_key_values.${i}.value`, v], { axis: 2 }, { outputs: [`present.${i}.value`] });
      const qg = g.op('Reshape', [g.op('Mul', [q, scale]), g.constI64([0, l.numKvHeads, -1, hd])]); // [B,kv,g·T,hd]
      const scores = g.op('MatMul', [qg, g.op('Transpose', [kAll], { perm: [0, 1, 3, 2] })]); // [B,kv,g·T,S]
      const probs = g.op('Softmax', [g.op('Add', [scores, biasG])], { axis: -1 });
      const ctx = g.op('Reshape', [g.op('MatMul', [probs, vAll]), g.constI64([0, l.numHeads, -1, hd])]); // [B,H,T,hd]
      const merged = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), g.constI64([0, 0, H])]);
      const x1 = g.op('Add', [x, linear(g, merged, p + 'self_attn.o_proj', w(p + 'self_attn.o_proj.weight'), H, H)]);
      const h2 = rmsNorm(g, x1, p + 'post_attention_layernorm', w(p + 'post_attention_layernorm.weight'), l.rmsNormEps);
      const gate = silu(g, linear(g, h2, p + 'mlp.gate_proj', w(p + 'mlp.gate_proj.weight'), l.intermediateSize, H));
      const up = linear(g, h2, p + 'mlp.up_proj', w(p + 'mlp.up_proj.weight'), l.intermediateSize, H);
      return g.op('Add', [x1, linear(g, g.op('Mul', [gate, up]), p + 'mlp.down_proj', w(p + 'mlp.down_proj.weight'), H, l.intermediateSize)]);
    });
  }
  for (let i = 0; i < l.numLayers; i++) {
    for (const kv of ['key', 'value']) g.outputs.push({ name: `present.${i}.${kv}`, dtype: 'float32', shape: ['batch', l.numKvHeads, 'total_sequence', hd] });
  }
  // Only the last position's logits: gather before the final norm (norm is per position).
  const last = g.op('Gather', [x, g.op('Sub', [sq(T), one])], { axis: 1 }); // [B, H]
  const normed = rmsNorm(g, last, 'llm.model.norm', w('llm.model.norm.weight'), l.rmsNormEps);
  // Gemm with transB reads lm_head [vocab, hidden] as stored: no 2 GB transpose copy for the real model.
  // Quantised builds use MatMulNBits (also the stored layout): lm_head is 2/3 of the bench model's decode bytes.
  const logits =
    g.weightFormat === 'fp32'
      ? g.op('Gemm', [normed, g.weight('llm.lm_head.weight', w('llm.lm_head.weight'), [l.vocabSize, H])], { transB: 1 })
      : linear(g, normed, 'llm.lm_head', w('llm.lm_head.weight'), l.vocabSize, H);
  g.output(logits, 'logits', 'float32', sig.outputs[0].shape);
  // Keep the signature's output order: logits first, then presents.
  const presents = g.outputs.splice(0, g.outputs.length - 1);
  g.outputs.push(...presents);
}
