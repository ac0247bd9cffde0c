/**
 * Request validation before anything is queued: a bad request is refused with INVALID_ARGUMENT
 * naming its field and the limit, and never reaches the batch.
 */
import { ErrorCode, TesseraError, invalidArgument, resourceExhausted } from '@tessera/runtime';
import type { BackendInfo } from './backend.js';
import type { EngineLimits } from './limits.js';
import type { EngineRequest } from './types.js';

/** OpenAI's bound on `logit_bias` entries (the gateway applies the same; common.proto documents it). */
const MAX_LOGIT_BIAS = 300;

export function validateRequest(req: EngineRequest, info: BackendInfo, limits: EngineLimits): void {
  const p = req.params;
  const ctx = Math.min(limits.maxContext, info.maxContext);
  const n = req.promptTokenIds.length;
  if (n === 0) throw invalidArgument('prompt', 'prompt is empty: at least 1 token is required', 'prompt tokens >= 1');
  if (!Number.isInteger(p.maxTokens) || p.maxTokens <= 0 || p.maxTokens > limits.maxTokensLimit) {
    throw invalidArgument('max_tokens', `max_tokens must be an integer in [1, ${limits.maxTokensLimit}], got ${p.maxTokens}`, `1 <= max_tokens <= ${limits.maxTokensLimit}`);
  }
  if (!Number.isInteger(p.minTokens) || p.minTokens < 0 || p.minTokens > p.maxTokens) {
    throw invalidArgument('min_tokens', `min_tokens must be an integer in [0, max_tokens = ${p.maxTokens}], got ${p.minTokens}`, `0 <= min_tokens <= max_tokens`);
  }
  if (n >= ctx) throw invalidArgument('prompt', `prompt is ${n} tokens, the context holds ${ctx}`, `prompt tokens < ${ctx}`);
  if (n + p.maxTokens > ctx) {
    // decoding.v1 names this RESOURCE_EXHAUSTED (a smaller max_tokens fits); no retry hint.
    throw resourceExhausted('max_tokens', `prompt (${n}) + max_tokens (${p.maxTokens}) exceeds the context of ${ctx} tokens`, `prompt + max_tokens <= ${ctx}`);
  }
  if (!(p.temperature >= 0 && p.temperature <= 2)) throw invalidArgument('temperature', `temperature must be in [0, 2], got ${p.temperature}`, '0 <= temperature <= 2');
  if (!(p.topP > 0 && p.topP <= 1)) throw invalidArgument('top_p', `top_p must be in (0, 1], got ${p.topP}`, '0 < top_p <= 1');
  if (!Number.isInteger(p.topK) || p.topK < 0 || p.topK > info.vocabSize) throw invalidArgument('top_k', `top_k must be an integer in [0, ${info.vocabSize}], got ${p.topK}`, `0 <= top_k <= ${info.vocabSize} (0 = off)`);
  if (!(p.minP >= 0 && p.minP <= 1)) throw invalidArgument('min_p', `min_p must be in [0, 1], got ${p.minP}`, '0 <= min_p <= 1');
  if (!(p.repetitionPenalty > 0 && p.repetitionPenalty <= 2)) {
    throw invalidArgument('repetition_penalty', `repetition_penalty must be in (0, 2], got ${p.repetitionPenalty}`, '0 < repetition_penalty <= 2 (1 = off)');
  }
  for (const [field, v] of [['presence_penalty', p.presencePenalty], ['frequency_penalty', p.frequencyPenalty]] as const) {
    if (!(v >= -2 && v <= 2)) throw invalidArgument(field, `${field} must be in [-2, 2], got ${v}`, `-2 <= ${field} <= 2`);
  }
  if (!Number.isInteger(p.topLogprobs) || p.topLogprobs < 0 || p.topLogprobs > limits.maxLogprobs) {
    throw invalidArgument('top_logprobs', `top_logprobs must be in [0, ${limits.maxLogprobs}], got ${p.topLogprobs}`, `0 <= top_logprobs <= ${limits.maxLogprobs}`);
  }
  if (p.confidence !== undefined && typeof p.confidence !== 'boolean') throw invalidArgument('confidence', `confidence must be a boolean, got ${String(p.confidence)}`, 'confidence: true | false');
  const pl = req.promptLogprobs;
  if (pl !== undefined) {
    if (!Number.isInteger(pl) || pl < 0 || pl > limits.maxLogprobs) {
      throw invalidArgument('prompt_logprobs', `prompt_logprobs must be in [0, ${limits.maxLogprobs}], got ${pl}`, `0 <= prompt_logprobs <= ${limits.maxLogprobs}`);
    }
    if (!info.promptLogits) {
      throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `model ${info.modelName} was built before the decoder graph returned prompt logits (logits_indices): rebuild it with \`tessera model build\` to serve prompt_logprobs`, { field: 'prompt_logprobs' });
    }
  }
  if (p.stopTokenIds.length > limits.maxStopTokenIds) {
    throw invalidArgument('stop_token_ids', `at most ${limits.maxStopTokenIds} stop token ids, got ${p.stopTokenIds.length}`, `stop_token_ids <= ${limits.maxStopTokenIds}`);
  }
  if (p.stop.length > limits.maxStopStrings) throw invalidArgument('stop', `at most ${limits.maxStopStrings} stop strings, got ${p.stop.length}`, `stop count <= ${limits.maxStopStrings}`);
  p.stop.forEach((s, i) => {
    if (s.length === 0 || s.length > limits.maxStopStringLength) {
      throw invalidArgument(`stop[${i}]`, `stop strings must be 1..${limits.maxStopStringLength} characters, got ${s.length}`, `1 <= length <= ${limits.maxStopStringLength}`);
    }
    if (!isWellFormed(s)) throw invalidArgument(`stop[${i}]`, 'stop string is not valid UTF-8 / well-formed Unicode');
  });
  if (p.logitBias && p.logitBias.size > MAX_LOGIT_BIAS) throw invalidArgument('logit_bias', `logit_bias has ${p.logitBias.size} entries`, `logit_bias entries <= ${MAX_LOGIT_BIAS}`);
  for (const [t, b] of p.logitBias ?? []) {
    if (!Number.isInteger(t) || t < 0 || t >= info.vocabSize) throw invalidArgument('logit_bias', `logit_bias token id ${t} is outside the vocabulary [0, ${info.vocabSize})`, `0 <= id < ${info.vocabSize}`);
    if (!(b >= -100 && b <= 100)) throw invalidArgument(`logit_bias.${t}`, `logit_bias.${t} is ${b}`, '-100 <= bias <= 100');
  }
  p.stopTokenIds.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= info.vocabSize) throw invalidArgument(`stop_token_ids[${i}]`, `token id ${t} is outside the vocabulary [0, ${info.vocabSize})`, `0 <= id < ${info.vocabSize}`);
  });
  for (let i = 0; i < n; i++) {
    const t = req.promptTokenIds[i]!;
    if (t < 0 || t >= info.vocabSize) throw invalidArgument(`prompt_token_ids[${i}]`, `token id ${t} is outside the vocabulary [0, ${info.vocabSize})`, `0 <= id < ${info.vocabSize}`);
  }
  const v = req.visual;
  if (v) {
    const count = v.positions.length;
    if (v.embeddings.length !== count * info.hiddenSize) {
      throw invalidArgument('visual_tokens', `visual embeddings hold ${v.embeddings.length} values; ${count} placeholders × hidden ${info.hiddenSize} = ${count * info.hiddenSize} expected`, `embeddings = placeholders × ${info.hiddenSize}`);
    }
    for (let i = 0; i < count; i++) {
      const at = v.positions[i]!;
      if (at < 0 || at >= n || (i > 0 && at <= v.positions[i - 1]!)) throw invalidArgument('visual_tokens', `placeholder position ${at} is out of order or outside the prompt of ${n} tokens`);
    }
    for (let i = 0; i < v.embeddings.length; i++) {
      if (!Number.isFinite(v.embeddings[i]!)) throw invalidArgument('visual_tokens', `visual embedding value ${i} is not finite`);
    }
  }
}

function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}
