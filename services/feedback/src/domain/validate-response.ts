import { invalidArgument } from '@tessera/runtime';
import { checkCount, checkFinite, checkId, checkInt, checkJson, checkTenant, checkText } from './checks.js';
import { canonicalJson, sha256Hex } from './content-hash.js';
import type { RecordResponseInput } from './input.js';
import { retentionFor, type FeedbackLimits } from './limits.js';
import { codePointLength } from './offsets.js';
import type { ChatMessage, ConfidenceSummary, MessagePart, ObjectRef, ResponseRecord, RetrievedSource, Role } from './types.js';

const ROLES = new Set<Role>(['system', 'user', 'assistant', 'tool']);
const SHA256 = /^[0-9a-f]{64}$/;

/** RecordResponse input → a ResponseRecord the projector and exports can trust. */
export function validateResponse(tenantRaw: string | undefined, input: RecordResponseInput, limits: FeedbackLimits, now: number): ResponseRecord {
  const tenant = checkTenant(tenantRaw);
  const responseId = checkId('response.response_id', input.responseId, limits.maxResponseIdLength);
  const answer = checkText('response.answer', input.answer, limits.maxAnswerChars, { required: true });
  // A text completion carries its raw prompt instead of messages; a chat has at least one message.
  const prompt = input.prompt === undefined ? undefined : checkText('response.prompt', input.prompt, limits.maxPromptChars, { required: true });
  if (prompt !== undefined && (input.messages ?? []).length > 0) throw invalidArgument('response.messages', 'a text completion record (response.prompt set) has no messages');
  const messages = prompt !== undefined ? [] : validateMessages(input.messages ?? [], limits);
  const sources = validateSources(input.sources ?? [], limits);
  const confidence = validateConfidence(input.confidence ?? {}, codePointLength(answer), limits);
  const sampling = input.sampling ?? {};
  checkJson('response.sampling', sampling, 64 * 1024);
  const usage = {
    promptTokens: checkInt('response.usage.prompt_tokens', input.usage?.promptTokens ?? 0, { min: 0, max: 1e9 }),
    visualTokens: checkInt('response.usage.visual_tokens', input.usage?.visualTokens ?? 0, { min: 0, max: 1e9 }),
    completionTokens: checkInt('response.usage.completion_tokens', input.usage?.completionTokens ?? 0, { min: 0, max: 1e9 }),
    totalTokens: checkInt('response.usage.total_tokens', input.usage?.totalTokens ?? 0, { min: 0, max: 1e9 }),
  };
  const content = {
    model: checkText('response.model', input.model, 256),
    modelRevision: checkText('response.model_revision', input.modelRevision, 256),
    messages,
    sources,
    sampling,
    answer,
    finishReason: checkText('response.finish_reason', input.finishReason, 64),
    usage,
    confidence,
    collection: checkText('response.collection', input.collection, 256),
    // Only when set, so the content hash of a chat record is what it was before text completions.
    ...(prompt !== undefined && { prompt }),
  };
  return {
    tenant,
    responseId,
    recordedAt: now,
    expiresAt: now + retentionFor(limits, tenant),
    ...content,
    promptHash: prompt !== undefined ? rawPromptHash(prompt) : promptHash(messages),
    contentHash: sha256Hex(canonicalJson({ responseId, ...content })),
  };
}

function validateImage(field: string, img: NonNullable<NonNullable<RecordResponseInput['messages']>[number]['content']>[number]['image']): ObjectRef {
  const key = (img?.key ?? '').toLowerCase();
  if (!SHA256.test(key)) throw invalidArgument(`${field}.key`, `${field}.key must be the image's sha256 as 64 lowercase hex characters`);
  return {
    bucket: checkText(`${field}.bucket`, img?.bucket, 64, { required: true }),
    key,
    size: checkInt(`${field}.size`, img?.size ?? 0, { min: 0, max: Number.MAX_SAFE_INTEGER }),
    contentType: checkText(`${field}.content_type`, img?.contentType, 128),
  };
}

