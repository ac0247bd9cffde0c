/**
 * Reciprocal rank fusion: score(d) = Σ_lists weight_l / (k + rank_l(d)), ranks 1-based, k = 60
 * by default (the RRF paper's constant; LanceDB, Chroma and Milvus use 60, Qdrant's k = 2 with
 * 0-based ranks is a different scale). The best possible score (rank 1 in every list) is
 * Σ weight_l / (k + 1), which normalises the fused score to a 0–1 relevance.
 */
export interface Fused {
  id: string;
  score: number;
  relevance: number;
}

export function reciprocalRankFusion(lists: ReadonlyArray<{ ids: readonly string[]; weight: number }>, k = 60): Fused[] {
  const scores = new Map<string, number>();
  for (const { ids, weight } of lists) {
    ids.forEach((id, i) => scores.set(id, (scores.get(id) ?? 0) + weight / (k + i + 1)));
  }
  const best = lists.reduce((s, l) => s + l.weight / (k + 1), 0) || 1;
  return [...scores]
    .map(([id, score]) => ({ id, score, relevance: Math.min(1, score / best) }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
}
