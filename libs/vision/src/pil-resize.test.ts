import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resizeBicubicRgb } from './pil-resize.js';

/** Same formula as fixtures/gen_pil_resize.py: a busy pattern so every kernel tap matters. */
export function syntheticRgb(w: number, h: number): Uint8Array {
  const buf = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      buf[i] = (x * 7 + y * 13) & 255;
      buf[i + 1] = ((x * y) ^ (x + 3 * y)) & 255;
      buf[i + 2] = (Math.floor(x / 5) + Math.floor(y / 3)) % 2 ? 255 : 0;
    }
  }
  return buf;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/pil-resize.python.json', import.meta.url), 'utf8')) as {
  pillow: string;
  cases: { w: number; h: number; ow: number; oh: number; sha256: string; head: number[] }[];
};

describe('resizeBicubicRgb equals Pillow Image.resize(BICUBIC) byte for byte', () => {
  it.each(fixture.cases.map((c) => [`${c.w}x${c.h} → ${c.ow}x${c.oh}`, c] as const))('%s', (_n, c) => {
    const out = resizeBicubicRgb(syntheticRgb(c.w, c.h), c.w, c.h, c.ow, c.oh);
    expect(out.length).toBe(c.ow * c.oh * 3);
    expect(Array.from(out.subarray(0, 24))).toEqual(c.head);
    expect(createHash('sha256').update(out).digest('hex')).toBe(c.sha256);
  });

  it('same size is a copy', () => {
    const src = syntheticRgb(10, 7);
    const out = resizeBicubicRgb(src, 10, 7, 10, 7);
    expect(out).toEqual(src);
    expect(out).not.toBe(src);
  });
});
