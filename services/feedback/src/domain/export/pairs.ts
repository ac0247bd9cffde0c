import { applySpans, type AlignedSpan } from '../corrections.js';
import { categoryMatches, topLevel } from '../taxonomy.js';
import type { Annotator, ChatMessage, ObjectRef, ResponseRecord } from '../types.js';
import type { FeedbackRow } from '../store.js';

/** One preference pair, whatever feedback it came from. */
export interface Pair {
  /** Row id shared by every pair format and the sidecar: the feedback id (`#correction` added when one feedback gives two pairs). */
  id: string;
  feedbackId: string;
  origin: 'preference' | 'correction' | 'span_correction';
  createdAt: number;
  annotator: Annotator;
  /** The response whose prompt is used (the chosen side for preferences). */
  response: ResponseRecord;
  chosen: string;
  rejected: string;
  /** Aligned corrected spans (span corrections only). */
  spans: AlignedSpan[];
}

/**
 * The pairs one feedback record yields: a preference gives (chosen answer, rejected answer); a
 * correction gives (corrected answer, original answer), with aligned spans when it came from span
 * corrections (RLHF-V style). Ratings and comments give none.
 */
export function pairsOf(row: FeedbackRow): Pair[] {
  const f = row.feedback;
  const out: Pair[] = [];
  const base = { feedbackId: f.feedbackId, createdAt: f.createdAt, annotator: f.annotator };
  if (f.preference && row.chosen && row.rejected) {
    out.push({ ...base, id: f.feedbackId, origin: 'preference', response: row.chosen, chosen: row.chosen.answer, rejected: row.rejected.answer, spans: [] });
  }
  if (f.correction !== '') {
    const id = out.length ? `${f.feedbackId}#correction` : f.feedbackId;
    const aligned = f.spans.length ? applySpans(row.response.answer, f.spans).aligned : [];
    out.push({ ...base, id, origin: f.spans.length ? 'span_correction' : 'correction', response: row.response, chosen: f.correction, rejected: row.response.answer, spans: aligned });
  }
  return out;
}

export function matchesCategories(categories: readonly string[], filters: readonly string[] | undefined): boolean {
  return !filters || filters.length === 0 || categories.some((c) => filters.some((f) => categoryMatches(c, f)));
}

/** The category a row is balanced under: its most frequent top-level span category, else `none`. */
export function primaryCategory(categories: readonly string[]): string {
  if (categories.length === 0) return 'none';
  const n = new Map<string, number>();
  for (const c of categories) n.set(topLevel(c), (n.get(topLevel(c)) ?? 0) + 1);
  return [...n.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0][0];
}

/** Images in the order their parts appear in the prompt (what TRL's processor expects). */
export function imagesInOrder(messages: readonly ChatMessage[]): ObjectRef[] {
  return messages.flatMap((m) => m.content.flatMap((p) => (p.type === 'image' ? [p.image] : [])));
}

/** The contract's reference form: `tessera://<bucket>/<sha256>`. */
export function imageRefUri(img: ObjectRef): string {
  return `tessera://${img.bucket}/${img.key}`;
}

/** The text of the last user message: RLAIF-V's `question`. */
export function lastUserText(messages: readonly ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') return messages[i].content.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join('\n');
  }
  return '';
}
