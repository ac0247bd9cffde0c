/**
 * @tessera/retrieval — splitter, embedders, vector store, queries and grounded-chat context for
 * the retrieval service (src/main.ts runs it). The gateway uses `formatContext` /
 * `contextFromQueryResponse` + `GROUNDING_INSTRUCTION` on a Query response to build a grounded
 * prompt; the CLI uses `documentText`/`detectFormat`.
 */
export { RecursiveSplitter, type Chunk, type SplitterOptions, type KeepSeparator } from './domain/split/recursive-splitter.js';
export { makeSplitter, DEFAULT_SPLIT_LIMITS, type SplitSpec, type SplitStrategy, type SplitLimits } from './domain/split/split-document.js';
export { DEFAULT_SEPARATORS, MULTILINGUAL_SEPARATORS, type Separator } from './domain/split/separators.js';
export type { Embedder, EmbedReport, EmbedderKind } from './domain/embedder.js';
export { HashingEmbedder, type HashingEmbedderOptions } from './adapters/embed/hashing-embedder.js';
export { TermHashEmbedder, isQueryWeighted, type TermHashEmbedderOptions, type QueryWeightedEmbedder, type TermStats } from './adapters/embed/term-hash-embedder.js';
export { fuse, tiebreakNeedsDense, type FusionMethod, type FusionParams } from './domain/query/fusion.js';
export { OnnxEmbedder, type OnnxEmbedderOptions } from './adapters/embed/onnx-embedder.js';
export { generateTinyBert, type TinyBertConfig, type TinyBertOptions } from './adapters/embed/tiny-bert.js';
export { generateTinyXlmr, type TinyXlmrConfig, type TinyXlmrOptions } from './adapters/embed/tiny-xlmr.js';
export { mulberry32 } from './adapters/embed/tiny-encoder.js';
export { checkTokenizerJson } from './adapters/embed/tokenizer-check.js';
export { parseWhere, parseWhereDocument, DEFAULT_FILTER_LIMITS, type Where, type WhereDocument, type FilterLimits } from './domain/filter/where.js';
export type { VectorStore, CollectionSpec, CollectionInfo, StoredRecord, ScoredRecord, RecordFilter, Distance, Metadata, MetadataValue } from './domain/vector-store.js';
export { LanceStore, type LanceStoreOptions } from './adapters/store/lance-store.js';
export { HnswIndex, DEFAULT_HNSW, type HnswParams } from './adapters/store/hnsw-index.js';
export { LexicalIndex, DEFAULT_BM25, type Bm25Params, type LexicalHit } from './adapters/store/lexical-index.js';
export { analyze, analyzerId, DEFAULT_ANALYZER, type AnalyzerOptions } from './domain/text/analyzer.js';
export { distanceRelevance, cosine } from './domain/query/relevance.js';
export { mmrSelect } from './domain/query/mmr.js';
export { reciprocalRankFusion } from './domain/query/rrf.js';
export { formatContext, GROUNDING_INSTRUCTION, type ContextBlock, type ContextSource } from './domain/retrieve/context-block.js';
export { contextFromQueryResponse } from './domain/retrieve/from-query-response.js';
export { detectFormat, documentText, htmlToText, type DocumentFormat } from './domain/ingest/document-text.js';
export type { IngestionJob, JobState } from './domain/ingest/jobs.js';
export { RetrievalEngine, DEFAULT_MODE_BY_KIND, DEFAULT_FUSION_BY_KIND, type QueryInput, type QueryOutput, type QueryHit, type SearchMode, type SplitInput, type DocumentInput, type RecordInput } from './domain/engine/retrieval-engine.js';
export { DEFAULT_LIMITS, type RetrievalLimits } from './domain/engine/limits.js';
export { createRetrievalService, type RetrievalImpl } from './service.js';
export { loadRetrievalConfig, type RetrievalConfig } from './config.js';
export { openEngine, composeRetrieval, type OpenedEngine } from './compose.js';
