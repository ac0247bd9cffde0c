import { ErrorCode, TesseraError } from '@tessera/runtime';
import { sha256Hex } from '../content-hash.js';
import type { AnnotatorSource, ObjectRef } from '../types.js';
import type { FeedbackRow, FeedbackStore } from '../store.js';
import { ktoLabel, ktoRow, openAiDpoRow, openAiSftRow, rlaifVRow, sftRow, spansSidecarRow, TEXT_COMPLETION_FORMATS, trlDpoRow, type ExportFormat, type ImageText, type Row } from './formats.js';
import { imageRefUri, imagesInOrder, matchesCategories, pairsOf, primaryCategory } from './pairs.js';

/**
 * Which feedback ListFeedback and Export read (FeedbackFilter in the contract, tenants checked and
 * categories resolved against the taxonomy): one definition for both, applied by `inScope`.
 */
export interface RecordFilter {
  /** Tenants to read, in order: the caller's own, or others for admin callers. */
  tenants: readonly string[];
  /** Feedback createdAt in [from, to) (epoch ms). */
  from?: number;
  to?: number;
  /** Keep rows whose response's model id or model revision is one of these. */
  models?: readonly string[];
  /** Keep rows whose feedback has a span category under one of these paths. */
  categories?: readonly string[];
  source?: AnnotatorSource;
  responseId?: string;
  /** Keep feedback whose rating is on one of these criteria (Rating.key). */
  criteria?: readonly string[];
}

/** A validated export request (the service checks tenants, limits and the taxonomy first). */
export interface ExportRequest extends RecordFilter {
  format: ExportFormat;
  balance?: BalanceOptions;
  imageMode: 'ref' | 'inline';
  /** 0 = no limit. */
  maxRows: number;
}

export interface BalanceOptions {
  /** At most this many rows per primary span category (per label for KTO); 0 = no cap. */
  maxRowsPerCategory: number;
  /** KTO: the majority label keeps at most this multiple of the minority label's rows; 0 = no cap. */
  maxLabelRatio: number;
  /** Which rows a capped group keeps is decided by sha256(seed, row id): deterministic, unbiased. */
  seed: number;
}

export interface ExportSummary {
  rows: number;
  /** Feedback records that cannot form a row in this format (e.g. a thumbs-only record for DPO). */
  skipped: number;
  droppedByBalance: number;
  /** Image parts left out of a text-only format (OpenAI DPO). */
  imagesDropped: number;
  /** Rows skipped because an image could not be read (erased, expired, not the tenant's). */
  rowsMissingImages: number;
  /** Their ids, the first MAX_LISTED_MISSING. */
  missingImageRows: string[];
}

/** How many ids of rows without their image the summary lists (the count is always exact). */
export const MAX_LISTED_MISSING = 1000;
/** Characters of data URLs an inline export keeps between rows by default (~48 MiB of images as base64; TESSERA_FEEDBACK_EXPORT_IMAGE_CACHE). */
export const INLINE_CACHE_CHARS = 64 * 1024 * 1024;

export type ExportItem = { row: Row } | { summary: ExportSummary };

export interface ExportContext {
  store: FeedbackStore;
  now: number;
  /** Reads an image for IMAGE_MODE_INLINE; absent = inline is refused by the service. */
  readImage?: (ref: ObjectRef, tenant: string) => Promise<Uint8Array>;
  /** Characters of data URLs kept between rows (InlineImages); default INLINE_CACHE_CHARS. */
  imageCacheChars?: number;
}

interface Candidate {
  id: string;
  tenant: string;
  group: string;
  build: (idx: number) => Row;
  images: ObjectRef[];
}

/**
 * Streams rows, then one summary. Pair formats (trl-dpo, openai-dpo, rlaif-v, spans-sidecar, sft)
 * share one pair sequence — same filters, same order, same ids — so a spans-sidecar export lines
 * up with a trl-dpo or rlaif-v export by `id`. Balancing takes two passes over the store (the
 * first only counts groups), so memory stays at one id per row, not one row.
 */
