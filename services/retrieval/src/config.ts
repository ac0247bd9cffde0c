/** Retrieval configuration: the shared keys plus store, embedder and limits (README lists them all). */
import { bytes, commonServiceConfig, int, loadConfig, number, oneOf, string, type ConfigOf } from '@tessera/config';

export const schema = {
  ...commonServiceConfig({ serviceName: 'retrieval', grpcPort: 50055 }),
  dataDir: string({ env: 'TESSERA_DATA_DIR', default: './data/retrieval', minLength: 1, doc: 'LanceDB root: one directory per tenant, one table per collection' }),
  hashDimension: int({ env: 'TESSERA_RETRIEVAL_HASH_DIM', default: 256, min: 32, max: 4096, doc: 'dimension of the weightless hashing embedder (hash-ngram-v1-<dim>)' }),
  embeddingModelDir: string({ env: 'TESSERA_RETRIEVAL_EMBEDDING_MODEL_DIR', optional: true, doc: 'HF sentence-embedding directory (config.json, tokenizer.json, model.onnx or onnx/model.onnx); unset = hashing embedder only' }),
  embeddingPooling: oneOf(['mean', 'cls'], { env: 'TESSERA_RETRIEVAL_EMBEDDING_POOLING', default: 'mean', doc: 'pooling of the ONNX embedder (1_Pooling/config.json wins when present)' }),
  embeddingBatch: int({ env: 'TESSERA_RETRIEVAL_EMBEDDING_BATCH', default: 16, min: 1, max: 1024, doc: 'texts per ONNX embedder call' }),
  embeddingMaxTokens: int({ env: 'TESSERA_RETRIEVAL_EMBEDDING_MAX_TOKENS', default: 512, min: 8, max: 8192, doc: 'truncation length of the ONNX embedder (capped by max_position_embeddings)' }),
  defaultEmbedder: oneOf(['terms', 'hash', 'onnx'], { env: 'TESSERA_RETRIEVAL_DEFAULT_EMBEDDER', default: 'terms', doc: 'embedder used when a collection names none: terms (hash-terms-v2), hash (hash-ngram-v1), onnx (the model directory)' }),
  defaultMode: oneOf(['auto', 'hybrid', 'lexical', 'dense', 'mmr'], { env: 'TESSERA_RETRIEVAL_DEFAULT_MODE', default: 'auto', doc: 'search mode of a text query that names none; auto = hybrid on a collection with an embedder (fusion by its kind), lexical on raw-vector collections — bench/retrieval-quality' }),
  fusion: oneOf(['auto', 'score', 'rrf', 'tiebreak'], { env: 'TESSERA_RETRIEVAL_FUSION', default: 'auto', doc: 'hybrid fusion method when a request names none; auto = tiebreak (weightless embedders), score (ONNX model)' }),
  hybridDenseWeight: number({ env: 'TESSERA_RETRIEVAL_HYBRID_DENSE_WEIGHT', default: 0.1, min: 0, max: 1, doc: 'hybrid weight of the dense ranking for score / rrf fusion (re-tune for a real model with bench/retrieval-quality)' }),
  embedMaxInputs: int({ env: 'TESSERA_RETRIEVAL_EMBED_MAX_INPUTS', default: 256, min: 1, max: 100_000, doc: 'texts per Embed request (/v1/embeddings batch limit)' }),
  embedMaxTokens: int({ env: 'TESSERA_RETRIEVAL_EMBED_MAX_TOKENS', default: 8192, min: 1, max: 1_000_000, doc: 'tokens of one Embed input' }),
  maxQueryChars: int({ env: 'TESSERA_RETRIEVAL_MAX_QUERY_CHARS', default: 4096, min: 16, max: 1_000_000, doc: 'code points of a query text' }),
  intraOpThreads: int({ env: 'TESSERA_INTRA_OP_THREADS', default: 1, min: 1, max: 256, doc: 'threads inside one ONNX op' }),
  bm25K1: number({ env: 'TESSERA_RETRIEVAL_BM25_K1', default: 0.1, min: 0, max: 10, doc: 'BM25 term-frequency saturation (tuned on bench/retrieval-quality, docs/decisions.md)' }),
  bm25B: number({ env: 'TESSERA_RETRIEVAL_BM25_B', default: 0.15, min: 0, max: 1, doc: 'BM25 length normalisation (0 = none, 1 = full)' }),
  annThreshold: int({ env: 'TESSERA_RETRIEVAL_ANN_THRESHOLD', default: 10_000, min: 1, doc: 'records at which a collection gets its ANN index (below: exact search)' }),
  annIndex: oneOf(['hnsw', 'ivf_pq'], { env: 'TESSERA_RETRIEVAL_ANN_INDEX', default: 'hnsw', doc: 'ANN index: HNSW graph beside the table (usearch) or LanceDB IVF_PQ' }),
  hnswM: int({ env: 'TESSERA_RETRIEVAL_HNSW_M', default: 16, min: 4, max: 128, doc: 'HNSW links per node' }),
  hnswEfConstruction: int({ env: 'TESSERA_RETRIEVAL_HNSW_EF_CONSTRUCTION', default: 128, min: 8, max: 4096, doc: 'HNSW candidate list while inserting' }),
  hnswEfSearch: int({ env: 'TESSERA_RETRIEVAL_HNSW_EF_SEARCH', default: 64, min: 8, max: 4096, doc: 'HNSW candidate list while searching' }),
  nprobes: int({ env: 'TESSERA_RETRIEVAL_NPROBES', default: 20, min: 1, max: 10_000, doc: 'IVF partitions probed per query' }),
  refineFactor: int({ env: 'TESSERA_RETRIEVAL_REFINE_FACTOR', default: 10, min: 1, max: 100, doc: 'k x this candidates re-ranked with exact distances' }),
  maxCollections: int({ env: 'TESSERA_RETRIEVAL_MAX_COLLECTIONS', default: 100, min: 1, doc: 'collections per tenant' }),
  maxRecords: int({ env: 'TESSERA_RETRIEVAL_MAX_RECORDS', default: 1_000_000, min: 1, doc: 'records per collection' }),
  maxMetadataKeys: int({ env: 'TESSERA_RETRIEVAL_MAX_METADATA_KEYS', default: 32, min: 1, max: 1024, doc: 'metadata keys per record' }),
  maxK: int({ env: 'TESSERA_RETRIEVAL_MAX_K', default: 100, min: 1, max: 10_000, doc: 'largest k of a query' }),
  maxFetchK: int({ env: 'TESSERA_RETRIEVAL_MAX_FETCH_K', default: 1000, min: 1, max: 100_000, doc: 'largest MMR / hybrid fetch_k' }),
  maxDocuments: int({ env: 'TESSERA_RETRIEVAL_MAX_DOCUMENTS', default: 256, min: 1, max: 100_000, doc: 'documents per AddDocuments request' }),
  maxDocumentBytes: bytes({ env: 'TESSERA_RETRIEVAL_MAX_DOCUMENT_BYTES', default: 1 << 20, min: 1024, doc: 'UTF-8 bytes of one document' }),
  maxRequestBytes: bytes({ env: 'TESSERA_RETRIEVAL_MAX_REQUEST_BYTES', default: 1 << 20, min: 1024, doc: 'UTF-8 bytes of all documents of one request' }),
  maxRecordBytes: bytes({ env: 'TESSERA_RETRIEVAL_MAX_RECORD_BYTES', default: 16 << 10, min: 64, doc: 'UTF-8 bytes of one record text (Upsert)' }),
  maxUpsertRecords: int({ env: 'TESSERA_RETRIEVAL_MAX_UPSERT_RECORDS', default: 1000, min: 1, max: 100_000, doc: 'records per Upsert request' }),
  maxGetLimit: int({ env: 'TESSERA_RETRIEVAL_MAX_GET_LIMIT', default: 1000, min: 1, max: 100_000, doc: 'largest Get limit' }),
  maxChunkSize: int({ env: 'TESSERA_RETRIEVAL_MAX_CHUNK_SIZE', default: 8192, min: 64, doc: 'largest split.chunk_size' }),
  filterMaxPredicates: int({ env: 'TESSERA_RETRIEVAL_FILTER_MAX_PREDICATES', default: 8, min: 1, max: 1000, doc: 'comparisons in one where / where_document' }),
  filterMaxDepth: int({ env: 'TESSERA_RETRIEVAL_FILTER_MAX_DEPTH', default: 4, min: 1, max: 64, doc: '$and / $or nesting depth' }),
  jobBatchDocuments: int({ env: 'TESSERA_RETRIEVAL_JOB_BATCH_DOCUMENTS', default: 32, min: 1, max: 10_000, doc: 'documents embedded and written per step of an async ingestion job' }),
  maxContextChars: int({ env: 'TESSERA_RETRIEVAL_MAX_CONTEXT_CHARS', default: 12_000, min: 256, doc: 'characters of context a retrieve() block holds' }),
  reindexFraction: number({ env: 'TESSERA_RETRIEVAL_REINDEX_FRACTION', default: 0.1, min: 0.001, max: 1, doc: 'unindexed share of rows that triggers an index update' }),
};

export type RetrievalConfig = ConfigOf<typeof schema>;

export function loadRetrievalConfig(env: Readonly<Record<string, string | undefined>> = process.env): RetrievalConfig {
  return loadConfig(schema, env);
}
