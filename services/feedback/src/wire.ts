import { commonV1, feedbackV1, roleFromName, roleName } from '@tessera/contracts';
import type { FilterInput } from './domain/feedback-core.js';
import type { RecordResponseInput, SubmitFeedbackInput } from './domain/input.js';
import type { FeedbackRecord, ResponseRecord } from './domain/types.js';
import type { ExportFormat } from './domain/export/formats.js';
import type { ReviewReason } from './domain/review/review-queue.js';

/** tessera.feedback.v1 wire types ↔ domain shapes. The only file that knows both. */


export function responseIn(r: feedbackV1.ResponseRecord | undefined): RecordResponseInput {
  if (!r) return {};
  return {
    responseId: r.responseId,
    model: r.model,
    modelRevision: r.modelRevision,
    messages: r.messages.map((m) => ({
      role: roleName(m.role) ?? '',
      content: m.content.map((p) => (p.part?.$case === 'image' ? { image: p.part.image } : { text: p.part?.$case === 'text' ? p.part.text : '' })),
    })),
    sources: r.sources.map((s) => ({ index: s.index, collection: s.collection, id: s.id, text: s.text, relevance: s.relevance, metadata: s.metadata })),
    sampling: r.sampling ? (commonV1.SamplingParams.toJSON(r.sampling) as Record<string, unknown>) : {},
    answer: r.answer,
    finishReason: r.finishReason ? commonV1.finishReasonToJSON(r.finishReason) : '',
    usage: r.usage,
    confidence: r.confidence,
    collection: r.collection,
    ...(r.prompt !== undefined && { prompt: r.prompt }),
  };
}

export function responseOut(r: ResponseRecord): feedbackV1.ResponseRecord {
  return {
    responseId: r.responseId,
    tenant: r.tenant,
    createdAt: new Date(r.recordedAt),
    model: r.model,
    modelRevision: r.modelRevision,
    messages: r.messages.map((m) => ({
      role: roleFromName(m.role)!,
      content: m.content.map((p) => ({ part: p.type === 'text' ? { $case: 'text' as const, text: p.text } : { $case: 'image' as const, image: p.image } })),
    })),
    sources: r.sources.map((s) => ({ ...s })),
    sampling: commonV1.SamplingParams.fromJSON(r.sampling),
    answer: r.answer,
    finishReason: r.finishReason ? commonV1.finishReasonFromJSON(r.finishReason) : commonV1.FinishReason.UNSPECIFIED,
    usage: r.usage,
    confidence: r.confidence,
    collection: r.collection,
    ...(r.prompt !== undefined && { prompt: r.prompt }),
  };
}

const SOURCE_IN: Record<number, string> = { [feedbackV1.FeedbackSource.HUMAN]: 'human', [feedbackV1.FeedbackSource.AI]: 'ai' };
const annotatorIn = (a: feedbackV1.Annotator | undefined) => (a ? { id: a.id, source: SOURCE_IN[a.source] ?? '' } : undefined);
const annotatorOut = (a: { id: string; source: 'human' | 'ai' }): feedbackV1.Annotator => ({ id: a.id, source: a.source === 'ai' ? feedbackV1.FeedbackSource.AI : feedbackV1.FeedbackSource.HUMAN });

export function feedbackIn(f: feedbackV1.Feedback | undefined): SubmitFeedbackInput {
  if (!f) return {};
  const v = f.rating?.value;
  return {
    feedbackId: f.feedbackId,
    responseId: f.responseId,
    rating: f.rating
      ? { key: f.rating.key, thumbs: v?.$case === 'thumbs' ? (v.thumbs === feedbackV1.Thumbs.UP ? 'up' : v.thumbs === feedbackV1.Thumbs.DOWN ? 'down' : 'unspecified') : undefined, score: v?.$case === 'score' ? v.score : undefined }
      : undefined,
    comment: f.comment,
    correction: f.correction,
    spans: f.spans.map((s) => ({ start: s.start, end: s.end, original: s.original, replacement: s.replacement, category: s.category, annotator: annotatorIn(s.annotator), confidence: s.confidence })),
    preference: f.preference,
    annotator: annotatorIn(f.annotator),
    metadata: f.metadata,
  };
}

export function feedbackOut(f: FeedbackRecord): feedbackV1.FeedbackRecord {
  const r = f.rating;
  return {
    feedback: {
      feedbackId: f.feedbackId,
      responseId: f.responseId,
      rating: r ? { key: r.key, value: r.thumbs ? { $case: 'thumbs', thumbs: r.thumbs === 'up' ? feedbackV1.Thumbs.UP : feedbackV1.Thumbs.DOWN } : { $case: 'score', score: r.score ?? 0 } } : undefined,
      comment: f.comment,
      correction: f.correction,
      spans: f.spans.map((s) => ({ start: s.start, end: s.end, original: s.original, replacement: s.replacement, category: s.category, annotator: annotatorOut(s.annotator), confidence: s.confidence ?? undefined })),
      preference: f.preference ?? undefined,
      annotator: annotatorOut(f.annotator),
      metadata: f.metadata,
    },
    tenant: f.tenant,
    createdAt: new Date(f.createdAt),
    correctedAnswer: f.correction,
  };
}

export function filterIn(f: feedbackV1.FeedbackFilter | undefined): FilterInput {
  if (!f) return {};
  return {
    tenants: f.tenants,
    from: f.startTime?.getTime(),
    to: f.endTime?.getTime(),
    models: f.models,
    categories: f.categories,
    source: f.source === feedbackV1.FeedbackSource.HUMAN ? 'human' : f.source === feedbackV1.FeedbackSource.AI ? 'ai' : undefined,
    responseId: f.responseId || undefined,
    ...(f.criteria.length && { criteria: f.criteria }),
    ...(f.includeAi && { includeAi: true }),
  };
}

export const FORMAT_IN: Partial<Record<feedbackV1.ExportFormat, ExportFormat>> = {
  [feedbackV1.ExportFormat.TRL_DPO]: 'trl-dpo',
  [feedbackV1.ExportFormat.OPENAI_DPO]: 'openai-dpo',
  [feedbackV1.ExportFormat.RLAIF_V]: 'rlaif-v',
  [feedbackV1.ExportFormat.KTO]: 'kto',
  [feedbackV1.ExportFormat.SFT]: 'sft',
  [feedbackV1.ExportFormat.SPANS_SIDECAR]: 'spans-sidecar',
  [feedbackV1.ExportFormat.OPENAI_SFT]: 'openai-sft',
};

export const REASON_IN: Partial<Record<feedbackV1.ReviewReason, ReviewReason>> = {
  [feedbackV1.ReviewReason.LOW_CONFIDENCE]: 'low_confidence',
  [feedbackV1.ReviewReason.THUMBS_DOWN]: 'thumbs_down',
  [feedbackV1.ReviewReason.AI_FLAGGED]: 'ai_flagged',
  [feedbackV1.ReviewReason.DISAGREEMENT]: 'disagreement',
};

export const REASON_OUT: Record<ReviewReason, feedbackV1.ReviewReason> = {
  low_confidence: feedbackV1.ReviewReason.LOW_CONFIDENCE,
  thumbs_down: feedbackV1.ReviewReason.THUMBS_DOWN,
  ai_flagged: feedbackV1.ReviewReason.AI_FLAGGED,
  disagreement: feedbackV1.ReviewReason.DISAGREEMENT,
};
