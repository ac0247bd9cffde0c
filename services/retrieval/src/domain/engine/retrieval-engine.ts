/**
 * The retrieval domain behind the RPCs: collections, ingestion (split → embed → store), records,
 * queries (dense, MMR, hybrid, lexical) and grounded-chat retrieval. Framework-free; the service
 * layer maps wire messages to these calls.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, TesseraError, invalidArgument, resourceExhausted } from '@tessera/runtime';
import { isQueryWeighted, type Embedder, type EmbedderKind, type InputType } from '../embedder.js';
import { parseWhere, parseWhereDocument } from '../filter/where.js';
import { detectFormat, documentText } from '../ingest/document-text.js';
import { JobRegistry, type IngestionJob } from '../ingest/jobs.js';
import { mmrSelect } from '../query/mmr.js';
import { distanceRelevance } from '../query/relevance.js';
import { fuse, tiebreakNeedsDense, type FusionMethod, type FusionParams } from '../query/fusion.js';
import { formatContext, type ContextBlock } from '../retrieve/context-block.js';
import { makeSplitter, type SplitSpec } from '../split/split-document.js';
import { analyze } from '../text/analyzer.js';
import { codePointLength } from '../text/code-points.js';
import type { CollectionInfo, Distance, Metadata, RecordFilter, StoredRecord, VectorStore } from '../vector-store.js';
import { DEFAULT_LIMITS, type RetrievalLimits } from './limits.js';

export type SearchMode = 'dense' | 'mmr' | 'hybrid' | 'lexical';

export interface CreateCollectionInput {
  name: string;
  description?: string;
  distance?: Distance;
  /** "" or absent = the default embedder; "none" = raw vectors only (needs dimension). */
  embeddingModel?: string;
  dimension?: number;
  metadata?: Record<string, unknown>;
  getOrCreate?: boolean;
}

export interface DocumentInput {
  id?: string;
  text: string;
  metadata?: Metadata;
}

/** Split options of a request; `lengthMode: 'tokens'` counts with the configured tokenizer. */
export type SplitInput = Omit<SplitSpec, 'countTokens'> & { lengthMode?: 'chars' | 'tokens' };

export interface RecordInput {
  id: string;
  text: string;
  metadata?: Metadata;
  vector?: Float32Array;
}

export interface FilterInput {
  ids?: readonly string[];
  where?: unknown;
  whereDocument?: unknown;
}

export interface QueryInput {
  collection: string;
  text?: string;
  vector?: Float32Array;
  k?: number;
  where?: unknown;
  whereDocument?: unknown;
  /** Minimum relevance in [0, 1]. */
  scoreThreshold?: number;
  mode?: SearchMode;
  mmr?: { fetchK?: number; lambda?: number };
  hybrid?: { rrfK?: number; denseWeight?: number; fetchK?: number; fusion?: FusionMethod };
  includeVectors?: boolean;
}

export interface QueryHit {
  id: string;
  /** dense/mmr: distance (lower = closer); hybrid: fused score (higher = better); lexical: BM25. */
  score: number;
  relevance: number;
  text: string;
  metadata: Metadata;
  vector?: Float32Array;
}

export interface QueryOutput {
  results: QueryHit[];
  distance: Distance;
  mode: SearchMode;
}

export interface EngineOptions {
  store: VectorStore;
  /** Embedders by id; the first is the default. */
  embedders: readonly Embedder[];
  limits?: Partial<RetrievalLimits>;
  /** Token counter for split.lengthMode = tokens (the decoder's tokenizer). */
  countTokens?: (text: string) => number;
  /** Mode of a text query that names none; `auto` [default] = per the collection's embedder kind. */
  defaultMode?: SearchMode | 'auto';
  /** Hybrid fusion defaults (a request may override each); method `auto` [default] = per kind. */
  fusion?: Partial<Omit<FusionParams, 'method'>> & { method?: FusionMethod | 'auto' };
}

