import type { SequencedEvent } from './events.js';
import type { AnnotatorSource, FeedbackRecord, ObjectRef, ResponseRecord, Stored } from './types.js';

export interface FeedbackQuery {
  tenant: string;
  /** createdAt >= from (epoch ms) */
  from?: number;
  /** createdAt < to (epoch ms) */
  to?: number;
  /** Feedback about this response (either side of a preference). */
  responseId?: string;
  source?: AnnotatorSource;
  /** Only records applied before this stream sequence (keyset paging). */
  beforeSeq?: number;
  /** Default false = log (oldest first) order. */
  newestFirst?: boolean;
}

/** A feedback row joined with the response(s) it is about. */
export interface FeedbackRow {
  feedback: Stored<FeedbackRecord>;
  response: Stored<ResponseRecord>;
  /** For preferences: both sides. */
  chosen?: Stored<ResponseRecord>;
  rejected?: Stored<ResponseRecord>;
}

/**
 * The queryable projection of the log. Implementations: FileStore (embedded default) and
 * PgStore. `apply` is the only writer and is idempotent: events with seq <= lastSeq are skipped,
 * responses and feedback are inserted only if absent (by tenant + id), feedback whose response is
 * missing (expired, erased) is dropped, an erase event deletes everything of the tenant.
 * Every read takes the tenant and never returns another tenant's rows.
 */
export interface FeedbackStore {
  readonly kind: 'file' | 'postgres';
  lastSeq(): Promise<number>;
  apply(batch: readonly SequencedEvent[], now: number): Promise<void>;
  getResponse(tenant: string, responseId: string, now: number): Promise<Stored<ResponseRecord> | undefined>;
  getFeedback(tenant: string, feedbackId: string): Promise<Stored<FeedbackRecord> | undefined>;
  /** In log (stream sequence) order, or reversed: stable across calls, so exports and sidecars line up. */
  scanFeedback(q: FeedbackQuery, now: number): AsyncIterable<FeedbackRow>;
  /** Unexpired responses of a tenant in log order. */
  scanResponses(tenant: string, now: number): AsyncIterable<Stored<ResponseRecord>>;
  counts(tenant: string): Promise<{ responses: number; feedback: number }>;
  /** Distinct stored images of a tenant's prompts. */
  imageRefs(tenant: string): Promise<ObjectRef[]>;
  /** True when any stored response (any tenant) still refers to the object. */
  isObjectReferenced(bucket: string, key: string): Promise<boolean>;
  /** Deletes expired responses and their feedback; returns how many responses went. */
  sweepExpired(now: number): Promise<number>;
  close(): Promise<void>;
}

export function imagesOf(r: ResponseRecord): ObjectRef[] {
  return r.messages.flatMap((m) => m.content.flatMap((p) => (p.type === 'image' ? [p.image] : [])));
}

export function feedbackTouches(f: FeedbackRecord, responseId: string): boolean {
  return f.responseId === responseId || f.preference?.chosenResponseId === responseId || f.preference?.rejectedResponseId === responseId;
}
