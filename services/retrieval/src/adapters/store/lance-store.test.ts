import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/runtime';
import { parseWhere, parseWhereDocument } from '../../domain/filter/where.js';
import { LanceStore } from './lance-store.js';
import type { CollectionSpec, StoredRecord } from '../../domain/vector-store.js';

const dir = mkdtempSync(join(tmpdir(), 'retrieval-store-'));
let store: LanceStore;
const spec = (name: string, dimension = 4): CollectionSpec => ({ name, dimension, distance: 'cosine', embeddingModel: '', description: '', metadata: {} });
const vec = (...x: number[]) => Float32Array.from(x);

const BOOKS: StoredRecord[] = [
  { id: 'a', text: "Tokyo is Japan's capital.", metadata: { lang: 'en', year: 2019, draft: false, tags: ['geo', 'asia'] }, vector: vec(1, 0, 0, 0) },
  { id: 'b', text: 'İstanbul köprüleri', metadata: { lang: 'tr', year: 2021, draft: true, tags: ['geo'] }, vector: vec(0.9, 0.1, 0, 0) },
  { id: 'c', text: '東京は日本の首都です。', metadata: { lang: 'ja', year: 2023, draft: false }, vector: vec(0, 1, 0, 0) },
  { id: 'd', text: "it's a draft about Paris", metadata: { lang: 'en', year: 2024.5, draft: true, tags: ['europe'] }, vector: vec(0, 0, 1, 0) },
];

async function ids(where?: unknown, whereDocument?: unknown): Promise<string[]> {
  const recs = await store.get('acme', 'books', { where: parseWhere(where), whereDocument: parseWhereDocument(whereDocument) }, { limit: 100, offset: 0, includeVectors: false });
  return recs.map((r) => r.id);
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return e instanceof TesseraError ? e.code : `UNEXPECTED ${String(e)}`;
  }
}