export async function* exportRows(req: ExportRequest, ctx: ExportContext): AsyncIterable<ExportItem> {
  const summary: ExportSummary = { rows: 0, skipped: 0, droppedByBalance: 0, imagesDropped: 0, rowsMissingImages: 0, missingImageRows: [] };
  const keep = req.balance ? await balancePlan(req, ctx, summary) : undefined;
  const cache = new InlineImages(ctx.imageCacheChars ?? INLINE_CACHE_CHARS, ctx);
  // The data URLs of the row being built (its tenant's images); `image` reads them by reference.
  let rowImages = new Map<string, string>();
  const image: ImageText = (ref) => (req.imageMode === 'inline' ? rowImages.get(`${ref.bucket}/${ref.key}`)! : imageRefUri(ref));
  for await (const c of candidates(req, ctx, keep ? undefined : summary)) {
    if (keep && !keep.has(c.id)) continue;
    if (req.imageMode === 'inline') {
      const loaded = await cache.load(c.images, c.tenant);
      if (!loaded) {
        // Never a crash: the row is left out, counted and named, and the export goes on.
        summary.rowsMissingImages++;
        if (summary.missingImageRows.length < MAX_LISTED_MISSING) summary.missingImageRows.push(c.id);
        continue;
      }
      rowImages = loaded;
    }
    if (req.format === 'openai-dpo') summary.imagesDropped += c.images.length;
    yield { row: c.build(summary.rows) };
    summary.rows++;
    if (req.maxRows > 0 && summary.rows >= req.maxRows) break;
  }
  yield { summary };

  async function* candidates(r: ExportRequest, x: ExportContext, counts: ExportSummary | undefined): AsyncIterable<Candidate> {
    for (const tenant of r.tenants) {
      for await (const row of x.store.scanFeedback({ tenant, from: r.from, to: r.to, source: r.source, responseId: r.responseId }, x.now)) {
        if (!inScope(r, row)) continue;
        const made = candidatesOf(r, row, tenant, image);
        if (made.length === 0 && counts) counts.skipped++;
        yield* made;
      }
    }
  }
}

/** The filter's conditions the store scan does not apply itself (models, criteria, categories). */
export function inScope(req: RecordFilter, row: FeedbackRow): boolean {
  if (req.models && req.models.length && !req.models.some((m) => m === row.response.model || m === row.response.modelRevision)) return false;
  if (req.criteria && req.criteria.length && !(row.feedback.rating && req.criteria.includes(row.feedback.rating.key))) return false;
  return matchesCategories(row.feedback.spans.map((s) => s.category), req.categories);
}

function candidatesOf(req: ExportRequest, row: FeedbackRow, tenant: string, image: ImageText): Candidate[] {
  const f = row.feedback;
  // A text completion has no messages for a chat-only format: skipped (and counted as such).
  if (row.response.prompt !== undefined && !TEXT_COMPLETION_FORMATS.has(req.format)) return [];
  if (req.format === 'kto') {
    const label = ktoLabel(f);
    if (label === undefined) return [];
    return [{ id: f.feedbackId, tenant, group: String(label), images: imagesInOrder(row.response.messages), build: () => ktoRow(f, row.response, image)! }];
  }
  const supervised = req.format === 'sft' || req.format === 'openai-sft';
  const pairs = pairsOf(row).filter((p) => !supervised || p.origin !== 'preference');
  return pairs.map((p) => ({
    id: p.id,
    tenant,
    group: primaryCategory(p.spans.map((s) => s.category)),
    images: imagesInOrder(p.response.messages),
    build: (idx: number) => {
      switch (req.format) {
        case 'trl-dpo':
          return trlDpoRow(p, image);
        case 'openai-dpo':
          return openAiDpoRow(p);
        case 'openai-sft':
          return openAiSftRow(p, image);
        case 'rlaif-v':
          return rlaifVRow(p, idx, tenant, image, req.imageMode === 'inline');
        case 'sft':
          return sftRow(p, image);
        default:
          return spansSidecarRow(p);
      }
    },
  }));
}

