import type { FeedbackRecord, ResponseRecord } from './types.js';

/**
 * What the JetStream log `TESSERA_FEEDBACK` holds: one JSON event per message. `dedupeId` is the
 * Nats-Msg-Id (server dedupe inside the duplicate window) and, for responses and feedback, also
 * the key the projector inserts-if-absent on, so a retry after the window is still a no-op.
 */
export type LogEvent =
  | { v: 1; type: 'response'; record: ResponseRecord }
  | { v: 1; type: 'feedback'; record: FeedbackRecord }
  | { v: 1; type: 'erase'; tenant: string; requestId: string; requestedAt: number };

export interface SequencedEvent {
  /** JetStream stream sequence: the projector applies each at most once, in order. */
  seq: number;
  event: LogEvent;
  /** The event's JSON exactly as it sits in the stream, when at hand (saves a re-serialisation). */
  json?: string;
}

/** The stream's subject space (deploy/nats/stream-feedback.json uses the same). */
export const SUBJECT_PREFIX = 'tessera.feedback.events';
export const STREAM_SUBJECTS = [`${SUBJECT_PREFIX}.>`];

/**
 * Tenant data lives under `…events.<tenant>.response|feedback`, so erasure purges it with the
 * filter `…events.<tenant>.>`; the erase marker is `…events.<tenant>` (one token shorter), which
 * that filter does not match, so the marker survives the purge for projectors that replay later.
 */
export function eventSubject(e: LogEvent): string {
  if (e.type === 'erase') return `${SUBJECT_PREFIX}.${tenantToken(e.tenant)}`;
  return `${SUBJECT_PREFIX}.${tenantToken(e.record.tenant)}.${e.type}`;
}

export function tenantLogFilter(tenant: string): string {
  return `${SUBJECT_PREFIX}.${tenantToken(tenant)}.>`;
}

/**
 * A tenant as one subject token: as is when it is [A-Za-z0-9_-]{1,64} (readable in `nats stream
 * subjects`), else `=` + base64url(UTF-8) — `=` cannot start a plain token, so the two never collide.
 */
export function tenantToken(tenant: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(tenant) ? tenant : `=${Buffer.from(tenant, 'utf8').toString('base64url')}`;
}

export function dedupeId(e: LogEvent): string {
  switch (e.type) {
    case 'response':
      return `r:${e.record.tenant}:${e.record.responseId}`;
    case 'feedback':
      return `f:${e.record.tenant}:${e.record.feedbackId}`;
    case 'erase':
      return `e:${e.tenant}:${e.requestId}`;
  }
}

export function encodeEvent(e: LogEvent): Uint8Array {
  return Buffer.from(JSON.stringify(e));
}

export function decodeEvent(data: Uint8Array): LogEvent {
  return parseEvent(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
}

export function parseEvent(json: string): LogEvent {
  const e = JSON.parse(json) as LogEvent;
  if (e?.v !== 1 || !['response', 'feedback', 'erase'].includes(e.type)) throw new Error(`unknown feedback log event (v=${String(e?.v)}, type=${String((e as { type?: unknown })?.type)})`);
  return e;
}
