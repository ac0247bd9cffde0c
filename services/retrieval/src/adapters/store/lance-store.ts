/**
 * The default VectorStore: LanceDB embedded in the process, one directory per tenant
 * (`<dir>/t-<hex tenant>/`), one Lance table per collection, a small JSON manifest per collection
 * (`_meta/<name>.json`, written after the table and removed before it, so its presence means the
 * collection exists). Writes to a collection are serialised in-process; every write is one Lance
 * commit (merge-insert), so a failed batch leaves the table as it was.
 *
 * Indexes: keyword search runs on our own BM25 inverted index (lexical-index.ts) over the
 * analyzer terms stored in each row's `tokens` column (LanceDB's FTS tokenizers cannot do CJK
 * bigrams with kana/kanji boundaries or Turkish folding; docs/decisions.md). Vector search runs on
 * an HNSW graph (usearch, hnsw-collections.ts) once a collection reaches `annThreshold` records
 * (below it, Lance's exact flat scan). With `annIndex: 'ivf_pq'`, LanceDB's IVF_PQ index instead:
 * rows written after its build are searched exactly until `optimize` folds them in, which happens
 * when they exceed `reindexFraction` of the table.
 */
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { arrow } from './arrow.js';
import { ErrorCode, TesseraError, invalidArgument, resourceExhausted } from '@tessera/runtime';
import { analyze, analyzerId } from '../../domain/text/analyzer.js';
import { foldCase } from '../../domain/text/fold.js';
import { DEFAULT_BM25, LexicalIndex, type Bm25Params } from './lexical-index.js';
import { DEFAULT_HNSW, type HnswParams } from './hnsw-index.js';
import { HnswCollections, type GraphSource } from './hnsw-collections.js';
import { RowLocator } from './row-locator.js';
import { compileFilter, metadataColumn, sqlString, type ColumnType } from './lance-sql.js';
import { METADATA_PREFIX, arrowTypeFor, checkMetadata, columnTypeOf, valueColumnType } from './metadata-columns.js';
import { checkCollectionName, tenantDirName } from './names.js';
import type { CollectionInfo, CollectionSpec, Distance, RecordFilter, ScoredRecord, StoredRecord, UpsertOptions, VectorStore } from '../../domain/vector-store.js';

export interface LanceStoreOptions {
  dir: string;
  /** [10000] Records at which a collection gets its ANN index. */
  annThreshold?: number;
  /** [hnsw] ANN index: an HNSW graph beside the table (usearch), or LanceDB's IVF_PQ. */
  annIndex?: 'hnsw' | 'ivf_pq';
  /** [M 16, efConstruction 128, ef 64] HNSW parameters. */
  hnsw?: HnswParams;
  /**
   * [0.02] A filtered HNSW query whose filter admits fewer than this share of the records runs as
   * an exact pre-filtered scan instead (over-fetching for a very selective filter costs more than
   * scanning the few rows it admits, and could come up short).
   */
  exactFilterFraction?: number;
  /** [20] IVF partitions probed per query. */
  nprobes?: number;
  /** [10] Candidates re-ranked with exact distances = k x refineFactor. */
  refineFactor?: number;
  /** [0.1] Unindexed share of rows that triggers optimize (index update + compaction). */
  reindexFraction?: number;
  /** [100] Collections per tenant. */
  maxCollectionsPerTenant?: number;
  /** [1000000] Records per collection. */
  maxRecordsPerCollection?: number;
  /** [32] Metadata keys per record. */
  maxMetadataKeys?: number;
  /** [DEFAULT_BM25: k1 0.1, b 0.15] BM25 parameters of keyword search. */
  bm25?: Bm25Params;
}

interface Manifest {
  spec: CollectionSpec;
  createdAt: string;
  /** Analyzer that wrote the rows' `tokens` (analyzerId()); absent or different = re-analyze `text`. */
  lexical?: string;
}