/**
 * Data URLs of the images an inline export read last, least recently used out first, bounded in
 * characters. Rows repeat images: every preference, rating and correction of a prompt carries its
 * image, and each read is an object-store round trip, so bench/feedback's OpenAI SFT export (10,000
 * rows over 100 responses of one image) ran at 644 rows/s reading the image once per row.
 */
export class InlineImages {
  private readonly urls = new Map<string, string>();
  private chars = 0;

  constructor(
    private readonly maxChars: number,
    private readonly ctx: Pick<ExportContext, 'readImage'>,
  ) {}

  /** A row's images as data URLs by `bucket/key`; undefined when one is gone (NOT_FOUND in the tenant's scope). */
  async load(images: ObjectRef[], tenant: string): Promise<Map<string, string> | undefined> {
    const row = new Map<string, string>();
    for (const img of images) {
      const ref = `${img.bucket}/${img.key}`;
      // Object names are per tenant, reads are scoped by tenant: a cached image serves its own tenant only.
      const key = `${tenant}\u0000${ref}`;
      let url = this.urls.get(key);
      if (url !== undefined) {
        this.urls.delete(key);
      } else {
        let bytes: Uint8Array;
        try {
          bytes = await this.ctx.readImage!(img, tenant);
        } catch (err) {
          if (err instanceof TesseraError && err.code === ErrorCode.NOT_FOUND) return undefined;
          throw err;
        }
        url = `data:${img.contentType || 'application/octet-stream'};base64,${Buffer.from(bytes).toString('base64')}`;
        this.chars += url.length;
      }
      this.urls.set(key, url);
      row.set(ref, url);
    }
    // Oldest first; the row keeps its own copies, so even its images may go when they alone exceed the bound.
    for (const [key, url] of this.urls) {
      if (this.chars <= this.maxChars) break;
      this.urls.delete(key);
      this.chars -= url.length;
    }
    return row;
  }

  /** Cached characters (for tests). */
  get size(): number {
    return this.chars;
  }
}

/** First pass: group ids, then keep per group the rows with the smallest sha256(seed:id). */
async function balancePlan(req: ExportRequest, ctx: ExportContext, summary: ExportSummary): Promise<Set<string>> {
  const groups = new Map<string, string[]>();
  const noImage: ImageText = () => '';
  for (const tenant of req.tenants) {
    for await (const row of ctx.store.scanFeedback({ tenant, from: req.from, to: req.to, source: req.source, responseId: req.responseId }, ctx.now)) {
      if (!inScope(req, row)) continue;
      const made = candidatesOf(req, row, tenant, noImage);
      if (made.length === 0) summary.skipped++;
      for (const c of made) {
        let g = groups.get(c.group);
        if (!g) groups.set(c.group, (g = []));
        g.push(c.id);
      }
    }
  }
  const b = req.balance!;
  const caps = new Map<string, number>();
  for (const [k, ids] of groups) caps.set(k, b.maxRowsPerCategory > 0 ? Math.min(ids.length, b.maxRowsPerCategory) : ids.length);
  if (req.format === 'kto' && b.maxLabelRatio > 0 && caps.size === 2) {
    const [a, c] = [...caps.entries()].sort((x, y) => x[1] - y[1]);
    caps.set(c[0], Math.min(c[1], Math.floor(a[1] * b.maxLabelRatio)));
  }
  const keep = new Set<string>();
  for (const [k, ids] of groups) {
    const cap = caps.get(k)!;
    summary.droppedByBalance += ids.length - cap;
    const ranked = cap === ids.length ? ids : ids.map((id) => ({ id, h: sha256Hex(`${b.seed}:${id}`) })).sort((x, y) => (x.h < y.h ? -1 : 1)).slice(0, cap).map((x) => x.id);
    for (const id of ranked) keep.add(id);
  }
  return keep;
}