/**
 * Defaults per embedder kind, chosen on bench/retrieval-quality (fusion-tuning.ts: the fusion picked
 * on a training split, judged on the held-out split; README "Search quality"). Weightless embedders
 * hash the same terms BM25 scores: every weighted fusion (score w 0.02…0.3, RRF w 0.1…0.5) fell
 * below lexical alone on some training column, `tiebreak` on none, and on the held-out split it is
 * at or above lexical and dense on all 18 columns. Hybrid is then the default mode: it is at or
 * above both other modes everywhere, and where it differs from lexical at all it is on BM25 ties,
 * whose lexical order is the arbitrary record-id order. A model embedder (not measurable offline:
 * no weights) gets score fusion, the usual BM25 + dense setting; re-run the bench with
 * `--embedder-dir` on the model. A collection of raw vectors (no embedder) cannot embed a text
 * query: its text queries are lexical.
 */
export const DEFAULT_MODE_BY_KIND: Readonly<Record<EmbedderKind | 'none', SearchMode>> = Object.freeze({ weightless: 'hybrid', model: 'hybrid', none: 'lexical' });
export const DEFAULT_FUSION_BY_KIND: Readonly<Record<EmbedderKind, FusionParams>> = Object.freeze({
  weightless: Object.freeze({ method: 'tiebreak', denseWeight: 0.1, rrfK: 60 }),
  model: Object.freeze({ method: 'score', denseWeight: 0.1, rrfK: 60 }),
});

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

export class RetrievalEngine {
  readonly limits: RetrievalLimits;
  private readonly store: VectorStore;
  private readonly embedders = new Map<string, Embedder>();
  private readonly defaultEmbedder: Embedder;
  private readonly jobs: JobRegistry;
  private readonly running = new Set<Promise<void>>();
  private readonly countTokens?: (text: string) => number;
  private readonly defaultMode: SearchMode | 'auto';
  private readonly fusion: NonNullable<EngineOptions['fusion']>;

  constructor(opts: EngineOptions) {
    if (opts.embedders.length === 0) throw new Error('RetrievalEngine needs at least one embedder');
    this.store = opts.store;
    for (const e of opts.embedders) this.embedders.set(e.id, e);
    this.defaultEmbedder = opts.embedders[0]!;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.jobs = new JobRegistry(this.limits.maxRetainedJobs);
    this.countTokens = opts.countTokens;
    this.defaultMode = opts.defaultMode ?? 'auto';
    this.fusion = opts.fusion ?? {};
  }

  embedderIds(): string[] {
    return [...this.embedders.keys()];
  }

  /** Kind of a collection's embedder; `none` for raw vectors, `model` for one this server lacks (its queries fail naming it). */
  private kindOf(info: CollectionInfo): EmbedderKind | 'none' {
    if (!info.embeddingModel) return 'none';
    return this.embedders.get(info.embeddingModel)?.kind ?? 'model';
  }

  /** The mode a text query naming none gets on this collection (config, else per embedder kind). */
  defaultModeFor(info: CollectionInfo): SearchMode {
    return this.defaultMode === 'auto' ? DEFAULT_MODE_BY_KIND[this.kindOf(info)] : this.defaultMode;
  }

  /** Hybrid fusion defaults on this collection: configured values over the embedder kind's. */
  fusionFor(info: CollectionInfo): FusionParams {
    const kind = this.kindOf(info);
    const base = DEFAULT_FUSION_BY_KIND[kind === 'none' ? 'weightless' : kind];
    const { method, ...rest } = this.fusion;
    return { ...base, ...rest, ...(method && method !== 'auto' && { method }) };
  }

  // ---- collections -------------------------------------------------------------------------

