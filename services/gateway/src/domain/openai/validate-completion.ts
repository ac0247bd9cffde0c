import { invalidArgument } from '@tessera/runtime';
import type { ChatLimits } from './limits.js';
import { asObject, int, optBool } from './json-fields.js';
import { parseChoiceCount, parseModel, parsePromptLogprobs, parseSampling, parseStreaming } from './validate-common.js';
import type { ValidCompletionRequest, ValidSampling } from './valid-request.js';

/**
 * OpenAI's legacy `POST /v1/completions` body (what vLLM serves too) → `ValidCompletionRequest`, or an
 * INVALID_ARGUMENT naming the field and the limit. The fields it shares with chat (model, n, stream,
 * sampling, prompt_logprobs) are read by the same code as chat's (validate-common.ts). Text only: the
 * prompt goes to the model verbatim. Unknown fields are ignored, as on chat.
 */
export function validateCompletionRequest(body: unknown, limits: ChatLimits, knownModels: readonly string[], whereModelsRun?: string): ValidCompletionRequest {
  const root = asObject(body, 'body');
  const model = parseModel(root, knownModels, whereModelsRun);
  const prompts = parsePrompts(root.prompt, limits);
  const prompt = prompts[0]!;
  refuseUnsupported(root);
  const { stream, includeUsage } = parseStreaming(root);
  const n = parseChoiceCount(root, limits);
  const echo = optBool(root.echo, 'echo') ?? false;
  const logprobs = parseCompletionLogprobs(root.logprobs, limits);
  // OpenAI's prompt scoring: `max_tokens: 0` with echo returns the prompt alone (the decoder still runs
  // one step: it scores the prompt while computing the first token, which is not returned).
  const echoOnly = echo && root.max_tokens === 0;
  const sampling: ValidSampling = {
    ...parseSampling(echoOnly ? { ...root, max_tokens: 1 } : root, limits, { fields: ['max_tokens'], default: Math.min(limits.completionDefaultMaxTokens, limits.maxTokensLimit) }),
    ...logprobs,
  };
  // Echo with logprobs scores the prompt too (OpenAI's legacy form of prompt logprobs, what lm-eval's
  // loglikelihood reads), with as many alternatives as the generated tokens get; a token-id prompt's echo
  // text is the decoder's decoding of it, which comes with prompt logprobs (PromptLogprobs.text).
  const asked = parsePromptLogprobs(root, limits).promptLogprobs;
  const scored = asked ?? (echo && logprobs.logprobs ? logprobs.topLogprobs : undefined) ?? (echo && prompts.some((p) => 'promptTokenIds' in p) ? 0 : undefined);
  return {
    model,
    ...prompt,
    ...(prompts.length > 1 && { batch: prompts }),
    echo,
    ...(echoOnly && { echoOnly }),
    ...(scored !== undefined && { promptLogprobs: scored }),
    ...(asked !== undefined && { returnPromptLogprobs: true }),
    messages: [],
    images: [],
    sampling,
    ...(n > 1 && { n }),
    stream,
    includeUsage,
    ...(typeof root.user === 'string' && { user: root.user }),
  };
}

/** One prompt of a text completion: text or token ids. */
export type CompletionPrompt = { prompt: string } | { promptTokenIds: number[] };

/**
 * `prompt`: a string, an array of token ids (what lm-eval's local-completions sends by default), or an
 * array of either (a batch, what lm-eval sends with batch_size > 1: 1..maxPrompts prompts, `prompt[i]`
 * named in errors). Token ids are checked against the vocabulary by the decoder (`prompt_token_ids[i]`).
 */
function parsePrompts(raw: unknown, limits: ChatLimits): CompletionPrompt[] {
  if (!(Array.isArray(raw) && raw.length > 0 && typeof raw[0] !== 'number')) return [parseOnePrompt(raw, 'prompt', limits)];
  if (raw.length > limits.maxPrompts) throw invalidArgument('prompt', `prompt holds ${raw.length} prompts`, `prompts per request <= ${limits.maxPrompts}`);
  return raw.length === 1 ? [parseOnePrompt(raw[0], 'prompt', limits)] : raw.map((one, i) => parseOnePrompt(one, `prompt[${i}]`, limits));
}

function parseOnePrompt(one: unknown, field: string, limits: ChatLimits): CompletionPrompt {
  if (Array.isArray(one)) return { promptTokenIds: parseTokenIds(one, field, limits) };
  const text = one;
  if (typeof text !== 'string') throw invalidArgument(field, `${field} must be a string or token ids, or an array of them`);
  if (text.length === 0) throw invalidArgument(field, `${field} must not be empty`);
  if (text.length > limits.maxTextChars) throw invalidArgument(field, `${field} too long: ${text.length} characters`, `${field} <= ${limits.maxTextChars} characters`);
  return { prompt: text };
}

/** A prompt as token ids: non-negative integers, at least one, at most the text limit (a token is at least a character). */
function parseTokenIds(ids: unknown[], field: string, limits: ChatLimits): number[] {
  if (ids.length === 0) throw invalidArgument(field, `${field} must not be empty`);
  if (ids.length > limits.maxTextChars) throw invalidArgument(field, `${field} too long: ${ids.length} token ids`, `${field} <= ${limits.maxTextChars} token ids`);
  return ids.map((t, i) => int(t, `${field}[${i}]`, 0, 2 ** 31 - 1));
}

/** OpenAI fields this server does not implement: refused by name rather than silently ignored, since each changes the answer. */
function refuseUnsupported(root: Record<string, unknown>): void {
  if (root.suffix !== undefined && root.suffix !== null && root.suffix !== '') {
    throw invalidArgument('suffix', 'suffix (text after the completion, for insertion) is not supported by this server');
  }
  if (root.best_of !== undefined && root.best_of !== null && int(root.best_of, 'best_of', 1, Number.MAX_SAFE_INTEGER) > 1) {
    throw invalidArgument('best_of', 'only best_of = 1 is supported', 'best_of = 1');
  }
}

/**
 * The legacy `logprobs`: an integer k (0..limit) = the sampled token's log probability and the k most
 * likely alternatives at each position; null or absent = none.
 */
function parseCompletionLogprobs(raw: unknown, limits: ChatLimits): Pick<ValidSampling, 'logprobs' | 'topLogprobs'> {
  if (raw === undefined || raw === null) return { logprobs: false, topLogprobs: 0 };
  return { logprobs: true, topLogprobs: int(raw, 'logprobs', 0, limits.maxCompletionLogprobs) };
}

/**
 * A batch (`prompt: [p1, p2, …]`) as one request per prompt, in order: each is answered as it would be
 * alone (its own n choices, echo, scores, feedback record). One prompt: the request itself.
 */
export function splitCompletionBatch(valid: ValidCompletionRequest): ValidCompletionRequest[] {
  if (!valid.batch) return [valid];
  const { batch, prompt: _p, promptTokenIds: _ids, ...shared } = valid;
  return batch.map((p) => ({ ...shared, ...p }));
}
