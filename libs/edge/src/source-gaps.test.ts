import { describe, expect, it } from 'vitest';
import { parseSourceHeader, sourceKey, SourceGaps } from './source-gaps.js';
import { siteFeedbackSource } from './subjects.js';

const a = siteFeedbackSource('shop-a', 'shop-a');
const b = siteFeedbackSource('shop-b', 'eu-b');
const h = (src: typeof a, seq: number) => `${sourceKey(src)} ${seq}`;

describe('SourceGaps', () => {
  it('reads the 2.9 header and the longer 2.10 one; anything else is not a sourced message', () => {
    expect(parseSourceHeader('TESSERA_FEEDBACK:7GOAUEZh 3')).toEqual({ key: 'TESSERA_FEEDBACK:7GOAUEZh', seq: 3 });
    expect(parseSourceHeader('TESSERA_FEEDBACK:7GOAUEZh 12 > >')).toEqual({ key: 'TESSERA_FEEDBACK:7GOAUEZh', seq: 12 });
    for (const v of [undefined, '', 'TESSERA_FEEDBACK:x', 'TESSERA_FEEDBACK:x y', 'TESSERA_FEEDBACK:x 0']) expect(parseSourceHeader(v)).toBeUndefined();
    expect(sourceKey(a)).toMatch(/^TESSERA_FEEDBACK:[0-9A-Za-z]{8}$/);
    expect(sourceKey(a)).not.toBe(sourceKey(b));
  });

  it('counts the gaps per site, ignores redeliveries and unknown sources; from the start, a first sequence above 1 is a drop', () => {
    const g = new SourceGaps([a, b], true);
    expect(g.observe(h(a, 3))).toEqual({ site: 'shop-a', dropped: 2 });
    expect(g.observe(h(b, 1))).toEqual({ site: 'shop-b', dropped: 0 });
    expect(g.observe(h(a, 4))?.dropped).toBe(0);
    expect(g.observe(h(a, 4))).toBeUndefined();
    expect(g.observe(h(a, 10))?.dropped).toBe(5);
    expect(g.observe('TESSERA_FEEDBACK:zzzzzzzz 99')).toBeUndefined();
    expect(g.observe(undefined)).toBeUndefined();
    expect([g.dropped('shop-a'), g.dropped('shop-b')]).toEqual([7, 0]);
  });

  it('not from the start: a seeded site counts from its seed, an unseeded one from its next event', () => {
    const g = new SourceGaps([a, b], false);
    g.seed(h(a, 40));
    expect(g.known()).toEqual(['shop-a']);
    expect(g.observe(h(a, 45))?.dropped).toBe(4);
    expect(g.observe(h(b, 700))?.dropped).toBe(0);
    expect(g.observe(h(b, 702))?.dropped).toBe(1);
  });
});
