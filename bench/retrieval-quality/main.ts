/**
 * Retrieval quality on a generated multilingual set (dataset.ts: zh / ja / tr / en passages,
 * same-language and cross-lingual questions, near-duplicate twins as distractors), through the
 * real engine (split → embed → LanceDB + keyword index → query, k = 10), for every search mode,
 * next to a plain BM25 over character bigrams computed in the same run on the same passages.
 * Prints R@5, R@10 and MRR@10 per question language (same-language questions) and for the
 * cross-lingual questions. Then BM25's k1 / b: chosen on a training split of the questions,
 * printed on the training and the held-out split next to the textbook 1.2 / 0.75 (bm25-tuning.ts).
 *
 *   npx tsx bench/retrieval-quality/main.ts [--seed 7] [--grid]   (--grid: fusion weight sweep)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { DEFAULT_BM25, HashingEmbedder, LanceStore, LexicalIndex, RetrievalEngine, TermHashEmbedder, type Embedder, type QueryInput } from '@tessera/retrieval';
import { generateDataset, LANGS } from './dataset.js';
import { B_GRID, K1_GRID, tuneBm25 } from './bm25-tuning.js';
import { charBigrams, GROUPS, K, row, score } from './metrics.js';

const { values } = parseArgs({ options: { seed: { type: 'string', default: '7' }, grid: { type: 'boolean', default: false } } });

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

    const run = async (coll: string, q: Omit<QueryInput, 'collection' | 'text' | 'k'>, questions = data.questions, eng = engine, collName = coll): Promise<Map<string, string[]>> => {
      const out = new Map<string, string[]>();
      for (const question of questions) {
        const res = await eng.query(T, { collection: collName, text: question.text, k: K, ...q });
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
    console.log(row(`lexical (analyzer + BM25 ${DEFAULT_BM25.k1}/${DEFAULT_BM25.b})`, score(data.questions, await run(c0, { mode: 'lexical' }))));
    for (const c of colls) console.log(row(`dense ${c.slice(3)}`, score(data.questions, await run(c, { mode: 'dense' }))));
    for (const c of colls) console.log(row(`hybrid ${c.slice(3)} (default)`, score(data.questions, await run(c, {}))));
    for (const c of colls) console.log(row(`hybrid ${c.slice(3)} rrf60 w0.5`, score(data.questions, await run(c, { mode: 'hybrid', hybrid: { fusion: 'rrf', rrfK: 60, denseWeight: 0.5 } }))));
    // ---- BM25 k1 / b: tuned on the training split, reported on the held-out split -------
    const tuned = tuneBm25(data, Number(values.seed));
    const fmtP = (p: { k1: number; b: number }) => `k1 ${p.k1} b ${p.b}`;
    console.log(`\nBM25 k1 / b (bm25-tuning.ts): ${tuned.train.length} training / ${tuned.heldOut.length} held-out questions (split by entity pair); grid k1 ${K1_GRID.join(' ')} x b ${B_GRID.join(' ')} on the training split, by MRR@10:`);
    console.log(`  best ${tuned.grid.slice(0, 3).map((g) => `${fmtP(g)} (${g.mrr.toFixed(3)})`).join(', ')}; worst ${fmtP(tuned.grid.at(-1)!)} (${tuned.grid.at(-1)!.mrr.toFixed(3)}); service default ${fmtP(DEFAULT_BM25)}`);
    const textbook = new LanceStore({ dir: join(dir, 'textbook'), bm25: { k1: 1.2, b: 0.75 } });
    try {
      const tb = new RetrievalEngine({ store: textbook, embedders: [new TermHashEmbedder({ dimension: 384 })] });
      await tb.createCollection(T, { name: 'kb' });
      for (let i = 0; i < data.passages.length; i += 128) await tb.addDocuments(T, { collection: 'kb', documents: data.passages.slice(i, i + 128).map((p) => ({ id: p.id, text: p.text, metadata: { lang: p.lang } })) });
      const tuneStore = new LanceStore({ dir: join(dir, 'tuned'), bm25: tuned.best });
      const te = new RetrievalEngine({ store: tuneStore, embedders: [new TermHashEmbedder({ dimension: 384 })] });
      await te.createCollection(T, { name: 'kb' });
      for (let i = 0; i < data.passages.length; i += 128) await te.addDocuments(T, { collection: 'kb', documents: data.passages.slice(i, i + 128).map((p) => ({ id: p.id, text: p.text, metadata: { lang: p.lang } })) });
      for (const [split, qs] of [['training', tuned.train], ['HELD-OUT', tuned.heldOut]] as const) {
        console.log(`${split} split (${qs.length} questions):`);
        console.log(row('  BM25 char bigrams (baseline)', score(qs, baseline)));
        console.log(row('  lexical, k1 1.2 b 0.75 (textbook)', score(qs, await run(c0, { mode: 'lexical' }, qs, tb, 'kb'))));
        console.log(row(`  lexical, ${fmtP(tuned.best)} (tuned)`, score(qs, await run(c0, { mode: 'lexical' }, qs, te, 'kb'))));
      }
      await tuneStore.close();
    } finally {
      await textbook.close();
    }

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
