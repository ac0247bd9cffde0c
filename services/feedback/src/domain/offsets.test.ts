import { describe, expect, it } from 'vitest';
import { TextOffsets, codePointLength } from './offsets.js';
import { JA_ANSWER, ZH_ANSWER } from '../test/fixtures.js';

describe('TextOffsets', () => {
  it('maps code points to UTF-16 and UTF-8 on Japanese text with astral characters', () => {
    const t = new TextOffsets(JA_ANSWER);
    expect(t.length).toBe(18);
    expect(JA_ANSWER.length).toBe(21); // 3 astral characters → 3 extra UTF-16 units
    const i = t.codePoints.indexOf('𩸽');
    expect(i).toBe(4);
    expect(t.toUtf16(i)).toBe(5); // 𠮷 before it is 2 units
    expect(t.toUtf8(i)).toBe(4 + 3 * 3); // 𠮷 = 4 bytes, 野家で = 3 bytes each
    expect(t.slice(4, 5)).toBe('𩸽');
    expect(t.fromUtf16(5)).toBe(4);
    expect(() => t.fromUtf16(1)).toThrow(/surrogate/);
    expect(Buffer.from(JA_ANSWER).length).toBe(t.toUtf8(t.length));
  });

  it('counts Chinese code points, not UTF-16 units', () => {
    expect(codePointLength(ZH_ANSWER)).toBe(Array.from(ZH_ANSWER).length);
    expect(codePointLength(ZH_ANSWER)).toBe(ZH_ANSWER.length - 2);
    const t = new TextOffsets(ZH_ANSWER);
    const apple = Array.from(ZH_ANSWER).indexOf('苹');
    expect(t.slice(apple, apple + 2)).toBe('苹果');
    expect(ZH_ANSWER.slice(t.toUtf16(apple), t.toUtf16(apple + 2))).toBe('苹果');
  });
});
