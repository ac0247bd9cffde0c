import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeNpy, encodeNpz, parseNpy, parseNpz, type NdArray } from './index.js';

describe('npy / npz', () => {
  const f: NdArray = { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4.5, -5, 6]) };
  const i: NdArray = { dtype: 'int64', shape: [1, 4], data: BigInt64Array.from([1n, 2n, 151645n, -1n]) };

  it('round-trips .npy with a 64-byte aligned header', () => {
    const bytes = encodeNpy(f);
    expect(((bytes[8] | (bytes[9] << 8)) + 10) % 64).toBe(0);
    const back = parseNpy(bytes);
    expect(back.shape).toEqual([2, 3]);
    expect(Array.from(back.data as Float32Array)).toEqual([1, 2, 3, 4.5, -5, 6]);
    expect(parseNpy(encodeNpy({ dtype: 'int64', shape: [3], data: BigInt64Array.from([7n, 8n, 9n]) })).shape).toEqual([3]);
  });

  it('round-trips .npz and reads deflated members', () => {
    const back = parseNpz(encodeNpz({ a: f, ids: i }));
    expect(Object.keys(back)).toEqual(['a', 'ids']);
    expect(Array.from(back.ids.data as BigInt64Array)).toEqual([1n, 2n, 151645n, -1n]);
    // Re-pack member "a" deflated (numpy.savez_compressed) and read it back.
    const body = Buffer.from(encodeNpy(f));
    const comp = deflateRawSync(body);
    const stored = Buffer.from(encodeNpz({ a: f }));
    const nameLen = 5;
    const local = Buffer.concat([stored.subarray(0, 30), Buffer.from('a.npy'), comp]);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(comp.length, 18);
    const central = Buffer.from(stored.subarray(30 + nameLen + body.length, 30 + nameLen + body.length + 46 + nameLen));
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(comp.length, 20);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(1, 8);
    end.writeUInt16LE(1, 10);
    end.writeUInt32LE(central.length, 12);
    end.writeUInt32LE(local.length, 16);
    const z = parseNpz(Buffer.concat([local, central, end]));
    expect(Array.from(z.a.data as Float32Array)).toEqual([1, 2, 3, 4.5, -5, 6]);
  });

  it('refuses unsupported dtypes and truncated data, naming the array', () => {
    const bytes = Buffer.from(encodeNpy(f));
    expect(() => parseNpy(bytes.subarray(0, bytes.length - 4), 'x.npy')).toThrow(/x\.npy: truncated/);
    const bad = Buffer.from(bytes);
    bad.write("'<f2'", bad.indexOf("'<f4'"), 'latin1');
    expect(() => parseNpy(bad, 'y.npy')).toThrow(/y\.npy: dtype <f2/);
  });
});
