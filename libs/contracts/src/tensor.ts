/**
 * Helpers between `tessera.common.v1.Tensor` and typed arrays. Every stage moves tensors
 * (patch features, visual tokens), and the two easy mistakes are here once: a decoded `bytes` field
 * is a Buffer slice whose byteOffset is often not a multiple of 4 (so `new Float32Array(buf.buffer,
 * buf.byteOffset)` throws), and FLOAT16/BFLOAT16 need conversion.
 *
 * Contracts stay a leaf package (no @tessera/* imports): validation returns a TensorProblem
 * ({ field, limit, message }) that the caller throws as `new TesseraError('INVALID_ARGUMENT', p.message, p)`.
 */
import { endianness } from 'node:os';
import { Dtype, type Tensor } from './gen/tessera/common/v1/common.js';

// The wire format is little-endian; typed arrays use host order. Every Node platform we ship
// (x64, arm64) is little-endian, so fail loudly instead of byte-swapping on an exotic host.
if (endianness() !== 'LE') throw new Error('@tessera/contracts: tensors assume a little-endian host');

/** ObjectRef.content_type of a tensor's raw bytes stored as a claim check. */
export const TENSOR_CONTENT_TYPE = 'application/x-tessera-tensor';

/** Bytes per element of each dtype (0 for UNSPECIFIED). */
export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = Object.freeze({
  [Dtype.UNSPECIFIED]: 0,
  [Dtype.FLOAT32]: 4,
  [Dtype.FLOAT16]: 2,
  [Dtype.BFLOAT16]: 2,
  [Dtype.INT64]: 8,
  [Dtype.INT32]: 4,
  [Dtype.UINT8]: 1,
  [Dtype.BOOL]: 1,
});

/** The typed array that holds each dtype's raw elements (16-bit floats stay as their bit patterns). */
export type TensorArray = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;

/** Number of elements of a shape (1 for a scalar). */
export function numElements(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** What is wrong with a tensor, ready to become a TesseraError (INVALID_ARGUMENT). */
export interface TensorProblem {
  /** Dotted path of the offending field, e.g. "slices[2].features.shape". */
  field: string;
  /** The rule that was broken. */
  limit: string;
  message: string;
}

/**
 * Checks dtype, shape and byte length (of `raw`, or `ref.size` for a claim check).
 * `expectedShape` entries of -1 match any size. Returns undefined when the tensor is fine.
 */
export function tensorProblem(t: Tensor | undefined, field: string, expectedShape?: readonly number[]): TensorProblem | undefined {
  const bad = (f: string, limit: string, message: string): TensorProblem => ({ field: f, limit, message: `${f}: ${message} (${limit})` });
  if (!t) return bad(field, 'required', 'tensor is missing');
  const size = DTYPE_BYTES[t.dtype];
  if (!size) return bad(`${field}.dtype`, 'dtype is one of FLOAT32, FLOAT16, BFLOAT16, INT64, INT32, UINT8, BOOL', `dtype ${t.dtype} is not supported`);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    return bad(`${field}.shape`, 'dimensions are integers >= 0', `shape [${t.shape.join(', ')}] is invalid`);
  }
  if (expectedShape) {
    const ok = expectedShape.length === t.shape.length && expectedShape.every((d, i) => d === -1 || d === t.shape[i]);
    if (!ok) return bad(`${field}.shape`, `shape = [${expectedShape.join(', ')}]`, `shape [${t.shape.join(', ')}] does not match`);
  }
  const want = numElements(t.shape) * size;
  const have = t.data?.$case === 'raw' ? t.data.raw.byteLength : t.data?.$case === 'ref' ? t.data.ref.size : undefined;
  if (have === undefined) return bad(`${field}.data`, 'raw or ref is set', 'tensor has no data');
  if (have !== want) {
    const sub = t.data?.$case === 'raw' ? 'raw' : 'ref.size';
    return bad(`${field}.${sub}`, `bytes = product(shape) * ${size} = ${want}`, `has ${have} bytes`);
  }
  return undefined;
}

