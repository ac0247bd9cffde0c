/**
 * The weightless default embedder: feature hashing of words and character n-grams, so retrieval
 * works offline before any model is installed, in any language Intl.Segmenter can cut into words.
 * Words (dictionary-segmented for zh/ja, case-folded incl. Turkish İ/ı) carry the topic; character
 * 2- and 3-grams of each word (with ^ $ boundary marks) catch inflections ("kıtayı" ~ "kıta") and
 * compounds. Term frequency is sublinear (1 + ln tf); each feature adds ±weight to one of
 * `dimension` buckets (sign from a second hash bit, which keeps collisions unbiased); the vector
 * is L2-normalised. Lexical similarity only — no synonyms — but deterministic and ~µs per chunk.
 */
import { analyze } from '../text/analyzer.js';
import { lexicalTokens } from '../text/lexical-tokens.js';
import type { EmbedReport, Embedder } from './embedder.js';

export interface HashingEmbedderOptions {
  /** [256] Buckets; 128..4096 are sensible. */
  dimension?: number;
  /** [0.5] Weight of all n-gram features of a word relative to the word feature (1). */
  ngramWeight?: number;
}

export class HashingEmbedder implements Embedder {
  readonly dimension: number;
  readonly normalized = true;
  readonly id: string;
  private readonly ngramWeight: number;

  constructor(opts: HashingEmbedderOptions = {}) {
    this.dimension = opts.dimension ?? 256;
    this.ngramWeight = opts.ngramWeight ?? 0.5;
    this.id = `hash-ngram-v1-${this.dimension}`;
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
    const v = new Float32Array(this.dimension);
    if (counts.size === 0) counts.set('\u0000empty', 1); // a fixed direction: cosine stays defined
    for (const [feature, tf] of counts) {
      const h = fnv1a(feature);
      const w = tf >= 1 ? 1 + Math.log(tf) : tf;
      v[h % this.dimension]! += (h & 0x80000000) !== 0 ? -w : w;
    }
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < v.length; i++) v[i]! /= norm;
    return v;
  }

  async embed(texts: readonly string[]): Promise<EmbedReport> {
    return { vectors: texts.map((t) => this.embedOne(t)), truncated: 0, batches: texts.length > 0 ? 1 : 0 };
  }

  countTokens(text: string): number {
    return analyze(text).length;
  }

  async close(): Promise<void> {}
}

/** 32-bit FNV-1a over UTF-16 units with a final avalanche (murmur3 fmix32). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
