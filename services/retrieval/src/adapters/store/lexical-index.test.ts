import { describe, expect, it } from 'vitest';
import { analyze } from '../../domain/text/analyzer.js';
import { LexicalIndex } from './lexical-index.js';

describe('LexicalIndex (BM25)', () => {
  it('ranks by BM25: rarer terms weigh more, longer documents are normalised', () => {
    const ix = new LexicalIndex({ k1: 1.2, b: 0.75 });
    ix.put('a', analyze('the cat sat on the mat'));
    ix.put('b', analyze('the dog sat on the log'));
    ix.put('c', analyze('the cat'));
    const hits = ix.search(analyze('cat'), 10);
    expect(hits.map((h) => h.id)).toEqual(['c', 'a']);
    // BM25 by hand for 'c': N=3, df=2, idf=ln(1+(3-2+.5)/(2+.5)), tf=1, len 2, avg 14/3.
    const idf = Math.log(1 + 1.5 / 2.5);
    const expected = (idf * 2.2) / (1 + 1.2 * (0.25 + (0.75 * 2) / (14 / 3)));
    expect(hits[0]!.score).toBeCloseTo(expected, 10);
  });

  it('replace and delete update document frequencies; compaction keeps results', () => {
    const ix = new LexicalIndex();
    for (let i = 0; i < 3000; i++) ix.put(`d${i}`, analyze(i % 2 ? `東京 ${i}` : `大阪 ${i}`));
    expect(ix.documentFrequency('東京')).toBe(1500);
    ix.put('d1', analyze('大阪'));
    expect(ix.documentFrequency('東京')).toBe(1499);
    ix.removeMany(Array.from({ length: 2500 }, (_, i) => `d${i}`)); // triggers compaction
    expect(ix.size).toBe(500);
    expect(ix.documentFrequency('東京')).toBe(250);
    expect(ix.search(analyze('2999'), 3).map((h) => h.id)).toEqual(['d2999']);
    expect(ix.search(analyze('1'), 3)).toEqual([]);
  });

  it('restricts candidates to the allowed set exactly (pre-filter, no shortfall)', () => {
    const ix = new LexicalIndex();
    for (let i = 0; i < 50; i++) ix.put(`d${i}`, analyze(`apple ${'pie '.repeat(i % 5)}`));
    const allow = new Set(['d7', 'd33', 'd49']);
    const hits = ix.search(analyze('apple pie'), 10, allow);
    expect(hits.map((h) => h.id).sort()).toEqual(['d33', 'd49', 'd7']);
  });
});
