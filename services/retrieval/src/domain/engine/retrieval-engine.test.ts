import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/runtime';
import { HashingEmbedder } from '../../adapters/embed/hashing-embedder.js';
import { cosine } from '../query/relevance.js';
import { LanceStore } from '../../adapters/store/lance-store.js';
import type { Embedder } from '../embedder.js';
import { RetrievalEngine } from './retrieval-engine.js';

const dir = mkdtempSync(join(tmpdir(), 'retrieval-engine-'));
const store = new LanceStore({ dir });
const engine = new RetrievalEngine({ store, embedders: [new HashingEmbedder({ dimension: 256 })], limits: { maxDocumentBytes: 64 << 10 } });
const T = 'acme';

async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'OK';
  } catch (e) {
    return e instanceof TesseraError ? `${e.code}:${e.details.field ?? ''}` : `UNEXPECTED ${String(e)}`;
  }
}

const DOCS = [
  { id: 'tokyo', text: 'Tokyo is the capital of Japan. It has the busiest railway station in the world, Shinjuku.', metadata: { lang: 'en', topic: 'city' } },
  { id: 'paris', text: 'Paris is the capital of France. The Eiffel Tower was finished in 1889.', metadata: { lang: 'en', topic: 'city' } },
  { id: 'ramen', text: 'Ramen is a Japanese noodle soup with broth, noodles and toppings such as pork.', metadata: { lang: 'en', topic: 'food' } },
  { id: 'tokyo-ja', text: '東京は日本の首都です。新宿駅は世界で最も利用者の多い駅です。', metadata: { lang: 'ja', topic: 'city' } },
  { id: 'istanbul', text: "İstanbul Türkiye'nin en kalabalık şehridir. Boğaziçi iki kıtayı ayırır.", metadata: { lang: 'tr', topic: 'city' } },
];

