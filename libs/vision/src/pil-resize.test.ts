import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { resizeBicubicRgbV1 } from './oracle/preprocess-v1.js';
import { PilResizer, resizeBicubicRgb } from './pil-resize.js';

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

  it('equals the previous pure-JS implementation on 120 random size pairs (edges, odd strides, 1-px sides, up and down)', () => {
    let seed = 19;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return 1 + (seed % n);
    };
    const resizer = new PilResizer();
    for (let i = 0; i < 120; i++) {
      const [w, h, ow, oh] = [rand(90), rand(90), rand(120), rand(120)];
      const src = syntheticRgb(w, h);
      resizer.load(src, w, h);
      const got = resizer.resize(ow, oh);
      const want = resizeBicubicRgbV1(src, w, h, ow, oh);
      expect(Buffer.from(got).equals(Buffer.from(want)), `${w}x${h} → ${ow}x${oh}`).toBe(true);
    }
  });

  it('one loaded source gives each size independently of the order of the resizes', () => {
    const src = syntheticRgb(301, 203);
    const resizer = new PilResizer();
    resizer.load(src, 301, 203);
    const a = resizer.resize(97, 61).slice();
    const b = resizer.resize(602, 406).slice();
    expect(Buffer.from(resizer.resize(97, 61)).equals(Buffer.from(a))).toBe(true);
    expect(Buffer.from(b).equals(Buffer.from(resizeBicubicRgbV1(src, 301, 203, 602, 406)))).toBe(true);
  });
});

describe('a parallel resizer (passes cut into row chunks shared with a helper thread) writes the same bytes', () => {
  it('as one thread, on 40 random size pairs, one and two sizes per call', async () => {
    const parallel = new PilResizer('always');
    const alone = new PilResizer();
    // The machines this runs on have ≥ 2 CPUs; with one, the resizer never starts a helper.
    expect(await parallel.helperStarted()).toBe(availableParallelism() > 1);
    let seed = 1919;
    const rand = (lo: number, hi: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return lo + (seed % (hi - lo + 1));
    };
    for (let i = 0; i < 40; i++) {
      // Sources ≥ 100k px (smaller ones are not split); outputs from 1 px (unsplittable rows) to upscales.
      const [w, h] = [rand(320, 900), rand(320, 700)];
      const sizes: [number, number][] = [[rand(1, 1000), rand(1, 800)], [rand(1, 1200), rand(1, 900)]];
      if (i % 5 === 0) sizes[0] = [w, rand(1, 900)];
      if (i % 7 === 0) sizes[1] = [rand(1, 900), h];
      const src = syntheticRgb(w, h);
      parallel.load(src, w, h);
      alone.load(src, w, h);
      const got = (i % 2 ? parallel.resizeMany(sizes) : [parallel.resize(...sizes[0])].map((rgb) => ({ rgb }))).map((r) => Buffer.from(r.rgb));
      got.forEach((g, j) => expect(g.equals(Buffer.from(alone.resize(...sizes[j]))), `${w}x${h} → ${sizes[j].join('x')}`).toBe(true));
    }
    if (availableParallelism() > 1) expect(parallel.helperChunks()).toBeGreaterThan(0);
  });
});
