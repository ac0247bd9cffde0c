/**
 * Maximal marginal relevance (LangChain's `maximal_marginal_relevance`): start from the candidate
 * most similar to the query, then repeatedly take argmax λ·sim(q, d) − (1 − λ)·max_{s∈S} sim(d, s),
 * with cosine similarity. λ = 1 is pure relevance, λ = 0 maximum diversity.
 * Returns indices into `candidates`, in pick order.
 */
import { cosine } from './relevance.js';

export function mmrSelect(query: Float32Array, candidates: readonly Float32Array[], k: number, lambda: number): number[] {
  if (candidates.length === 0 || k <= 0) return [];
  const toQuery = candidates.map((c) => cosine(query, c));
  const picked: number[] = [];
  const maxSimToPicked = new Float64Array(candidates.length).fill(-Infinity);
  const used = new Uint8Array(candidates.length);
  while (picked.length < Math.min(k, candidates.length)) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < candidates.length; i++) {
      if (used[i]) continue;
      const redundancy = picked.length === 0 ? 0 : maxSimToPicked[i]!;
      const score = lambda * toQuery[i]! - (1 - lambda) * redundancy;
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    used[best] = 1;
    picked.push(best);
    for (let i = 0; i < candidates.length; i++) {
      if (!used[i]) maxSimToPicked[i] = Math.max(maxSimToPicked[i]!, cosine(candidates[i]!, candidates[best]!));
    }
  }
  return picked;
}
