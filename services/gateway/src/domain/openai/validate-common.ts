/**
 * What OpenAI's chat completions and (legacy) text completions requests share: the model, `n`,
 * streaming and the sampling fields. Both validators read them here, so a field means the same, has
 * the same range and gets the same 400 message on either endpoint (and on gRPC, which maps to them).
 */
import { ErrorCode, invalidArgument, TesseraError } from '@tessera/runtime';
import type { ChatLimits } from './limits.js';
import { asObject, int, num, optBool, str } from './json-fields.js';
import type { ValidSampling } from './valid-request.js';

/** `model`, which must be one this gateway serves (404 naming where models run, else the ids). */
export function parseModel(root: Record<string, unknown>, knownModels: readonly string[], whereModelsRun?: string): string {
  const model = str(root.model, 'model');
  if (!knownModels.includes(model)) throw unknownModel(model, knownModels, whereModelsRun);
  return model;
}

/** The 404 of a model this gateway does not serve, naming where models run (edge sites), else the ids: every route's. */
export function unknownModel(model: string, knownModels: readonly string[], whereModelsRun?: string): TesseraError {
  return new TesseraError(ErrorCode.NOT_FOUND, `model "${model}" does not exist; ${whereModelsRun ? `models run at: ${whereModelsRun}` : `available: ${knownModels.join(', ')}`}`, { field: 'model' });
}

/**
 * OpenAI's `n`: how many choices to generate for the prompt, 1..maxChoices (each is a decoder generation
 * of up to max_tokens, so the limit bounds one request's decoder work and token reservation).
 * Absent or null = 1.
 */
export function parseChoiceCount(root: Record<string, unknown>, limits: ChatLimits): number {
  if (root.n === undefined || root.n === null) return 1;
  return int(root.n, 'n', 1, limits.maxChoices);
}

/** `stream` and `stream_options.include_usage`. */
export function parseStreaming(root: Record<string, unknown>): { stream: boolean; includeUsage: boolean } {
  const stream = optBool(root.stream, 'stream') ?? false;
  const streamOptions = root.stream_options === undefined || root.stream_options === null ? {} : asObject(root.stream_options, 'stream_options');
  const includeUsage = optBool(streamOptions.include_usage, 'stream_options.include_usage') ?? false;
  return { stream, includeUsage };
}

/**
 * OpenAI's reasoning effort (chat `reasoning_effort`, responses `reasoning.effort`) → thinking on or off:
 * MiniCPM-V 4.5 / 4.6 think or do not, there is no budget to scale. "none" and "minimal" ask for no
 * reasoning, "low" and up for some. Families without thinking (2.6) ignore it, as vLLM ignores template
 * kwargs a template does not use.
 */
const EFFORT: Readonly<Record<string, boolean>> = { none: false, minimal: false, low: true, medium: true, high: true, xhigh: true };

export function thinkingForEffort(effort: unknown, field: string): boolean {
  const on = typeof effort === 'string' ? EFFORT[effort] : undefined;
  if (on === undefined) throw invalidArgument(field, `${field} must be one of ${Object.keys(EFFORT).join(', ')}`);
  return on;
}

/**
 * vLLM's `prompt_logprobs`: every prompt token's log-probability given the ones before it, with this many
 * alternatives (0..maxTopLogprobs); absent or null = none. The decoder computes the whole prompt for it
 * (no prefix-cache hit).
 */
export function parsePromptLogprobs(root: Record<string, unknown>, limits: ChatLimits): { promptLogprobs?: number } {
  if (root.prompt_logprobs === undefined || root.prompt_logprobs === null) return {};
  return { promptLogprobs: int(root.prompt_logprobs, 'prompt_logprobs', 0, limits.maxTopLogprobs) };
}

/** The sampling fields both endpoints have; log probabilities differ in shape per endpoint and are read by each. */
export type SharedSampling = Omit<ValidSampling, 'logprobs' | 'topLogprobs'>;

/**
 * Sampling: `max_tokens` (the endpoint's field names, first one present wins, and its default),
 * temperature, top_p, penalties, seed, stop, logit_bias, and vLLM's top_k, min_p,
 * repetition_penalty, ignore_eos, stop_token_ids and min_tokens.
 */