const BASE_COLUMNS = ['id', 'document_id', 'text', 'text_folded', 'tokens', 'metadata', 'vector'];
const LANCE_DISTANCE: Record<Distance, 'cosine' | 'l2' | 'dot'> = { cosine: 'cosine', l2: 'l2', ip: 'dot' };

export class LanceStore implements VectorStore {
  private readonly o: Required<LanceStoreOptions>;
  private readonly connections = new Map<string, Promise<lancedb.Connection>>();
  private readonly tables = new Map<string, Promise<lancedb.Table>>();
  /** Ranked ids → rows by Lance row id (row-locator.ts), not an `id IN` scan. */
  private readonly rowLocator = new RowLocator((ids) => compileFilter({ ids }, new Map())!);
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Keyword indexes, derived from the rows on first use and kept current by every write. */
  private readonly lexical = new Map<string, Promise<LexicalIndex>>();
  private readonly lexicalReady = new Map<string, LexicalIndex>();
  private readonly hnsw: HnswCollections;
  /** Collections whose graph presence was checked since start (first query after a restart). */
  private readonly annChecked = new Set<string>();
  private readonly annStarts = new Set<Promise<unknown>>();

  constructor(opts: LanceStoreOptions) {
    this.o = {
      annThreshold: 10_000,
      annIndex: 'hnsw',
      hnsw: DEFAULT_HNSW,
      exactFilterFraction: 0.02,
      nprobes: 20,
      refineFactor: 10,
      reindexFraction: 0.1,
      maxCollectionsPerTenant: 100,
      maxRecordsPerCollection: 1_000_000,
      maxMetadataKeys: 32,
      bm25: DEFAULT_BM25,
      ...opts,
    };
    this.hnsw = new HnswCollections(this.o.hnsw, (key, fn) => this.locked(key, fn));
  }

  // ---- collections -------------------------------------------------------------------------

  async createCollection(tenant: string, spec: CollectionSpec, getOrCreate = false): Promise<{ collection: CollectionInfo; created: boolean }> {
    checkCollectionName(spec.name, 'name');
    if (!Number.isInteger(spec.dimension) || spec.dimension < 1 || spec.dimension > 8192) {
      throw invalidArgument('dimension', `dimension ${spec.dimension} is out of range 1..8192`, '1 <= dimension <= 8192');
    }
    const tdir = tenantDirName(tenant);
    return this.locked(`${tdir}/`, async () => {
      const existing = await this.readManifest(tdir, spec.name);
      if (existing) {
        if (!getOrCreate) throw new TesseraError(ErrorCode.ALREADY_EXISTS, `collection ${spec.name} already exists`, { field: 'name' });
        return { collection: await this.info(tenant, tdir, existing), created: false };
      }
      const names = await this.manifestNames(tdir);
      if (names.length >= this.o.maxCollectionsPerTenant) {
        throw resourceExhausted('name', `tenant has ${names.length} collections`, `collections per tenant <= ${this.o.maxCollectionsPerTenant}`);
      }
      const db = await this.connection(tdir);
      const schema = new arrow.Schema([
        new arrow.Field('id', new arrow.Utf8(), false),
        new arrow.Field('document_id', new arrow.Utf8(), true),
        new arrow.Field('text', new arrow.Utf8(), false),
        new arrow.Field('text_folded', new arrow.Utf8(), false),
        new arrow.Field('tokens', new arrow.Utf8(), false),
        new arrow.Field('metadata', new arrow.Utf8(), false),
        new arrow.Field('vector', new arrow.FixedSizeList(spec.dimension, new arrow.Field('item', new arrow.Float32(), true)), false),
      ]);
      this.tables.delete(`${tdir}/${spec.name}`);
      this.lexical.delete(`${tdir}/${spec.name}`);
      this.lexicalReady.delete(`${tdir}/${spec.name}`);
      await this.hnsw.drop(`${tdir}/${spec.name}`, this.hnswBase(tdir, spec.name));
      try {
        await db.createEmptyTable(spec.name, schema, { mode: 'create' });
      } catch {
        // A table without a manifest is an orphan of a create interrupted before the manifest was written.
        await db.createEmptyTable(spec.name, schema, { mode: 'overwrite' });
      }
      const manifest: Manifest = { spec: { ...spec }, createdAt: new Date().toISOString(), lexical: analyzerId() };
      await this.writeManifest(tdir, spec.name, manifest);
      return { collection: { ...manifest.spec, recordCount: 0, createdAt: new Date(manifest.createdAt) }, created: true };
    });
  }

