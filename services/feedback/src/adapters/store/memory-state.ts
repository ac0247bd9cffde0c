import type { LogEvent } from '../../domain/events.js';
import type { FeedbackRecord, ResponseRecord, Stored } from '../../domain/types.js';

/** Per-tenant maps; Map keeps insertion order, which is stream sequence order. */
export interface TenantState {
  responses: Map<string, Stored<ResponseRecord>>;
  feedback: Map<string, Stored<FeedbackRecord>>;
}

export interface StateSnapshot {
  lastSeq: number;
  responses: Stored<ResponseRecord>[];
  feedback: Stored<FeedbackRecord>[];
}

/** The in-memory projection behind FileStore. `apply` holds the projection rules (see store.ts). */
export class MemoryState {
  lastSeq = 0;
  readonly tenants = new Map<string, TenantState>();

  tenant(t: string): TenantState | undefined {
    return this.tenants.get(t);
  }

  private ensure(t: string): TenantState {
    let s = this.tenants.get(t);
    if (!s) this.tenants.set(t, (s = { responses: new Map(), feedback: new Map() }));
    return s;
  }

  /** Returns false when the event was already applied (seq at or below lastSeq) or had no effect. */
  apply(seq: number, e: LogEvent, now: number): boolean {
    if (seq <= this.lastSeq) return false;
    this.lastSeq = seq;
    if (e.type === 'erase') return this.tenants.delete(e.tenant);
    if (e.type === 'response') {
      const r = e.record;
      if (r.expiresAt <= now) return false;
      const s = this.ensure(r.tenant);
      if (s.responses.has(r.responseId)) return false;
      s.responses.set(r.responseId, { ...r, seq });
      return true;
    }
    const f = e.record;
    const s = this.tenants.get(f.tenant);
    if (!s || s.feedback.has(f.feedbackId) || !referencesPresent(s, f)) return false;
    s.feedback.set(f.feedbackId, { ...f, seq });
    return true;
  }

  sweepExpired(now: number): number {
    let n = 0;
    for (const s of this.tenants.values()) {
      let removed = 0;
      for (const [id, r] of s.responses) if (r.expiresAt <= now) (s.responses.delete(id), removed++);
      n += removed;
      if (removed === 0) continue;
      for (const [id, f] of s.feedback) if (!referencesPresent(s, f)) s.feedback.delete(id);
    }
    return n;
  }

  snapshot(): StateSnapshot {
    const responses: Stored<ResponseRecord>[] = [];
    const feedback: Stored<FeedbackRecord>[] = [];
    for (const s of this.tenants.values()) {
      responses.push(...s.responses.values());
      feedback.push(...s.feedback.values());
    }
    return { lastSeq: this.lastSeq, responses, feedback };
  }

  static fromSnapshot(snap: StateSnapshot): MemoryState {
    const m = new MemoryState();
    for (const r of snap.responses) m.ensure(r.tenant).responses.set(r.responseId, r);
    for (const f of snap.feedback) m.ensure(f.tenant).feedback.set(f.feedbackId, f);
    m.lastSeq = snap.lastSeq;
    return m;
  }
}

function referencesPresent(s: TenantState, f: FeedbackRecord): boolean {
  if (!s.responses.has(f.responseId)) return false;
  return !f.preference || (s.responses.has(f.preference.chosenResponseId) && s.responses.has(f.preference.rejectedResponseId));
}