  async createCollection(tenant: string, input: CreateCollectionInput): Promise<{ collection: CollectionInfo; created: boolean }> {
    const model = input.embeddingModel || this.defaultEmbedder.id;
    let dimension = input.dimension ?? 0;
    if (model !== 'none') {
      const e = this.embedders.get(model);
      if (!e) throw invalidArgument('embedding_model', `embedding_model ${JSON.stringify(model)} is not available (have: ${this.embedderIds().join(', ')}, none)`);
      if (dimension !== 0 && dimension !== e.dimension) throw invalidArgument('dimension', `dimension ${dimension} differs from ${model}'s ${e.dimension}`, `dimension = ${e.dimension}`);
      dimension = e.dimension;
    } else if (!(dimension > 0)) {
      throw invalidArgument('dimension', 'dimension is required when embedding_model is "none"', 'dimension >= 1');
    }
    return this.store.createCollection(
      tenant,
      {
        name: input.name,
        description: input.description ?? '',
        distance: input.distance ?? 'cosine',
        embeddingModel: model === 'none' ? '' : model,
        dimension,
        metadata: input.metadata ?? {},
      },
      input.getOrCreate ?? false,
    );
  }

  getCollection(tenant: string, name: string): Promise<CollectionInfo> {
    return this.store.getCollection(tenant, name);
  }

  async listCollections(tenant: string, pageSize = 100, pageToken = ''): Promise<{ collections: CollectionInfo[]; nextPageToken: string }> {
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw invalidArgument('page_size', `page_size ${pageSize} is out of range 1..1000`, '1 <= page_size <= 1000');
    let offset = 0;
    if (pageToken) {
      offset = Number(Buffer.from(pageToken, 'base64url').toString('utf8').replace(/^o:/, ''));
      if (!Number.isInteger(offset) || offset < 0) throw invalidArgument('page_token', 'page_token is not a token this service issued');
    }
    const all = await this.store.listCollections(tenant);
    const page = all.slice(offset, offset + pageSize);
    const next = offset + pageSize < all.length ? Buffer.from(`o:${offset + pageSize}`).toString('base64url') : '';
    return { collections: page, nextPageToken: next };
  }

  deleteCollection(tenant: string, name: string): Promise<number> {
    return this.store.deleteCollection(tenant, name);
  }

  // ---- ingestion ---------------------------------------------------------------------------