  async getCollection(tenant: string, name: string): Promise<CollectionInfo> {
    const tdir = tenantDirName(tenant);
    return this.info(tenant, tdir, await this.manifest(tdir, name));
  }

  async listCollections(tenant: string): Promise<CollectionInfo[]> {
    const tdir = tenantDirName(tenant);
    const out: CollectionInfo[] = [];
    for (const name of (await this.manifestNames(tdir)).sort()) {
      const m = await this.readManifest(tdir, name);
      if (m) out.push(await this.info(tenant, tdir, m));
    }
    return out;
  }

  async deleteCollection(tenant: string, name: string): Promise<number> {
    const tdir = tenantDirName(tenant);
    return this.locked(`${tdir}/`, () =>
      this.locked(`${tdir}/${name}`, async () => {
        await this.manifest(tdir, name);
        const n = await (await this.table(tdir, name)).countRows();
        await rm(this.manifestPath(tdir, name), { force: true });
        this.tables.delete(`${tdir}/${name}`);
        this.lexical.delete(`${tdir}/${name}`);
        this.lexicalReady.delete(`${tdir}/${name}`);
        await this.hnsw.drop(`${tdir}/${name}`, this.hnswBase(tdir, name));
        await (await this.connection(tdir)).dropTable(name);
        return n;
      }),
    );
  }

  // ---- records -----------------------------------------------------------------------------

  async upsert(tenant: string, name: string, records: readonly StoredRecord[], opts: UpsertOptions = {}): Promise<void> {
    const tdir = tenantDirName(tenant);
    const { spec } = await this.manifest(tdir, name);
    const seen = new Set<string>();
    const newColumns = new Map<string, ColumnType>();
    const table = await this.table(tdir, name);
    const columns = await this.columns(table);
    records.forEach((r, i) => {
      if (typeof r.id !== 'string' || r.id.length === 0 || r.id.length > 128) throw invalidArgument(`records[${i}].id`, `records[${i}].id must be 1..128 characters`, '1..128 characters');
      if (seen.has(r.id)) throw invalidArgument(`records[${i}].id`, `records[${i}].id ${JSON.stringify(r.id)} appears twice in one batch`);
      seen.add(r.id);
      if (!r.vector || r.vector.length !== spec.dimension) {
        throw invalidArgument(`records[${i}].vector`, `records[${i}].vector has dimension ${r.vector?.length ?? 0}, collection ${name} has ${spec.dimension}`, `dimension = ${spec.dimension}`);
      }
      for (const x of r.vector) if (!Number.isFinite(x)) throw invalidArgument(`records[${i}].vector`, `records[${i}].vector holds a non-finite value`);
      checkMetadata(r.metadata, `records[${i}].metadata`, this.o.maxMetadataKeys);
      for (const [k, v] of Object.entries(r.metadata)) {
        const t = valueColumnType(v, `records[${i}].metadata.${k}`);
        const have = columns.get(k) ?? newColumns.get(k);
        if (t === undefined) continue;
        if (have === undefined) newColumns.set(k, t);
        else if (have !== t && !(Array.isArray(v) && v.length === 0 && have.endsWith('[]'))) {
          throw invalidArgument(`records[${i}].metadata.${k}`, `records[${i}].metadata.${k} is ${t}, but the collection stores ${have} under this key`);
        }
      }
    });
    if (records.length === 0) return;
    await this.locked(`${tdir}/${name}`, async () => {
      const count = await table.countRows();
      if (count + records.length > this.o.maxRecordsPerCollection) {
        throw resourceExhausted('records', `collection ${name} would exceed ${this.o.maxRecordsPerCollection} records`, `records per collection <= ${this.o.maxRecordsPerCollection}`);
      }
      if (newColumns.size > 0) {
        // Added columns are all-null, so a write failing after this leaves no visible change.
        await table.addColumns([...newColumns].map(([k, t]) => new arrow.Field(metadataColumn(k), arrowTypeFor(t), true)));
      }
      const all = await this.columns(table);
      const terms = records.map((r) => analyze(r.text));
      const rows = records.map((r, i) => {
        const row: Record<string, unknown> = {
          id: r.id,
          document_id: typeof r.metadata.document_id === 'string' ? r.metadata.document_id : null,
          text: r.text,
          text_folded: foldCase(r.text),
          tokens: terms[i]!.join(' '),
          metadata: JSON.stringify(r.metadata),
          vector: Array.from(r.vector!),
        };
        for (const k of all.keys()) row[metadataColumn(k)] = r.metadata[k] ?? null;
        return row;
      });
      const data = lancedb.makeArrowTable(rows, { schema: await table.schema() });
      let merge = table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll();
      const docs = opts.replaceDocuments ?? [];
      let replaced: string[] = [];
      if (docs.length > 0) {
        const where = `\`document_id\` IN (${docs.map(sqlString).join(', ')})`;
        replaced = (await table.query().where(where).select(['id']).toArray()).map((r) => r.id as string);
        merge = merge.whenNotMatchedBySourceDelete({ where });
      }
      await merge.execute(data);
      // Committed: bring the keyword index and the HNSW graph (if loaded) to the same state.
      const lex = this.loadedLexical(tdir, name);
      if (lex) {
        lex.removeMany(replaced);
        records.forEach((r, i) => lex.put(r.id, terms[i]!));
      }
      const key = `${tdir}/${name}`;
      this.hnsw.write(key, { kind: 'remove', ids: replaced.filter((id) => !seen.has(id)) });
      this.hnsw.write(key, { kind: 'put', ids: records.map((r) => r.id), vectors: records.map((r) => r.vector!) });
      await this.maintainIndexes(tdir, name, table, spec, count + records.length);
    });
  }

