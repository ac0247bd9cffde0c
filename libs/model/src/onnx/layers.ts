/**
 * Building blocks shared by the stage graphs. `linear` is the one place a weight becomes a MatMul,
 * so fp16 / weight-only int8/int4 (com.microsoft MatMulNBits) can be switched in without touching
 * the stage graphs.
 */
import { f, type GraphBuilder } from './graph-builder.js';
import { QUANT_BLOCK, quantizeBlockwise } from './quantize.js';

/**
 * MatMulNBits accuracy_level 4 = int8 activations (block-quantised) with the VNNI/AVX-512 kernels.
 * Measured here on a [1, 1024]·[1024, 8192] GEMV, 1 thread: int4 level 4 0.55 ms, level 0 14 ms,
 * fp32 MatMul 11.5 ms; int8 level 4 18 ms, level 0 298 ms (level 0 dequantises per call).
 */
export const MATMUL_NBITS_ACCURACY_LEVEL = 4;

export type WeightSource = (name: string) => Float32Array;

/** [out, in] row-major → [in, out] row-major (ONNX MatMul wants x·W with W [in, out]). */
export function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) t[c * rows + r] = w[base + c];
  }
  return t;
}

/**
 * y = x·Wᵀ + b for a torch Linear weight W [out, in] (bias optional). With `g.weightFormat` int8/int4
 * the weight becomes a com.microsoft MatMulNBits (block 32, symmetric) that reads W in its stored layout.
 */
export function linear(g: GraphBuilder, x: string, name: string, w: Float32Array, outF: number, inF: number, bias?: Float32Array): string {
  let y: string;
  if (g.weightFormat !== 'fp32' && inF % QUANT_BLOCK === 0) {
    const bits = g.weightFormat === 'int4' ? 4 : 8;
    const q = quantizeBlockwise(w, outF, inF, bits);
    const blocks = inF / QUANT_BLOCK;
    const packed = g.rawInitializer(`${name}.weight_q${bits}`, 2 /* UINT8 */, [outF, blocks, (QUANT_BLOCK * bits) / 8], q.packed, w.length);
    const scales = g.rawInitializer(`${name}.weight_scales`, 1 /* FLOAT */, [outF * blocks], new Uint8Array(q.scales.buffer));
    y = g.op('MatMulNBits', [x, packed, scales], { K: inF, N: outF, bits, block_size: QUANT_BLOCK, accuracy_level: MATMUL_NBITS_ACCURACY_LEVEL }, { domain: 'com.microsoft' });
  } else {
    y = g.op('MatMul', [x, g.weight(`${name}.weight_t`, transpose2d(w, outF, inF), [inF, outF])]);
  }
  return bias ? g.op('Add', [y, g.weight(`${name}.bias`, bias, [outF])]) : y;
}

export function layerNorm(g: GraphBuilder, x: string, name: string, w: Float32Array, b: Float32Array, eps: number): string {
  return g.op('LayerNormalization', [x, g.weight(`${name}.weight`, w, [w.length]), g.weight(`${name}.bias`, b, [b.length])], { axis: -1, epsilon: f(eps) });
}

/** Qwen2 RMSNorm: x · rsqrt(mean(x²) + eps) · w (computed in fp32). */
export function rmsNorm(g: GraphBuilder, x: string, name: string, w: Float32Array, eps: number): string {
  const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
  const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [ms, g.scalarF32(eps)])])]);
  return g.op('Mul', [g.op('Mul', [x, inv]), g.weight(`${name}.weight`, w, [w.length])]);
}

/** gelu_pytorch_tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluTanh(g: GraphBuilder, x: string): string {
  const x3 = g.op('Mul', [g.op('Mul', [x, x]), x]);
  const inner = g.op('Add', [x, g.op('Mul', [x3, g.scalarF32(0.044715)])]);
  const t = g.op('Tanh', [g.op('Mul', [inner, g.scalarF32(Math.sqrt(2 / Math.PI))])]);
  return g.op('Mul', [g.op('Mul', [x, g.scalarF32(0.5)]), g.op('Add', [t, g.scalarF32(1)])]);
}

export function silu(g: GraphBuilder, x: string): string {
  return g.op('Mul', [x, g.op('Sigmoid', [x])]);
}

/** [B, L, H·hd] → [B, H, L, hd] (or [B, H, hd, L] when `forKeys`, ready for q·kᵀ). */
export function splitHeads(g: GraphBuilder, x: string, heads: number, headDim: number, forKeys = false): string {
  const r = g.op('Reshape', [x, g.constI64([0, 0, heads, headDim])]);
  return g.op('Transpose', [r], { perm: forKeys ? [0, 2, 3, 1] : [0, 2, 1, 3] });
}

/** [B, H, L, hd] → [B, L, H·hd]. */
export function mergeHeads(g: GraphBuilder, x: string, hidden: number): string {
  const t = g.op('Transpose', [x], { perm: [0, 2, 1, 3] });
  return g.op('Reshape', [t, g.constI64([0, 0, hidden])]);
}

/** Additive key bias from a 0/1 int64 mask [B, L]: 0 where 1, −1e9 where 0 → [B, 1, 1, L]. */
export function keyMaskBias(g: GraphBuilder, mask: string): string {
  const m = g.op('Cast', [mask], { to: 1 });
  const bias = g.op('Mul', [g.op('Sub', [g.scalarF32(1), m]), g.scalarF32(-1e9)]);
  return g.op('Unsqueeze', [bias, g.constI64([1, 2])]);
}
