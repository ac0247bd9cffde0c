/**
 * The one seam between the engine and a model runtime (the backend port). The ORT backend over
 * `@tessera/model`'s paged decoder stage implements it for real; a pure-TS toy implements it only
 * inside the engine's unit tests.
 *
 * The backend owns the cache memory, allocated once: a pool of KV blocks (`blockSize` tokens each,
 * every attention layer) and `numStateSlots` fixed-size per-sequence state slots (linear-attention
 * layers of hybrid models; 0 bytes for attention-only ones). The engine owns the bookkeeping: which
 * blocks and which slot each sequence uses (scheduler.ts). A step reads the rows' past from their
 * blocks / slots and writes the new tokens' KV and the new state back in place.
 */

export interface BackendInfo {
  modelName: string;
  numLayers: number;
  hiddenSize: number;
  vocabSize: number;
  /** Longest prompt + completion the positions support. */
  maxContext: number;
  /** KV bytes one token occupies across all attention layers (key + value). */
  kvBytesPerToken: number;
  /** State bytes one sequence occupies across all stateful layers (0 = attention-only model). */
  stateBytesPerSequence: number;
  /** End-of-sequence ids (`<|im_end|>`, `<|endoftext|>`). */
  eosTokenIds: number[];
  /** Bytes of weights read per decode step (for MBU); 0 when unknown. */
  weightBytes: number;
  /**
   * Most new tokens one row may bring to one step (the graph's own cap: the 4.6 hybrid decoder is
   * built for ≤ manifest.decoder.maxChunk = 16 tokens per call). Undefined = no cap (2.6 paged graph).
   */
  maxQueryLength?: number;
  /**
   * The backend can return logits for every new token of a row (StepRow.allLogits), which prompt logprobs
   * need. False for a model built before the decoder graph took `logits_indices` (rebuild it).
   */
  promptLogits: boolean;
}

export interface CacheSize {
  numBlocks: number;
  blockSize: number;
  numStateSlots: number;
}

export interface StepRow {
  /** Tokens of this sequence already in the cache (its position offset). */
  pastLength: number;
  /** New tokens of this row (≥ 1). */
  queryLength: number;
  /** The sequence's blocks in position order, covering pastLength + queryLength tokens. */
  blockTable: readonly number[];
  /** The sequence's state slot, −1 when the model keeps no state. */
  stateSlot: number;
  /** Logits for every new token of this row (queryLength rows of them), not only its last: prompt logprobs. */
  allLogits?: boolean;
}

export interface StepInput {
  rows: StepRow[];
  /** T = max queryLength; rows are right-padded to it. */
  seqLen: number;
  /** [rows, T, hidden] */
  inputsEmbeds: Float32Array;
}

export interface StepOutput {
  /** [L, vocab] */
  logits: Float32Array;
  /** [L]: log Σ exp of each logits row when the model computes it (then prompt logprobs skip a JS pass over the vocabulary). */
  logSumExp?: Float32Array;
}

export interface DecoderBackend {
  readonly info: BackendInfo;
  /** Allocates the KV pool and state slots (once per engine; replaces any earlier cache). */
  allocateCache(size: CacheSize): void;
  /** Zeroes a state slot before a sequence starts from token 0 (no-op without state). */
  resetState(slot: number): void;
  /** Token embeddings, [ids.length, hidden]. */
  embedTokens(ids: Int32Array): Promise<Float32Array>;
  /**
   * One forward over the rows → logits [L, vocab]: per row in order, its last new token's, or with
   * `allLogits` each of its queryLength new tokens' (L = rows when no row asks for all).
   */
  step(input: StepInput): Promise<StepOutput>;
  close?(): Promise<void>;
}