  /**
   * Splits, embeds and stores documents. Synchronous: one atomic write for the whole request.
   * Async: a job that writes `jobBatchDocuments` documents at a time (each group atomic).
   * Re-adding a document id replaces all its chunks.
   */
  async addDocuments(tenant: string, input: { collection: string; documents: readonly DocumentInput[]; split?: SplitInput; async?: boolean }): Promise<{ job: IngestionJob; documentIds: string[] }> {
    const info = await this.store.getCollection(tenant, input.collection);
    const embedder = this.embedderFor(info, 'documents');
    const docs = input.documents;
    if (docs.length === 0) throw invalidArgument('documents', 'documents must not be empty', `1..${this.limits.maxDocumentsPerRequest} documents`);
    if (docs.length > this.limits.maxDocumentsPerRequest) {
      throw resourceExhausted('documents', `${docs.length} documents in one request`, `documents <= ${this.limits.maxDocumentsPerRequest}`);
    }
    let total = 0;
    const ids = new Set<string>();
    const prepared = docs.map((d, i) => {
      const field = `documents[${i}]`;
      if (typeof d.text !== 'string' || d.text.trim() === '') throw invalidArgument(`${field}.text`, `${field}.text is empty`);
      const bytes = utf8Length(d.text);
      if (bytes > this.limits.maxDocumentBytes) throw resourceExhausted(`${field}.text`, `${field}.text is ${bytes} bytes`, `<= ${this.limits.maxDocumentBytes} bytes`);
      total += bytes;
      const id = d.id || randomUUID();
      if (id.length > 128 || id.includes('#')) throw invalidArgument(`${field}.id`, `${field}.id must be 1..128 characters without "#"`, '1..128 characters');
      if (ids.has(id)) throw invalidArgument(`${field}.id`, `${field}.id ${JSON.stringify(id)} appears twice in one request`);
      ids.add(id);
      const format = detectFormat(d.text, d.metadata?.format);
      const { text, metadata } = documentText(d.text, format);
      if (text.trim() === '') throw invalidArgument(`${field}.text`, `${field}.text has no text after ${format} conversion`);
      return { id, text, metadata: { ...metadata, ...(d.metadata ?? {}), format } as Metadata, field };
    });
    if (total > this.limits.maxRequestTextBytes) throw resourceExhausted('documents', `request holds ${total} bytes of text`, `<= ${this.limits.maxRequestTextBytes} bytes`);
    const { lengthMode, ...spec } = input.split ?? {};
    const split = makeSplitter(lengthMode === 'tokens' ? { ...spec, countTokens: this.requireTokenCounter() } : spec, this.limits.split);
    const job = this.jobs.create(tenant, input.collection, prepared.length);
    const documentIds = prepared.map((p) => p.id);
    const run = async (groupSize: number): Promise<void> => {
      this.jobs.update(job, { state: 'running' });
      try {
        for (let g = 0; g < prepared.length; g += groupSize) {
          const group = prepared.slice(g, g + groupSize);
          const records: StoredRecord[] = [];
          for (const doc of group) {
            const chunks = split(doc.text);
            chunks.forEach((c, n) => records.push({ id: `${doc.id}#${n}`, text: c.text, metadata: { ...doc.metadata, document_id: doc.id, chunk_index: n, start: c.start, end: c.end } }));
          }
          const report = await embedder.embed(records.map((r) => r.text));
          records.forEach((r, i) => (r.vector = report.vectors[i]));
          await this.store.upsert(tenant, input.collection, records, { replaceDocuments: group.map((d) => d.id) });
          this.jobs.update(job, { documentsDone: job.documentsDone + group.length, chunksWritten: job.chunksWritten + records.length, truncated: job.truncated + report.truncated });
        }
        this.jobs.update(job, { state: 'succeeded' });
      } catch (err) {
        const e = TesseraError.from(err);
        this.jobs.update(job, { state: 'failed', error: { code: e.code, message: e.message, details: { ...e.details } } });
        throw e;
      }
    };
    if (input.async) {
      const p = run(this.limits.jobBatchDocuments).catch(() => undefined);
      this.running.add(p);
      void p.finally(() => this.running.delete(p));
    } else {
      await run(prepared.length);
    }
    return { job: this.jobs.get(tenant, job.id), documentIds };
  }

  getJob(tenant: string, jobId: string): IngestionJob {
    return this.jobs.get(tenant, jobId);
  }

