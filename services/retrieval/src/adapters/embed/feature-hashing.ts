/**
 * The signed hashing trick shared by the weightless embedders: each weighted feature lands in one of
 * `dimension` buckets (its hash modulo the dimension) with the sign from the hash's top bit, and the
 * vector is L2-normalised so cosine and dot product agree. `WeightlessEmbedder` is the rest they
 * share: the id, one in-process batch, tokens counted as analyzer terms.
 */
import type { EmbedReport, Embedder } from '../../domain/embedder.js';
import { analyze } from '../../domain/text/analyzer.js';

/** 32-bit FNV-1a over UTF-16 units with a final avalanche (murmur3 fmix32). */
export function hash32(s: string): number {
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

/** Weighted features → signed, hashed, L2-normalised vector. No features → a fixed direction (cosine stays defined). */
export function projectFeatures(features: Iterable<[string, number]>, dimension: number): Float32Array {
  const v = new Float32Array(dimension);
  let any = false;
  for (const [feature, weight] of features) {
    any = true;
    const h = hash32(feature);
    v[h % dimension]! += (h & 0x80000000) !== 0 ? -weight : weight;
  }
  if (!any) {
    const h = hash32('\u0000empty');
    v[h % dimension]! += (h & 0x80000000) !== 0 ? -1 : 1;
  }
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

/** Base of the weightless embedders: `<family>-<dimension>` ids, vectors from `embedOne`. */
export abstract class WeightlessEmbedder implements Embedder {
  readonly normalized = true;
  readonly kind = 'weightless';
  readonly id: string;

  constructor(
    family: string,
    readonly dimension: number,
  ) {
    this.id = `${family}-${dimension}`;
  }

  abstract embedOne(text: string): Float32Array;

  async embed(texts: readonly string[]): Promise<EmbedReport> {
    return { vectors: texts.map((t) => this.embedOne(t)), truncated: 0, batches: texts.length > 0 ? 1 : 0 };
  }

  /** Usage and per-input limits count the lexical analyzer's terms. */
  countTokens(text: string): number {
    return analyze(text).length;
  }

  async close(): Promise<void> {}
}