  async delete(tenant: string, name: string, filter: RecordFilter): Promise<number> {
    const tdir = tenantDirName(tenant);
    await this.manifest(tdir, name);
    const table = await this.table(tdir, name);
    const sql = compileFilter(filter, await this.columns(table));
    if (!sql) throw invalidArgument('ids', 'delete needs ids, where or where_document');
    return this.locked(`${tdir}/${name}`, async () => {
      const ids = (await table.query().where(sql).select(['id']).toArray()).map((r) => r.id as string);
      if (ids.length > 0) await table.delete(sql);
      this.loadedLexical(tdir, name)?.removeMany(ids);
      this.hnsw.write(`${tdir}/${name}`, { kind: 'remove', ids });
      return ids.length;
    });
  }

  async get(tenant: string, name: string, filter: RecordFilter, page: { limit: number; offset: number; includeVectors: boolean }): Promise<StoredRecord[]> {
    const tdir = tenantDirName(tenant);
    await this.manifest(tdir, name);
    const table = await this.table(tdir, name);
    const sql = compileFilter(filter, await this.columns(table));
    // Id order: read the matching ids (one narrow column), sort, then fetch only the page.
    let q = table.query().select(['id']);
    if (sql) q = q.where(sql);
    const ids = (await q.toArray()).map((r) => r.id as string).sort();
    const pageIds = ids.slice(page.offset, page.offset + page.limit);
    if (pageIds.length === 0) return [];
    const rows = await table
      .query()
      .where(compileFilter({ ids: pageIds }, new Map())!)
      .select(this.selectColumns(page.includeVectors))
      .limit(pageIds.length)
      .toArray();
    const byId = new Map(rows.map((r) => [r.id as string, r]));
    return pageIds.map((id) => toRecord(byId.get(id)!, page.includeVectors));
  }

