/**
 * Retrieval quality on a generated multilingual set (dataset.ts: zh / ja / tr / en passages,
 * same-language and cross-lingual questions, near-duplicate twins as distractors), through the
 * real engine (split → embed → LanceDB + keyword index → query, k = 10), for every search mode,
 * next to a plain BM25 over character bigrams computed in the same run on the same passages.
 * Prints R@5, R@10 and MRR@10 per question language (same-language questions) and for the
 * cross-lingual questions.
 *
 *   npx tsx bench/retrieval-quality/main.ts [--seed 7] [--grid]   (--grid: fusion weight sweep)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { HashingEmbedder, LanceStore, LexicalIndex, RetrievalEngine, TermHashEmbedder, type Embedder, type QueryInput } from '@tessera/retrieval';
import { generateDataset, LANGS, type Question } from './dataset.js';

const { values } = parseArgs({ options: { seed: { type: 'string', default: '7' }, grid: { type: 'boolean', default: false } } });
const K = 10;

/** The baseline: NFKC + lowercase, then code-point bigrams inside each run of letters/digits. */
function charBigrams(text: string): string[] {
  const out: string[] = [];
  for (const run of text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}\p{M}]+/gu) ?? []) {
    const cps = Array.from(run);
    if (cps.length === 1) out.push(cps[0]!);
    for (let i = 0; i + 1 < cps.length; i++) out.push(cps[i]! + cps[i + 1]!);
  }
  return out;
}

interface Scores {
  r5: number;
  r10: number;
  mrr: number;
  n: number;
}

function score(questions: readonly Question[], ranked: ReadonlyMap<string, string[]>): Map<string, Scores> {
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

const GROUPS = [...LANGS, 'cross', 'all'];

function row(label: string, g: Map<string, Scores>): string {
  const cell = (k: string) => {
    const s = g.get(k);
    return s ? `${s.r5.toFixed(3)} ${s.r10.toFixed(3)} ${s.mrr.toFixed(3)}` : '  –     –     –  ';
  };
  return `${label.padEnd(34)}${GROUPS.map(cell).join(' │ ')}`;
}

async function main(): Promise<void> {
  const data = generateDataset({ seed: Number(values.seed) });
  const counts = GROUPS.map((g) => `${g} ${data.questions.filter((q) => (g === 'all' ? true : g === 'cross' ? q.crossLingual : !q.crossLingual && q.lang === g)).length}`);
  console.log(`retrieval quality: ${data.passages.length} passages (${LANGS.map((l) => `${l} ${data.passages.filter((p) => p.lang === l).length}`).join(', ')}), ${data.questions.length} questions (${counts.join(', ')}), k = ${K}`);

  // ---- baseline: BM25 over character bigrams --------------------------------------------
  const base = new LexicalIndex({ k1: 1.2, b: 0.75 });
  for (const p of data.passages) base.put(p.id, charBigrams(p.text));
  const baseline = new Map(data.questions.map((q) => [q.id, base.search(charBigrams(q.text), K).map((h) => h.id)]));

  // ---- the engine ------------------------------------------------------------------------
  const dir = mkdtempSync(join(tmpdir(), 'bench-rq-'));
  const store = new LanceStore({ dir });
  const embedders: Embedder[] = [new TermHashEmbedder({ dimension: 384 }), new HashingEmbedder({ dimension: 256 })];
  const engine = new RetrievalEngine({ store, embedders });
  const T = 'bench';
  try {
    for (const e of embedders) {
      await engine.createCollection(T, { name: `kb-${e.id}`.toLowerCase().replace(/[^a-z0-9_-]/g, '-'), embeddingModel: e.id });
    }
    const colls = (await engine.listCollections(T, 100)).collections.map((c) => c.name);
    const t0 = performance.now();
    for (const c of colls) {
      for (let i = 0; i < data.passages.length; i += 128) {
        await engine.addDocuments(T, { collection: c, documents: data.passages.slice(i, i + 128).map((p) => ({ id: p.id, text: p.text, metadata: { lang: p.lang } })) });
      }
    }
    console.log(`ingest: ${colls.length} collection(s) x ${data.passages.length} passages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const run = async (coll: string, q: Omit<QueryInput, 'collection' | 'text' | 'k'>): Promise<Map<string, string[]>> => {
      const out = new Map<string, string[]>();
      for (const question of data.questions) {
        const res = await engine.query(T, { collection: coll, text: question.text, k: K, ...q });
        const ids: string[] = [];
        for (const r of res.results) {
          const d = String(r.metadata.document_id);
          if (!ids.includes(d)) ids.push(d);
        }
        out.set(question.id, ids);
      }
      return out;
    };

    console.log(`\n${'mode'.padEnd(34)}${GROUPS.map((g) => `${g.padEnd(5)} R@5   R@10  MRR`.padEnd(17)).join(' │ ')}`);
    console.log(row('BM25 char bigrams (baseline)', score(data.questions, baseline)));
    const c0 = colls[0]!;
    console.log(row('lexical (analyzer + BM25)', score(data.questions, await run(c0, { mode: 'lexical' }))));
    for (const c of colls) console.log(row(`dense ${c.slice(3)}`, score(data.questions, await run(c, { mode: 'dense' }))));
    for (const c of colls) console.log(row(`hybrid ${c.slice(3)} (default)`, score(data.questions, await run(c, {}))));
    for (const c of colls) console.log(row(`hybrid ${c.slice(3)} rrf60 w0.5`, score(data.questions, await run(c, { mode: 'hybrid', hybrid: { fusion: 'rrf', rrfK: 60, denseWeight: 0.5 } }))));
    if (values.grid) {
      for (const c of colls) {
        for (const [fusion, rrfK] of [['rrf', 10], ['rrf', 60], ['score', 60]] as const) {
          for (const w of [0.1, 0.2, 0.3, 0.4, 0.5]) {
            console.log(row(`${c.slice(3, 16)} ${fusion}${fusion === 'rrf' ? rrfK : ''} w${w}`, score(data.questions, await run(c, { mode: 'hybrid', hybrid: { fusion, rrfK, denseWeight: w } }))));
          }
        }
      }
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
