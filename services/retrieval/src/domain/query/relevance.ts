/**
 * Raw scores → a documented relevance in [0, 1] (higher = better), comparable with
 * score_threshold whatever the metric:
 * - cosine distance d = 1 - cos ∈ [0, 2]:        relevance = 1 - d / 2
 * - squared L2 d (unit vectors: d = 2 - 2cos):   relevance = max(0, 1 - sqrt(d) / 2)
 * - inner-product distance d = 1 - a·b:          relevance = clamp(1 - d / 2, 0, 1)
 * - BM25 / RRF scores (unbounded):               relevance = score / best possible score
 */
import type { Distance } from '../vector-store.js';

export function distanceRelevance(distance: Distance, d: number): number {
  const r = distance === 'l2' ? 1 - Math.sqrt(Math.max(0, d)) / 2 : 1 - d / 2;
  return Math.min(1, Math.max(0, r));
}

/** Cosine similarity of two vectors (any norm). */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