  async count(tenant: string, name: string, filter?: RecordFilter): Promise<number> {
    const tdir = tenantDirName(tenant);
    await this.manifest(tdir, name);
    const table = await this.table(tdir, name);
    const sql = compileFilter(filter, await this.columns(table));
    return sql ? table.countRows(sql) : table.countRows();
  }

  async searchVector(tenant: string, name: string, q: { vector: Float32Array; k: number; filter?: RecordFilter; includeVectors: boolean }): Promise<ScoredRecord[]> {
    const tdir = tenantDirName(tenant);
    const { spec } = await this.manifest(tdir, name);
    if (q.vector.length !== spec.dimension) {
      throw invalidArgument('vector', `query vector has dimension ${q.vector.length}, collection ${name} has ${spec.dimension}`, `dimension = ${spec.dimension}`);
    }
    const table = await this.table(tdir, name);
    const sql = compileFilter(q.filter, await this.columns(table), 'reject');
    const graph = this.o.annIndex === 'hnsw' ? this.graphFor(tdir, name, spec, table) : undefined;
    if (graph) {
      // Pre-filter by id set, then over-fetch from the graph (hnsw-index.ts); a filter admitting
      // under exactFilterFraction of the records runs as Lance's exact pre-filtered scan below.
      const allow = sql ? new Set((await table.query().where(sql).select(['id']).toArray()).map((r) => r.id as string)) : undefined;
      if (!allow || allow.size >= this.o.exactFilterFraction * graph.size) {
        const hits = graph.search(q.vector, q.k, allow);
        return this.fetchScored(table, hits.map((h) => ({ id: h.id, score: h.distance })), q.includeVectors);
      }
    }
    let query = table.vectorSearch(Array.from(q.vector)).column('vector').distanceType(LANCE_DISTANCE[spec.distance]).limit(q.k).select([...this.selectColumns(q.includeVectors), '_distance']);
    if (sql) query = query.where(sql);
    if (await this.hasVectorIndex(table)) query = query.nprobes(this.o.nprobes).refineFactor(this.o.refineFactor);
    const rows = await query.toArray();
    return rows.map((r) => ({ record: toRecord(r, q.includeVectors), score: Number(r._distance) }));
  }

  async searchKeyword(tenant: string, name: string, q: { terms: readonly string[]; k: number; filter?: RecordFilter; includeVectors: boolean }): Promise<ScoredRecord[]> {
    const tdir = tenantDirName(tenant);
    await this.manifest(tdir, name);
    const table = await this.table(tdir, name);
    const sql = compileFilter(q.filter, await this.columns(table), 'reject');
    if (q.terms.length === 0) return [];
    const index = await this.lexicalIndex(tdir, name);
    // Pre-filter: the ids the filter admits (one narrow column scan), then exact BM25 over them.
    const allow = sql ? new Set((await table.query().where(sql).select(['id']).toArray()).map((r) => r.id as string)) : undefined;
    return this.fetchScored(table, index.search(q.terms, q.k, allow), q.includeVectors);
  }

  /** Records for ranked ids, in rank order (ids deleted meanwhile drop out). */
  private async fetchScored(table: lancedb.Table, hits: ReadonlyArray<{ id: string; score: number }>, includeVectors: boolean): Promise<ScoredRecord[]> {
    if (hits.length === 0) return [];
    const byId = await this.rowLocator.rows(table, hits.map((h) => h.id), this.selectColumns(includeVectors));
    return hits.filter((h) => byId.has(h.id)).map((h) => ({ record: toRecord(byId.get(h.id)!, includeVectors), score: h.score }));
  }

  /** Document frequency of analyzer terms in a collection (query-side IDF for embedders). */
  async termStats(tenant: string, name: string, terms: readonly string[]): Promise<{ records: number; df: number[] }> {
    const tdir = tenantDirName(tenant);
    await this.manifest(tdir, name);
    const index = await this.lexicalIndex(tdir, name);
    return { records: index.size, df: terms.map((t) => index.documentFrequency(t)) };
  }

