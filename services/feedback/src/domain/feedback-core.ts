import { randomUUID } from 'node:crypto';
import { ErrorCode, TesseraError, invalidArgument } from '@tessera/runtime';
import { checkId, checkTenant } from './checks.js';
import type { RecordResponseInput, SubmitFeedbackInput } from './input.js';
import type { FeedbackLimits } from './limits.js';
import { Taxonomy } from './taxonomy.js';
import type { FeedbackRecord, ObjectRef, ResponseRecord, Stored } from './types.js';
import { unknownResponse, validateFeedback, validateFeedbackHead } from './validate-feedback.js';
import { validateResponse } from './validate-response.js';
import { exportRows, inScope, type BalanceOptions, type ExportItem, type RecordFilter } from './export/exporter.js';
import type { ExportFormat } from './export/formats.js';
import { reviewQueue, type ReviewItem, type ReviewReason, type UncertaintyMeasure } from './review/review-queue.js';
import type { EventLog, ImageObjects, Projection } from './ports.js';
import type { FeedbackStore } from './store.js';

export interface CoreOptions {
  limits: FeedbackLimits;
  /** How long a call waits for the projector to catch up with the log (read-your-writes). */
  catchUpMs: number;
  /** Largest max_rows an export may ask for (contract: 1,000,000). */
  maxExportRows: number;
  /** Characters of image data URLs an inline export keeps between rows (TESSERA_FEEDBACK_EXPORT_IMAGE_CACHE); default INLINE_CACHE_CHARS. */
  exportImageCacheChars?: number;
  /** Tenants allowed to read or erase other tenants' data (the contract's "admin role"). */
  adminTenants: readonly string[];
  reviewMeasure: UncertaintyMeasure;
  /** Delete a tenant's image objects on erasure (tenant-scoped: no other tenant reads them). */
  eraseObjects: boolean;
  now?: () => number;
  /** Object store access for erasing images and inline exports; unset = neither. */
  objects?: ImageObjects;
}

/** Filters shared by ListFeedback and Export (FeedbackFilter in the contract), before resolution. */
export type FilterInput = Partial<RecordFilter> & {
  /** Export with no source: also AI-annotated feedback. */
  includeAi?: boolean;
};

export interface ResolvedFilter extends RecordFilter {
  tenants: string[];
  categories?: string[];
  includeAi?: boolean;
}

/**
 * The feedback service's behaviour, independent of transport: validation → append to the log
 * (acknowledged by JetStream) → the projector makes it queryable. Every method takes the caller's
 * tenant and touches nothing else unless the caller is an admin tenant.
 */
export class FeedbackCore {
  readonly taxonomy: Taxonomy;
  private readonly now: () => number;

  constructor(
    readonly log: EventLog,
    readonly projector: Projection,
    readonly store: FeedbackStore,
    readonly opts: CoreOptions,
  ) {
    this.taxonomy = new Taxonomy(opts.limits.extraCategories);
    this.now = opts.now ?? Date.now;
  }

  async recordResponse(tenant: string | undefined, input: RecordResponseInput): Promise<{ responseId: string; created: boolean }> {
    const record = validateResponse(tenant, input, this.opts.limits, this.now());
    const existing = await this.store.getResponse(record.tenant, record.responseId, this.now());
    if (existing) return { responseId: record.responseId, created: this.sameContent('response', existing, record) };
    const ack = await this.log.append({ v: 1, type: 'response', record });
    if (ack.duplicate) {
      // A retry inside the dedupe window, or a concurrent write of the same id: compare with what won.
      await this.projector.waitFor(ack.seq, this.opts.catchUpMs);
      const won = await this.store.getResponse(record.tenant, record.responseId, this.now());
      if (won) this.sameContent('response', won, record);
      return { responseId: record.responseId, created: false };
    }
    return { responseId: record.responseId, created: true };
  }

  async submitFeedback(tenant: string | undefined, input: SubmitFeedbackInput): Promise<{ record: FeedbackRecord; duplicate: boolean }> {
    const head = validateFeedbackHead(tenant, input, this.opts.limits);
    const responses = new Map<string, ResponseRecord>();
    for (const [i, id] of head.lookups.entries()) {
      const r = await this.lookup(head.tenant, id);
      if (!r) throw unknownResponse(i === 0 ? 'feedback.response_id' : 'feedback.preference', head.tenant, id);
      responses.set(id, r);
    }
    const record = validateFeedback(head, input, { responses, limits: this.opts.limits, taxonomy: this.taxonomy, now: this.now() });
    const existing = await this.store.getFeedback(head.tenant, head.feedbackId);
    if (existing) return (this.sameContent('feedback', existing, record), { record: existing, duplicate: true });
    const ack = await this.log.append({ v: 1, type: 'feedback', record });
    if (ack.duplicate) {
      await this.projector.waitFor(ack.seq, this.opts.catchUpMs);
      const won = await this.store.getFeedback(head.tenant, head.feedbackId);
      if (won) return (this.sameContent('feedback', won, record), { record: won, duplicate: true });
      return { record, duplicate: true };
    }
    return { record, duplicate: false };
  }

