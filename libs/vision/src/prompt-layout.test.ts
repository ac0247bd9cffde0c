import { describe, expect, it } from 'vitest';
import { imagePlaceholder } from './prompt-layout.js';
import { planSlices } from './slice-plan.js';

describe('imagePlaceholder (2.6 layout)', () => {
  it('1024x768 → overview + 2x2 grid, exactly as minicpmv.md §3.1', () => {
    const U = '<unk>'.repeat(64);
    const p = imagePlaceholder(planSlices(1024, 768), { imageIndex: 0 });
    expect(p.text).toBe(`<image_id>0</image_id><image>${U}</image><slice>${U}</slice><slice>${U}</slice>\n<slice>${U}</slice><slice>${U}</slice>`);
    expect(p.visualTokens).toBe(320);
    expect(p.segments.filter((s) => s.kind === 'visual').map((s) => (s.kind === 'visual' ? s.image : -1))).toEqual([0, 1, 2, 3, 4]);
  });

  it('unsliced image, no id, custom query count', () => {
    const p = imagePlaceholder(planSlices(300, 200), { useImageId: false, queryNum: 2 });
    expect(p.text).toBe('<image><unk><unk></image>');
    expect(p.segments).toEqual([
      { kind: 'text', text: '<image>' },
      { kind: 'visual', image: 0, count: 2 },
      { kind: 'text', text: '</image>' },
    ]);
  });

  it('rows × cols follow the grid (1920x1080 → 4 cols, 2 rows) and the id is the image index', () => {
    const p = imagePlaceholder(planSlices(1920, 1080), { imageIndex: 12, queryNum: 1 });
    expect(p.text).toBe('<image_id>12</image_id><image><unk></image>' + '<slice><unk></slice>'.repeat(4) + '\n' + '<slice><unk></slice>'.repeat(4));
    expect(p.visualTokens).toBe(9);
  });
});