  /** Resolves when all asynchronous jobs have finished (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  // ---- records -----------------------------------------------------------------------------

  async upsert(tenant: string, collection: string, records: readonly RecordInput[]): Promise<number> {
    const info = await this.store.getCollection(tenant, collection);
    if (records.length === 0) throw invalidArgument('records', 'records must not be empty');
    if (records.length > this.limits.maxUpsertRecords) throw resourceExhausted('records', `${records.length} records in one request`, `records <= ${this.limits.maxUpsertRecords}`);
    records.forEach((r, i) => {
      if (typeof r.text !== 'string') throw invalidArgument(`records[${i}].text`, `records[${i}].text must be a string`);
      const b = utf8Length(r.text);
      if (b > this.limits.maxRecordTextBytes) throw resourceExhausted(`records[${i}].text`, `records[${i}].text is ${b} bytes`, `<= ${this.limits.maxRecordTextBytes} bytes`);
      if (r.vector && r.vector.length !== info.dimension) {
        throw invalidArgument(`records[${i}].vector`, `records[${i}].vector has dimension ${r.vector.length}, collection ${collection} has ${info.dimension}`, `dimension = ${info.dimension}`);
      }
    });
    const missing = records.map((r, i) => (r.vector ? -1 : i)).filter((i) => i >= 0);
    const vectors: (Float32Array | undefined)[] = records.map((r) => r.vector);
    if (missing.length > 0) {
      const embedder = this.embedderFor(info, `records[${missing[0]}].vector`);
      const rep = await embedder.embed(missing.map((i) => records[i]!.text));
      missing.forEach((i, j) => (vectors[i] = rep.vectors[j]));
    }
    await this.store.upsert(tenant, collection, records.map((r, i) => ({ id: r.id, text: r.text, metadata: r.metadata ?? {}, vector: vectors[i] })));
    return records.length;
  }

  delete(tenant: string, collection: string, f: FilterInput): Promise<number> {
    const filter = this.filter(f);
    if (!filter.ids?.length && !filter.where && !filter.whereDocument) throw invalidArgument('ids', 'delete needs ids, where or where_document');
    return this.store.delete(tenant, collection, filter);
  }

  get(tenant: string, collection: string, f: FilterInput, page: { limit?: number; offset?: number; includeVectors?: boolean } = {}): Promise<StoredRecord[]> {
    const limit = page.limit || 100;
    const offset = page.offset ?? 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > this.limits.maxGetLimit) throw invalidArgument('limit', `limit ${limit} is out of range 1..${this.limits.maxGetLimit}`, `1 <= limit <= ${this.limits.maxGetLimit}`);
    if (!Number.isInteger(offset) || offset < 0) throw invalidArgument('offset', `offset ${offset} must be >= 0`, 'offset >= 0');
    return this.store.get(tenant, collection, this.filter(f), { limit, offset, includeVectors: page.includeVectors ?? false });
  }

  count(tenant: string, collection: string): Promise<number> {
    return this.store.count(tenant, collection);
  }

  // ---- queries -----------------------------------------------------------------------------

  async query(tenant: string, q: QueryInput): Promise<QueryOutput> {
    const info = await this.store.getCollection(tenant, q.collection);
    const k = q.k ?? 4;
    if (!Number.isInteger(k) || k < 1 || k > this.limits.maxK) throw invalidArgument('k', `k ${k} is out of range 1..${this.limits.maxK}`, `1 <= k <= ${this.limits.maxK}`);
    if (q.scoreThreshold !== undefined && !(q.scoreThreshold >= 0 && q.scoreThreshold <= 1)) {
      throw invalidArgument('score_threshold', `score_threshold ${q.scoreThreshold} is out of range 0..1`, '0 <= score_threshold <= 1');
    }
    const hasText = typeof q.text === 'string' && q.text.trim() !== '';
    if (typeof q.text === 'string' && q.text !== '' && !hasText) throw invalidArgument('text', 'text is only whitespace', 'a non-blank query text');
    if (hasText && codePointLength(q.text!) > this.limits.maxQueryChars) {
      throw invalidArgument('text', `text is ${codePointLength(q.text!)} characters`, `<= ${this.limits.maxQueryChars} characters`);
    }
    if (!hasText && !q.vector) throw invalidArgument('text', 'query needs a text or a vector');
    // A vector-only query cannot run the lexical side: the default mode falls back to dense.
    const mode = q.mode ?? (hasText ? this.defaultModeFor(info) : 'dense');
    if ((mode === 'hybrid' || mode === 'lexical') && !hasText) throw invalidArgument('text', `mode ${mode} needs a query text`);
    const filter = this.filter(q);
    const includeVectors = q.includeVectors ?? false;
    const queryVector = async (): Promise<Float32Array> => {
      if (q.vector) {
        if (q.vector.length !== info.dimension) throw invalidArgument('vector', `query vector has dimension ${q.vector.length}, collection ${q.collection} has ${info.dimension}`, `dimension = ${info.dimension}`);
        return q.vector;
      }
      const embedder = this.embedderFor(info, 'text');
      if (isQueryWeighted(embedder) && this.store.termStats) {
        // IDF from this collection's keyword index weights the query terms.
        return embedder.embedQuery(q.text!, await this.store.termStats(tenant, q.collection, embedder.queryTerms(q.text!)));
      }
      return (await embedder.embed([q.text!], { inputType: 'query' })).vectors[0]!;
    };
    let results: QueryHit[];
    if (mode === 'dense') {
      const hits = await this.store.searchVector(tenant, q.collection, { vector: await queryVector(), k, filter, includeVectors });
      results = hits.map((h) => ({ ...h.record, score: h.score, relevance: distanceRelevance(info.distance, h.score) }));
    } else if (mode === 'mmr') {
      const fetchK = this.fetchK(q.mmr?.fetchK ?? Math.max(20, k), k, 'mmr.fetch_k');
      const lambda = q.mmr?.lambda ?? 0.5;
      if (!(lambda >= 0 && lambda <= 1)) throw invalidArgument('mmr.lambda', `mmr.lambda ${lambda} is out of range 0..1`, '0 <= lambda <= 1');
      const vector = await queryVector();
      const hits = await this.store.searchVector(tenant, q.collection, { vector, k: fetchK, filter, includeVectors: true });
      const picked = mmrSelect(vector, hits.map((h) => h.record.vector!), k, lambda);
      results = picked.map((i) => {
        const h = hits[i]!;
        const { vector: v, ...rest } = h.record;
        return { ...rest, ...(includeVectors && { vector: v }), score: h.score, relevance: distanceRelevance(info.distance, h.score) };
      });
    } else {
      const terms = analyze(q.text!);
      const fetchK = this.fetchK(q.hybrid?.fetchK ?? Math.max(50, k), k, 'hybrid.fetch_k');
      const keyword = (n: number) => this.store.searchKeyword(tenant, q.collection, { terms, k: n, filter, includeVectors });
      if (mode === 'lexical') {
        const lexical = await keyword(k);
        const best = lexical[0]?.score ?? 1;
        results = lexical.map((h) => ({ ...h.record, score: h.score, relevance: best > 0 ? h.score / best : 0 }));
      } else {
        const defaults = this.fusionFor(info);
        const params: FusionParams = {
          method: q.hybrid?.fusion ?? defaults.method,
          rrfK: q.hybrid?.rrfK || defaults.rrfK,
          denseWeight: q.hybrid?.denseWeight ?? defaults.denseWeight,
        };
        const w = params.denseWeight;
        if (!(w >= 0 && w <= 1)) throw invalidArgument('hybrid.dense_weight', `hybrid.dense_weight ${w} is out of range 0..1`, '0 <= dense_weight <= 1');
        if (!Number.isInteger(params.rrfK) || params.rrfK < 1 || params.rrfK > 1000) throw invalidArgument('hybrid.rrf_k', `hybrid.rrf_k ${params.rrfK} is out of range 1..1000`, '1 <= rrf_k <= 1000');
        const lexical = await keyword(fetchK);
        // Tiebreak without a tie in the top k (and with k lexical hits) is lexical's top k: no vector
        // search. (Probing BM25 for k + 1 hits first was slower on bench/retrieval-quality: with
        // k1 0.1 exact ties among the weaker top-10 hits are common, so most queries fetched twice.)
        const needsDense = params.method !== 'tiebreak' || tiebreakNeedsDense(lexical, k);
        const dense = needsDense ? await this.store.searchVector(tenant, q.collection, { vector: await queryVector(), k: fetchK, filter, includeVectors }) : [];
        const fused = fuse(
          { dense: dense.map((h) => ({ id: h.record.id, similarity: distanceRelevance(info.distance, h.score) })), lexical: lexical.map((h) => ({ id: h.record.id, score: h.score })) },
          params,
        );
        const byId = new Map([...lexical, ...dense].map((h) => [h.record.id, h.record]));
        results = fused.slice(0, k).map((f) => ({ ...byId.get(f.id)!, score: f.score, relevance: f.relevance }));
      }
    }
    if (q.scoreThreshold !== undefined) results = results.filter((r) => r.relevance >= q.scoreThreshold!);
    return { results, distance: info.distance, mode };
  }

  /** Grounded chat: query the collection and render the hits as a numbered context block. */
  async retrieve(tenant: string, q: QueryInput & { text: string }): Promise<ContextBlock> {
    const out = await this.query(tenant, { ...q, includeVectors: false });
    return formatContext(
      out.results.map((r) => ({ id: r.id, score: r.score, relevance: r.relevance, metadata: r.metadata, text: r.text })),
      this.limits.maxContextChars,
    );
  }

