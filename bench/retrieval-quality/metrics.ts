/** Scoring for bench/retrieval-quality: the bigram baseline's tokenizer, R@5 / R@10 / MRR@10 per group, table rows. */
import { LANGS, type Question } from './dataset.js';

export const K = 10;

/** The baseline: NFKC + lowercase, then code-point bigrams inside each run of letters/digits. */
export function charBigrams(text: string): string[] {
  const out: string[] = [];
  for (const run of text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}\p{M}]+/gu) ?? []) {
    const cps = Array.from(run);
    if (cps.length === 1) out.push(cps[0]!);
    for (let i = 0; i + 1 < cps.length; i++) out.push(cps[i]! + cps[i + 1]!);
  }
  return out;
}

export interface Scores {
  r5: number;
  r10: number;
  mrr: number;
  n: number;
}

export function score(questions: readonly Question[], ranked: ReadonlyMap<string, string[]>): Map<string, Scores> {
  const groups = new Map<string, Scores>();
  const add = (g: string, r5: number, r10: number, rr: number) => {
    const s = groups.get(g) ?? { r5: 0, r10: 0, mrr: 0, n: 0 };
    s.r5 += r5;
    s.r10 += r10;
    s.mrr += rr;
    s.n++;
    groups.set(g, s);
  };
  for (const q of questions) {
    const got = ranked.get(q.id) ?? [];
    const rel = new Set(q.relevant);
    const recallAt = (k: number) => got.slice(0, k).filter((id) => rel.has(id)).length / rel.size;
    const first = got.slice(0, K).findIndex((id) => rel.has(id));
    const rr = first < 0 ? 0 : 1 / (first + 1);
    add(q.crossLingual ? 'cross' : q.lang, recallAt(5), recallAt(10), rr);
    add('all', recallAt(5), recallAt(10), rr);
  }
  for (const s of groups.values()) {
    s.r5 /= s.n;
    s.r10 /= s.n;
    s.mrr /= s.n;
  }
  return groups;
}

export const GROUPS = [...LANGS, 'cross', 'all'];

export function row(label: string, g: Map<string, Scores>): string {
  const cell = (k: string) => {
    const s = g.get(k);
    return s ? `${s.r5.toFixed(3)} ${s.r10.toFixed(3)} ${s.mrr.toFixed(3)}` : '  –     –     –  ';
  };
  return `${label.padEnd(40)}${GROUPS.map(cell).join(' │ ')}`;
}

