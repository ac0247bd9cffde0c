/** Every limit of the retrieval domain, with its default. Config keys are in the README. */
import { DEFAULT_FILTER_LIMITS, type FilterLimits } from '../filter/where.js';
import { DEFAULT_SPLIT_LIMITS, type SplitLimits } from '../split/split-document.js';

export interface RetrievalLimits {
  filter: FilterLimits;
  split: SplitLimits;
  /** [100] Largest k of a query. */
  maxK: number;
  /** [1000] Largest fetch_k (MMR / hybrid candidates). */
  maxFetchK: number;
  /** [256] Documents per AddDocuments request. */
  maxDocumentsPerRequest: number;
  /** [1 MiB] UTF-8 bytes of one document, and of all documents of one request. */
  maxDocumentBytes: number;
  maxRequestTextBytes: number;
  /** [16 KiB] UTF-8 bytes of one record's text (Upsert). */
  maxRecordTextBytes: number;
  /** [1000] Records per Upsert request. */
  maxUpsertRecords: number;
  /** [1000] Largest Get limit. */
  maxGetLimit: number;
  /** [32] Documents embedded and written together by an asynchronous ingestion job. */
  jobBatchDocuments: number;
  /** [1000] Finished jobs remembered (oldest forgotten first). */
  maxRetainedJobs: number;
  /** [256] Texts per Embed request. */
  maxEmbedInputs: number;
  /** [8192] Tokens of one Embed input (the embedder's own count). */
  maxEmbedTokens: number;
  /** [4096] Code points of a query text (a longer "query" is a document, not a question). */
  maxQueryChars: number;
  /** [12000] Characters of context in a Retrieve answer. */
  maxContextChars: number;
}

export const DEFAULT_LIMITS: RetrievalLimits = Object.freeze({
  filter: DEFAULT_FILTER_LIMITS,
  split: DEFAULT_SPLIT_LIMITS,
  maxK: 100,
  maxFetchK: 1000,
  maxDocumentsPerRequest: 256,
  maxDocumentBytes: 1 << 20,
  maxRequestTextBytes: 1 << 20,
  maxRecordTextBytes: 16 << 10,
  maxUpsertRecords: 1000,
  maxGetLimit: 1000,
  jobBatchDocuments: 32,
  maxRetainedJobs: 1000,
  maxQueryChars: 4096,
  maxEmbedInputs: 256,
  maxEmbedTokens: 8192,
  maxContextChars: 12_000,
});
