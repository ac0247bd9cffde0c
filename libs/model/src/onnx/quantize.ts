/**
 * Weight-only block quantisation for com.microsoft MatMulNBits: per output row, blocks of 32 input
 * weights share one float scale; symmetric (no zero-point input, so ORT uses the midpoint 2^(bits−1)).
 * 4-bit values are packed two per byte, low nibble first. The weight keeps torch's [out, in] layout,
 * which is what MatMulNBits expects (B is [N, K/block, blob]).
 */
export type WeightFormat = 'fp32' | 'int8' | 'int4';
export const QUANT_BLOCK = 32;

export interface QuantizedWeight {
  bits: 4 | 8;
  n: number;
  k: number;
  blockSize: number;
  /** [N, K/block, block·bits/8] */
  packed: Uint8Array;
  /** [N · K/block] */
  scales: Float32Array;
}

export function quantizeBlockwise(w: Float32Array, n: number, k: number, bits: 4 | 8, blockSize = QUANT_BLOCK): QuantizedWeight {
  if (k % blockSize !== 0) throw new RangeError(`K ${k} is not a multiple of the block size ${blockSize}`);
  const blocks = k / blockSize;
  const blob = (blockSize * bits) / 8;
  const packed = new Uint8Array(n * blocks * blob);
  const scales = new Float32Array(n * blocks);
  const qmax = bits === 4 ? 7 : 127;
  const mid = bits === 4 ? 8 : 128;
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < blocks; b++) {
      const base = r * k + b * blockSize;
      let amax = 0;
      for (let i = 0; i < blockSize; i++) amax = Math.max(amax, Math.abs(w[base + i]));
      const scale = amax === 0 ? 1 : amax / qmax;
      scales[r * blocks + b] = scale;
      const out = (r * blocks + b) * blob;
      for (let i = 0; i < blockSize; i++) {
        const q = Math.max(-qmax - 1, Math.min(qmax, Math.round(w[base + i] / Math.fround(scale)))) + mid;
        if (bits === 8) packed[out + i] = q;
        else packed[out + (i >> 1)] |= i & 1 ? q << 4 : q;
      }
    }
  }
  return { bits, n, k, blockSize, packed, scales };
}

/** The float weights [N, K] the kernel effectively multiplies by (for tests and error reports). */
export function dequantize(q: QuantizedWeight): Float32Array {
  const { n, k, blockSize, bits } = q;
  const blocks = k / blockSize;
  const blob = (blockSize * bits) / 8;
  const mid = bits === 4 ? 8 : 128;
  const w = new Float32Array(n * k);
  for (let r = 0; r < n; r++) for (let b = 0; b < blocks; b++) {
    const s = q.scales[r * blocks + b];
    const o = (r * blocks + b) * blob;
    for (let i = 0; i < blockSize; i++) {
      const v = bits === 8 ? q.packed[o + i] : i & 1 ? q.packed[o + (i >> 1)] >> 4 : q.packed[o + (i >> 1)] & 15;
      w[r * k + b * blockSize + i] = (v - mid) * s;
    }
  }
  return w;
}
