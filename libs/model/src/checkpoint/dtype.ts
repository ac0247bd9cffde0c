/** Element types a checkpoint may store, and lossless widening to float32. */
export type StoredDtype = 'BF16' | 'F16' | 'F32';
export const DTYPE_BYTES: Readonly<Record<StoredDtype, number>> = { BF16: 2, F16: 2, F32: 4 };
export const isStoredDtype = (d: unknown): d is StoredDtype => d === 'BF16' || d === 'F16' || d === 'F32';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → bfloat16 bits, round to nearest even (what torch's .to(bfloat16) does). */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7fffffff) > 0x7f800000) return 0x7fc0; // NaN
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

function halfToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Widen raw little-endian bytes of `dtype` into a new Float32Array. */
export function toFloat32(bytes: Uint8Array, dtype: StoredDtype): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  // Fast path: aligned little-endian views (every platform Node runs on is little-endian).
  if (bytes.byteOffset % 4 === 0) {
    if (dtype === 'F32') return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    if (dtype === 'BF16') {
      const src = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
      const o32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) o32[i] = src[i] << 16;
      return out;
    }
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  } else if (dtype === 'BF16') {
    const o32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) o32[i] = dv.getUint16(i * 2, true) << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = halfToF32(dv.getUint16(i * 2, true));
  }
  return out;
}
