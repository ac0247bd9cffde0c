import { ErrorCode, TesseraError, invalidArgument } from '@tessera/runtime';
import { checkCount, checkFinite, checkId, checkJson, checkTenant, checkText } from './checks.js';
import { canonicalJson, sha256Hex } from './content-hash.js';
import { applySpans } from './corrections.js';
import type { AnnotatorInput, SpanInput, SubmitFeedbackInput } from './input.js';
import type { FeedbackLimits } from './limits.js';
import { TextOffsets } from './offsets.js';
import type { Taxonomy } from './taxonomy.js';
import type { Annotator, FeedbackRecord, Rating, ResponseRecord, SpanCorrection } from './types.js';

const RATING_KEY = /^[a-z0-9_./-]{1,64}$/;

/** The part of a feedback request that is checked before anything is looked up. */
export interface FeedbackHead {
  tenant: string;
  feedbackId: string;
  responseId: string;
  /** Response ids to look up: response_id, plus both sides of a preference. */
  lookups: string[];
}

export function validateFeedbackHead(tenantRaw: string | undefined, input: SubmitFeedbackInput, limits: FeedbackLimits): FeedbackHead {
  const tenant = checkTenant(tenantRaw);
  const feedbackId = checkId('feedback.feedback_id', input.feedbackId, limits.maxIdLength);
  const responseId = checkId('feedback.response_id', input.responseId, limits.maxResponseIdLength);
  const has = {
    rating: input.rating !== undefined && input.rating !== null,
    comment: (input.comment ?? '') !== '',
    correction: (input.correction ?? '') !== '',
    spans: (input.spans ?? []).length > 0,
    preference: input.preference !== undefined && input.preference !== null,
  };
  if (!Object.values(has).some(Boolean)) throw invalidArgument('feedback', 'feedback must carry at least one of rating, comment, correction, spans, preference');
  const lookups = [responseId];
  if (has.preference) {
    const chosen = checkId('feedback.preference.chosen_response_id', input.preference!.chosenResponseId, limits.maxResponseIdLength);
    const rejected = checkId('feedback.preference.rejected_response_id', input.preference!.rejectedResponseId, limits.maxResponseIdLength);
    if (chosen === rejected) throw invalidArgument('feedback.preference.rejected_response_id', 'a preference compares two different responses: chosen_response_id equals rejected_response_id');
    if (responseId !== chosen && responseId !== rejected) throw invalidArgument('feedback.response_id', `feedback.response_id "${responseId}" must be one side of the preference ("${chosen}" or "${rejected}")`);
    lookups.push(responseId === chosen ? rejected : chosen);
  }
  return { tenant, feedbackId, responseId, lookups };
}

export function unknownResponse(field: string, tenant: string, responseId: string): TesseraError {
  // Another tenant's response is reported exactly like a missing one: existence must not leak.
  return new TesseraError(ErrorCode.NOT_FOUND, `${field} "${responseId}" is not a recorded response of tenant "${tenant}" (responses are scoped per tenant and expire with their retention)`, { field });
}

/** Validates the body against the looked-up responses (keyed by id); returns the record to append. */
export function validateFeedback(
  head: FeedbackHead,
  input: SubmitFeedbackInput,
  ctx: { responses: ReadonlyMap<string, ResponseRecord>; limits: FeedbackLimits; taxonomy: Taxonomy; now: number },
): FeedbackRecord {
  const response = ctx.responses.get(head.responseId)!;
  const annotator = validateAnnotator('feedback.annotator', input.annotator, ctx.limits, { id: 'anonymous', source: 'human' });
  const rating = input.rating ? validateRating(input.rating) : null;
  const comment = checkText('feedback.comment', input.comment, ctx.limits.maxCommentChars);
  const spans = (input.spans ?? []).length ? validateSpans(input.spans!, response.answer, ctx.limits, ctx.taxonomy, annotator) : [];
  let correction = checkText('feedback.correction', input.correction, ctx.limits.maxAnswerChars);
  if (spans.length) {
    const derived = applySpans(response.answer, spans).text;
    if (correction !== '' && correction !== derived) {
      throw invalidArgument('feedback.correction', 'feedback.correction differs from the answer with the spans applied: send one of them, or both consistent');
    }
    correction = derived;
  } else if (correction !== '' && correction === response.answer) {
    throw invalidArgument('feedback.correction', 'feedback.correction equals the answer: a correction must change it');
  }
  let preference = null;
  if (input.preference) {
    const chosen = ctx.responses.get(input.preference.chosenResponseId!)!;
    const rejected = ctx.responses.get(input.preference.rejectedResponseId!)!;
    if (chosen.promptHash !== rejected.promptHash) {
      throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `responses "${chosen.responseId}" and "${rejected.responseId}" answer different prompts: a preference compares two answers to the same prompt (messages and images)`, { field: 'feedback.preference' });
    }
    preference = { chosenResponseId: chosen.responseId, rejectedResponseId: rejected.responseId };
  }
  const metadata = input.metadata ?? {};
  checkJson('feedback.metadata', metadata, ctx.limits.maxMetadataBytes);
  const content = { responseId: head.responseId, annotator, rating, comment, correction, spans, preference, metadata };
  return { tenant: head.tenant, feedbackId: head.feedbackId, createdAt: ctx.now, ...content, contentHash: sha256Hex(canonicalJson({ feedbackId: head.feedbackId, ...content })) };
}

