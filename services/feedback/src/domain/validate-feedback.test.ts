import { describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/runtime';
import { applySpans } from './corrections.js';
import { DEFAULT_LIMITS } from './limits.js';
import { Taxonomy } from './taxonomy.js';
import type { ResponseRecord } from './types.js';
import { validateFeedback, validateFeedbackHead } from './validate-feedback.js';
import { validateResponse } from './validate-response.js';
import { eventSubject, tenantLogFilter } from './events.js';
import { JA_ANSWER, ZH_ANSWER, responseInput } from '../test/fixtures.js';
import type { SubmitFeedbackInput } from './input.js';

const taxonomy = new Taxonomy(['attribute/color']);
const now = 1_700_000_000_000;

function check(answer: string, input: Omit<SubmitFeedbackInput, 'feedbackId' | 'responseId'>) {
  const response = validateResponse('t1', responseInput({ answer, confidence: {} }), DEFAULT_LIMITS, now);
  const full = { feedbackId: 'fb-1', responseId: response.responseId, ...input };
  const head = validateFeedbackHead('t1', full, DEFAULT_LIMITS);
  return validateFeedback(head, full, { responses: new Map<string, ResponseRecord>([[response.responseId, response]]), limits: DEFAULT_LIMITS, taxonomy, now });
}

function failure(fn: () => unknown): TesseraError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraError);
    return err as TesseraError;
  }
  throw new Error('expected a TesseraError');
}