  async close(): Promise<void> {
    await Promise.all(this.building.values());
    await Promise.all(this.annStarts);
    await this.hnsw.flush();
    this.annChecked.clear();
    // A row-id map may still be loading in the background (row-locator.ts): closing the table under
    // it fails in LanceDB's native layer ("cannot be borrowed mutably"), so settle it first.
    const open = await Promise.all([...this.tables.values()].map((t) => t.catch(() => undefined)));
    for (const t of open) if (t) await this.rowLocator.idle(t);
    for (const t of open) t?.close();
    for (const c of this.connections.values()) (await c.catch(() => undefined))?.close();
    this.tables.clear();
    this.connections.clear();
    this.lexical.clear();
    this.lexicalReady.clear();
  }

  /** Vector index presence, for benchmarks and operators. */
  async indexes(tenant: string, name: string): Promise<string[]> {
    const tdir = tenantDirName(tenant);
    await this.manifest(tdir, name);
    const lance = (await (await this.table(tdir, name)).listIndices()).map((i) => `${i.indexType}:${i.columns.join(',')}`);
    return this.hnsw.ready(`${tdir}/${name}`) ? [...lance, 'HNSW:vector'] : lance;
  }

  /** Resolves when background index builds (and graph loads) have finished. */
  async idle(): Promise<void> {
    await Promise.all(this.building.values());
    await Promise.all(this.annStarts);
    await this.hnsw.idle();
  }

  /** The ready HNSW graph of a collection (benchmarks: the raw usearch baseline queries its `native`). */
  hnswGraph(tenant: string, name: string) {
    return this.hnsw.ready(`${tenantDirName(tenant)}/${name}`);
  }

  /** Builds the ANN index now regardless of size (benchmarks, operators). */
  async buildVectorIndex(tenant: string, name: string): Promise<void> {
    const tdir = tenantDirName(tenant);
    const { spec } = await this.manifest(tdir, name);
    const table = await this.table(tdir, name);
    if (this.o.annIndex === 'hnsw') {
      await this.locked(`${tdir}/${name}`, () => this.hnsw.start(`${tdir}/${name}`, this.graphSource(tdir, name, spec, table)));
      await this.hnsw.idle();
      return;
    }
    await this.locked(`${tdir}/${name}`, () => this.createVectorIndex(table, spec, 0));
  }

  // ---- internals ---------------------------------------------------------------------------

  /**
   * The keyword index if it is built. Writers call this inside the collection lock: a build that is
   * still queued behind them will read their commit, so they must not wait for it (deadlock).
   */
  private loadedLexical(tdir: string, name: string): LexicalIndex | undefined {
    return this.lexicalReady.get(`${tdir}/${name}`);
  }

  /**
   * The collection's keyword index, built from the rows on first use: the stored terms, or the
   * text re-analyzed when the rows were written by another analyzer version. Built under the
   * collection's write lock so no commit lands between the read and the first update.
   */
  private lexicalIndex(tdir: string, name: string): Promise<LexicalIndex> {
    const key = `${tdir}/${name}`;
    let p = this.lexical.get(key);
    if (!p) {
      p = this.locked(key, async () => {
        const m = await this.manifest(tdir, name);
        const table = await this.table(tdir, name);
        const fromTokens = m.lexical === analyzerId();
        const index = new LexicalIndex(this.o.bm25);
        const rows = await table.query().select(['id', fromTokens ? 'tokens' : 'text']).toArray();
        for (const r of rows) index.put(r.id as string, fromTokens ? splitTerms(r.tokens as string) : analyze(r.text as string));
        this.lexicalReady.set(key, index);
        return index;
      });
      p.catch(() => this.lexical.delete(key));
      this.lexical.set(key, p);
    }
    return p;
  }

  private selectColumns(includeVectors: boolean): string[] {
    return includeVectors ? ['id', 'text', 'metadata', 'vector'] : ['id', 'text', 'metadata'];
  }

  private hnswBase(tdir: string, name: string): string {
    return join(this.o.dir, tdir, '_hnsw', name);
  }

