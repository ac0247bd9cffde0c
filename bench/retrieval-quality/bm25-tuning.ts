/**
 * BM25 k1 / b chosen on a training split of the questions and reported on the held-out split.
 * The split is by twin pair of entities (Kestrel K7 and K8 go to the same side), seeded: no entity
 * — and no near-duplicate of one — has questions on both sides, so the held-out numbers are not
 * tuned on the held-out entities' wording. All passages stay indexed (the corpus is the same; only
 * the questions are split). The grid runs on our LexicalIndex over the analyzer's terms of whole
 * passages (what the engine indexes; the passages are one chunk each), ranked by MRR@10 over all
 * training questions, ties broken by R@5.
 */
import { analyze, LexicalIndex, type Bm25Params } from '@tessera/retrieval';
import type { Dataset, Question } from './dataset.js';
import { K, score } from './metrics.js';

export const K1_GRID = [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.2, 1.5, 2];
export const B_GRID = [0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1];

/** FNV-1a: a fixed hash so the split does not depend on iteration order. */
function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Entity pair of a question: its relevant passage id `dev3a.en` → `dev3`. */
const pairOf = (q: Question) => q.relevant[0]!.replace(/[ab]\..*$/, '');

/** Pairs ordered by a seeded hash; the first `trainShare` of them are training pairs. */
export function splitQuestions(questions: readonly Question[], seed: number, trainShare = 0.5): { train: Question[]; heldOut: Question[] } {
  const pairs = [...new Set(questions.map(pairOf))].sort((x, y) => fnv(`${seed}:${x}`) - fnv(`${seed}:${y}`));
  const trainPairs = new Set(pairs.slice(0, Math.round(pairs.length * trainShare)));
  return { train: questions.filter((q) => trainPairs.has(pairOf(q))), heldOut: questions.filter((q) => !trainPairs.has(pairOf(q))) };
}

export interface GridPoint extends Bm25Params {
  mrr: number;
  r5: number;
}

/** Every (k1, b) of the grid scored on `questions`, best first. */
export function bm25Grid(data: Dataset, questions: readonly Question[]): GridPoint[] {
  const docTerms = data.passages.map((p) => [p.id, analyze(p.text)] as const);
  const queryTerms = questions.map((q) => [q, analyze(q.text)] as const);
  const out: GridPoint[] = [];
  for (const k1 of K1_GRID) {
    for (const b of B_GRID) {
      const ix = new LexicalIndex({ k1, b });
      for (const [id, t] of docTerms) ix.put(id, t);
      const ranked = new Map(queryTerms.map(([q, t]) => [q.id, ix.search(t, K).map((h) => h.id)]));
      const all = score(questions, ranked).get('all')!;
      out.push({ k1, b, mrr: all.mrr, r5: all.r5 });
    }
  }
  return out.sort((x, y) => y.mrr - x.mrr || y.r5 - x.r5);
}

export function tuneBm25(data: Dataset, seed: number): { train: Question[]; heldOut: Question[]; grid: GridPoint[]; best: Bm25Params } {
  const { train, heldOut } = splitQuestions(data.questions, seed);
  const grid = bm25Grid(data, train);
  return { train, heldOut, grid, best: { k1: grid[0]!.k1, b: grid[0]!.b } };
}
