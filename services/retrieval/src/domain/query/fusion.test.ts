import { describe, expect, it } from 'vitest';
import { fuse } from './fusion.js';

describe('hybrid fusion', () => {
  const dense = [
    { id: 'a', similarity: 0.9 },
    { id: 'b', similarity: 0.8 },
    { id: 'c', similarity: 0.5 },
  ];
  const lexical = [
    { id: 'c', score: 12 },
    { id: 'b', score: 6 },
  ];

  it('score fusion: min-max dense, BM25 over the best, weighted sum', () => {
    const out = fuse({ dense, lexical }, { method: 'score', denseWeight: 0.1, rrfK: 60 });
    // c: 0.9·1 + 0.1·0 = 0.9; b: 0.9·0.5 + 0.1·0.75 = 0.525; a: 0.1·1 = 0.1.
    expect(out.map((f) => [f.id, Number(f.score.toFixed(6))])).toEqual([['c', 0.9], ['b', 0.525], ['a', 0.1]]);
    expect(out[0]!.relevance).toBeCloseTo(0.9, 10);
  });

  it('weight 0 reproduces the lexical ranking, weight 1 the dense one', () => {
    expect(fuse({ dense, lexical }, { method: 'score', denseWeight: 0, rrfK: 60 }).slice(0, 2).map((f) => f.id)).toEqual(['c', 'b']);
    expect(fuse({ dense, lexical }, { method: 'score', denseWeight: 1, rrfK: 60 }).map((f) => f.id)).toEqual(['a', 'b', 'c']);
    expect(fuse({ dense, lexical }, { method: 'rrf', denseWeight: 0, rrfK: 60 }).slice(0, 2).map((f) => f.id)).toEqual(['c', 'b']);
  });

  it('RRF: Σ w / (k + rank), 1-based', () => {
    const out = fuse({ dense, lexical }, { method: 'rrf', denseWeight: 0.5, rrfK: 60 });
    // c: ranks 3 and 1 → 0.5/63 + 0.5/61 = 0.016134 just beats b: ranks 2 and 2 → 0.016129.
    expect(out.map((f) => f.id)).toEqual(['c', 'b', 'a']);
    expect(out[0]!.score).toBeCloseTo(0.5 / 63 + 0.5 / 61, 12);
  });
});