  private graphSource(tdir: string, name: string, spec: CollectionSpec, table: lancedb.Table): GraphSource {
    return {
      base: this.hnswBase(tdir, name),
      dimension: spec.dimension,
      distance: spec.distance,
      version: () => table.version(),
      rows: async () => {
        const ids: string[] = [];
        const vectors: Float32Array[] = [];
        const data = await table.query().select(['id', 'vector']).toArrow();
        for (const batch of data.batches) {
          const idCol = batch.getChild('id')!;
          const vecCol = batch.getChild('vector')!;
          for (let i = 0; i < batch.numRows; i++) {
            ids.push(idCol.get(i) as string);
            vectors.push(Float32Array.from(vecCol.get(i) as Iterable<number>));
          }
        }
        return { ids, vectors };
      },
    };
  }

  /**
   * The collection's ready graph. The first query after a start checks the size once and, past the
   * threshold, loads the snapshot or starts a build in the background (this query runs exactly).
   */
  private graphFor(tdir: string, name: string, spec: CollectionSpec, table: lancedb.Table) {
    const key = `${tdir}/${name}`;
    const g = this.hnsw.ready(key);
    if (g || this.annChecked.has(key)) return g;
    this.annChecked.add(key);
    const p = this.locked(key, async () => {
      if ((await table.countRows()) >= this.o.annThreshold) await this.hnsw.start(key, this.graphSource(tdir, name, spec, table));
    }).catch((err) => console.error(`retrieval: HNSW load for ${key} failed: ${String(err)}`));
    this.annStarts.add(p);
    void p.finally(() => this.annStarts.delete(p));
    return undefined;
  }

  private async maintainIndexes(tdir: string, name: string, table: lancedb.Table, spec: CollectionSpec, rows: number): Promise<void> {
    if (this.o.annIndex === 'hnsw') {
      const key = `${tdir}/${name}`;
      this.annChecked.add(key);
      if (rows >= this.o.annThreshold && !this.hnsw.has(key)) await this.hnsw.start(key, this.graphSource(tdir, name, spec, table));
    }
    const indices = await table.listIndices();
    // Collections written before issue 15 may carry a LanceDB FTS index on `tokens`; it is unused
    // now but kept optimised like any index.
    const fts = indices.find((i) => i.columns.includes('tokens'));
    const vec = indices.find((i) => i.columns.includes('vector'));
    if (!vec && rows >= this.o.annThreshold && this.o.annIndex === 'ivf_pq') this.buildInBackground(table, spec, rows);
    // Rows written after an index build are scanned exactly (vector) until
    // optimize() folds them in; do it once they are a noticeable share of the table.
    const limit = Math.max(1000, this.o.reindexFraction * rows);
    // Compaction (a Rewrite) would pre-empt a running index build; wait for it to finish.
    if (this.building.has(table)) return;
    for (const idx of [fts, vec]) {
      if (!idx) continue;
      const stats = await table.indexStats(idx.name);
      if (stats && stats.numUnindexedRows > limit) {
        await table.optimize();
        return;
      }
    }
  }

  /**
   * IVF_PQ training takes minutes at 100k rows on a loaded 2-core machine (262 s measured at load
   * 20), so it runs beside the writers instead of inside the write lock: Lance commits the index
   * against the version it read and rows appended meanwhile stay searchable (exact) as unindexed.
   */
  private buildInBackground(table: lancedb.Table, spec: CollectionSpec, rows: number): void {
    const key = table; // one cached Table object per tenant collection
    if (this.building.has(key)) return;
    const attempt = async (): Promise<void> => {
      for (let i = 1; ; i++) {
        try {
          return await this.createVectorIndex(table, spec, rows);
        } catch (err) {
          // Lance reports a commit race with a concurrent write as "Retryable commit conflict".
          if (i >= 3 || !/retryable/i.test(String(err))) throw err;
        }
      }
    };
    const p = attempt()
      .catch((err) => console.error(`retrieval: vector index build for ${spec.name} failed: ${String(err)}`))
      .finally(() => this.building.delete(key));
    this.building.set(key, p);
  }