beforeAll(async () => {
  await engine.createCollection(T, { name: 'wiki' });
  const out = await engine.addDocuments(T, { collection: 'wiki', documents: DOCS });
  expect(out.job.state).toBe('succeeded');
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('RetrievalEngine queries', () => {
  it('dense query returns scored sources with chunk metadata', async () => {
    const out = await engine.query(T, { collection: 'wiki', text: 'What is the capital of Japan?', k: 2, mode: 'dense' });
    expect(out.distance).toBe('cosine');
    expect(out.results[0]!.metadata.document_id).toBe('tokyo');
    const r = out.results[0]!;
    expect(r.relevance).toBeCloseTo(1 - r.score / 2, 10);
    expect(r.metadata).toMatchObject({ lang: 'en', chunk_index: 0, start: 0, format: 'text' });
    expect(out.results[0]!.score).toBeLessThanOrEqual(out.results[1]!.score);
  });

  it('multilingual: a Japanese query finds the Japanese chunk, a dotless-i Turkish query the Turkish one', async () => {
    expect((await engine.query(T, { collection: 'wiki', text: '日本の首都', k: 1 })).results[0]!.metadata.document_id).toBe('tokyo-ja');
    expect((await engine.query(T, { collection: 'wiki', text: 'ISTANBUL şehir', k: 1 })).results[0]!.metadata.document_id).toBe('istanbul');
  });

  it('filters and score threshold', async () => {
    // No food passage says "capital": BM25 finds nothing, hybrid's dense side still returns the filtered one.
    expect((await engine.query(T, { collection: 'wiki', text: 'capital', k: 5, where: { topic: 'food' }, mode: 'lexical' })).results).toEqual([]);
    const food = await engine.query(T, { collection: 'wiki', text: 'capital', k: 5, where: { topic: 'food' } });
    expect(food.results.map((r) => r.metadata.document_id)).toEqual(['ramen']);
    const doc = await engine.query(T, { collection: 'wiki', text: 'capital', k: 5, whereDocument: { $contains: 'eiffel' } });
    expect(doc.results.map((r) => r.id)).toEqual(['paris#0']);
    const all = await engine.query(T, { collection: 'wiki', text: 'capital of Japan', k: 5 });
    const cut = (all.results[0]!.relevance + all.results[all.results.length - 1]!.relevance) / 2;
    const kept = await engine.query(T, { collection: 'wiki', text: 'capital of Japan', k: 5, scoreThreshold: cut });
    expect(kept.results.length).toBeGreaterThan(0);
    expect(kept.results.length).toBeLessThan(all.results.length);
    for (const r of kept.results) expect(r.relevance).toBeGreaterThanOrEqual(cut);
  });

  it('default: hybrid with tiebreak fusion for a weightless embedder (lexical order + dense tie-breaks); score / RRF on request', async () => {
    const lex = await engine.query(T, { collection: 'wiki', text: 'Shinjuku', k: 3, mode: 'lexical' });
    expect(lex.results[0]!.id).toBe('tokyo#0');
    expect(lex.results[0]!.relevance).toBe(1);
    const def = await engine.query(T, { collection: 'wiki', text: 'noodle soup', k: 3 });
    expect(def.mode).toBe('hybrid');
    expect(def.results[0]!.id).toBe('ramen#0');
    expect(def.results[0]!.relevance).toBe(1);
    // Tiebreak: lexical's order (no BM25 ties here), relevance = BM25 / best.
    const tie = await engine.query(T, { collection: 'wiki', text: 'capital of Japan', k: 5 });
    const lex5 = await engine.query(T, { collection: 'wiki', text: 'capital of Japan', k: 5, mode: 'lexical' });
    expect(tie.results.slice(0, lex5.results.length).map((r) => r.id)).toEqual(lex5.results.map((r) => r.id));
    expect(tie.results.slice(0, lex5.results.length).map((r) => r.relevance)).toEqual(lex5.results.map((r) => r.relevance));
    // Documents only the dense side found follow, with relevance below the last lexical hit's.
    for (const r of tie.results.slice(lex5.results.length)) expect(r.relevance).toBeLessThanOrEqual(lex5.results.at(-1)!.relevance);
    const score = await engine.query(T, { collection: 'wiki', text: 'noodle soup', k: 3, mode: 'hybrid', hybrid: { fusion: 'score' } });
    // Best in both lists: (1 - 0.1) · 1 + 0.1 · 1.
    expect(score.results[0]!.id).toBe('ramen#0');
    expect(score.results[0]!.score).toBeCloseTo(1, 10);
    const hyb = await engine.query(T, { collection: 'wiki', text: 'noodle soup', k: 3, mode: 'hybrid', hybrid: { fusion: 'rrf', denseWeight: 0.5 } });
    expect(hyb.results[0]!.id).toBe('ramen#0');
    // Rank 1 in both lists = the best possible fused score → relevance 1.
    expect(hyb.results[0]!.relevance).toBeCloseTo(1, 10);
    expect(hyb.results[0]!.score).toBeCloseTo(0.5 / 61 + 0.5 / 61, 10);
  });

  it('default mode and fusion follow the collection embedder kind; configuration overrides both', async () => {
    // The same hashing vectors declared as a model: the rule keys on the kind, not on the id.
    const hashing = new HashingEmbedder({ dimension: 256 });
    const asModel: Embedder = { id: 'fake-model-256', kind: 'model', dimension: 256, normalized: true, embed: (t) => hashing.embed(t), countTokens: (t) => hashing.countTokens(t), close: async () => {} };
    const mixed = new RetrievalEngine({ store, embedders: [hashing, asModel] });
    await mixed.createCollection(T, { name: 'by-model', embeddingModel: 'fake-model-256' });
    await mixed.addDocuments(T, { collection: 'by-model', documents: DOCS });
    const m = await mixed.query(T, { collection: 'by-model', text: 'noodle soup', k: 3 });
    expect(m.mode).toBe('hybrid');
    expect(m.results[0]!.score).toBeCloseTo(1, 10); // score fusion: 0.9 · 1 + 0.1 · 1
    // Same collection contents under the weightless embedder: tiebreak, whose score is BM25 / best.
    const capital = await mixed.query(T, { collection: 'by-model', text: 'capital of Japan', k: 3 });
    const capitalW = await mixed.query(T, { collection: 'wiki', text: 'capital of Japan', k: 3 });
    expect(capitalW.results[1]!.score).toBe(capitalW.results[1]!.relevance);
    expect(capital.results.map((r) => r.score)).not.toEqual(capitalW.results.map((r) => r.score));
    // Raw vectors only: a text query cannot be embedded, so it is lexical.
    await mixed.createCollection(T, { name: 'raw', embeddingModel: 'none', dimension: 2 });
    await mixed.upsert(T, 'raw', [{ id: 'r1', text: 'noodle soup recipe', vector: Float32Array.from([1, 0]) }, { id: 'r2', text: 'railway station', vector: Float32Array.from([0, 1]) }]);
    const raw = await mixed.query(T, { collection: 'raw', text: 'noodle', k: 2 });
    expect(raw.mode).toBe('lexical');
    expect(raw.results.map((r) => r.id)).toEqual(['r1']);
    const forced = new RetrievalEngine({ store, embedders: [hashing, asModel], defaultMode: 'lexical', fusion: { method: 'score', denseWeight: 0.1 } });
    expect((await forced.query(T, { collection: 'wiki', text: 'noodle soup', k: 3 })).mode).toBe('lexical');
    const f = await forced.query(T, { collection: 'wiki', text: 'noodle soup', k: 3, mode: 'hybrid' });
    expect(f.results[0]!.score).toBeCloseTo(1, 10);
    expect((await forced.query(T, { collection: 'raw', text: 'noodle', k: 2 })).mode).toBe('lexical');
  });

  it('MMR increases diversity over plain top-k', async () => {
    await engine.createCollection(T, { name: 'dupes', embeddingModel: 'none', dimension: 3 });
    // Three near-duplicates close to the query and two different directions further away.
    const v = (...x: number[]) => Float32Array.from(x);
    await engine.upsert(T, 'dupes', [
      { id: 'd1', text: 'a', vector: v(1, 0.01, 0) },
      { id: 'd2', text: 'a', vector: v(1, 0.02, 0) },
      { id: 'd3', text: 'a', vector: v(1, 0.03, 0) },
      { id: 'x', text: 'b', vector: v(0.7, 0.7, 0) },
      { id: 'y', text: 'c', vector: v(0.7, 0, 0.7) },
    ]);
    const q = v(1, 0, 0);
    const dense = await engine.query(T, { collection: 'dupes', vector: q, k: 3, includeVectors: true });
    // λ = 0.3, after d1: y scores 0.3·0.707 − 0.7·0.707 = −0.283, x 0.212 − 0.7·0.714 = −0.288,
    // d2 0.3 − 0.7·1.0 = −0.4 → y; then x (−0.288) beats d2 (−0.4).
    const mmr = await engine.query(T, { collection: 'dupes', vector: q, k: 3, mode: 'mmr', mmr: { fetchK: 5, lambda: 0.3 }, includeVectors: true });
    expect(dense.results.map((r) => r.id)).toEqual(['d1', 'd2', 'd3']);
    expect(mmr.results.map((r) => r.id)).toEqual(['d1', 'y', 'x']);
    const meanPairSim = (rs: { vector?: Float32Array }[]) => {
      let s = 0;
      let n = 0;
      for (let i = 0; i < rs.length; i++) for (let j = i + 1; j < rs.length; j++, n++) s += cosine(rs[i]!.vector!, rs[j]!.vector!);
      return s / n;
    };
    expect(meanPairSim(mmr.results)).toBeLessThan(meanPairSim(dense.results) - 0.2);
    const pure = await engine.query(T, { collection: 'dupes', vector: q, k: 3, mode: 'mmr', mmr: { fetchK: 5, lambda: 1 } });
    expect(pure.results.map((r) => r.id)).toEqual(['d1', 'd2', 'd3']);
    // A text query on a raw-vector collection has no embedder to use: dense is refused, the default is lexical.
    expect(await code(engine.query(T, { collection: 'dupes', text: 'a', mode: 'dense' }))).toBe('INVALID_ARGUMENT:text');
    expect((await engine.query(T, { collection: 'dupes', text: 'b' })).results.map((r) => r.id)).toEqual(['x']);
  });

  it('retrieve returns a numbered context block, sources and the I-don\'t-know instruction', async () => {
    const block = await engine.retrieve(T, { collection: 'wiki', text: 'When was the Eiffel Tower finished?', k: 2 });
    expect(block.instruction).toMatch(/I don't know/);
    expect(block.context).toMatch(/^\[1\] \(paris\)\nParis is the capital of France/);
    expect(block.context).toContain('[2] (');
    expect(block.systemPrompt.startsWith(block.instruction)).toBe(true);
    expect(block.sources[0]).toMatchObject({ n: 1, id: 'paris#0', metadata: { document_id: 'paris' } });
    expect(block.sources[0]!.text).toContain('1889');
    expect(block.sources[0]!.relevance).toBeGreaterThan(block.sources[1]!.relevance);
  });
});

describe('RetrievalEngine ingestion', () => {
  it('re-adding a document replaces all its chunks', async () => {
    await engine.createCollection(T, { name: 'replace' });
    const long = Array.from({ length: 30 }, (_, i) => `Sentence ${i} of the long version.`).join(' ');
    await engine.addDocuments(T, { collection: 'replace', documents: [{ id: 'doc', text: long }], split: { chunkSize: 100, chunkOverlap: 0 } });
    const before = await engine.count(T, 'replace');
    expect(before).toBeGreaterThan(5);
    await engine.addDocuments(T, { collection: 'replace', documents: [{ id: 'doc', text: 'Short now.' }], split: { chunkSize: 100, chunkOverlap: 0 } });
    expect(await engine.count(T, 'replace')).toBe(1);
  });

  it('HTML and Markdown documents', async () => {
    await engine.createCollection(T, { name: 'formats' });
    const html = '<!doctype html><html><head><title>Kyoto &amp; temples</title><style>p{}</style></head><body><h1>Kyoto</h1><p>Kinkaku-ji is a Zen temple.</p><script>alert(1)</script></body></html>';
    await engine.addDocuments(T, { collection: 'formats', documents: [{ id: 'h', text: html }, { id: 'm', text: '# Title\n\nSome *markdown* body.', metadata: { format: 'markdown' } }] });
    const recs = await engine.get(T, 'formats', { ids: ['h#0', 'm#0'] });
    expect(recs[0]!.text).toBe('Kyoto\n\nKinkaku-ji is a Zen temple.');
    expect(recs[0]!.metadata).toMatchObject({ format: 'html', title: 'Kyoto & temples' });
    expect(recs[1]!.metadata.format).toBe('markdown');
  });

  it('async job reports progress and finishes', async () => {
    await engine.createCollection(T, { name: 'jobs' });
    const docs = Array.from({ length: 70 }, (_, i) => ({ id: `n${i}`, text: `Note ${i}: ${'lorem ipsum '.repeat(20)}` }));
    const { job } = await engine.addDocuments(T, { collection: 'jobs', documents: docs, async: true });
    expect(['pending', 'running']).toContain(job.state);
    expect(job.documentsTotal).toBe(70);
    await engine.drain();
    const done = engine.getJob(T, job.id);
    expect(done).toMatchObject({ state: 'succeeded', documentsDone: 70 });
    expect(done.chunksWritten).toBe(await engine.count(T, 'jobs'));
    expect(await code(() => engine.getJob('globex', job.id))).toBe('NOT_FOUND:job_id');
  });

  it('bad input is a clear TesseraError and nothing is half-ingested', async () => {
    await engine.createCollection(T, { name: 'bad' });
    const n0 = await engine.count(T, 'bad');
    expect(await code(engine.addDocuments(T, { collection: 'bad', documents: [{ id: 'ok', text: 'fine' }, { id: 'e', text: '   ' }] }))).toBe('INVALID_ARGUMENT:documents[1].text');
    expect(await code(engine.addDocuments(T, { collection: 'bad', documents: [{ id: 'ok', text: 'fine' }, { id: 'big', text: 'x'.repeat(70_000) }] }))).toBe('RESOURCE_EXHAUSTED:documents[1].text');
    expect(await code(engine.addDocuments(T, { collection: 'bad', documents: [] }))).toBe('INVALID_ARGUMENT:documents');
    expect(await code(engine.addDocuments(T, { collection: 'bad', documents: [{ text: 'x' }], split: { chunkSize: 10_000_000 } }))).toBe('INVALID_ARGUMENT:split.chunk_size');
    expect(await code(engine.addDocuments(T, { collection: 'bad', documents: [{ id: 'ok', text: 'fine', metadata: { n: 1 } }, { id: 'ok2', text: 'fine', metadata: { n: 'x' } }] }))).toBe('INVALID_ARGUMENT:records[1].metadata.n');
    expect(await engine.count(T, 'bad')).toBe(n0);
    expect(await code(engine.upsert(T, 'bad', [{ id: 'v', text: 't', vector: new Float32Array(3) }]))).toBe('INVALID_ARGUMENT:records[0].vector');
    expect(await code(engine.query(T, { collection: 'bad', vector: new Float32Array(3) }))).toBe('INVALID_ARGUMENT:vector');
    expect(await code(engine.query(T, { collection: 'bad', text: 'x', k: 0 }))).toBe('INVALID_ARGUMENT:k');
    expect(await code(engine.query(T, { collection: 'bad', text: 'x', k: 101 }))).toBe('INVALID_ARGUMENT:k');
    expect(await code(engine.query(T, { collection: 'bad', text: 'x', mode: 'mmr', mmr: { fetchK: 2 }, k: 4 }))).toBe('INVALID_ARGUMENT:mmr.fetch_k');
    expect(await code(engine.query(T, { collection: 'bad', text: 'x', where: { n: { $regex: 'a' } } }))).toBe('INVALID_ARGUMENT:where.n.$regex');
    expect(await code(engine.query(T, { collection: 'bad', text: 'x', scoreThreshold: 2 }))).toBe('INVALID_ARGUMENT:score_threshold');
    expect(await code(engine.query(T, { collection: 'nope', text: 'x' }))).toBe('NOT_FOUND:collection');
    expect(await code(engine.query('globex', { collection: 'wiki', text: 'x' }))).toBe('NOT_FOUND:collection');
    expect(await code(engine.addDocuments('globex', { collection: 'wiki', documents: [{ text: 'x' }] }))).toBe('NOT_FOUND:collection');
    expect(await code(engine.createCollection(T, { name: 'x', embeddingModel: 'nope' }))).toBe('INVALID_ARGUMENT:embedding_model');
    expect(await engine.count(T, 'bad')).toBe(n0);
  });
});