  private sameContent(what: 'response' | 'feedback', stored: { contentHash: string }, incoming: { contentHash: string }): false {
    if (stored.contentHash !== incoming.contentHash) {
      const field = what === 'response' ? 'response.response_id' : 'feedback.feedback_id';
      throw new TesseraError(ErrorCode.ALREADY_EXISTS, `${field} was already used for a ${what} with different content: ids are idempotency keys, use a new one for new content`, { field });
    }
    return false;
  }

  /** A response written a moment ago (here or on another replica) may not be projected yet: catch up once. */
  private async lookup(tenant: string, responseId: string): Promise<Stored<ResponseRecord> | undefined> {
    const hit = await this.store.getResponse(tenant, responseId, this.now());
    if (hit) return hit;
    await this.settle();
    return this.store.getResponse(tenant, responseId, this.now());
  }

  /** Waits until everything the stream acknowledged so far is in the store. */
  async settle(): Promise<void> {
    const last = await this.log.lastSeq();
    if (last > this.projector.appliedSeq) await this.projector.waitFor(last, this.opts.catchUpMs);
  }

  async getResponse(tenant: string | undefined, responseId: string | undefined): Promise<{ response: Stored<ResponseRecord>; feedback: Stored<FeedbackRecord>[] }> {
    const t = checkTenant(tenant);
    const id = checkId('response_id', responseId, this.opts.limits.maxResponseIdLength);
    // Settle first, not only on a miss: the response may be in the store while feedback acknowledged a
    // moment ago is not yet (submit returns on the stream's ack), and a caller reading back what it just
    // wrote must see it (CI caught the gap once: the response came back with no feedback).
    await this.settle();
    const response = await this.store.getResponse(t, id, this.now());
    if (!response) throw unknownResponse('response_id', t, id);
    const feedback: Stored<FeedbackRecord>[] = [];
    for await (const row of this.store.scanFeedback({ tenant: t, responseId: id }, this.now())) feedback.push(row.feedback);
    return { response, feedback };
  }

  /** Tenants a filter may read: the caller's own by default; others only for admin callers. */
  resolveFilter(caller: string | undefined, f: FilterInput): ResolvedFilter {
    const me = checkTenant(caller);
    const tenants = f.tenants && f.tenants.length ? [...new Set(f.tenants)] : [me];
    for (const t of tenants) {
      checkTenant(t);
      if (t !== me && !this.opts.adminTenants.includes(me)) {
        throw new TesseraError(ErrorCode.PERMISSION_DENIED, `tenant "${me}" may not read tenant "${t}": only admin tenants (TESSERA_FEEDBACK_ADMIN_TENANTS) read other tenants`, { field: 'filter.tenants' });
      }
    }
    if (f.from !== undefined && f.to !== undefined && f.from >= f.to) throw invalidArgument('filter.end_time', 'filter.end_time must be after filter.start_time');
    const categories = f.categories?.map((c, i) => {
      const r = this.taxonomy.resolve(c);
      if (!r) throw invalidArgument(`filter.categories[${i}]`, `filter.categories[${i}] "${c}" is not in the taxonomy: ${this.taxonomy.list().join(', ')}`);
      return r;
    });
    return { ...f, tenants, categories };
  }

