/**
 * Retrieval quality on a generated multilingual set (dataset.ts: zh / ja / tr / en passages,
 * same-language and cross-lingual questions, near-duplicate twins as distractors), through the
 * real engine (split → embed → LanceDB + keyword index → query, k = 10), for every search mode,
 * next to a plain BM25 over character bigrams computed in the same run on the same passages.
 * Prints R@5, R@10 and MRR@10 per question language (same-language questions) and for the
 * cross-lingual questions. Then BM25's k1 / b: chosen on a training split of the questions,
 * printed on the training and the held-out split next to the textbook 1.2 / 0.75 (bm25-tuning.ts).
 * Then, per embedder, the hybrid fusion chosen on the training split and judged on the held-out
 * split, and the default mode chosen on the held-out split (fusion-tuning.ts), ending in one
 * VERDICT line per embedder: hybrid vs its best input, and the default mode vs the service's.
 *
 *   npx tsx bench/retrieval-quality/main.ts [--seed 7] [--grid] [--embedder-dir DIR]
 *   (--grid: fusion weight sweep; --embedder-dir: also an ONNX model directory, kind "model")
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { DEFAULT_BM25, DEFAULT_FUSION_BY_KIND, distanceRelevance, tiebreakNeedsDense, HashingEmbedder, LanceStore, LexicalIndex, OnnxEmbedder, RetrievalEngine, TermHashEmbedder, type Embedder, type QueryInput } from '@tessera/retrieval';
import { generateDataset, LANGS } from './dataset.js';
import { B_GRID, K1_GRID, splitQuestions, tuneBm25 } from './bm25-tuning.js';
import { bestOf, chooseFusion, chooseMode, FETCH, fusionLabel, lossesAgainst, MODE_PREFERENCE, rankWith, type Lists, type Mode, type Table } from './fusion-tuning.js';
import { charBigrams, GROUPS, K, row, score } from './metrics.js';

const { values } = parseArgs({ options: { seed: { type: 'string', default: '7' }, grid: { type: 'boolean', default: false }, 'embedder-dir': { type: 'string' } } });

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
  if (values['embedder-dir']) embedders.push(await OnnxEmbedder.open(values['embedder-dir']));
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

    const eng = async (coll: string, text: string, q: Omit<QueryInput, 'collection' | 'text'>): Promise<{ doc: string; score: number }[]> => {
      const res = await engine.query(T, { collection: coll, text, ...q });
      return res.results.map((r) => ({ doc: String(r.metadata.document_id), score: r.score }));
    };

    console.log(`\n${'mode'.padEnd(40)}${GROUPS.map((g) => `${g.padEnd(5)} R@5   R@10  MRR`.padEnd(17)).join(' │ ')}`);
    console.log(row('BM25 char bigrams (baseline)', score(data.questions, baseline)));
    const c0 = colls[0]!;
    console.log(row(`lexical (analyzer + BM25 ${DEFAULT_BM25.k1}/${DEFAULT_BM25.b})`, score(data.questions, await run(c0, { mode: 'lexical' }))));
    for (const c of colls) console.log(row(`dense ${c.slice(3)}`, score(data.questions, await run(c, { mode: 'dense' }))));
    const infoOf = async (c: string) => (await engine.listCollections(T, 100)).collections.find((x) => x.name === c)!;
    const kindOf = (c: string) => embedders.find((e) => `kb-${e.id}`.toLowerCase().replace(/[^a-z0-9_-]/g, '-') === c)!.kind;
    for (const c of colls) console.log(row(`hybrid ${c.slice(3)} (${DEFAULT_FUSION_BY_KIND[kindOf(c)].method})`, score(data.questions, await run(c, { mode: 'hybrid' }))));
    for (const c of colls) console.log(row(`hybrid ${c.slice(3)} score w0.1`, score(data.questions, await run(c, { mode: 'hybrid', hybrid: { fusion: 'score', denseWeight: 0.1 } }))));
    for (const c of colls) console.log(row(`hybrid ${c.slice(3)} rrf60 w0.5`, score(data.questions, await run(c, { mode: 'hybrid', hybrid: { fusion: 'rrf', rrfK: 60, denseWeight: 0.5 } }))));
    for (const c of colls) console.log(row(`default ${c.slice(3)} (→ ${engine.defaultModeFor(await infoOf(c))})`, score(data.questions, await run(c, {}))));
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

    // ---- fusion: chosen on the training split, judged on the held-out split; default mode -----
    const { train, heldOut } = splitQuestions(data.questions, Number(values.seed));
    const verdicts: string[] = [];
    const fmt = (l: string[]) => (l.length === 0 ? 'never below (18/18 columns)' : `below on ${l.length} column(s): ${l.join(', ')}`);
    console.log(`\nHybrid fusion (fusion-tuning.ts): candidates on the ${train.length} training questions; "qualifies" = at or above the better of lexical and dense on all 18 columns`);
    for (const c of colls) {
      const kind = kindOf(c);
      const lists = new Map<string, Lists>();
      for (const q of data.questions) {
        const lex = await eng(c, q.text, { mode: 'lexical', k: FETCH });
        const den = await eng(c, q.text, { mode: 'dense', k: FETCH });
        lists.set(q.id, { lexical: lex.map((h) => ({ id: h.doc, score: h.score })), dense: den.map((h) => ({ id: h.doc, similarity: distanceRelevance('cosine', h.score) })) });
      }
      const choice = chooseFusion(lists, train);
      console.log(`${c.slice(3)} (${kind}):`);
      const needs = data.questions.filter((q) => tiebreakNeedsDense(lists.get(q.id)!.lexical, K)).length;
      console.log(`  tiebreak needs the dense side (a BM25 tie in the top ${K}, or fewer than ${K} hits) on ${needs} of ${data.questions.length} questions; the rest skip the vector search`);
      for (const t of choice.trials) console.log(`  ${fusionLabel(t.params).padEnd(14)} train MRR ${t.train.get('all')!.mrr.toFixed(3)}  ${t.losses.length === 0 ? 'qualifies' : `below on ${t.losses.length}: ${t.losses.slice(0, 4).join(', ')}${t.losses.length > 4 ? ', …' : ''}`}`);
      const service = DEFAULT_FUSION_BY_KIND[kind];
      console.log(`  chosen: ${choice.chosen ? fusionLabel(choice.chosen) : 'none qualifies'}; service default for ${kind} embedders: ${fusionLabel(service)}${choice.chosen && fusionLabel(choice.chosen) === fusionLabel(service) ? ' (same)' : ' (DIFFERENT)'}`);
      // Through the engine with the service's defaults (not the offline lists): lexical, dense, hybrid.
      const ms: Record<Mode, number> = { lexical: 0, dense: 0, hybrid: 0 };
      const timed = async (m: Mode, qs: typeof data.questions) => {
        const t0 = performance.now();
        const r = await run(c, { mode: m }, qs);
        ms[m] += (performance.now() - t0) / data.questions.length / 2;
        return score(qs, r);
      };
      const tables = async (qs: typeof data.questions): Promise<Record<Mode, Table>> => ({ lexical: await timed('lexical', qs), dense: await timed('dense', qs), hybrid: await timed('hybrid', qs) });
      const held = await tables(heldOut);
      const all = await tables(data.questions);
      const offline = score(heldOut, rankWith(lists, heldOut, service));
      const same = lossesAgainst(offline, held.hybrid).length === 0 && lossesAgainst(held.hybrid, offline).length === 0;
      for (const [name, t] of [[`HELD-OUT (${heldOut.length})`, held], [`all (${data.questions.length})`, all]] as const) {
        console.log(`  ${name}:`);
        for (const m of MODE_PREFERENCE) console.log(row(`    ${m}${m === 'hybrid' ? ` (${fusionLabel(service)})` : ''}`, t[m]));
      }
      console.log(`  mean query time through the engine (this machine, this load): ${MODE_PREFERENCE.map((m) => `${m} ${ms[m].toFixed(1)} ms`).join(', ')}`);
      const pick = chooseMode([held, all]);
      const serviceMode = engine.defaultModeFor(await infoOf(c));
      const why = !pick.dominates
        ? 'no mode at or above the others everywhere; best held-out MRR@10'
        : pick.ties.length > 0
          ? `at or above the others on every column, held-out and all; ties ${pick.ties.join(', ')} on every column — preferred as it uses more evidence`
          : 'at or above the others on every column, held-out and all';
      const gains = MODE_PREFERENCE.filter((m) => m !== 'hybrid').map((m) => `${lossesAgainst(all[m], all.hybrid).length} column(s) above ${m}`);
      verdicts.push(
        `VERDICT ${c.slice(3)} (${kind}): hybrid (${fusionLabel(service)}) vs its best input: held-out ${fmt(lossesAgainst(held.hybrid, bestOf(held.lexical, held.dense)))}; all ${fmt(lossesAgainst(all.hybrid, bestOf(all.lexical, all.dense)))}, ${gains.join(', ')}` +
          `${same ? '' : ' [engine ≠ offline fusion!]'}. Default mode by the evaluation: ${pick.mode} (${why}); service default: ${serviceMode} ${serviceMode === pick.mode ? '(same)' : '(DIFFERENT)'}`,
      );
    }
    console.log('');
    for (const v of verdicts) console.log(v);

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
