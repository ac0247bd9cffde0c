/**
 * Hybrid fusion of a dense and a lexical ranking. Two methods:
 * - `rrf`: weighted reciprocal rank fusion, Σ wᵢ / (rrf_k + rankᵢ) (query/rrf.ts);
 * - `score`: normalised score fusion, w · dense' + (1 − w) · lexical', where lexical' = BM25 / best
 *   BM25 of the list and dense' = (sim − min) / (max − min) over the dense candidates (sim = 1 − d/2);
 *   a document missing from a list contributes 0 there.
 * Scores keep a 0–1 relevance: RRF / its best possible value; score fusion is already in [0, 1].
 * The defaults (method, weight, rrf_k) were chosen on bench/retrieval-quality; see the README.
 */
import { reciprocalRankFusion, type Fused } from './rrf.js';

export type FusionMethod = 'rrf' | 'score';

export interface FusionInput {
  /** Best first; `similarity` higher = closer (any monotone transform of the distance). */
  dense: ReadonlyArray<{ id: string; similarity: number }>;
  /** Best first; BM25, higher = better. */
  lexical: ReadonlyArray<{ id: string; score: number }>;
}

export interface FusionParams {
  method: FusionMethod;
  /** Weight of the dense side, 0..1. */
  denseWeight: number;
  /** RRF constant (rrf only). */
  rrfK: number;
}

export function fuse(input: FusionInput, p: FusionParams): Fused[] {
  if (p.method === 'rrf') {
    return reciprocalRankFusion(
      [
        { ids: input.dense.map((h) => h.id), weight: p.denseWeight },
        { ids: input.lexical.map((h) => h.id), weight: 1 - p.denseWeight },
      ],
      p.rrfK,
    );
  }
  const scores = new Map<string, number>();
  const bestLex = input.lexical[0]?.score ?? 0;
  if (bestLex > 0) for (const h of input.lexical) scores.set(h.id, (1 - p.denseWeight) * (h.score / bestLex));
  if (input.dense.length > 0) {
    let min = Infinity;
    let max = -Infinity;
    for (const h of input.dense) {
      min = Math.min(min, h.similarity);
      max = Math.max(max, h.similarity);
    }
    const span = max - min;
    for (const h of input.dense) {
      const norm = span > 0 ? (h.similarity - min) / span : 1;
      scores.set(h.id, (scores.get(h.id) ?? 0) + p.denseWeight * norm);
    }
  }
  return [...scores]
    .map(([id, score]) => ({ id, score, relevance: Math.min(1, Math.max(0, score)) }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
}
