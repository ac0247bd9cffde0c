import { describe, expect, it } from 'vitest';
import {
  bfloat16ToFloat32,
  commonV1,
  DTYPE_BYTES,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  tensorArray,
  tensorFromArray,
  tensorProblem,
  tensorToFloat32,
} from './index.js';

const { Dtype, Tensor } = commonV1;

describe('tensor helpers', () => {
  it('float32 tensors survive encode/decode, including a misaligned decoded Buffer', () => {
    const values = Float32Array.from([1.5, -2, 3.25, 1e-7, 65504, -0]);
    const t = tensorFromArray(values, [6]);
    expect(t.dtype).toBe(Dtype.FLOAT32);
    const decoded = Tensor.decode(Tensor.encode(t).finish());
    // A Buffer sliced out of a bigger message (e.g. a NATS payload) can start at any offset, where
    // a direct Float32Array view throws; the helper copies.
    const raw = decoded.data?.$case === 'raw' ? decoded.data.raw : Buffer.alloc(0);
    const odd = Buffer.concat([Buffer.of(0), raw]).subarray(1);
    expect(odd.byteOffset % 4).not.toBe(0);
    expect(Array.from(tensorToFloat32({ ...t, data: { $case: 'raw', raw: odd } }))).toEqual(Array.from(values));
    const back = tensorToFloat32(decoded);
    expect(Array.from(back)).toEqual(Array.from(values));
    expect(tensorProblem(decoded, 'x', [-1])).toBeUndefined();
    expect(tensorProblem(decoded, 'x', [2, 3])?.field).toBe('x.shape');
  });

  it('int64, int32 and uint8 tensors keep their values', () => {
    const i64 = BigInt64Array.from([1n, -(2n ** 40n), 151645n]);
    expect(Array.from(tensorArray(Tensor.decode(Tensor.encode(tensorFromArray(i64, [3])).finish())) as BigInt64Array)).toEqual(Array.from(i64));
    const i32 = Int32Array.from([7, -7]);
    expect(Array.from(tensorArray(tensorFromArray(i32, [1, 2])) as Int32Array)).toEqual([7, -7]);
    const b = tensorFromArray(Uint8Array.from([0, 1, 1]), [3], Dtype.BOOL);
    expect(b.dtype).toBe(Dtype.BOOL);
    expect(Array.from(tensorArray(b) as Uint8Array)).toEqual([0, 1, 1]);
  });

  it('rejects mismatched shapes and element sizes', () => {
    expect(() => tensorFromArray(new Float32Array(5), [2, 3])).toThrow(/6 elements/);
    expect(() => tensorFromArray(new Uint16Array(2), [2])).toThrow(/explicit dtype/);
    expect(() => tensorFromArray(new Float32Array(2), [2], Dtype.FLOAT16)).toThrow(/2-byte/);
  });

  it('float16 conversion is exact where representable and rounds to nearest even', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [Infinity, 0x7c00], [-Infinity, 0xfc00],
      [2 ** -24, 0x0001], [2 ** -14, 0x0400], [0, 0x0000], [-0, 0x8000], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001],
      [1 + 2 ** -11, 0x3c00], // tie -> even (down)
      [1 + 3 * 2 ** -11, 0x3c02], // tie -> even (up)
      [0.1, 0x2e66],
    ];
    const bits = float32ToFloat16(Float32Array.from(cases.map((c) => c[0])));
    expect(Array.from(bits)).toEqual(cases.map((c) => c[1]));
    expect(Number.isNaN(float16ToFloat32(float32ToFloat16(Float32Array.of(NaN)))[0])).toBe(true);
    // Every finite half round-trips bit-exactly through float32.
    const all = new Uint16Array(0x10000).map((_, i) => i);
    const finite = all.filter((h) => (h & 0x7c00) !== 0x7c00);
    const again = float32ToFloat16(float16ToFloat32(finite));
    const mismatches = finite.filter((h, i) => again[i] !== h).length;
    expect(finite.length).toBe(63488);
    expect(mismatches).toBe(0);
  });

  it('bfloat16 conversion rounds to nearest even and round-trips', () => {
    const bits = float32ToBfloat16(Float32Array.of(1, -2, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.140625));
    expect(Array.from(bits)).toEqual([0x3f80, 0xc000, 0x3f80, 0x3f82, 0x4049]);
    expect(Array.from(bfloat16ToFloat32(bits))).toEqual([1, -2, 1, 1 + 2 ** -6, 3.140625]);
    const t = tensorFromArray(float32ToBfloat16(Float32Array.of(0.5, 4)), [2], Dtype.BFLOAT16);
    expect(Array.from(tensorToFloat32(t))).toEqual([0.5, 4]);
    const h = tensorFromArray(float32ToFloat16(Float32Array.of(0.25, -8)), [2], Dtype.FLOAT16);
    expect(Array.from(tensorToFloat32(h))).toEqual([0.25, -8]);
  });

  it('tensorProblem names the field and the limit', () => {
    expect(tensorProblem(undefined, 'features')).toMatchObject({ field: 'features', limit: 'required' });
    expect(tensorProblem({ dtype: Dtype.UNSPECIFIED, shape: [1] }, 'f')?.field).toBe('f.dtype');
    const short = { dtype: Dtype.FLOAT32, shape: [2, 2], data: { $case: 'raw' as const, raw: Buffer.alloc(12) } };
    expect(tensorProblem(short, 'slices[1].features')).toEqual({
      field: 'slices[1].features.raw',
      limit: 'bytes = product(shape) * 4 = 16',
      message: 'slices[1].features.raw: has 12 bytes (bytes = product(shape) * 4 = 16)',
    });
    const ref = { dtype: Dtype.FLOAT16, shape: [10, 64, 8], data: { $case: 'ref' as const, ref: { bucket: 'b', key: 'k', size: 10 * 64 * 8 * 2, contentType: '' } } };
    expect(tensorProblem(ref, 'v', [-1, 64, 8])).toBeUndefined();
    expect(tensorProblem(ref, 'v', [-1, 64, 16])?.field).toBe('v.shape');
    expect(tensorProblem({ dtype: Dtype.INT32, shape: [1.5] }, 'v')?.field).toBe('v.shape');
    expect(() => tensorArray(ref)).toThrow(/ObjectRef/);
    expect(DTYPE_BYTES[Dtype.INT64]).toBe(8);
  });
});