function dtypeOf(values: TensorArray): Dtype {
  if (values instanceof Float32Array) return Dtype.FLOAT32;
  if (values instanceof Int32Array) return Dtype.INT32;
  if (values instanceof BigInt64Array) return Dtype.INT64;
  if (values instanceof Uint8Array) return Dtype.UINT8;
  throw new TypeError('a Uint16Array needs an explicit dtype: FLOAT16 or BFLOAT16');
}

/**
 * Wraps typed-array elements as an inline tensor (copies the bytes). `dtype` is inferred from the
 * array type except for Uint16Array (give FLOAT16 or BFLOAT16) and Uint8Array holding BOOL.
 */
export function tensorFromArray(values: TensorArray, shape: readonly number[], dtype: Dtype = dtypeOf(values)): Tensor {
  if (numElements(shape) !== values.length) {
    throw new RangeError(`shape [${shape.join(', ')}] holds ${numElements(shape)} elements, the array has ${values.length}`);
  }
  if (values.BYTES_PER_ELEMENT !== DTYPE_BYTES[dtype]) {
    throw new TypeError(`dtype ${Dtype[dtype]} needs ${DTYPE_BYTES[dtype]}-byte elements, got ${values.BYTES_PER_ELEMENT}`);
  }
  const raw = Buffer.from(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  return { dtype, shape: [...shape], data: { $case: 'raw', raw } };
}

/**
 * The raw elements of an inline tensor as a typed array of its dtype (a view when the bytes are
 * aligned, else a copy). Throws for a claim check (`ref`): fetch the object first.
 */
export function tensorArray(t: Tensor): TensorArray {
  if (t.data?.$case !== 'raw') throw new TypeError(`tensor data is ${t.data?.$case ?? 'missing'}; resolve the ObjectRef before reading`);
  const size = DTYPE_BYTES[t.dtype];
  if (!size) throw new TypeError(`tensor dtype ${t.dtype} is not supported`);
  let bytes: Uint8Array = t.data.raw;
  if (bytes.byteLength % size !== 0) throw new RangeError(`${bytes.byteLength} bytes is not a multiple of ${size}`);
  if (bytes.byteOffset % size !== 0) bytes = new Uint8Array(bytes); // copy to an aligned buffer
  const n = bytes.byteLength / size;
  switch (t.dtype) {
    case Dtype.FLOAT32:
      return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    case Dtype.FLOAT16:
    case Dtype.BFLOAT16:
      return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    case Dtype.INT32:
      return new Int32Array(bytes.buffer, bytes.byteOffset, n);
    case Dtype.INT64:
      return new BigInt64Array(bytes.buffer, bytes.byteOffset, n);
    default:
      return new Uint8Array(bytes.buffer, bytes.byteOffset, n);
  }
}

/** The elements of an inline FLOAT32, FLOAT16 or BFLOAT16 tensor as float32. */
export function tensorToFloat32(t: Tensor): Float32Array {
  const a = tensorArray(t);
  if (t.dtype === Dtype.FLOAT32) return a as Float32Array;
  if (t.dtype === Dtype.FLOAT16) return float16ToFloat32(a as Uint16Array);
  if (t.dtype === Dtype.BFLOAT16) return bfloat16ToFloat32(a as Uint16Array);
  throw new TypeError(`tensorToFloat32: dtype ${Dtype[t.dtype]} is not a float type`);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits -> float32 (exact; subnormals, infinities and NaN included). */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** float32 -> IEEE half bits, round to nearest even; overflow -> infinity (as numpy / ORT do). */
export function float32ToFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    let e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      // Subnormal half (or zero): shift the implicit 1 in, then round to nearest even.
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      const half = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      out[i] = sign | (half + (rem > mid || (rem === mid && half & 1) ? 1 : 0));
      continue;
    }
    let half = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // may carry into the exponent: correct
    out[i] = sign | half;
  }
  return out;
}

/** bfloat16 bits -> float32 (exact: bf16 is the top half of a float32). */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i] << 16;
  return out;
}

/** float32 -> bfloat16 bits, round to nearest even; NaN stays NaN. */
export function float32ToBfloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) {
      out[i] = (x >>> 16) | 0x40;
      continue;
    }
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}
