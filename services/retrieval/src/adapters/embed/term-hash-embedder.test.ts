import { describe, expect, it } from 'vitest';
import { cosine } from '../../domain/query/relevance.js';
import { TermHashEmbedder } from './term-hash-embedder.js';

describe('TermHashEmbedder (hash-terms-v2)', () => {
  const e = new TermHashEmbedder({ dimension: 384 });

  it('is deterministic, normalised, and shares the analyzer (Han variants, Turkish i, stems)', async () => {
    const [a, b] = (await e.embed(['圖書館の本', '图书馆'])).vectors;
    expect(Math.hypot(...a!)).toBeCloseTo(1, 5);
    expect(cosine(a!, b!)).toBeGreaterThan(0.4);
    expect(cosine(e.embedOne('İSTANBUL'), e.embedOne('istanbul'))).toBeCloseTo(1, 6);
    // Inflected Turkish shares the prefix stem and character 4-grams.
    expect(cosine(e.embedOne('nüfusu'), e.embedOne('nüfus'))).toBeGreaterThan(cosine(e.embedOne('nüfusu'), e.embedOne('nehir')));
    expect(e.id).toBe('hash-terms-v2-384');
  });

  it('query-side IDF from the collection moves the query toward its rare term', () => {
    const rare = e.embedOne('kestrel');
    const common = e.embedOne('battery');
    const q = 'kestrel battery';
    const flat = e.embedQuery(q, { records: 100, df: e.queryTerms(q).map(() => 10) });
    const weighted = e.embedQuery(q, { records: 100, df: e.queryTerms(q).map((t) => (t.includes('kestrel') || t.includes('>kestr') ? 1 : 90)) });
    expect(cosine(weighted, rare) - cosine(weighted, common)).toBeGreaterThan(cosine(flat, rare) - cosine(flat, common) + 0.2);
  });
});
