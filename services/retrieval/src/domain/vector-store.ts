/**
 * The storage seam. The embedded LanceDB store implements it; a distributed engine (Qdrant,
 * Milvus, pgvector) implements the same calls to scale out. Every call names the tenant: an
 * implementation must keep tenants' collections apart itself (never trust the caller to filter),
 * and another tenant's collection is simply NOT_FOUND (its existence is not revealed).
 */
import type { Where, WhereDocument } from './filter/where.js';

export type MetadataValue = string | number | boolean | string[] | number[] | boolean[];
export type Metadata = Record<string, MetadataValue>;

/**
 * cosine: 1 - cos(a, b) in [0, 2]; l2: squared Euclidean; ip: 1 - a·b. Lower = closer for all.
 */
export type Distance = 'cosine' | 'l2' | 'ip';

export interface CollectionSpec {
  name: string;
  dimension: number;
  distance: Distance;
  /** Embedder id used for texts ("" = raw vectors only). */
  embeddingModel: string;
  description: string;
  metadata: Record<string, unknown>;
}

export interface CollectionInfo extends CollectionSpec {
  recordCount: number;
  createdAt: Date;
}

export interface StoredRecord {
  id: string;
  text: string;
  metadata: Metadata;
  /** Present on writes; on reads only when asked for. */
  vector?: Float32Array;
}

export interface RecordFilter {
  ids?: readonly string[];
  where?: Where;
  whereDocument?: WhereDocument;
}

export interface ScoredRecord {
  record: StoredRecord;
  /** Vector search: the distance (lower = closer). Keyword search: BM25 (higher = better). */
  score: number;
}

export interface UpsertOptions {
  /**
   * Document ids whose existing chunks are replaced by this write: chunks of these documents that
   * are not in `records` are deleted in the same atomic commit (a shorter re-ingest leaves no
   * stale tail).
   */
  replaceDocuments?: readonly string[];
}

export interface VectorStore {
  createCollection(tenant: string, spec: CollectionSpec, getOrCreate?: boolean): Promise<{ collection: CollectionInfo; created: boolean }>;
  getCollection(tenant: string, name: string): Promise<CollectionInfo>;
  listCollections(tenant: string): Promise<CollectionInfo[]>;
  /** Returns the number of records deleted with it. */
  deleteCollection(tenant: string, name: string): Promise<number>;
  /** Inserts or replaces by id, all or nothing. Vectors must have the collection's dimension. */
  upsert(tenant: string, name: string, records: readonly StoredRecord[], opts?: UpsertOptions): Promise<void>;
  delete(tenant: string, name: string, filter: RecordFilter): Promise<number>;
  /** Records in id order. */
  get(tenant: string, name: string, filter: RecordFilter, page: { limit: number; offset: number; includeVectors: boolean }): Promise<StoredRecord[]>;
  count(tenant: string, name: string, filter?: RecordFilter): Promise<number>;
  /**
   * k nearest by the collection's distance, closest first. Queries (this and searchKeyword) reject
   * a filter on a metadata field the collection has never stored (INVALID_ARGUMENT naming it).
   */
  searchVector(tenant: string, name: string, q: { vector: Float32Array; k: number; filter?: RecordFilter; includeVectors: boolean }): Promise<ScoredRecord[]>;
  /** BM25 over the records' analyzer terms (text/analyzer.ts `analyze`), best first; filters are exact. */
  searchKeyword(tenant: string, name: string, q: { terms: readonly string[]; k: number; filter?: RecordFilter; includeVectors: boolean }): Promise<ScoredRecord[]>;
  /** Document frequencies of analyzer terms (query-side IDF for embedders); optional. */
  termStats?(tenant: string, name: string, terms: readonly string[]): Promise<{ records: number; df: number[] }>;
  close(): Promise<void>;
}
