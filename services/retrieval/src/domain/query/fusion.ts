/**
 * Hybrid fusion of a dense and a lexical ranking. Three methods:
 * - `rrf`: weighted reciprocal rank fusion, Σ wᵢ / (rrf_k + rankᵢ) (query/rrf.ts);
 * - `score`: normalised score fusion, w · dense' + (1 − w) · lexical', where lexical' = BM25 / best
 *   BM25 of the list and dense' = (sim − min) / (max − min) over the dense candidates (sim = 1 − d/2);
 *   a document missing from a list contributes 0 there;
 * - `tiebreak`: the lexical ranking, with the dense similarity ordering only documents whose BM25
 *   scores tie (relative difference ≤ 1e-9), then the documents only the dense side found, in dense
 *   order. Lexical's relevant hits keep their place or move within a tie, so it cannot fall below
 *   lexical except by a tie that lexical's arbitrary (id) order happened to break right; the weight
 *   and rrf_k are unused. The fusion for weightless embedders (their vectors are a hash of the same
 *   terms BM25 scores: every weighted fusion lost a column to lexical somewhere on
 *   bench/retrieval-quality, this one none).
 * Scores keep a 0–1 relevance: RRF / its best possible value; score fusion is already in [0, 1];
 * tiebreak: score = relevance = BM25 / best BM25, and after the last lexical hit, that hit's
 * relevance × the dense similarity (so the list's relevance never increases).
 * Which method is the default per embedder kind: bench/retrieval-quality (fusion-tuning.ts), README.
 */
import { reciprocalRankFusion, type Fused } from './rrf.js';

export type FusionMethod = 'rrf' | 'score' | 'tiebreak';

/** BM25 scores this close (relative) are a tie: equal term statistics, summed in a different order. */
const TIE = 1e-9;

export interface FusionInput {
  /** Best first; `similarity` higher = closer (any monotone transform of the distance). */
  dense: ReadonlyArray<{ id: string; similarity: number }>;
  /** Best first; BM25, higher = better. */
  lexical: ReadonlyArray<{ id: string; score: number }>;
}

export interface FusionParams {
  method: FusionMethod;
  /** Weight of the dense side, 0..1 (rrf, score). */
  denseWeight: number;
  /** RRF constant (rrf only). */
  rrfK: number;
}

export function fuse(input: FusionInput, p: FusionParams): Fused[] {
  if (p.method === 'tiebreak') return tieBreak(input);
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

/** Whether two BM25 scores (best first) tie for `tiebreak`. */
const ties = (hi: number, lo: number): boolean => hi - lo <= TIE * Math.abs(hi);

/**
 * Whether `tiebreak` needs the dense side for the top `k` of this lexical list: only when it has
 * fewer than k hits (dense-only documents fill the rest) or a tie touches the top k. Otherwise the
 * fused top k is lexical's top k with or without dense, so the engine skips the vector search.
 */
export function tiebreakNeedsDense(lexical: ReadonlyArray<{ score: number }>, k: number): boolean {
  if (lexical.length < k) return true;
  for (let i = 0; i < k && i + 1 < lexical.length; i++) if (ties(lexical[i]!.score, lexical[i + 1]!.score)) return true;
  return false;
}

function tieBreak({ dense, lexical }: FusionInput): Fused[] {
  const sim = new Map(dense.map((h) => [h.id, h.similarity]));
  const bySim = (a: { id: string }, b: { id: string }) => (sim.get(b.id) ?? -Infinity) - (sim.get(a.id) ?? -Infinity);
  const best = lexical[0]?.score ?? 0;
  const out: Fused[] = [];
  for (let i = 0; i < lexical.length; ) {
    let j = i + 1;
    while (j < lexical.length && ties(lexical[i]!.score, lexical[j]!.score)) j++;
    // Array.prototype.sort is stable: equal (or absent) similarities keep lexical's order.
    for (const h of lexical.slice(i, j).sort(bySim)) {
      const relevance = best > 0 ? h.score / best : 0;
      out.push({ id: h.id, score: relevance, relevance });
    }
    i = j;
  }
  const seen = new Set(out.map((f) => f.id));
  const floor = out.length > 0 ? out.at(-1)!.relevance : 1;
  for (const h of dense) {
    if (seen.has(h.id)) continue;
    const relevance = floor * Math.min(1, Math.max(0, h.similarity));
    out.push({ id: h.id, score: relevance, relevance });
  }
  return out;
}
