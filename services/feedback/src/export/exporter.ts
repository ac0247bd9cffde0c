import { createHash } from 'node:crypto';
import type { AnnotatorSource, ObjectRef } from '../domain/types.js';
import type { FeedbackRow, FeedbackStore } from '../store/store.js';
import { ktoLabel, ktoRow, openAiDpoRow, rlaifVRow, sftRow, spansSidecarRow, trlDpoRow, type ExportFormat, type ImageText, type Row } from './formats.js';
import { imageRefUri, matchesCategories, pairsOf, primaryCategory } from './pairs.js';

/** A validated export request (the service checks tenants, limits and the taxonomy first). */
export interface ExportRequest {
  /** Tenants to read, in order: the caller's own, or others for admin callers. */
  tenants: readonly string[];
  format: ExportFormat;
  /** Feedback createdAt in [from, to) (epoch ms). */
  from?: number;
  to?: number;
  /** Keep rows whose response's model id or model revision is one of these. */
  models?: readonly string[];
  /** Keep rows whose feedback has a span category under one of these paths. */
  categories?: readonly string[];
  source?: AnnotatorSource;
  responseId?: string;
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
}

export type ExportItem = { row: Row } | { summary: ExportSummary };

export interface ExportContext {
  store: FeedbackStore;
  now: number;
  /** Reads an image for IMAGE_MODE_INLINE; absent = inline is refused by the service. */
  readImage?: (ref: ObjectRef) => Promise<Uint8Array>;
}

interface Candidate {
  id: string;
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
  const summary: ExportSummary = { rows: 0, skipped: 0, droppedByBalance: 0 };
  const keep = req.balance ? await balancePlan(req, ctx, summary) : undefined;
  const inline = new Map<string, string>();
  const image: ImageText = (ref) => (req.imageMode === 'inline' ? inline.get(`${ref.bucket}/${ref.key}`)! : imageRefUri(ref));
  for await (const c of candidates(req, ctx, keep ? undefined : summary)) {
    if (keep && !keep.has(c.id)) continue;
    if (req.imageMode === 'inline') await loadInline(c.images, inline, ctx);
    yield { row: c.build(summary.rows) };
    summary.rows++;
    if (req.maxRows > 0 && summary.rows >= req.maxRows) break;
    inline.clear();
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

function inScope(req: ExportRequest, row: FeedbackRow): boolean {
  if (req.models && req.models.length && !req.models.some((m) => m === row.response.model || m === row.response.modelRevision)) return false;
  return matchesCategories(row.feedback.spans.map((s) => s.category), req.categories);
}

function candidatesOf(req: ExportRequest, row: FeedbackRow, tenant: string, image: ImageText): Candidate[] {
  const f = row.feedback;
  if (req.format === 'kto') {
    const label = ktoLabel(f);
    if (label === undefined) return [];
    return [{ id: f.feedbackId, group: String(label), images: imagesOfRow(row.response.messages), build: () => ktoRow(f, row.response, image)! }];
  }
  const pairs = pairsOf(row).filter((p) => req.format !== 'sft' || p.origin !== 'preference');
  return pairs.map((p) => ({
    id: p.id,
    group: primaryCategory(p.spans.map((s) => s.category)),
    images: imagesOfRow(p.response.messages),
    build: (idx: number) => {
      switch (req.format) {
        case 'trl-dpo':
          return trlDpoRow(p, image);
        case 'openai-dpo':
          return openAiDpoRow(p, image);
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

function imagesOfRow(messages: FeedbackRow['response']['messages']): ObjectRef[] {
  return messages.flatMap((m) => m.content.flatMap((p) => (p.type === 'image' ? [p.image] : [])));
}

async function loadInline(images: ObjectRef[], into: Map<string, string>, ctx: ExportContext): Promise<void> {
  for (const img of images) {
    const k = `${img.bucket}/${img.key}`;
    if (into.has(k)) continue;
    const bytes = await ctx.readImage!(img);
    into.set(k, `data:${img.contentType || 'application/octet-stream'};base64,${Buffer.from(bytes).toString('base64')}`);
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
    const ranked = cap === ids.length ? ids : ids.map((id) => ({ id, h: createHash('sha256').update(`${b.seed}:${id}`).digest('hex') })).sort((x, y) => (x.h < y.h ? -1 : 1)).slice(0, cap).map((x) => x.id);
    for (const id of ranked) keep.add(id);
  }
  return keep;
}
