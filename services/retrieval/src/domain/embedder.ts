/**
 * One interface for every text embedder. Vectors come back L2-normalised whenever the embedder
 * says `normalized` (the stores then rank by cosine = inner product).
 */
export interface EmbedReport {
  vectors: Float32Array[];
  /** Inputs cut to the model's maximum length (their tails were not embedded). */
  truncated: number;
  /** Model calls made (inputs are embedded `batchSize` at a time). */
  batches: number;
}

/** How embedded texts are used: models trained with prefixes (e5: "query: " / "passage: ") need it. */
export type InputType = 'query' | 'passage';

/**
 * `weightless`: the vector is a fixed function of the text's surface terms (feature hashing) — it
 * knows nothing the keyword index does not, so fusing it with BM25 can only reorder near-ties.
 * `model`: learned weights (ONNX), which can match meaning the terms do not share. The service's
 * default search mode and fusion are chosen per kind (bench/retrieval-quality, docs/decisions.md).
 */
export type EmbedderKind = 'weightless' | 'model';

export interface Embedder {
  /** Stable id stored with each collection, e.g. "hash-ngram-v1-256" or "onnx:minilm". */
  readonly id: string;
  readonly kind: EmbedderKind;
  readonly dimension: number;
  readonly normalized: boolean;
  /** `inputType` defaults to passage (what collections store). */
  embed(texts: readonly string[], opts?: { inputType?: InputType }): Promise<EmbedReport>;
  /** Tokens of one text as the embedder counts them (usage and per-input limits). */
  countTokens(text: string): number;
  close(): Promise<void>;
}

/** Collection statistics for query weighting. */
export interface TermStats {
  /** Records in the collection. */
  records: number;
  /** Document frequency of each asked term, in order. */
  df: readonly number[];
}

/** An embedder that can weight a query by collection statistics (the term-hash embedder). */
export interface QueryWeightedEmbedder extends Embedder {
  queryTerms(text: string): string[];
  embedQuery(text: string, stats: TermStats): Float32Array;
}

export function isQueryWeighted(e: Embedder): e is QueryWeightedEmbedder {
  return typeof (e as Partial<QueryWeightedEmbedder>).embedQuery === 'function';
}
