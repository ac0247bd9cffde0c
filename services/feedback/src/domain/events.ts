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
}

export const SUBJECT_PREFIX = 'tessera.feedback.v1';

/** Tenant data lives under `…log.<tenant>.>` so erasure can purge it by subject filter. */
export function eventSubject(e: LogEvent): string {
  if (e.type === 'erase') return `${SUBJECT_PREFIX}.erase.${e.tenant}`;
  return `${SUBJECT_PREFIX}.log.${e.record.tenant}.${e.type}`;
}

export function tenantLogFilter(tenant: string): string {
  return `${SUBJECT_PREFIX}.log.${tenant}.>`;
}

export const STREAM_SUBJECTS = [`${SUBJECT_PREFIX}.log.>`, `${SUBJECT_PREFIX}.erase.>`];

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
  const e = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as LogEvent;
  if (e?.v !== 1 || !['response', 'feedback', 'erase'].includes(e.type)) throw new Error(`unknown feedback log event (v=${String(e?.v)}, type=${String((e as { type?: unknown })?.type)})`);
  return e;
}