export function parseSampling(root: Record<string, unknown>, limits: ChatLimits, maxTokensOf: { fields: readonly string[]; default: number }): SharedSampling {
  const maxTokensField = maxTokensOf.fields.find((f) => root[f] !== undefined && root[f] !== null);
  const maxTokens = maxTokensField === undefined ? maxTokensOf.default : int(root[maxTokensField], maxTokensField, 1, limits.maxTokensLimit);
  let stop: string[] = [];
  if (typeof root.stop === 'string') stop = [root.stop];
  else if (Array.isArray(root.stop)) {
    stop = root.stop.map((s, i) => {
      if (typeof s !== 'string' || s.length === 0) throw invalidArgument(`stop[${i}]`, 'stop sequences must be non-empty strings');
      return s;
    });
  } else if (root.stop !== undefined && root.stop !== null) throw invalidArgument('stop', 'stop must be a string or an array of strings');
  if (stop.length > limits.maxStopSequences) throw invalidArgument('stop', `too many stop sequences: ${stop.length}`, `stop <= ${limits.maxStopSequences}`);
  const seed = root.seed === undefined || root.seed === null ? undefined : int(root.seed, 'seed', -(2 ** 53 - 1), 2 ** 53 - 1);
  const topP = num(root.top_p, 'top_p', 1, { min: 0, minExclusive: true, max: 1 });
  const logitBias = parseLogitBias(root.logit_bias, limits);
  // vLLM's extensions: generate to max_tokens past the model's end-of-sequence (fixed-length benchmarks);
  // token ids that end the answer like the end-of-sequence does (the decoder bounds their count and ids).
  const ignoreEos = optBool(root.ignore_eos, 'ignore_eos') ?? false;
  const stopTokenIds = parseStopTokenIds(root.stop_token_ids);
  // vLLM's min_tokens: no end-of-sequence, stop token or stop string ends the first min_tokens tokens.
  const minTokens = root.min_tokens === undefined || root.min_tokens === null ? 0 : int(root.min_tokens, 'min_tokens', 0, maxTokens);
  return {
    maxTokens,
    temperature: num(root.temperature, 'temperature', 1, { min: 0, max: 2 }),
    topP,
    topK: root.top_k === undefined || root.top_k === null ? 0 : int(root.top_k, 'top_k', 0, 1_000_000),
    minP: num(root.min_p, 'min_p', 0, { min: 0, max: 1 }),
    presencePenalty: num(root.presence_penalty, 'presence_penalty', 0, { min: -2, max: 2 }),
    frequencyPenalty: num(root.frequency_penalty, 'frequency_penalty', 0, { min: -2, max: 2 }),
    repetitionPenalty: num(root.repetition_penalty, 'repetition_penalty', 1, { min: 0, minExclusive: true, max: 10 }),
    ...(seed !== undefined && { seed }),
    stop,
    ...(logitBias && { logitBias }),
    ...(ignoreEos && { ignoreEos }),
    ...(stopTokenIds.length > 0 && { stopTokenIds }),
    ...(minTokens > 0 && { minTokens }),
  };
}

function parseStopTokenIds(raw: unknown): number[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidArgument('stop_token_ids', 'stop_token_ids must be an array of token ids');
  return raw.map((t, i) => int(t, `stop_token_ids[${i}]`, 0, 2 ** 31 - 1));
}

/** OpenAI `logit_bias`: `{"<token id>": offset}`; null or `{}` = none (SDKs send either). */
function parseLogitBias(raw: unknown, limits: ChatLimits): Record<number, number> | undefined {
  if (raw === undefined || raw === null) return undefined;
  const entries = Object.entries(asObject(raw, 'logit_bias'));
  if (entries.length === 0) return undefined;
  if (entries.length > limits.maxLogitBias) throw invalidArgument('logit_bias', `logit_bias has ${entries.length} entries`, `logit_bias entries <= ${limits.maxLogitBias}`);
  const bias: Record<number, number> = {};
  for (const [key, value] of entries) {
    if (!/^(0|[1-9][0-9]{0,8})$/.test(key)) throw invalidArgument(`logit_bias.${key}`, `logit_bias keys are token ids (non-negative integers as strings), got ${JSON.stringify(key)}`);
    bias[Number(key)] = num(value, `logit_bias.${key}`, 0, { min: -100, max: 100 });
  }
  return bias;
}

