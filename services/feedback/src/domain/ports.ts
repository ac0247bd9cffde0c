/**
 * What the feedback domain needs from the outside, defined here and implemented by adapters/
 * (the JetStream log and projector, the object store): the domain never imports an adapter.
 */
import type { LogEvent } from './events.js';
import type { ObjectRef } from './types.js';

/** The durable event log (adapters/log/feedback-log.ts on JetStream). */
export interface EventLog {
  /** Resolves once the log acknowledged the write; `duplicate` = the same id was written before. */
  append(e: LogEvent): Promise<{ seq: number; duplicate: boolean }>;
  lastSeq(): Promise<number>;
  /** Removes a tenant's events before `beforeSeq`; the number removed. */
  purgeTenant(tenant: string, beforeSeq: number): Promise<number>;
}

/** How far the store has applied the log (adapters/log/projector.ts). */
export interface Projection {
  readonly appliedSeq: number;
  /** True once `seq` is applied, false when `timeoutMs` passed first. */
  waitFor(seq: number, timeoutMs: number): Promise<boolean>;
}

/** Image bytes of a tenant's records: the image store's tenant-scoped objects (the gateway wrote them). */
export interface ImageObjects {
  /** The bytes; NOT_FOUND when erased, expired or not this tenant's. */
  read(ref: ObjectRef, tenant: string): Promise<Uint8Array>;
  delete(ref: ObjectRef, tenant: string): Promise<boolean>;
}
