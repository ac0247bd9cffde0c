/**
 * The keyword index next to the Lance rows: derived from the rows' stored terms, so it survives
 * restarts, follows every committed write (upsert, document replace, delete) and nothing else, and
 * is per tenant collection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/runtime';
import { parseWhere } from '../../domain/filter/where.js';
import { analyze } from '../../domain/text/analyzer.js';
import { LanceStore } from './lance-store.js';
import type { CollectionSpec, StoredRecord } from '../../domain/vector-store.js';

const dir = mkdtempSync(join(tmpdir(), 'retrieval-lexical-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const spec = (name: string): CollectionSpec => ({ name, dimension: 2, distance: 'cosine', embeddingModel: '', description: '', metadata: {} });
const rec = (id: string, text: string, metadata: StoredRecord['metadata'] = {}): StoredRecord => ({ id, text, metadata, vector: Float32Array.of(1, 0) });

async function keyword(store: LanceStore, tenant: string, coll: string, q: string, where?: unknown): Promise<string[]> {
  const hits = await store.searchKeyword(tenant, coll, { terms: analyze(q), k: 10, includeVectors: false, ...(where !== undefined && { filter: { where: parseWhere(where) } }) });
  return hits.map((h) => h.record.id);
}

describe('LanceStore keyword index', () => {
  it('persists with the rows, follows replace/delete, and a failed write leaves it unchanged', async () => {
    let store = new LanceStore({ dir, maxRecordsPerCollection: 4 });
    await store.createCollection('acme', spec('kb'));
    await store.upsert('acme', 'kb', [rec('d1#0', '北京大学的图书馆', { document_id: 'd1', lang: 'zh' }), rec('d1#1', '东京大学', { document_id: 'd1', lang: 'zh' })], { replaceDocuments: ['d1'] });
    await store.upsert('acme', 'kb', [rec('t', "İstanbul'daki kitapları okudum", { lang: 'tr' })]);
    expect(await keyword(store, 'acme', 'kb', '大学')).toEqual(expect.arrayContaining(['d1#0', 'd1#1']));
    expect(await keyword(store, 'acme', 'kb', 'ISTANBUL kitap')).toEqual(['t']);
    // Re-ingest d1 shorter: its stale chunk leaves the index in the same commit.
    await store.upsert('acme', 'kb', [rec('d1#0', '京都の大学', { document_id: 'd1', lang: 'ja' })], { replaceDocuments: ['d1'] });
    expect(await keyword(store, 'acme', 'kb', '东京')).toEqual([]);
    expect(await keyword(store, 'acme', 'kb', '大学')).toEqual(['d1#0']);
    // Over the record limit: rejected inside the write lock, nothing committed, index unchanged.
    const e = await store.upsert('acme', 'kb', [rec('x1', '大学 一'), rec('x2', '大学 二'), rec('x3', '大学 三'), rec('x4', '大学 四')]).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(TesseraError);
    expect(await keyword(store, 'acme', 'kb', '大学')).toEqual(['d1#0']);
    expect(await store.delete('acme', 'kb', { where: parseWhere({ lang: 'tr' }) })).toBe(1);
    expect(await keyword(store, 'acme', 'kb', 'istanbul')).toEqual([]);
    await store.upsert('acme', 'kb', [rec('u', 'university of Kyoto 京都', { lang: 'en' })]);
    // Filters are exact pre-filters.
    expect(await keyword(store, 'acme', 'kb', '京都', { lang: 'en' })).toEqual(['u']);
    expect(await keyword(store, 'acme', 'kb', '京都', { lang: 'ja' })).toEqual(['d1#0']);
    const before = await store.searchKeyword('acme', 'kb', { terms: analyze('京都 大学'), k: 10, includeVectors: false });
    await store.close();
    // Restart: the index is rebuilt from the committed rows, with identical scores.
    store = new LanceStore({ dir });
    const after = await store.searchKeyword('acme', 'kb', { terms: analyze('京都 大学'), k: 10, includeVectors: false });
    expect(after.map((h) => [h.record.id, h.score])).toEqual(before.map((h) => [h.record.id, h.score]));
    await store.close();
  });

  it('is per tenant: the same collection name elsewhere neither sees nor skews the other', async () => {
    const store = new LanceStore({ dir });
    await store.createCollection('t1', spec('same'));
    await store.createCollection('t2', spec('same'));
    await store.upsert('t1', 'same', [rec('a', 'shared word alpha'), rec('b', 'beta')]);
    await store.upsert('t2', 'same', [rec('z', 'alpha secret'), ...Array.from({ length: 20 }, (_, i) => rec(`n${i}`, 'alpha filler'))]);
    expect(await keyword(store, 't1', 'same', 'alpha secret')).toEqual(['a']);
    expect(await keyword(store, 't2', 'same', 'shared')).toEqual([]);
    // Term statistics are per collection: alpha is rare for t1 (1 of 2), common for t2 (21 of 21).
    expect(await store.termStats('t1', 'same', ['alpha'])).toEqual({ records: 2, df: [1] });
    expect(await store.termStats('t2', 'same', ['alpha'])).toEqual({ records: 21, df: [21] });
    await expect(store.searchKeyword('t3', 'same', { terms: ['alpha'], k: 1, includeVectors: false })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await store.close();
  });
});
