/**
 * The second weightless embedder, `hash-terms-v2-<dim>`: a random projection (signed feature
 * hashing) of a BM25-like term vector. Features are the lexical analyzer's terms (CJK bigrams cut
 * at kana/kanji boundaries, canonical Han forms, Turkish-folded words, prefix-5 stems — the same
 * terms keyword search indexes) plus character 4-grams of Latin-script words (inflections the
 * prefix stem misses: nüfusu ~ nüfus). Documents carry sublinear tf (1 + ln tf), L2-normalised.
 * Queries additionally weight each term by its IDF *in the queried collection* (`embedQuery` with
 * the collection's document frequencies): the weighting is learned from the collection at query
 * time, so stored vectors never go stale as the collection grows.
 *
 * What it reaches and what it cannot: it is a smoothed lexical match. Across languages it only
 * connects shared strings (Latin product names, numbers, Han characters shared by zh and ja);
 * cross-lingual meaning needs a real multilingual model (OnnxEmbedder). Numbers: bench/retrieval-quality.
 */
import { analyze } from '../../domain/text/analyzer.js';
import type { QueryWeightedEmbedder, TermStats } from '../../domain/embedder.js';
import { projectFeatures, WeightlessEmbedder } from './feature-hashing.js';

// Defined by the domain (the engine asks for query weighting), implemented here.
export { isQueryWeighted, type QueryWeightedEmbedder, type TermStats } from '../../domain/embedder.js';

export interface TermHashEmbedderOptions {
  /** [384] Buckets. */
  dimension?: number;
  /** [0.5] Total weight of a Latin word's character 4-grams relative to the word (1). */
  gramWeight?: number;
}

const LATIN_WORD = /^[\p{Script=Latin}\p{M}]{4,}$/u;

export class TermHashEmbedder extends WeightlessEmbedder implements QueryWeightedEmbedder {
  private readonly gramWeight: number;

  constructor(opts: TermHashEmbedderOptions = {}) {
    super('hash-terms-v2', opts.dimension ?? 384);
    this.gramWeight = opts.gramWeight ?? 0.5;
  }

  queryTerms(text: string): string[] {
    return [...new Set(analyze(text))];
  }

  /** Feature → weight before IDF: sublinear tf of terms, plus each Latin word's 4-grams. */
  private features(text: string): Map<string, number> {
    const tf = new Map<string, number>();
    for (const t of analyze(text)) tf.set(t, (tf.get(t) ?? 0) + 1);
    const out = new Map<string, number>();
    for (const [t, n] of tf) {
      out.set(t, 1 + Math.log(n));
      if (!LATIN_WORD.test(t)) continue;
      const cps = Array.from(`^${t}$`);
      const grams = cps.length - 3;
      for (let i = 0; i < grams; i++) {
        const g = `#${cps.slice(i, i + 4).join('')}`;
        out.set(g, (out.get(g) ?? 0) + (this.gramWeight * (1 + Math.log(n))) / grams);
      }
    }
    return out;
  }

  private project(features: Map<string, number>, weight: (feature: string) => number): Float32Array {
    // An empty text keeps weight 1 on the fixed "empty" direction (projectFeatures adds it).
    return projectFeatures(
      Array.from(features, ([f, w]): [string, number] => [f, w * weight(f)]),
      this.dimension,
    );
  }

  embedOne(text: string): Float32Array {
    return this.project(this.features(text), () => 1);
  }

  embedQuery(text: string, stats: TermStats): Float32Array {
    const terms = this.queryTerms(text);
    const idf = new Map<string, number>();
    const N = Math.max(1, stats.records);
    terms.forEach((t, i) => idf.set(t, Math.log(1 + (N - (stats.df[i] ?? 0) + 0.5) / ((stats.df[i] ?? 0) + 0.5))));
    // Character grams have no document frequency of their own: they take the mean term IDF.
    const mean = terms.length > 0 ? [...idf.values()].reduce((a, b) => a + b, 0) / terms.length : 1;
    return this.project(this.features(text), (f) => idf.get(f) ?? mean);
  }
}
