import { topLevel } from '../taxonomy.js';
import type { FeedbackRecord, ResponseRecord, Stored } from '../types.js';
import { ktoLabel } from '../export/formats.js';
import type { FeedbackStore } from '../store.js';

export type ReviewReason = 'low_confidence' | 'thumbs_down' | 'ai_flagged' | 'disagreement';
/** `surprisal`: mean token −logprob (the entropy proxy the decoder's summary allows);
 *  `span`: the least confident stretch (lowest span mean logprob or the minimum token logprob). */
export type UncertaintyMeasure = 'surprisal' | 'span';

export interface ReviewItem {
  response: Stored<ResponseRecord>;
  reasons: ReviewReason[];
  /** uncertainty (nats) + 1 per reason; higher = sooner. */
  priority: number;
  uncertainty: number;
  feedbackCount: number;
  /** The category bucket the item was interleaved from (`unlabeled` when no AI category). */
  bucket: string;
}

export interface ReviewRequest {
  tenant: string;
  reasons?: readonly ReviewReason[];
  models?: readonly string[];
  measure: UncertaintyMeasure;
  offset: number;
  limit: number;
}

export function uncertaintyOf(r: ResponseRecord, measure: UncertaintyMeasure): number {
  const c = r.confidence;
  if (c.tokenCount === 0 && c.spans.length === 0) return 0;
  if (measure === 'surprisal') return -c.meanLogprob;
  const worst = Math.min(c.minLogprob, ...c.spans.map((s) => s.meanLogprob));
  return -worst;
}

/**
 * Responses that most need a human look. A response qualifies with at least one reason:
 * low_confidence (the decoder reported low-confidence tokens or spans), thumbs_down (a negative
 * rating), ai_flagged (an AI annotator corrected it or rated it down), disagreement (positive and
 * negative ratings). Responses a human already corrected are done and leave the queue.
 * Order — category balance first, then priority: items are bucketed by the top-level category of
 * their AI span suggestions (rarest by human corrections so far; `unlabeled` without), buckets
 * take turns starting with the category humans have corrected least, and inside a bucket items go
 * by priority. So annotator time goes to uncertain answers in under-represented categories.
 */
export async function reviewQueue(store: FeedbackStore, req: ReviewRequest, now: number): Promise<{ items: ReviewItem[]; total: number }> {
  const byResponse = new Map<string, Stored<FeedbackRecord>[]>();
  const humanCounts = new Map<string, number>();
  for await (const row of store.scanFeedback({ tenant: req.tenant }, now)) {
    const f = row.feedback;
    let list = byResponse.get(f.responseId);
    if (!list) byResponse.set(f.responseId, (list = []));
    list.push(f);
    if (f.annotator.source === 'human') for (const s of f.spans) humanCounts.set(topLevel(s.category), (humanCounts.get(topLevel(s.category)) ?? 0) + 1);
  }
  const buckets = new Map<string, ReviewItem[]>();
  for await (const r of store.scanResponses(req.tenant, now)) {
    if (req.models?.length && !req.models.some((m) => m === r.model || m === r.modelRevision)) continue;
    const fb = byResponse.get(r.responseId) ?? [];
    if (fb.some((f) => f.annotator.source === 'human' && f.correction !== '')) continue;
    const labels = fb.map(ktoLabel).filter((l): l is boolean => l !== undefined);
    const aiCats = new Set(fb.filter((f) => f.annotator.source === 'ai').flatMap((f) => f.spans.map((s) => topLevel(s.category))));
    const reasons: ReviewReason[] = [];
    if (r.confidence.lowConfidenceTokens > 0 || r.confidence.spans.length > 0) reasons.push('low_confidence');
    if (labels.includes(false)) reasons.push('thumbs_down');
    if (fb.some((f) => f.annotator.source === 'ai' && (f.correction !== '' || ktoLabel(f) === false))) reasons.push('ai_flagged');
    if (labels.includes(false) && labels.includes(true)) reasons.push('disagreement');
    if (reasons.length === 0) continue;
    if (req.reasons?.length && !reasons.some((x) => req.reasons!.includes(x))) continue;
    const uncertainty = uncertaintyOf(r, req.measure);
    const cats = [...aiCats].sort();
    const bucket = cats.length ? cats.reduce((a, b) => ((humanCounts.get(b) ?? 0) < (humanCounts.get(a) ?? 0) ? b : a)) : 'unlabeled';
    const item: ReviewItem = { response: r, reasons, uncertainty, priority: uncertainty + reasons.length, feedbackCount: fb.length, bucket };
    let b = buckets.get(bucket);
    if (!b) buckets.set(bucket, (b = []));
    b.push(item);
  }
  for (const b of buckets.values()) b.sort((x, y) => y.priority - x.priority || x.response.seq - y.response.seq);
  const order = [...buckets.keys()].sort((a, b) => (humanCounts.get(a) ?? 0) - (humanCounts.get(b) ?? 0) || Number(a === 'unlabeled') - Number(b === 'unlabeled') || a.localeCompare(b));
  const all: ReviewItem[] = [];
  const longest = Math.max(0, ...[...buckets.values()].map((b) => b.length));
  for (let i = 0; i < longest; i++) for (const k of order) if (i < buckets.get(k)!.length) all.push(buckets.get(k)![i]);
  return { items: all.slice(req.offset, req.offset + req.limit), total: all.length };
}
