import { ApiError, postJson, session } from './api.js';

/** Span categories: the feedback service's default taxonomy (services/feedback/src/domain/taxonomy.ts). */
export const CATEGORIES: ReadonlyArray<{ value: string; label: string }> = [
  { value: 'object', label: 'Object (exists / does not)' },
  { value: 'attribute', label: 'Attribute (color, size, …)' },
  { value: 'count', label: 'Count' },
  { value: 'position', label: 'Position / relation' },
  { value: 'text_in_image', label: 'Text in image (OCR)' },
  { value: 'other', label: 'Other' },
];

export interface SpanInput {
  start: number;
  end: number;
  original: string;
  replacement: string;
  category: string;
}

export type FeedbackBody = {
  responseId: string;
  rating?: { key?: string; thumbs?: 'THUMBS_UP' | 'THUMBS_DOWN'; score?: number };
  comment?: string;
  spans?: SpanInput[];
  preference?: { chosenResponseId: string; rejectedResponseId: string };
};

export interface FeedbackRecordJson {
  feedback: { feedbackId: string; responseId: string; spans?: SpanInput[] };
  correctedAnswer?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Submits one piece of feedback (proto3 JSON of feedback.proto `Feedback`). The gateway records a
 * response in feedback right after the stream ends, fire-and-forget, so a very quick click can
 * arrive first: NOT_FOUND is retried for up to ~3 s with the same feedback_id (idempotent).
 */
export async function submitFeedback(body: FeedbackBody): Promise<FeedbackRecordJson> {
  const feedback = { feedbackId: crypto.randomUUID(), annotator: { id: session.annotator(), source: 'FEEDBACK_SOURCE_HUMAN' }, metadata: { ui: 'tessera-playground/1' }, ...body };
  for (let attempt = 0; ; attempt++) {
    try {
      const out = await postJson<{ record: FeedbackRecordJson }>('/v1/tessera/feedback', { feedback });
      return out.record;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404 || attempt >= 6) throw err;
      await sleep(500);
    }
  }
}
