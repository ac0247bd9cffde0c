import { describe, expect, it } from 'vitest';
import { navitBuckets, navitPositionIds, packSlices, resamplerPosEmbed } from './index.js';

describe('navitPositionIds', () => {
  it('maps a 70×70 grid onto the table one-to-one and a 1×1 grid to id 0', () => {
    const ids = navitPositionIds(70, 70);
    expect(ids[0]).toBe(0);
    expect(ids[70 * 70 - 1]).toBe(70 * 70 - 1);
    expect(ids[5 * 70 + 9]).toBe(5 * 70 + 9);
    expect(Array.from(navitPositionIds(1, 1))).toEqual([0]);
  });

  it('buckets rows as ⌊70·i/n⌋ with torch float32 rounding (n = 25 moves exact multiples down)', () => {
    expect(Array.from(navitBuckets(35))).toEqual(Array.from({ length: 35 }, (_, i) => 2 * i));
    expect(Array.from(navitBuckets(32))).toEqual(Array.from({ length: 32 }, (_, i) => Math.floor((70 * i) / 32)));
    const exact = Array.from({ length: 25 }, (_, i) => Math.floor((70 * i) / 25));
    const got = Array.from(navitBuckets(25));
    const diffs = got.map((g, i) => g - exact[i]).filter((d) => d !== 0);
    expect(diffs.length).toBeGreaterThan(0);
    expect(diffs.every((d) => d === -1)).toBe(true);
  });

  it('combines row and column buckets row-major', () => {
    const ids = navitPositionIds(2, 3);
    expect(Array.from(ids)).toEqual([0, 23, 46, 35 * 70, 35 * 70 + 23, 35 * 70 + 46]);
  });
});

describe('packSlices', () => {
  it('lays each slice’s patches side by side and pads with zeros, masks and id 0', () => {
    const s1 = { data: new Float32Array(3 * 28 * 14).map((_, i) => i + 1), height: 28, width: 14 };
    const s2 = { data: new Float32Array(3 * 14 * 14).fill(-1), height: 14, width: 14 };
    const p = packSlices([s1, s2]);
    expect(p.numPatches).toBe(2);
    expect(p.tgtSizes).toEqual([[2, 1], [1, 1]]);
    expect(Array.from(p.patchAttentionMask)).toEqual([1n, 1n, 1n, 0n]);
    expect(Array.from(p.positionIds)).toEqual([0n, 35n * 70n, 0n, 0n]);
    const rowLen = 2 * 14;
    // slice 0, channel 1, pixel (y=15, x=3) is patch 1 (row 1), at row 1 of the strip, column 14 + 3.
    expect(p.pixelValues[(0 * 3 + 1) * 14 * rowLen + 1 * rowLen + 14 + 3]).toBe(s1.data[1 * 28 * 14 + 15 * 14 + 3]);
    // slice 1's second (padding) patch is zero.
    expect(p.pixelValues[(1 * 3 + 0) * 14 * rowLen + 14]).toBe(0);
    expect(p.pixelValues[(1 * 3 + 0) * 14 * rowLen + 13]).toBe(-1);
  });
});

describe('resamplerPosEmbed', () => {
  it('puts the column in the first half and the row in the second (sin then cos)', () => {
    const D = 8;
    const e = resamplerPosEmbed(2, 3, D);
    // patch (0,0): sin 0 = 0, cos 0 = 1
    expect(Array.from(e.subarray(0, D))).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    // patch (r=1, c=2): ω = [1, 1/100]
    const p = e.subarray((1 * 3 + 2) * D, (1 * 3 + 3) * D);
    expect(p[0]).toBeCloseTo(Math.sin(2), 6);
    expect(p[1]).toBeCloseTo(Math.sin(0.02), 6);
    expect(p[2]).toBeCloseTo(Math.cos(2), 6);
    expect(p[4]).toBeCloseTo(Math.sin(1), 6);
    expect(p[7]).toBeCloseTo(Math.cos(0.01), 6);
  });
});
