import { describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/runtime';
import { DEFAULT_CHAT_LIMITS } from './limits.js';
import { validateChatRequest } from './validate-chat.js';
import { splitCompletionBatch, validateCompletionRequest } from './validate-completion.js';

const MODELS = ['minicpm-v-tiny'];
const ok = { model: 'minicpm-v-tiny', prompt: 'Once upon a time' };

function fails(body: Record<string, unknown>, field: string, code = 'INVALID_ARGUMENT'): TesseraError {
  try {
    validateCompletionRequest(body, DEFAULT_CHAT_LIMITS, MODELS);
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraError);
    const e = err as TesseraError;
    expect([e.code, e.details.field]).toEqual([code, field]);
    return e;
  }
  throw new Error(`expected ${JSON.stringify(body)} to fail on ${field}`);
}

describe('validateCompletionRequest', () => {
  it('takes a prompt string with OpenAI completions defaults (max_tokens 16, no logprobs, no echo), text only', () => {
    const v = validateCompletionRequest(ok, DEFAULT_CHAT_LIMITS, MODELS);
    expect(v).toMatchObject({ model: 'minicpm-v-tiny', prompt: 'Once upon a time', echo: false, messages: [], images: [], stream: false, includeUsage: false });
    expect(v.sampling).toMatchObject({ maxTokens: 16, temperature: 1, topP: 1, logprobs: false, topLogprobs: 0, stop: [] });
    expect(v.tools).toBeUndefined();
    expect(v.collection).toBeUndefined();
  });

  it('reads every supported field: an array of one prompt, sampling, vLLM extras, stream options, echo, user', () => {
    const v = validateCompletionRequest(
      { ...ok, prompt: ['The sky is'], max_tokens: 7, temperature: 0, top_p: 0.5, n: 1, stream: true, stream_options: { include_usage: true }, stop: ['\n'], presence_penalty: 0.5, frequency_penalty: -0.5, seed: 3, logit_bias: { '9707': 5 }, user: 'u1', echo: true, top_k: 4, min_p: 0.1, repetition_penalty: 1.1, ignore_eos: true, stop_token_ids: [7], min_tokens: 2, suffix: null, best_of: 1 },
      DEFAULT_CHAT_LIMITS,
      MODELS,
    );
    expect(v).toMatchObject({ prompt: 'The sky is', echo: true, stream: true, includeUsage: true, user: 'u1' });
    expect(v.sampling).toEqual({ maxTokens: 7, temperature: 0, topP: 0.5, topK: 4, minP: 0.1, presencePenalty: 0.5, frequencyPenalty: -0.5, repetitionPenalty: 1.1, seed: 3, stop: ['\n'], logitBias: { 9707: 5 }, ignoreEos: true, stopTokenIds: [7], minTokens: 2, logprobs: false, topLogprobs: 0 });
  });

  it("OpenAI's n: several choices for the prompt, as chat (n = 1 is the request as it was)", () => {
    expect(validateCompletionRequest({ ...ok, n: 4 }, DEFAULT_CHAT_LIMITS, MODELS).n).toBe(4);
    expect(validateCompletionRequest({ ...ok, n: 1 }, DEFAULT_CHAT_LIMITS, MODELS)).toEqual(validateCompletionRequest(ok, DEFAULT_CHAT_LIMITS, MODELS));
  });

  it('legacy logprobs: an integer 0..5 asks for the sampled token and that many alternatives', () => {
    expect(validateCompletionRequest({ ...ok, logprobs: 0 }, DEFAULT_CHAT_LIMITS, MODELS).sampling).toMatchObject({ logprobs: true, topLogprobs: 0 });
    expect(validateCompletionRequest({ ...ok, logprobs: 5 }, DEFAULT_CHAT_LIMITS, MODELS).sampling).toMatchObject({ logprobs: true, topLogprobs: 5 });
    expect(fails({ ...ok, logprobs: 6 }, 'logprobs').message).toContain('0 <= logprobs <= 5');
    expect(fails({ ...ok, logprobs: true }, 'logprobs').message).toBe('logprobs must be an integer');
  });

  it('takes a prompt of token ids (what lm-eval local-completions sends), alone or as a batch of one; bad ids named', () => {
    const ids = (prompt: unknown, extra: Record<string, unknown> = {}) => validateCompletionRequest({ ...ok, prompt, ...extra }, DEFAULT_CHAT_LIMITS, MODELS);
    expect(ids([9707, 0, 11]).promptTokenIds).toEqual([9707, 0, 11]);
    expect(ids([9707, 0, 11]).prompt).toBeUndefined();
    expect(ids([[9707, 11]]).promptTokenIds).toEqual([9707, 11]);
    expect(fails({ ...ok, prompt: [1, -2] }, 'prompt[1]').message).toContain('prompt[1]');
    fails({ ...ok, prompt: [1, 2.5] }, 'prompt[1]');
    fails({ ...ok, prompt: [1, 'a'] }, 'prompt[1]');
    fails({ ...ok, prompt: [[]] }, 'prompt');
    // A batch of prompts (lm-eval with batch_size > 1): the first in prompt/promptTokenIds, all in batch, each named by index.
    const batch = ids([[1, 2], 'three', [4]]);
    expect([batch.promptTokenIds, batch.batch]).toEqual([[1, 2], [{ promptTokenIds: [1, 2] }, { prompt: 'three' }, { promptTokenIds: [4] }]]);
    expect(splitCompletionBatch(batch).map((p) => [p.prompt, p.promptTokenIds, p.batch])).toEqual([[undefined, [1, 2], undefined], ['three', undefined, undefined], [undefined, [4], undefined]]);
    expect(splitCompletionBatch(ids('one'))).toHaveLength(1);
    fails({ ...ok, prompt: [[1], [2, -1]] }, 'prompt[1][1]');
    fails({ ...ok, prompt: ['a', ''] }, 'prompt[1]');
    expect(fails({ ...ok, prompt: Array.from({ length: 33 }, () => 'x') }, 'prompt').message).toContain('33 prompts');
    expect(() => validateCompletionRequest({ ...ok, prompt: [1, 2, 3] }, { ...DEFAULT_CHAT_LIMITS, maxTextChars: 2 }, MODELS)).toThrow(/prompt too long: 3 token ids/);
    // echo returns the prompt's text: for token ids the decoder's decoding, which comes with prompt logprobs.
    expect(ids([1, 2], { echo: true })).toMatchObject({ echo: true, promptLogprobs: 0 });
  });

  it('echo with logprobs scores the prompt (lm-eval loglikelihood), max_tokens 0 with echo returns the prompt alone, prompt_logprobs as vLLM', () => {
    const v = validateCompletionRequest({ ...ok, prompt: [5, 6, 7], echo: true, logprobs: 1, max_tokens: 1, temperature: 0 }, DEFAULT_CHAT_LIMITS, MODELS);
    expect(v).toMatchObject({ echo: true, promptLogprobs: 1, sampling: { logprobs: true, topLogprobs: 1, maxTokens: 1 } });
    expect(v.returnPromptLogprobs).toBeUndefined();
    const only = validateCompletionRequest({ ...ok, echo: true, logprobs: 0, max_tokens: 0 }, DEFAULT_CHAT_LIMITS, MODELS);
    expect(only).toMatchObject({ echoOnly: true, promptLogprobs: 0, sampling: { maxTokens: 1 } });
    // max_tokens 0 without echo asks for nothing.
    fails({ ...ok, max_tokens: 0 }, 'max_tokens');
    expect(validateCompletionRequest({ ...ok, prompt_logprobs: 3 }, DEFAULT_CHAT_LIMITS, MODELS)).toMatchObject({ promptLogprobs: 3, returnPromptLogprobs: true, echo: false });
    expect(validateCompletionRequest({ ...ok, prompt_logprobs: null }, DEFAULT_CHAT_LIMITS, MODELS).promptLogprobs).toBeUndefined();
    expect(fails({ ...ok, prompt_logprobs: 21 }, 'prompt_logprobs').message).toContain('20');
    fails({ ...ok, prompt_logprobs: -1 }, 'prompt_logprobs');
    // A plain text echo needs no scores: the gateway has the text.
    expect(validateCompletionRequest({ ...ok, echo: true }, DEFAULT_CHAT_LIMITS, MODELS).promptLogprobs).toBeUndefined();
  });

  it('refuses what it does not support, naming the field: suffix, best_of > 1', () => {
    fails({ ...ok, prompt: [] }, 'prompt');
    fails({ ...ok, prompt: '' }, 'prompt');
    fails({ ...ok, prompt: undefined }, 'prompt');
    fails({ ...ok, prompt: { text: 'x' } }, 'prompt');
    expect(fails({ ...ok, suffix: ' the end' }, 'suffix').message).toContain('not supported');
    expect(fails({ ...ok, best_of: 3 }, 'best_of').message).toContain('best_of = 1');
    fails({ ...ok, echo: 'yes' }, 'echo');
  });

  it('bounds the prompt by the text limit and max_tokens as chat does', () => {
    const limits = { ...DEFAULT_CHAT_LIMITS, maxTextChars: 8 };
    expect(() => validateCompletionRequest({ ...ok, prompt: 'x'.repeat(9) }, limits, MODELS)).toThrow(/prompt too long: 9 characters/);
    expect(fails({ ...ok, max_tokens: 0 }, 'max_tokens').message).toContain(`1 <= max_tokens <= ${DEFAULT_CHAT_LIMITS.maxTokensLimit}`);
    // The default never exceeds a deployment's smaller max_tokens limit.
    expect(validateCompletionRequest(ok, { ...DEFAULT_CHAT_LIMITS, maxTokensLimit: 8 }, MODELS).sampling.maxTokens).toBe(8);
  });

  it('shared fields are refused with the same field and message as chat', () => {
    const chat = { model: 'minicpm-v-tiny', messages: [{ role: 'user', content: 'hi' }] };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ temperature: 3 }, 'temperature'],
      [{ top_p: 0 }, 'top_p'],
      [{ n: 9 }, 'n'],
      [{ n: 0 }, 'n'],
      [{ stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }, 'stop'],
      [{ presence_penalty: 9 }, 'presence_penalty'],
      [{ seed: 1.5 }, 'seed'],
      [{ logit_bias: { x: 1 } }, 'logit_bias.x'],
      [{ stop_token_ids: 'x' }, 'stop_token_ids'],
      [{ stream_options: 1 }, 'stream_options'],
      [{ ignore_eos: 1 }, 'ignore_eos'],
      [{ min_tokens: 17, max_tokens: 16 }, 'min_tokens'],
    ];
    for (const [extra, field] of cases) {
      const completion = fails({ ...ok, ...extra }, field);
      let chatError: unknown;
      try {
        validateChatRequest({ ...chat, ...extra }, DEFAULT_CHAT_LIMITS, MODELS);
      } catch (err) {
        chatError = err;
      }
      expect(chatError).toMatchObject({ message: completion.message, details: { field } });
    }
  });

  it('an unknown model is a 404 naming model', () => {
    fails({ ...ok, model: 'gpt-3.5-turbo-instruct' }, 'model', 'NOT_FOUND');
  });
});