  async listFeedback(caller: string | undefined, filter: FilterInput, pageSize: number, pageToken: string): Promise<{ feedback: Stored<FeedbackRecord>[]; nextPageToken: string }> {
    const f = this.resolveFilter(caller, filter);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 500) throw invalidArgument('page_size', `page_size = ${pageSize} must be 1..500`, '1..500');
    const cursor = decodeToken(pageToken);
    await this.settle();
    // Newest first across tenants: merge by seq (one stream, so seq orders all tenants).
    const rows: Stored<FeedbackRecord>[] = [];
    for (const tenant of f.tenants) {
      for await (const row of this.store.scanFeedback({ tenant, from: f.from, to: f.to, source: f.source, responseId: f.responseId, beforeSeq: cursor, newestFirst: true }, this.now())) {
        // The same conditions as Export (criteria included: ListFeedback used to ignore them).
        if (!inScope(f, row)) continue;
        rows.push(row.feedback);
        if (f.tenants.length === 1 && rows.length > pageSize) break;
      }
    }
    rows.sort((a, b) => b.seq - a.seq);
    const page = rows.slice(0, pageSize);
    return { feedback: page, nextPageToken: rows.length > pageSize ? encodeToken(page[page.length - 1].seq) : '' };
  }

  async *export(caller: string | undefined, req: { format: ExportFormat; filter: FilterInput; balance?: BalanceOptions; imageMode: 'ref' | 'inline'; maxRows: number }): AsyncIterable<ExportItem> {
    const f = this.resolveFilter(caller, req.filter);
    if (!Number.isInteger(req.maxRows) || req.maxRows < 0) throw invalidArgument('max_rows', `max_rows = ${req.maxRows} must be 0..${this.opts.maxExportRows}`);
    if (req.maxRows > this.opts.maxExportRows) throw new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, `max_rows = ${req.maxRows} is over the limit of ${this.opts.maxExportRows} rows per export`, { field: 'max_rows', limit: `<= ${this.opts.maxExportRows}` });
    const needsImages = req.imageMode === 'inline' || req.format === 'openai-sft';
    if (needsImages && !this.opts.objects) throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `${req.format === 'openai-sft' ? 'format OPENAI_SFT (data URLs)' : 'image_mode INLINE'} needs the object store, which this instance has no access to`, { field: 'image_mode' });
    await this.settle();
    const objects = this.opts.objects;
    // Model-judge suggestions are not training data until a person accepts them: human only by default.
    const source = f.source ?? (f.includeAi ? undefined : 'human');
    yield* exportRows({ ...f, source, format: req.format, balance: req.balance, imageMode: needsImages ? 'inline' : req.imageMode, maxRows: req.maxRows }, { store: this.store, now: this.now(), readImage: objects ? (ref, tenant) => objects.read(ref, tenant) : undefined, ...(this.opts.exportImageCacheChars !== undefined && { imageCacheChars: this.opts.exportImageCacheChars }) });
  }

  async reviewQueue(caller: string | undefined, req: { reasons?: ReviewReason[]; models?: string[]; pageSize: number; pageToken: string }): Promise<{ items: ReviewItem[]; nextPageToken: string }> {
    const t = checkTenant(caller);
    if (!Number.isInteger(req.pageSize) || req.pageSize < 1 || req.pageSize > 200) throw invalidArgument('page_size', `page_size = ${req.pageSize} must be 1..200`, '1..200');
    const offset = decodeToken(req.pageToken) ?? 0;
    await this.settle();
    const { items, total } = await reviewQueue(this.store, { tenant: t, reasons: req.reasons, models: req.models, measure: this.opts.reviewMeasure, offset, limit: req.pageSize }, this.now());
    return { items, nextPageToken: offset + items.length < total ? encodeToken(offset + items.length) : '' };
  }

  /**
   * Erasure: an `erase` marker goes to the log (so every projector, now or replaying later,
   * deletes the tenant), this projector applies it, the tenant's events before the marker are
   * purged from the stream, and the tenant's image objects are deleted (tenant-scoped, so no other
   * tenant's record can refer to them).
   */
  async eraseTenant(caller: string | undefined, tenant: string | undefined, confirm: string | undefined): Promise<{ responses: number; feedback: number; images: number; purgedEvents: number }> {
    const me = checkTenant(caller);
    const t = checkTenant(tenant);
    if (confirm !== t) throw invalidArgument('confirm', `confirm must equal tenant ("${t}") to erase it`);
    if (t !== me && !this.opts.adminTenants.includes(me)) throw new TesseraError(ErrorCode.PERMISSION_DENIED, `tenant "${me}" may not erase tenant "${t}": only the tenant itself or an admin tenant may`, { field: 'tenant' });
    await this.settle();
    const before = await this.store.counts(t);
    const images = await this.store.imageRefs(t);
    const ack = await this.log.append({ v: 1, type: 'erase', tenant: t, requestId: randomUUID(), requestedAt: this.now() });
    if (!(await this.projector.waitFor(ack.seq, this.opts.catchUpMs))) {
      throw new TesseraError(ErrorCode.UNAVAILABLE, `erasure of "${t}" is logged (seq ${ack.seq}) but the store did not apply it within ${this.opts.catchUpMs} ms; it will, retry to confirm`, { retryAfterMs: 1000 });
    }
    const purgedEvents = await this.log.purgeTenant(t, ack.seq);
    let deleted = 0;
    if (this.opts.eraseObjects && this.opts.objects) {
      for (const img of images) if (await this.opts.objects.delete(img, t)) deleted++;
    }
    return { responses: before.responses, feedback: before.feedback, images: deleted, purgedEvents };
  }
}

function encodeToken(n: number): string {
  return Buffer.from(`v1:${n}`).toString('base64url');
}

function decodeToken(token: string): number | undefined {
  if (!token) return undefined;
  const m = /^v1:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!m) throw invalidArgument('page_token', 'page_token is not a token this service issued');
  return Number(m[1]);
}