beforeAll(async () => {
  store = new LanceStore({ dir });
  await store.createCollection('acme', spec('books'));
  await store.upsert('acme', 'books', BOOKS);
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('LanceStore filters', () => {
  it('every metadata operator', async () => {
    expect(await ids({ lang: 'en' })).toEqual(['a', 'd']);
    expect(await ids({ lang: { $eq: 'tr' } })).toEqual(['b']);
    expect(await ids({ lang: { $ne: 'en' } })).toEqual(['b', 'c']);
    expect(await ids({ year: { $gt: 2021 } })).toEqual(['c', 'd']);
    expect(await ids({ year: { $gte: 2021 } })).toEqual(['b', 'c', 'd']);
    expect(await ids({ year: { $lt: 2021 } })).toEqual(['a']);
    expect(await ids({ year: { $lte: 2021 } })).toEqual(['a', 'b']);
    expect(await ids({ lang: { $in: ['ja', 'tr'] } })).toEqual(['b', 'c']);
    expect(await ids({ lang: { $nin: ['ja', 'tr'] } })).toEqual(['a', 'd']);
    expect(await ids({ draft: true })).toEqual(['b', 'd']);
    expect(await ids({ $and: [{ lang: 'en' }, { draft: false }] })).toEqual(['a']);
    expect(await ids({ $or: [{ lang: 'ja' }, { year: { $gt: 2024 } }] })).toEqual(['c', 'd']);
    expect(await ids({ $or: [{ $and: [{ lang: 'en' }, { draft: true }] }, { lang: 'tr' }] })).toEqual(['b', 'd']);
  });

  it('list fields: $eq / $in mean contains; records without the field match only negations', async () => {
    expect(await ids({ tags: 'geo' })).toEqual(['a', 'b']);
    expect(await ids({ tags: { $ne: 'geo' } })).toEqual(['c', 'd']);
    expect(await ids({ tags: { $in: ['asia', 'europe'] } })).toEqual(['a', 'd']);
    expect(await ids({ tags: { $nin: ['geo'] } })).toEqual(['c', 'd']);
    expect(await ids({ missing_key: 'x' })).toEqual([]);
    expect(await ids({ missing_key: { $ne: 'x' } })).toEqual(['a', 'b', 'c', 'd']);
  });

  it('document filters: case-insensitive, NFKC, Turkish i, CJK, negation', async () => {
    expect(await ids(undefined, { $contains: 'TOKYO' })).toEqual(['a']);
    expect(await ids(undefined, { $contains: 'Ｔｏｋｙｏ' })).toEqual(['a']);
    expect(await ids(undefined, { $contains: 'istanbul' })).toEqual(['b']);
    expect(await ids(undefined, { $contains: '首都' })).toEqual(['c']);
    expect(await ids(undefined, { $not_contains: 'o' })).toEqual(['b', 'c']); // ö is not o
    expect(await ids(undefined, { $or: [{ $contains: 'paris' }, { $contains: '東京' }] })).toEqual(['c', 'd']);
    expect(await ids({ lang: 'en' }, { $and: [{ $contains: "it's" }, { $not_contains: 'tokyo' }] })).toEqual(['d']);
  });

  it('values cannot inject SQL', async () => {
    expect(await ids({ lang: "en' OR '1'='1" })).toEqual([]);
    expect(await ids({ lang: { $in: ["x') OR TRUE OR ('"] } })).toEqual([]);
    expect(await ids(undefined, { $contains: "') > 0 OR TRUE OR instr(text, '" })).toEqual([]);
    expect(await ids({ lang: "en`; DROP TABLE books; --" })).toEqual([]);
    // Keys are identifiers only: a key carrying SQL is rejected before any store sees it.
    expect(() => parseWhere({ 'lang` = 1 OR `x': 'en' })).toThrow(TesseraError);
    expect(await store.count('acme', 'books')).toBe(4);
  });

  it('invalid operators and types are INVALID_ARGUMENT naming the path', () => {
    const bad: unknown[] = [
      { lang: { $regex: 'x' } },
      { $not: [{ lang: 'en' }] },
      { year: { $gt: '2020' } },
      { lang: { $in: ['a', 1] } },
      { lang: { $in: [] } },
      { lang: 'en', year: 1 },
      { lang: { $eq: null } },
      { $and: {} },
      { year: { $gt: Number.NaN } },
    ];
    for (const w of bad) expect(() => parseWhere(w), JSON.stringify(w)).toThrow(TesseraError);
    try {
      parseWhere({ $and: [{ lang: 'en' }, { year: { $between: [1, 2] } }] });
    } catch (e) {
      expect((e as TesseraError).details.field).toBe('where.$and[1].year.$between');
    }
    expect(() => parseWhereDocument({ $regex: 'x' })).toThrow(TesseraError);
    expect(() => parseWhereDocument({ $contains: '' })).toThrow(TesseraError);
  });

  it('a filter comparing a field with the wrong type is rejected', async () => {
    expect(await code(ids({ year: 'recent' }))).toBe('INVALID_ARGUMENT');
    expect(await code(ids({ tags: { $gt: 1 } }))).toBe('INVALID_ARGUMENT');
  });
});

describe('LanceStore records', () => {
  it('vector search returns cosine distances, closest first, with a filter', async () => {
    const hits = await store.searchVector('acme', 'books', { vector: vec(1, 0, 0, 0), k: 3, includeVectors: false });
    expect(hits.map((h) => h.record.id)).toEqual(['a', 'b', expect.any(String)]);
    expect(hits[0]!.score).toBeCloseTo(0, 5);
    expect(hits[1]!.score).toBeCloseTo(1 - 0.9 / Math.hypot(0.9, 0.1), 5);
    const filtered = await store.searchVector('acme', 'books', { vector: vec(1, 0, 0, 0), k: 3, filter: { where: parseWhere({ lang: 'ja' }) }, includeVectors: true });
    expect(filtered.map((h) => h.record.id)).toEqual(['c']);
    expect(Array.from(filtered[0]!.record.vector!)).toEqual([0, 1, 0, 0]);
  });

  it('keyword search (BM25 over segmented tokens) finds Japanese and Turkish words', async () => {
    const ja = await store.searchKeyword('acme', 'books', { terms: ['首都'], k: 5, includeVectors: false });
    expect(ja.map((h) => h.record.id)).toEqual(['c']);
    const tr = await store.searchKeyword('acme', 'books', { terms: ['istanbul'], k: 5, includeVectors: false });
    expect(tr.map((h) => h.record.id)).toEqual(['b']);
  });

  it('a failed batch changes nothing: wrong dimension, type conflict, duplicate id', async () => {
    await store.createCollection('acme', spec('atomic'));
    await store.upsert('acme', 'atomic', [{ id: 'x', text: 't', metadata: { n: 1 }, vector: vec(1, 0, 0, 0) }]);
    const good = { id: 'y', text: 'y', metadata: {}, vector: vec(0, 1, 0, 0) };
    expect(await code(store.upsert('acme', 'atomic', [good, { id: 'z', text: 'z', metadata: {}, vector: vec(1, 2, 3) }]))).toBe('INVALID_ARGUMENT');
    expect(await code(store.upsert('acme', 'atomic', [good, { id: 'z', text: 'z', metadata: { n: 'one' }, vector: vec(1, 0, 0, 0) }]))).toBe('INVALID_ARGUMENT');
    expect(await code(store.upsert('acme', 'atomic', [good, { ...good }]))).toBe('INVALID_ARGUMENT');
    expect(await code(store.upsert('acme', 'atomic', [good, { id: 'z', text: 'z', metadata: { 'bad key': 1 }, vector: vec(1, 0, 0, 0) }]))).toBe('INVALID_ARGUMENT');
    expect((await store.get('acme', 'atomic', {}, { limit: 10, offset: 0, includeVectors: false })).map((r) => r.id)).toEqual(['x']);
  });

  it('upsert replaces by id; replaceDocuments drops a document\'s stale chunks atomically; delete by filter', async () => {
    await store.createCollection('acme', spec('docs'));
    const chunk = (doc: string, n: number, text: string): StoredRecord => ({ id: `${doc}#${n}`, text, metadata: { document_id: doc, chunk_index: n }, vector: vec(1, n, 0, 0) });
    await store.upsert('acme', 'docs', [chunk('d1', 0, 'a'), chunk('d1', 1, 'b'), chunk('d1', 2, 'c'), chunk('d2', 0, 'z')], { replaceDocuments: ['d1', 'd2'] });
    await store.upsert('acme', 'docs', [chunk('d1', 0, 'A')], { replaceDocuments: ['d1'] });
    const recs = await store.get('acme', 'docs', {}, { limit: 10, offset: 0, includeVectors: false });
    expect(recs.map((r) => [r.id, r.text])).toEqual([['d1#0', 'A'], ['d2#0', 'z']]);
    expect(await store.delete('acme', 'docs', { where: parseWhere({ document_id: 'd2' }) })).toBe(1);
    expect(await store.count('acme', 'docs')).toBe(1);
    expect(await store.get('acme', 'docs', { ids: ['d1#0', 'nope'] }, { limit: 10, offset: 0, includeVectors: false })).toHaveLength(1);
  });

  it('get pages in id order', async () => {
    const page = await store.get('acme', 'books', {}, { limit: 2, offset: 1, includeVectors: false });
    expect(page.map((r) => r.id)).toEqual(['b', 'c']);
    expect(page[0]!.metadata).toEqual(BOOKS[1]!.metadata);
  });
});

describe('LanceStore ANN index', () => {
  it('builds IVF_PQ in the background past the threshold; search stays exact-equivalent for a self-match', async () => {
    const d = mkdtempSync(join(tmpdir(), 'retrieval-ann-'));
    const s = new LanceStore({ dir: d, annThreshold: 600, annIndex: 'ivf_pq' });
    try {
      await s.createCollection('acme', spec('ann', 8));
      let seed = 1;
      const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
      const recs = Array.from({ length: 800 }, (_, i) => ({ id: `v${i}`, text: `t${i}`, metadata: {}, vector: Float32Array.from({ length: 8 }, rand) }));
      await s.upsert('acme', 'ann', recs.slice(0, 400));
      await s.upsert('acme', 'ann', recs.slice(400, 700)); // crosses the threshold: build starts
      await s.upsert('acme', 'ann', recs.slice(700)); // a write while the build may be running
      await s.idle();
      expect(await s.indexes('acme', 'ann')).toContain('IvfPq:vector');
      const hit = await s.searchVector('acme', 'ann', { vector: recs[123]!.vector, k: 1, includeVectors: false });
      expect(hit[0]!.record.id).toBe('v123');
      expect(await s.count('acme', 'ann')).toBe(800);
    } finally {
      await s.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('LanceStore tenancy and lifecycle', () => {
  it('tenants are isolated: same names, separate data; another tenant\'s collection is NOT_FOUND', async () => {
    expect(await code(store.getCollection('globex', 'books'))).toBe('NOT_FOUND');
    expect(await code(store.count('globex', 'books'))).toBe('NOT_FOUND');
    expect(await code(store.searchVector('globex', 'books', { vector: vec(1, 0, 0, 0), k: 1, includeVectors: false }))).toBe('NOT_FOUND');
    expect(await code(store.delete('globex', 'books', { ids: ['a'] }))).toBe('NOT_FOUND');
    await store.createCollection('globex', spec('books'));
    await store.upsert('globex', 'books', [{ id: 'a', text: 'globex secret', metadata: {}, vector: vec(1, 0, 0, 0) }]);
    expect(await store.count('globex', 'books')).toBe(1);
    expect((await store.get('acme', 'books', { ids: ['a'] }, { limit: 1, offset: 0, includeVectors: false }))[0]!.text).toBe("Tokyo is Japan's capital.");
    // Path-like tenant ids cannot reach another tenant's directory.
    expect(await code(store.getCollection('../acme', 'books'))).toBe('NOT_FOUND');
    expect((await store.listCollections('globex')).map((c) => c.name)).toEqual(['books']);
  });

  it('names, duplicates and unknown collections give clear errors', async () => {
    expect(await code(store.createCollection('acme', spec('Bad Name')))).toBe('INVALID_ARGUMENT');
    expect(await code(store.createCollection('acme', spec('books')))).toBe('ALREADY_EXISTS');
    expect((await store.createCollection('acme', spec('books'), true)).created).toBe(false);
    expect(await code(store.count('acme', 'nope'))).toBe('NOT_FOUND');
    expect(await code(store.createCollection('', spec('x')))).toBe('INVALID_ARGUMENT');
  });

  it('survives a restart: collections, records, metadata columns and the text index', async () => {
    await store.createCollection('acme', spec('persist'));
    await store.upsert('acme', 'persist', [{ id: 'p', text: 'persistent 東京 text', metadata: { k: 'v' }, vector: vec(0, 0, 0, 1) }]);
    await store.close();
    store = new LanceStore({ dir });
    const info = await store.getCollection('acme', 'persist');
    expect(info.recordCount).toBe(1);
    expect(info.dimension).toBe(4);
    expect(await store.count('acme', 'books', { where: parseWhere({ lang: 'en' }) })).toBe(2);
    expect((await store.searchKeyword('acme', 'persist', { terms: ['東京'], k: 1, includeVectors: false }))[0]!.record.id).toBe('p');
    expect(await store.deleteCollection('acme', 'persist')).toBe(1);
    expect(await code(store.getCollection('acme', 'persist'))).toBe('NOT_FOUND');
  });
});
