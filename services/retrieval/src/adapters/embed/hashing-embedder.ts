/**
 * The weightless default embedder: feature hashing of words and character n-grams, so retrieval
 * works offline before any model is installed, in any language Intl.Segmenter can cut into words.
 * Words (dictionary-segmented for zh/ja, case-folded incl. Turkish İ/ı) carry the topic; character
 * 2- and 3-grams of each word (with ^ $ boundary marks) catch inflections ("kıtayı" ~ "kıta") and
 * compounds. Term frequency is sublinear (1 + ln tf); each feature adds ±weight to one of
 * `dimension` buckets (sign from a second hash bit, which keeps collisions unbiased); the vector
 * is L2-normalised. Lexical similarity only — no synonyms — but deterministic and ~µs per chunk.
 */
import { lexicalTokens } from '../../domain/text/lexical-tokens.js';
import { projectFeatures, WeightlessEmbedder } from './feature-hashing.js';

export interface HashingEmbedderOptions {
  /** [256] Buckets; 128..4096 are sensible. */
  dimension?: number;
  /** [0.5] Weight of all n-gram features of a word relative to the word feature (1). */
  ngramWeight?: number;
}

export class HashingEmbedder extends WeightlessEmbedder {
  private readonly ngramWeight: number;

  constructor(opts: HashingEmbedderOptions = {}) {
    super('hash-ngram-v1', opts.dimension ?? 256);
    this.ngramWeight = opts.ngramWeight ?? 0.5;
  }

  embedOne(text: string): Float32Array {
    const counts = new Map<string, number>();
    const add = (f: string, w: number) => counts.set(f, (counts.get(f) ?? 0) + w);
    for (const word of lexicalTokens(text)) {
      add(`w\u0000${word}`, 1);
      const cps = Array.from(`^${word}$`);
      const grams: string[] = [];
      for (const n of [2, 3]) for (let i = 0; i + n <= cps.length; i++) grams.push(cps.slice(i, i + n).join(''));
      for (const g of grams) add(`g\u0000${g}`, this.ngramWeight / grams.length);
    }
    // Sublinear tf (1 + ln tf); fractional gram weights stay as they are.
    const weighted = Array.from(counts, ([f, tf]): [string, number] => [f, tf >= 1 ? 1 + Math.log(tf) : tf]);
    return projectFeatures(weighted, this.dimension);
  }

}