  private readonly building = new Map<lancedb.Table, Promise<void>>();

  private async createVectorIndex(table: lancedb.Table, spec: CollectionSpec, rows: number): Promise<void> {
    const n = rows || (await table.countRows());
    // IVF: ~sqrt(n) partitions (≈ 220 at 50k), PQ with 8-dim sub-vectors (dimension must divide).
    const numPartitions = Math.max(1, Math.round(Math.sqrt(n)));
    const numSubVectors = spec.dimension % 8 === 0 ? spec.dimension / 8 : spec.dimension % 4 === 0 ? spec.dimension / 4 : 1;
    await table.createIndex('vector', { config: lancedb.Index.ivfPq({ numPartitions, numSubVectors, distanceType: LANCE_DISTANCE[spec.distance] }), replace: true });
  }

  private async hasVectorIndex(table: lancedb.Table): Promise<boolean> {
    return (await table.listIndices()).some((i) => i.columns.includes('vector'));
  }

  private async columns(table: lancedb.Table): Promise<Map<string, ColumnType>> {
    const out = new Map<string, ColumnType>();
    for (const f of (await table.schema()).fields) {
      if (!f.name.startsWith(METADATA_PREFIX) || BASE_COLUMNS.includes(f.name)) continue;
      const t = columnTypeOf(f);
      if (t) out.set(f.name.slice(METADATA_PREFIX.length), t);
    }
    return out;
  }

  private async info(tenant: string, tdir: string, m: Manifest): Promise<CollectionInfo> {
    void tenant;
    const n = await (await this.table(tdir, m.spec.name)).countRows();
    return { ...m.spec, recordCount: n, createdAt: new Date(m.createdAt) };
  }

  private connection(tdir: string): Promise<lancedb.Connection> {
    let c = this.connections.get(tdir);
    if (!c) {
      c = (async () => {
        await mkdir(join(this.o.dir, tdir, '_meta'), { recursive: true });
        return lancedb.connect(join(this.o.dir, tdir));
      })();
      c.catch(() => this.connections.delete(tdir));
      this.connections.set(tdir, c);
    }
    return c;
  }

  private table(tdir: string, name: string): Promise<lancedb.Table> {
    const key = `${tdir}/${name}`;
    let t = this.tables.get(key);
    if (!t) {
      t = (async () => (await this.connection(tdir)).openTable(name))();
      t.catch(() => this.tables.delete(key));
      this.tables.set(key, t);
    }
    return t;
  }

  private manifestPath(tdir: string, name: string): string {
    return join(this.o.dir, tdir, '_meta', `${name}.json`);
  }

  private async manifest(tdir: string, name: string): Promise<Manifest> {
    checkCollectionName(name);
    const m = await this.readManifest(tdir, name);
    if (!m) throw new TesseraError(ErrorCode.NOT_FOUND, `collection ${name} does not exist`, { field: 'collection' });
    return m;
  }

  private async readManifest(tdir: string, name: string): Promise<Manifest | undefined> {
    try {
      return JSON.parse(await readFile(this.manifestPath(tdir, name), 'utf8')) as Manifest;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private async writeManifest(tdir: string, name: string, m: Manifest): Promise<void> {
    const p = this.manifestPath(tdir, name);
    await mkdir(join(this.o.dir, tdir, '_meta'), { recursive: true });
    await writeFile(`${p}.tmp`, JSON.stringify(m, null, 2));
    await rename(`${p}.tmp`, p);
  }

  private async manifestNames(tdir: string): Promise<string[]> {
    try {
      return (await readdir(join(this.o.dir, tdir, '_meta'))).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return next;
  }
}

function splitTerms(s: string): string[] {
  return s === '' ? [] : s.split(' ');
}

function toRecord(row: Record<string, unknown>, includeVector: boolean): StoredRecord {
  const rec: StoredRecord = { id: row.id as string, text: row.text as string, metadata: JSON.parse(row.metadata as string) };
  if (includeVector && row.vector) rec.vector = Float32Array.from(row.vector as Iterable<number>);
  return rec;
}