  // ---- embeddings --------------------------------------------------------------------------

  /**
   * Embeddings of free texts (the gateway's /v1/embeddings). Limits are INVALID_ARGUMENT (HTTP 400
   * at the gateway, as OpenAI answers them), naming the input and the limit.
   */
  async embed(input: { inputs: readonly string[]; model?: string; inputType?: InputType }): Promise<{ vectors: Float32Array[]; model: string; dimension: number; promptTokens: number; truncated: number }> {
    const e = input.model ? this.embedders.get(input.model) : this.defaultEmbedder;
    if (!e) throw new TesseraError(ErrorCode.NOT_FOUND, `model ${JSON.stringify(input.model)} is not loaded (have: ${this.embedderIds().join(', ')})`, { field: 'model' });
    const { maxEmbedInputs, maxEmbedTokens } = this.limits;
    if (input.inputs.length === 0) throw invalidArgument('inputs', 'inputs must not be empty', `1..${maxEmbedInputs} inputs`);
    // The message itself names the limit: the gateway's OpenAI error body carries only message and param.
    if (input.inputs.length > maxEmbedInputs) throw invalidArgument('inputs', `${input.inputs.length} inputs in one request; the limit is inputs <= ${maxEmbedInputs}`, `inputs <= ${maxEmbedInputs}`);
    let promptTokens = 0;
    input.inputs.forEach((t, i) => {
      if (typeof t !== 'string' || t === '') throw invalidArgument(`inputs[${i}]`, `inputs[${i}] must be a non-empty string`);
      // Every tokenizer here yields at least one token per 8 code points; longer texts are over the
      // limit without tokenizing them.
      const n = t.length > maxEmbedTokens * 8 ? Number.POSITIVE_INFINITY : e.countTokens(t);
      if (n > maxEmbedTokens) throw invalidArgument(`inputs[${i}]`, `inputs[${i}] has ${Number.isFinite(n) ? n : 'over ' + maxEmbedTokens} tokens; the limit is <= ${maxEmbedTokens} tokens per input`, `<= ${maxEmbedTokens} tokens per input`);
      promptTokens += n;
    });
    const rep = await e.embed(input.inputs, { inputType: input.inputType ?? 'passage' });
    return { vectors: rep.vectors, model: e.id, dimension: e.dimension, promptTokens, truncated: rep.truncated };
  }