describe('span corrections on CJK text', () => {
  it('takes code point offsets on Japanese with astral characters and derives the correction', () => {
    const cps = Array.from(JA_ANSWER);
    const fish = cps.indexOf('𩸽');
    const count = cps.indexOf('三');
    const blue = cps.indexOf('青');
    const f = check(JA_ANSWER, {
      spans: [
        { start: blue, end: blue + 1, original: '青', replacement: '赤', category: 'attribute/color' },
        { start: fish, end: fish + 1, original: '𩸽', replacement: '𠮷鮭', category: 'object' },
        { start: count, end: count + 1, replacement: '二', category: 'count' },
      ],
    });
    expect(f.spans.map((s) => s.start)).toEqual([fish, count, blue]); // sorted
    expect(f.spans[0].original).toBe('𩸽');
    expect(f.correction).toBe('𠮷野家で𠮷鮭を二匹食べた🍣。皿は赤い。');
    const { aligned, text } = applySpans(JA_ANSWER, f.spans);
    expect(text).toBe(f.correction);
    const out = Array.from(text);
    for (const a of aligned) expect(out.slice(a.chosen.start, a.chosen.end).join('')).toBe(f.spans.find((s) => s.start === a.rejected.start)!.replacement);
  });

  it('rejects UTF-16 offsets that a JS client computed with indexOf (caught by `original`)', () => {
    const u16 = JA_ANSWER.indexOf('𩸽'); // 5, but the code point offset is 4
    const err = failure(() => check(JA_ANSWER, { spans: [{ start: u16, end: u16 + 1, original: '𩸽', replacement: 'x', category: 'object' }] }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.details.field).toBe('feedback.spans[0].original');
    expect(err.message).toMatch(/code points/);
  });

  it('accepts an end offset equal to the code point length on Chinese and rejects one past it', () => {
    const n = Array.from(ZH_ANSWER).length;
    const f = check(ZH_ANSWER, { spans: [{ start: n - 1, end: n, original: '。', replacement: '！', category: 'other' }] });
    expect(f.correction.endsWith('！')).toBe(true);
    const err = failure(() => check(ZH_ANSWER, { spans: [{ start: n - 1, end: ZH_ANSWER.length, replacement: '！', category: 'other' }] }));
    expect(err.details.field).toBe('feedback.spans[0].end');
    expect(err.details.limit).toBe(`0 <= end <= ${n} (answer length in code points)`);
  });

  it('rejects overlapping spans and two insertions at one point', () => {
    expect(failure(() => check(ZH_ANSWER, { spans: [{ start: 2, end: 5, replacement: 'a', category: 'object' }, { start: 4, end: 6, replacement: 'b', category: 'object' }] })).message).toMatch(/overlaps/);
    expect(failure(() => check(ZH_ANSWER, { spans: [{ start: 3, end: 3, replacement: 'a', category: 'object' }, { start: 3, end: 3, replacement: 'b', category: 'object' }] })).message).toMatch(/overlaps/);
    // Adjacent spans do not overlap.
    expect(check(ZH_ANSWER, { spans: [{ start: 2, end: 4, replacement: 'a', category: 'object' }, { start: 4, end: 6, replacement: 'b', category: 'object' }] }).spans).toHaveLength(2);
  });

  it('knows the hierarchical taxonomy, accepts the hyphenated spelling, rejects unknown categories', () => {
    expect(check(ZH_ANSWER, { spans: [{ start: 0, end: 1, replacement: 'x', category: 'text-in-image' }] }).spans[0].category).toBe('text_in_image');
    expect(check(ZH_ANSWER, { spans: [{ start: 0, end: 1, replacement: 'x', category: 'attribute/color' }] }).spans[0].category).toBe('attribute/color');
    const err = failure(() => check(ZH_ANSWER, { spans: [{ start: 0, end: 1, replacement: 'x', category: 'attribute/smell' }] }));
    expect(err.details.field).toBe('feedback.spans[0].category');
  });
});

describe('other feedback validation', () => {
  it('rejects a score outside [0, 1] and a rating with both thumbs and score', () => {
    expect(failure(() => check(ZH_ANSWER, { rating: { key: 'overall', score: 1.5 } })).details).toMatchObject({ field: 'feedback.rating.score', limit: '<= 1' });
    expect(failure(() => check(ZH_ANSWER, { rating: { thumbs: 'up', score: 1 } })).details.field).toBe('feedback.rating');
    expect(check(ZH_ANSWER, { rating: { thumbs: 'down' } }).rating).toEqual({ key: 'overall', thumbs: 'down', score: null });
  });

  it('requires some feedback and a consistent correction', () => {
    expect(failure(() => check(ZH_ANSWER, {})).details.field).toBe('feedback');
    expect(failure(() => check(ZH_ANSWER, { correction: ZH_ANSWER })).details.field).toBe('feedback.correction');
    expect(failure(() => check(ZH_ANSWER, { correction: 'other', spans: [{ start: 0, end: 1, replacement: 'x', category: 'other' }] })).details.field).toBe('feedback.correction');
  });

  it('refuses U+0000 anywhere (PostgreSQL cannot store it)', () => {
    expect(failure(() => check(ZH_ANSWER, { comment: 'a\u0000b' })).details.field).toBe('feedback.comment');
    expect(failure(() => check(ZH_ANSWER, { comment: 'ok', metadata: { k: 'x\u0000' } })).details.field).toBe('feedback.metadata');
    expect(failure(() => validateResponse('t1', responseInput({ messages: [{ role: 'user', content: [{ text: 'hi\u0000' }] }] }), DEFAULT_LIMITS, now)).details.field).toBe('response.messages[0].content[0].text');
  });

  it('records a tool turn (the gateway records OpenAI tool messages as role tool); an unknown role names the field', () => {
    const r = validateResponse('t1', responseInput({ messages: [{ role: 'user', content: [{ text: 'weather?' }] }, { role: 'tool', content: [{ text: '{"c":21}' }] }] }), DEFAULT_LIMITS, now);
    expect(r.messages.map((m) => m.role)).toEqual(['user', 'tool']);
    expect(failure(() => validateResponse('t1', responseInput({ messages: [{ role: '', content: [{ text: 'x' }] }] }), DEFAULT_LIMITS, now)).details.field).toBe('response.messages[0].role');
  });

  it('hashes content so a replay is recognisable', () => {
    const a = check(ZH_ANSWER, { comment: 'ok', metadata: { b: 1, a: 2 } });
    const b = check(ZH_ANSWER, { comment: 'ok', metadata: { a: 2, b: 1 } });
    const c = check(ZH_ANSWER, { comment: 'different' });
    expect(a.contentHash).toBe(b.contentHash);
    expect(a.contentHash).not.toBe(c.contentHash);
  });

  it('validates the response record: tenant, ids, confidence spans in code points', () => {
    expect(failure(() => validateResponse('bad tenant', responseInput(), DEFAULT_LIMITS, now)).details.field).toBe('tenant');
    expect(failure(() => validateResponse('t1', responseInput({ answer: '' }), DEFAULT_LIMITS, now)).details.field).toBe('response.answer');
    const n = Array.from(JA_ANSWER).length;
    // Confidence spans are decoder hints: clipped to the answer, the 32 least confident kept.
    expect(validateResponse('t1', responseInput({ confidence: { spans: [{ start: 0, end: n + 1, meanLogprob: -1 }, { start: n, end: n + 3, meanLogprob: -1 }] } }), DEFAULT_LIMITS, now).confidence.spans).toEqual([{ start: 0, end: n, meanLogprob: -1 }]);
    const many = Array.from({ length: 40 }, (_, i) => ({ start: i % n, end: (i % n) + 1, meanLogprob: -i }));
    const kept = validateResponse('t1', responseInput({ confidence: { spans: many } }), DEFAULT_LIMITS, now).confidence.spans;
    expect(kept).toHaveLength(32);
    expect(Math.max(...kept.map((s) => s.meanLogprob))).toBe(-8);
    expect(failure(() => validateResponse('t1', responseInput({ confidence: { meanLogprob: 0.5 } }), DEFAULT_LIMITS, now)).details.field).toBe('response.confidence.mean_logprob');
    // Any printable tenant id works; it becomes a subject token without dots.
    expect(validateResponse('acme.corp/東京', responseInput(), DEFAULT_LIMITS, now).tenant).toBe('acme.corp/東京');
    expect(eventSubject({ v: 1, type: 'erase', tenant: 'acme.corp/東京', requestId: 'x', requestedAt: 0 })).toMatch(/^tessera\.feedback\.events\.=[A-Za-z0-9_-]+$/);
    expect(tenantLogFilter('acme')).toBe('tessera.feedback.events.acme.>');
    const r = validateResponse('t1', responseInput(), DEFAULT_LIMITS, now);
    expect(r.expiresAt - r.recordedAt).toBe(DEFAULT_LIMITS.defaultRetentionMs);
    expect(r.promptHash).toMatch(/^[0-9a-f]{64}$/);
  });
});
