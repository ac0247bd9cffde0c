import { describe, expect, it } from 'vitest';
import { fuse, tiebreakNeedsDense } from './fusion.js';

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

  it('tiebreak: lexical order, dense similarity only inside exact BM25 ties, dense-only documents last', () => {
    const lex = [
      { id: 'x', score: 9 },
      { id: 'p', score: 5 },
      { id: 'q', score: 5 * (1 + 1e-12) }, // a float-noise tie (relative 1e-12 <= 1e-9)
      { id: 'r', score: 5 - 1e-6 }, // a real difference: never crossed
      { id: 's', score: 1 },
    ].sort((a, b) => b.score - a.score);
    const den = [
      { id: 'r', similarity: 0.99 },
      { id: 'p', similarity: 0.9 },
      { id: 'z', similarity: 0.8 },
      { id: 'q', similarity: 0.2 },
      { id: 'y', similarity: 0.5 },
    ];
    const out = fuse({ dense: den, lexical: lex }, { method: 'tiebreak', denseWeight: 0.7, rrfK: 60 });
    // q came first by BM25 (1e-12 higher) but ties p, which dense prefers; r stays below both.
    expect(out.map((f) => f.id)).toEqual(['x', 'p', 'q', 'r', 's', 'z', 'y']);
    expect(out[0]!.relevance).toBe(1);
    expect(out[4]!.relevance).toBeCloseTo(1 / 9, 12);
    // Dense-only: the last lexical hit's relevance × similarity, so relevance never increases.
    expect(out[5]!.relevance).toBeCloseTo((1 / 9) * 0.8, 12);
    for (let i = 1; i < out.length; i++) expect(out[i]!.relevance).toBeLessThanOrEqual(out[i - 1]!.relevance + 1e-12);
    // The weight is unused: any weight gives the same list.
    expect(fuse({ dense: den, lexical: lex }, { method: 'tiebreak', denseWeight: 0, rrfK: 1 }).map((f) => f.id)).toEqual(out.map((f) => f.id));
    // A tie dense does not see keeps lexical's order; with no lexical hit, dense order with its own similarity.
    expect(fuse({ dense: [], lexical: [{ id: 'b', score: 2 }, { id: 'a', score: 2 }] }, { method: 'tiebreak', denseWeight: 0.1, rrfK: 60 }).map((f) => f.id)).toEqual(['b', 'a']);
    expect(fuse({ dense: den, lexical: [] }, { method: 'tiebreak', denseWeight: 0.1, rrfK: 60 }).map((f) => [f.id, f.relevance])).toEqual(den.map((h) => [h.id, h.similarity]));
  });

  it('tiebreak skips the dense side exactly when it cannot change the top k', () => {
    // Random lists with many exact ties (scores from a small set) and random dense similarities.
    let seed = 1;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    let skipped = 0;
    for (let trial = 0; trial < 500; trial++) {
      const n = 1 + Math.floor(rand() * 12);
      const lexical = Array.from({ length: n }, (_, i) => ({ id: `d${i}`, score: 1 + Math.floor(rand() * 6) })).sort((a, b) => b.score - a.score);
      const dense = Array.from({ length: 14 }, (_, i) => ({ id: `d${i}`, similarity: rand() })).sort((a, b) => b.similarity - a.similarity);
      const k = 1 + Math.floor(rand() * 6);
      const p = { method: 'tiebreak' as const, denseWeight: 0.1, rrfK: 60 };
      const full = fuse({ dense, lexical }, p).slice(0, k);
      if (tiebreakNeedsDense(lexical, k)) continue;
      skipped++;
      expect(fuse({ dense: [], lexical }, p).slice(0, k)).toEqual(full);
    }
    expect(skipped).toBeGreaterThan(50);
    expect(tiebreakNeedsDense([{ score: 3 }, { score: 2 }], 3)).toBe(true); // fewer than k hits
    expect(tiebreakNeedsDense([{ score: 3 }, { score: 2 }, { score: 2 }], 2)).toBe(true); // a tie across the k boundary
    expect(tiebreakNeedsDense([{ score: 3 }, { score: 2 }, { score: 1 }, { score: 1 }], 2)).toBe(false); // a tie below it
  });
});

