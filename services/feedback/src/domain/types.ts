/**
 * Domain types of the feedback service (shaped after tessera.feedback.v1, without importing it:
 * the service layer maps wire ↔ domain). Everything here has passed validation (validate-*.ts);
 * the rest of the service trusts these invariants and never re-checks them.
 *
 * Text offsets are Unicode code points into `ResponseRecord.answer`, half-open [start, end) (the
 * convention of every tessera.*.v1 contract): the same number in Python `str`, Rust `chars()` and
 * for a tokenizer's offset mapping. The dense-spans export adds UTF-16 and UTF-8 byte offsets.
 */

/** A stored image (claim check): key = lowercase hex sha256 of the encoded bytes. */
export interface ObjectRef {
  bucket: string;
  key: string;
  size: number;
  contentType: string;
}

export type MessagePart = { type: 'text'; text: string } | { type: 'image'; image: ObjectRef };

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: Role;
  content: MessagePart[];
}

export interface RetrievedSource {
  index: number;
  collection: string;
  id: string;
  text: string;
  relevance: number;
  metadata: Record<string, unknown>;
}

/** A stretch of the answer the decoder was unsure about (code points). */
export interface LowConfidenceSpan {
  start: number;
  end: number;
  meanLogprob: number;
}

/** The decoder's per-token confidence, summarised (ConfidenceSummary in the contract). */
export interface ConfidenceSummary {
  tokenCount: number;
  meanLogprob: number;
  minLogprob: number;
  lowConfidenceTokens: number;
  spans: LowConfidenceSpan[];
}

export interface Usage {
  promptTokens: number;
  visualTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface ResponseRecord {
  tenant: string;
  responseId: string;
  /** epoch ms, set by the service */
  recordedAt: number;
  /** epoch ms after which the record and its feedback are dropped (tenant retention). */
  expiresAt: number;
  model: string;
  modelRevision: string;
  messages: ChatMessage[];
  sources: RetrievedSource[];
  /** SamplingParams as sent, with the resolved seed (JSON form). */
  sampling: Record<string, unknown>;
  answer: string;
  finishReason: string;
  usage: Usage;
  confidence: ConfidenceSummary;
  collection: string;
  /**
   * A text completion (OpenAI `/v1/completions`): the prompt the model continued verbatim, no chat
   * template; `messages` is then empty. Unset for chats. Exports write such records in TRL's standard
   * (non-conversational) form.
   */
  prompt?: string;
  /** sha256 over the canonical prompt (roles, text, image keys): preference pairs must share it. */
  promptHash: string;
  /** sha256 of the client-supplied content: same id + same hash = idempotent replay. */
  contentHash: string;
}

export type AnnotatorSource = 'human' | 'ai';

export interface Annotator {
  id: string;
  source: AnnotatorSource;
}

export interface SpanCorrection {
  /** Code points into the answer, [start, end); start == end = insertion. */
  start: number;
  end: number;
  /** The answer's text in [start, end) (filled in by validation). */
  original: string;
  /** Empty = delete the span. */
  replacement: string;
  /** A path in the category taxonomy, e.g. `object` or `attribute/color`. */
  category: string;
  annotator: Annotator;
  confidence: number | null;
}

export interface Rating {
  key: string;
  thumbs: 'up' | 'down' | null;
  /** Normalised to [0, 1], 1 = best. */
  score: number | null;
}

export interface Preference {
  chosenResponseId: string;
  rejectedResponseId: string;
}

export interface FeedbackRecord {
  tenant: string;
  /** Client-supplied id: the idempotency key (Nats-Msg-Id and projector dedupe). */
  feedbackId: string;
  responseId: string;
  annotator: Annotator;
  /** epoch ms, set by the service */
  createdAt: number;
  rating: Rating | null;
  comment: string;
  /** The whole corrected answer: given, or derived from the spans; empty = no correction. */
  correction: string;
  /** Sorted by start, non-overlapping. */
  spans: SpanCorrection[];
  preference: Preference | null;
  metadata: Record<string, unknown>;
  contentHash: string;
}

/** Stored records carry the stream sequence they were applied at (stable order and page tokens). */
export type Stored<T> = T & { seq: number };
