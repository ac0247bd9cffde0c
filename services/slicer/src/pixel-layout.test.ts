/**
 * The two producers of the NaViT input agree: @tessera/vision's toPatchStrip/batchPatchStrips
 * (documented layout [3, 14, P·14] + patch mask) and @tessera/model's packSlices (what the vision
 * stage is fed), including padding and the per-slice position ids from navitPositionIds().
 */
import { describe, expect, it } from 'vitest';
import { navitPositionIds, packSlices } from '@tessera/model';
import { batchPatchStrips, DEFAULT_NORMALIZATION, toChannelFirst, toPatchStrip } from '@tessera/vision';

function rgb(w: number, h: number, seed: number): Uint8Array {
  const b = new Uint8Array(w * h * 3);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed * 7 + ((i / 3 / w) | 0)) & 255;
  return b;
}

describe('pixel layout', () => {
  it('toPatchStrip + batchPatchStrips == packSlices(toChannelFirst)', () => {
    const sizes: [number, number][] = [[42, 28], [14, 70], [56, 56]];
    const imgs = sizes.map(([w, h], i) => ({ w, h, rgb: rgb(w, h, i) }));
    const strips = batchPatchStrips(imgs.map((im) => toPatchStrip(im.rgb, im.w, im.h, DEFAULT_NORMALIZATION)));
    const packed = packSlices(imgs.map((im) => ({ data: toChannelFirst(im.rgb, im.w, im.h, DEFAULT_NORMALIZATION), height: im.h, width: im.w })));
    expect(packed.numPatches).toBe(strips.maxPatches);
    expect(packed.tgtSizes).toEqual(strips.tgtSizes);
    expect(Array.from(packed.pixelValues)).toEqual(Array.from(strips.pixelValues));
    expect(Array.from(packed.patchAttentionMask, Number)).toEqual(Array.from(strips.patchAttentionMask));
    const [h, w] = strips.tgtSizes[2];
    expect(Array.from(packed.positionIds.subarray(2 * packed.numPatches, 2 * packed.numPatches + h * w), Number)).toEqual(Array.from(navitPositionIds(h, w)));
  });
});