  /** Token count of texts with an embedder (the gateway reserves quota before embedding). */
  countEmbedTokens(texts: readonly string[], model?: string): number {
    const e = model ? this.embedders.get(model) : this.defaultEmbedder;
    return e ? texts.reduce((s, t) => s + e.countTokens(t), 0) : 0;
  }

  // ---- helpers -----------------------------------------------------------------------------

  private fetchK(fetchK: number, k: number, field: string): number {
    if (!Number.isInteger(fetchK) || fetchK < k || fetchK > this.limits.maxFetchK) {
      throw invalidArgument(field, `${field} ${fetchK} must be between k (${k}) and ${this.limits.maxFetchK}`, `k <= ${field} <= ${this.limits.maxFetchK}`);
    }
    return fetchK;
  }

  private filter(f: FilterInput): RecordFilter {
    const where = parseWhere(f.where, this.limits.filter);
    const whereDocument = parseWhereDocument(f.whereDocument, this.limits.filter);
    return { ...(f.ids && f.ids.length > 0 && { ids: f.ids }), ...(where && { where }), ...(whereDocument && { whereDocument }) };
  }

  private embedderFor(info: CollectionInfo, field: string): Embedder {
    if (!info.embeddingModel) throw invalidArgument(field, `collection ${info.name} stores raw vectors only (no embedding model): send vectors`);
    const e = this.embedders.get(info.embeddingModel);
    if (!e) throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `collection ${info.name} uses embedding model ${info.embeddingModel}, which this server does not load`, { field });
    return e;
  }

  private requireTokenCounter(): (text: string) => number {
    if (!this.countTokens) throw invalidArgument('split.length_mode', 'token-length splitting needs a tokenizer; none is configured');
    return this.countTokens;
  }
}
