import type { SamplingParams } from './types.js';

/** Neutral sampling parameters (greedy, no penalties); requests override what they set. */
export const GREEDY: Readonly<SamplingParams> = Object.freeze({
  maxTokens: 16,
  temperature: 0,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  stop: [],
  stopTokenIds: [],
  ignoreEos: false,
  minTokens: 0,
  logprobs: false,
  topLogprobs: 0,
});

export function samplingParams(over: Partial<SamplingParams> = {}): SamplingParams {
  return { ...GREEDY, stop: [], stopTokenIds: [], ...over };
}