function validateRating(r: NonNullable<SubmitFeedbackInput['rating']>): Rating {
  const key = r.key || 'overall';
  if (!RATING_KEY.test(key)) throw invalidArgument('feedback.rating.key', `feedback.rating.key "${key}" must be 1..64 of [a-z0-9_./-]`);
  const hasThumbs = r.thumbs !== undefined && r.thumbs !== null && r.thumbs !== '';
  const hasScore = r.score !== undefined && r.score !== null;
  if (hasThumbs === hasScore) throw invalidArgument('feedback.rating', 'feedback.rating needs exactly one of thumbs or score');
  if (hasThumbs) {
    if (r.thumbs !== 'up' && r.thumbs !== 'down') throw invalidArgument('feedback.rating.thumbs', `feedback.rating.thumbs must be up or down (got ${String(r.thumbs)})`);
    return { key, thumbs: r.thumbs, score: null };
  }
  return { key, thumbs: null, score: checkFinite('feedback.rating.score', r.score, { min: 0, max: 1 }) };
}

function validateAnnotator(field: string, a: AnnotatorInput | undefined, limits: FeedbackLimits, fallback: Annotator): Annotator {
  if (!a || (!a.id && !a.source)) return fallback;
  const source = a.source || fallback.source;
  if (source !== 'human' && source !== 'ai') throw invalidArgument(`${field}.source`, `${field}.source "${source}" must be human or ai`);
  return { id: a.id ? checkId(`${field}.id`, a.id, limits.maxIdLength) : fallback.id, source };
}

/**
 * Span corrections: code point offsets into the answer, 0 <= start <= end <= length, at most
 * one edit per position (no overlaps, no two insertions at one point), sorted on output.
 */
export function validateSpans(spans: SpanInput[], answer: string, limits: FeedbackLimits, taxonomy: Taxonomy, annotator: Annotator): SpanCorrection[] {
  checkCount('feedback.spans', spans.length, limits.maxSpans);
  const text = new TextOffsets(answer);
  const out = spans.map((s, i) => {
    const f = `feedback.spans[${i}]`;
    for (const k of ['start', 'end'] as const) {
      const v = s[k];
      if (v === undefined || v === null || !Number.isInteger(v) || v < 0 || v > text.length) {
        throw invalidArgument(`${f}.${k}`, `${f}.${k} = ${v} is outside the answer: offsets are Unicode code points in 0..${text.length}`, `0 <= ${k} <= ${text.length} (answer length in code points)`);
      }
    }
    const start = s.start!;
    const end = s.end!;
    if (end < start) throw invalidArgument(`${f}.end`, `${f}.end = ${end} is before start = ${start}`, 'start <= end');
    const replacement = checkText(`${f}.replacement`, s.replacement, limits.maxAnswerChars);
    if (start === end && replacement === '') throw invalidArgument(`${f}.replacement`, `${f} is empty (start == end) and inserts nothing`);
    const category = taxonomy.resolve(s.category ?? '');
    if (!category) throw invalidArgument(`${f}.category`, `${f}.category "${s.category ?? ''}" is not in the taxonomy: ${taxonomy.list().join(', ')} (extend with TESSERA_FEEDBACK_CATEGORIES)`);
    const original = text.slice(start, end);
    if (s.original !== undefined && s.original !== '' && s.original !== original) {
      throw invalidArgument(`${f}.original`, `${f}.original ${JSON.stringify(s.original)} differs from the answer's text at code points ${start}..${end} (${JSON.stringify(original)}): offsets must be code points, not UTF-16 units or bytes`);
    }
    const confidence = s.confidence === undefined || s.confidence === null ? null : checkFinite(`${f}.confidence`, s.confidence, { min: 0, max: 1 });
    return { start, end, original, replacement, category, annotator: validateAnnotator(`${f}.annotator`, s.annotator, limits, annotator), confidence };
  });
  const order = out.map((s, i) => ({ s, i })).sort((a, b) => a.s.start - b.s.start || a.s.end - b.s.end);
  for (let k = 1; k < order.length; k++) {
    const prev = order[k - 1];
    const cur = order[k];
    const sameInsertPoint = cur.s.start === prev.s.start && (cur.s.start === cur.s.end || prev.s.start === prev.s.end);
    if (cur.s.start < prev.s.end || sameInsertPoint) {
      throw invalidArgument(`feedback.spans[${cur.i}]`, `feedback.spans[${cur.i}] (${cur.s.start}..${cur.s.end}) overlaps feedback.spans[${prev.i}] (${prev.s.start}..${prev.s.end}): spans of one feedback must not overlap`);
    }
  }
  return order.map((o) => o.s);
}