function validateMessages(list: NonNullable<RecordResponseInput['messages']>, limits: FeedbackLimits): ChatMessage[] {
  if (list.length === 0) throw invalidArgument('response.messages', 'response.messages must hold at least one message (the prompt)');
  checkCount('response.messages', list.length, limits.maxMessages);
  let chars = 0;
  let images = 0;
  const out = list.map((m, i) => {
    const role = (m.role ?? '') as Role;
    if (!ROLES.has(role)) throw invalidArgument(`response.messages[${i}].role`, `response.messages[${i}].role "${m.role ?? ''}" must be system, user, assistant or tool`);
    const content: MessagePart[] = (m.content ?? []).map((p, j) => {
      const field = `response.messages[${i}].content[${j}]`;
      if (p.image) {
        if (++images > limits.maxImages) throw invalidArgument(field, `the prompt has more than ${limits.maxImages} images`, `<= ${limits.maxImages} images`);
        return { type: 'image', image: validateImage(`${field}.image`, p.image) };
      }
      const text = checkText(`${field}.text`, p.text, limits.maxPromptChars);
      chars += text.length;
      return { type: 'text', text };
    });
    return { role, content };
  });
  if (chars > limits.maxPromptChars) throw invalidArgument('response.messages', `the prompt text has ${chars} characters: the limit is ${limits.maxPromptChars}`, `<= ${limits.maxPromptChars}`);
  return out;
}

function validateSources(list: NonNullable<RecordResponseInput['sources']>, limits: FeedbackLimits): RetrievedSource[] {
  checkCount('response.sources', list.length, limits.maxSources);
  return list.map((s, i) => ({
    index: checkInt(`response.sources[${i}].index`, s.index ?? i + 1, { min: 0, max: 1_000_000 }),
    collection: checkText(`response.sources[${i}].collection`, s.collection, 256),
    id: checkText(`response.sources[${i}].id`, s.id, 256, { required: true }),
    text: checkText(`response.sources[${i}].text`, s.text, limits.maxSourceChars),
    relevance: checkFinite(`response.sources[${i}].relevance`, s.relevance ?? 0, { min: 0, max: 1 }),
    metadata: (checkJson(`response.sources[${i}].metadata`, s.metadata, 64 * 1024), s.metadata ?? {}),
  }));
}

/**
 * The confidence summary is the decoder's hint, not user input: spans are clipped to the answer
 * (a stop string trimmed off the answer can leave a span past its end) and, beyond the limit, only
 * the least confident ones are kept — a response record is never lost over a hint. Numbers that
 * cannot be logprobs (positive, NaN) are still rejected.
 */
function validateConfidence(c: NonNullable<RecordResponseInput['confidence']>, answerLen: number, limits: FeedbackLimits): ConfidenceSummary {
  const clipped = (c.spans ?? [])
    .map((s) => ({ start: Math.max(0, Math.trunc(s.start ?? 0)), end: Math.min(answerLen, Math.trunc(s.end ?? 0)), meanLogprob: s.meanLogprob ?? 0 }))
    .filter((s) => s.start < s.end);
  const spans = clipped.length <= limits.maxLowConfidenceSpans ? clipped : [...clipped].sort((a, b) => a.meanLogprob - b.meanLogprob).slice(0, limits.maxLowConfidenceSpans).sort((a, b) => a.start - b.start);
  return {
    tokenCount: checkInt('response.confidence.token_count', c.tokenCount ?? 0, { min: 0, max: 1e7 }),
    meanLogprob: checkFinite('response.confidence.mean_logprob', c.meanLogprob ?? 0, { max: 0 }),
    minLogprob: checkFinite('response.confidence.min_logprob', c.minLogprob ?? 0, { max: 0 }),
    lowConfidenceTokens: checkInt('response.confidence.low_confidence_tokens', c.lowConfidenceTokens ?? 0, { min: 0, max: 1e7 }),
    spans: spans.map((s, i) => {
      const f = `response.confidence.spans[${i}]`;
      const start = checkInt(`${f}.start`, s.start ?? 0, { min: 0, max: answerLen });
      const end = checkInt(`${f}.end`, s.end ?? 0, { min: start, max: answerLen });
      return { start, end, meanLogprob: checkFinite(`${f}.mean_logprob`, s.meanLogprob ?? 0, { max: 0 }) };
    }),
  };
}

/** sha256 of a text completion's raw prompt: answers to the same prompt share it (preference pairs), and never a chat's hash. */
function rawPromptHash(prompt: string): string {
  return sha256Hex(JSON.stringify(['raw', prompt]));
}

/** sha256 over the canonical prompt: roles and parts in order, images by content hash. */
export function promptHash(messages: ChatMessage[]): string {
  return sha256Hex(JSON.stringify(messages.map((m) => [m.role, m.content.map((p) => (p.type === 'text' ? ['t', p.text] : ['i', p.image.key]))])));
}
