/**
 * The HNSW graph beside the Lance rows: filtered queries return only allowed records and (nearly) the
 * exact filtered top-k, writes reach the graph incrementally, the snapshot survives a restart and is ignored once stale, and
 * graphs are per tenant collection.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseWhere } from '../../domain/filter/where.js';
import { DEFAULT_HNSW } from './hnsw-index.js';
import { LanceStore } from './lance-store.js';
import type { CollectionSpec, StoredRecord } from '../../domain/vector-store.js';

const dir = mkdtempSync(join(tmpdir(), 'retrieval-hnsw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DIM = 16;
const spec = (name: string): CollectionSpec => ({ name, dimension: DIM, distance: 'cosine', embeddingModel: '', description: '', metadata: {} });

let seed = 7;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
const vec = () => Float32Array.from({ length: DIM }, rand);
const RECS: StoredRecord[] = Array.from({ length: 600 }, (_, i) => ({ id: `r${i}`, text: `t${i}`, metadata: { shard: i % 10, rare: i % 100 === 0 }, vector: vec() }));

/**
 * The graph is approximate and built on all cores (usearch), so its shape varies between runs: two CI
 * runs each missed one of the exact top 10 for one query (at ef 64, then at ef 1024 > the 600 records:
 * a node the filtered walk cannot reach), a third missed one in each of three queries (97 %). What this
 * test owns is the filter plumbing and incremental writes: every hit must satisfy the filter, each query
 * must find all but one of the exact top k and all queries together ≥ 95 %; recall itself is
 * bench/retrieval's measurement.
 */
function expectNearlyExact(got: string[][], want: string[][], allowed: (id: string) => boolean): void {
  let found = 0;
  let total = 0;
  got.forEach((g, i) => {
    for (const id of g) expect(allowed(id), `${id} does not satisfy the filter`).toBe(true);
    const hit = g.filter((id) => want[i]!.includes(id)).length;
    expect(hit, `query ${i}: ${hit} of the exact ${want[i]!.length}`).toBeGreaterThanOrEqual(want[i]!.length - 1);
    found += hit;
    total += want[i]!.length;
  });
  expect(found / total).toBeGreaterThanOrEqual(0.95);
}
const shardOf = (id: string): number => Number(id.slice(1)) % 10;

async function ids(store: LanceStore, tenant: string, coll: string, v: Float32Array, where?: unknown): Promise<string[]> {
  const hits = await store.searchVector(tenant, coll, { vector: v, k: 10, includeVectors: false, ...(where !== undefined && { filter: { where: parseWhere(where) } }) });
  return hits.map((h) => h.record.id);
}

describe('LanceStore HNSW', () => {
  it('filtered HNSW search returns allowed records and (nearly) the exact filtered top-k; writes and deletes reach the graph', async () => {
    const exact = new LanceStore({ dir: join(dir, 'exact'), annThreshold: Number.POSITIVE_INFINITY });
    // ef above the 600 records: the walk is exhaustive wherever the graph is connected (see expectNearlyExact).
    const store = new LanceStore({ dir: join(dir, 'ann'), annThreshold: 200, hnsw: { ...DEFAULT_HNSW, expansionSearch: 1024 } });
    for (const s of [exact, store]) {
      await s.createCollection('acme', spec('v'));
      await s.upsert('acme', 'v', RECS.slice(0, 300));
      await s.upsert('acme', 'v', RECS.slice(300));
      await s.idle();
    }
    expect(await store.indexes('acme', 'v')).toContain('HNSW:vector');
    expect(await exact.indexes('acme', 'v')).not.toContain('HNSW:vector');
    const queries = Array.from({ length: 10 }, vec);
    const filters: Array<[unknown, (id: string) => boolean]> = [
      [undefined, () => true],
      [{ shard: { $lt: 5 } }, (id) => shardOf(id) < 5],
      [{ shard: 3 }, (id) => shardOf(id) === 3],
      [{ rare: true }, (id) => Number(id.slice(1)) % 100 === 0],
    ];
    for (const [where, allowed] of filters) {
      const got = await Promise.all(queries.map((q) => ids(store, 'acme', 'v', q, where)));
      const want = await Promise.all(queries.map((q) => ids(exact, 'acme', 'v', q, where)));
      expectNearlyExact(got, want, allowed);
    }
    // Incremental: a replaced vector moves, a deleted record disappears, from the graph too.
    const target = queries[0]!;
    for (const s of [exact, store]) {
      await s.upsert('acme', 'v', [{ ...RECS[5]!, vector: target }]);
      await s.delete('acme', 'v', { ids: ['r7'] });
    }
    expect((await ids(store, 'acme', 'v', target))[0]).toBe('r5');
    expect(store.hnswGraph('acme', 'v')!.has('r7')).toBe(false);
    const after = { shard: { $gte: 2 } };
    const got = await Promise.all(queries.map((q) => ids(store, 'acme', 'v', q, after)));
    const want = await Promise.all(queries.map((q) => ids(exact, 'acme', 'v', q, after)));
    expectNearlyExact(got, want, (id) => shardOf(id) >= 2 && id !== 'r7');
    await exact.close();
    await store.close();
  });

  it('snapshot: loaded after a restart when current, rebuilt from the rows when stale; per tenant', async () => {
    const d = join(dir, 'snap');
    let store = new LanceStore({ dir: d, annThreshold: 200 });
    await store.createCollection('acme', spec('v'));
    await store.createCollection('globex', spec('v'));
    await store.upsert('acme', 'v', RECS);
    await store.upsert('globex', 'v', RECS.slice(0, 250).map((r) => ({ ...r, id: `g-${r.id}` })));
    await store.idle();
    const q = RECS[42]!.vector!;
    expect((await ids(store, 'acme', 'v', q))[0]).toBe('r42');
    expect((await ids(store, 'globex', 'v', q))[0]).toBe('g-r42');
    await store.close();
    const files = (t: string) => existsSync(join(d, t, '_hnsw', 'v.usearch'));
    expect(files('t-61636d65')).toBe(true); // hex("acme")

    // A current snapshot is loaded by the first query (that query itself runs exactly).
    store = new LanceStore({ dir: d, annThreshold: 200 });
    expect((await ids(store, 'acme', 'v', q))[0]).toBe('r42');
    await store.idle();
    expect(store.hnswGraph('acme', 'v')?.size).toBe(600);
    // A write the snapshot never saw, then a crash (no close → no new snapshot).
    await store.upsert('acme', 'v', [{ id: 'new', text: 'n', metadata: { shard: 1, rare: false }, vector: q }]);
    store = new LanceStore({ dir: d, annThreshold: 200 });
    await ids(store, 'acme', 'v', q);
    await store.idle();
    // The stale snapshot was ignored: the rebuilt graph holds the unsaved record.
    expect(store.hnswGraph('acme', 'v')?.size).toBe(601);
    expect(new Set((await ids(store, 'acme', 'v', q)).slice(0, 2))).toEqual(new Set(['r42', 'new']));
    expect(store.hnswGraph('globex', 'v')).toBeUndefined();
    expect(await store.deleteCollection('acme', 'v')).toBe(601);
    expect(existsSync(join(d, 't-61636d65', '_hnsw', 'v.usearch'))).toBe(false);
    await store.close();
  });
});
