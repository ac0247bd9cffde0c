/**
 * @tessera/retrieval — splitter, embedders, vector store, queries and grounded-chat context for
 * the retrieval service (src/main.ts runs it). The gateway uses `formatContext` /
 * `contextFromQueryResponse` + `GROUNDING_INSTRUCTION` on a Query response to build a grounded
 * prompt; the CLI uses `documentText`/`detectFormat`.
 */
export { RecursiveSplitter, type Chunk, type SplitterOptions, type KeepSeparator } from './split/recursive-splitter.js';
export { makeSplitter, DEFAULT_SPLIT_LIMITS, type SplitSpec, type SplitStrategy, type SplitLimits } from './split/split-document.js';
export { DEFAULT_SEPARATORS, MULTILINGUAL_SEPARATORS, type Separator } from './split/separators.js';
export type { Embedder, EmbedReport } from './embed/embedder.js';
export { HashingEmbedder, type HashingEmbedderOptions } from './embed/hashing-embedder.js';
export { TermHashEmbedder, isQueryWeighted, type TermHashEmbedderOptions, type QueryWeightedEmbedder, type TermStats } from './embed/term-hash-embedder.js';
export { fuse, type FusionMethod, type FusionParams } from './query/fusion.js';
export { OnnxEmbedder, type OnnxEmbedderOptions } from './embed/onnx-embedder.js';
export { generateTinyBert, type TinyBertConfig, type TinyBertOptions } from './embed/tiny-bert.js';
export { generateTinyXlmr, type TinyXlmrConfig, type TinyXlmrOptions } from './embed/tiny-xlmr.js';
export { checkTokenizerJson } from './embed/tokenizer-check.js';
export { parseWhere, parseWhereDocument, DEFAULT_FILTER_LIMITS, type Where, type WhereDocument, type FilterLimits } from './filter/where.js';
export type { VectorStore, CollectionSpec, CollectionInfo, StoredRecord, ScoredRecord, RecordFilter, Distance, Metadata, MetadataValue } from './store/vector-store.js';
export { LanceStore, type LanceStoreOptions } from './store/lance-store.js';
export { HnswIndex, DEFAULT_HNSW, type HnswParams } from './store/hnsw-index.js';
export { LexicalIndex, DEFAULT_BM25, type Bm25Params, type LexicalHit } from './store/lexical-index.js';
export { analyze, analyzerId, DEFAULT_ANALYZER, type AnalyzerOptions } from './text/analyzer.js';
export { distanceRelevance, cosine } from './query/relevance.js';
export { mmrSelect } from './query/mmr.js';
export { reciprocalRankFusion } from './query/rrf.js';
export { formatContext, GROUNDING_INSTRUCTION, type ContextBlock, type ContextSource } from './retrieve/context-block.js';
export { contextFromQueryResponse } from './retrieve/from-query-response.js';
export { detectFormat, documentText, htmlToText, type DocumentFormat } from './ingest/document-text.js';
export type { IngestionJob, JobState } from './ingest/jobs.js';
export { RetrievalEngine, DEFAULT_MODE, DEFAULT_FUSION, type QueryInput, type QueryOutput, type QueryHit, type SearchMode, type SplitInput, type DocumentInput, type RecordInput } from './engine/retrieval-engine.js';
export { DEFAULT_LIMITS, type RetrievalLimits } from './engine/limits.js';
export { createRetrievalService, type RetrievalImpl } from './service.js';
export { loadRetrievalConfig, type RetrievalConfig } from './config.js';
export { openEngine, type OpenedEngine } from './open-engine.js';
