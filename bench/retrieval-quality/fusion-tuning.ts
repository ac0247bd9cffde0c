/**
 * Hybrid fusion chosen on a training split, judged on the held-out split; the default search mode
 * chosen from the held-out scores. Same split as BM25's (bm25-tuning.ts: by entity pair, seeded).
 *
 * For each embedder, every question's lexical and dense top-`FETCH` lists come from the engine once
 * (what hybrid fuses: fetch_k = max(50, k)); each candidate fusion is applied to them with the
 * engine's own `fuse`. A candidate *qualifies* on a split when it is at or above the better of its
 * two inputs on every column (R@5, R@10, MRR@10 × en / zh / ja / tr / cross / all): "never loses to
 * its best input". The choice: the qualifying candidate with the highest training MRR@10 (all),
 * ties to the least dense influence (CANDIDATES is in that order); none qualifying → none chosen.
 * The default mode: of lexical / dense / hybrid, the one at or above the others on every column of
 * the held-out split and of all questions; several → the one using more evidence (hybrid, then
 * lexical): with tiebreak fusion hybrid differs from lexical only on BM25 ties, whose lexical order
 * is the arbitrary record-id order, so on unseen questions it can only match lexical or — if the
 * dense similarity carries any signal — do better; its cost is one vector search more per query.
 */
import { fuse, type FusionParams } from '@tessera/retrieval';
import type { Question } from './dataset.js';
import { GROUPS, K, score, type Scores } from './metrics.js';

export const FETCH = 50;

export interface Lists {
  lexical: { id: string; score: number }[];
  dense: { id: string; similarity: number }[];
}

export const CANDIDATES: readonly FusionParams[] = [
  { method: 'tiebreak', denseWeight: 0, rrfK: 60 },
  ...[0.02, 0.05, 0.1, 0.2, 0.3].map((w) => ({ method: 'score' as const, denseWeight: w, rrfK: 60 })),
  ...[0.1, 0.2, 0.3, 0.5].map((w) => ({ method: 'rrf' as const, denseWeight: w, rrfK: 60 })),
];

export const fusionLabel = (p: FusionParams): string => (p.method === 'tiebreak' ? 'tiebreak' : p.method === 'rrf' ? `rrf${p.rrfK} w${p.denseWeight}` : `score w${p.denseWeight}`);

const METRICS = ['r5', 'r10', 'mrr'] as const;
const EPS = 1e-9;

export type Table = Map<string, Scores>;

/** Columns where `a` is below `b`, as "ja MRR −0.011". */
export function lossesAgainst(a: Table, b: Table): string[] {
  const out: string[] = [];
  for (const g of GROUPS) {
    const x = a.get(g);
    const y = b.get(g);
    if (!x || !y) continue;
    for (const m of METRICS) if (x[m] < y[m] - EPS) out.push(`${g} ${m === 'mrr' ? 'MRR' : m === 'r5' ? 'R@5' : 'R@10'} ${(x[m] - y[m]).toFixed(3)}`);
  }
  return out;
}

/** The better of two tables per column. */
export function bestOf(a: Table, b: Table): Table {
  const out: Table = new Map();
  for (const g of GROUPS) {
    const x = a.get(g);
    const y = b.get(g);
    if (!x || !y) continue;
    out.set(g, { n: x.n, r5: Math.max(x.r5, y.r5), r10: Math.max(x.r10, y.r10), mrr: Math.max(x.mrr, y.mrr) });
  }
  return out;
}

export function rankWith(lists: ReadonlyMap<string, Lists>, questions: readonly Question[], how: FusionParams | 'lexical' | 'dense'): Map<string, string[]> {
  return new Map(
    questions.map((q) => {
      const l = lists.get(q.id)!;
      const ids = how === 'lexical' ? l.lexical.map((h) => h.id) : how === 'dense' ? l.dense.map((h) => h.id) : fuse(l, how).map((f) => f.id);
      return [q.id, ids.slice(0, K)];
    }),
  );
}

export interface FusionChoice {
  /** Per candidate: training scores and the columns where it fell below the best input. */
  trials: { params: FusionParams; train: Table; losses: string[] }[];
  chosen?: FusionParams;
}

export function chooseFusion(lists: ReadonlyMap<string, Lists>, train: readonly Question[]): FusionChoice {
  const best = bestOf(score(train, rankWith(lists, train, 'lexical')), score(train, rankWith(lists, train, 'dense')));
  const trials = CANDIDATES.map((params) => {
    const t = score(train, rankWith(lists, train, params));
    return { params, train: t, losses: lossesAgainst(t, best) };
  });
  let chosen: (typeof trials)[number] | undefined;
  for (const t of trials) if (t.losses.length === 0 && (!chosen || t.train.get('all')!.mrr > chosen.train.get('all')!.mrr + EPS)) chosen = t;
  return { trials, chosen: chosen?.params };
}

/** Preference among modes that tie on every column: more evidence first. */
export const MODE_PREFERENCE = ['hybrid', 'lexical', 'dense'] as const;
export type Mode = (typeof MODE_PREFERENCE)[number];

/** The mode at or above the others on every column of every table set (preferred of several); else the best MRR@10 (all) of the first set. */
export function chooseMode(sets: ReadonlyArray<Readonly<Record<Mode, Table>>>): { mode: Mode; dominates: boolean; ties: Mode[] } {
  const dominates = (m: Mode) => sets.every((t) => MODE_PREFERENCE.every((o) => lossesAgainst(t[m], t[o]).length === 0));
  const winners = MODE_PREFERENCE.filter(dominates);
  if (winners.length > 0) return { mode: winners[0]!, dominates: true, ties: winners.slice(1) };
  const first = sets[0]!;
  const mode = [...MODE_PREFERENCE].sort((a, b) => first[b].get('all')!.mrr - first[a].get('all')!.mrr)[0]!;
  return { mode, dominates: false, ties: [] };
}
