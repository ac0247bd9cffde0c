import { describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/runtime';
import { DEFAULT_CHAT_LIMITS, type ChatLimits } from './limits.js';
import { validateChatRequest } from './validate-chat.js';
import { modelFeatures } from './response-format.js';

const MODELS = ['minicpm-v-tiny'];
const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';
const ok = { model: 'minicpm-v-tiny', messages: [{ role: 'user', content: 'hi' }] };

function fails(body: unknown, field: string, code = 'INVALID_ARGUMENT', limits: ChatLimits = DEFAULT_CHAT_LIMITS): TesseraError {
  try {
    validateChatRequest(body, limits, MODELS);
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraError);
    const e = err as TesseraError;
    expect(e.code).toBe(code);
    expect(e.details.field).toBe(field);
    return e;
  }
  throw new Error(`expected ${JSON.stringify(body)} to fail on ${field}`);
}

describe('validateChatRequest', () => {
  it("thinking from chat_template_kwargs.enable_thinking or OpenAI's reasoning_effort (none/minimal off, low and up on); disagreeing is a 400", () => {
    const thinking = (extra: object) => validateChatRequest({ ...ok, ...extra }, DEFAULT_CHAT_LIMITS, MODELS).enableThinking;
    expect([thinking({}), thinking({ reasoning_effort: 'high' }), thinking({ reasoning_effort: 'minimal' }), thinking({ reasoning_effort: null })]).toEqual([undefined, true, false, undefined]);
    expect(thinking({ reasoning_effort: 'low', chat_template_kwargs: { enable_thinking: true } })).toBe(true);
    expect(fails({ ...ok, reasoning_effort: 'none', chat_template_kwargs: { enable_thinking: true } }, 'reasoning_effort').message).toContain('give one');
    expect(fails({ ...ok, reasoning_effort: 'max' }, 'reasoning_effort').message).toContain('none, minimal, low');
  });

  it("reads vLLM's prompt_logprobs (absent or null = none)", () => {
    expect(validateChatRequest({ ...ok, prompt_logprobs: 2 }, DEFAULT_CHAT_LIMITS, MODELS).promptLogprobs).toBe(2);
    expect(validateChatRequest({ ...ok, prompt_logprobs: null }, DEFAULT_CHAT_LIMITS, MODELS).promptLogprobs).toBeUndefined();
  });

  it('accepts text, image parts, sampling, and ignores unknown fields', () => {
    const v = validateChatRequest(
      {
        ...ok,
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1x1}` } }] },
        ],
        temperature: 0.2,
        top_p: 0.9,
        max_tokens: 12,
        seed: 7,
        stop: ['\n\n'],
        stream: true,
        stream_options: { include_usage: true },
        metadata: { anything: 1 },
        store: false,
      },
      DEFAULT_CHAT_LIMITS,
      MODELS,
    );
    expect(v.messages[1]!.parts).toEqual([{ kind: 'text', text: 'what is this?' }, { kind: 'image', index: 0 }]);
    expect(v.images[0]!.kind).toBe('bytes');
    expect(v.sampling).toMatchObject({ temperature: 0.2, topP: 0.9, maxTokens: 12, seed: 7, stop: ['\n\n'] });
    expect(v.stream).toBe(true);
    expect(v.includeUsage).toBe(true);
  });

  it('applies defaults', () => {
    const v = validateChatRequest(ok, DEFAULT_CHAT_LIMITS, MODELS);
    expect(v.sampling.maxTokens).toBe(DEFAULT_CHAT_LIMITS.defaultMaxTokens);
    expect(v.sampling.temperature).toBe(1);
    expect(v.stream).toBe(false);
  });

  const cases: Array<[string, unknown, string, string?]> = [
    ['body is not an object', [1, 2], 'body'],
    ['model missing', { messages: ok.messages }, 'model'],
    ['model wrong type', { ...ok, model: 42 }, 'model'],
    ['unknown model', { ...ok, model: 'gpt-9' }, 'model', 'NOT_FOUND'],
    ['messages not an array', { ...ok, messages: 'hi' }, 'messages'],
    ['empty messages', { ...ok, messages: [] }, 'messages'],
    ['message not an object', { ...ok, messages: [3] }, 'messages[0]'],
    ['unknown role', { ...ok, messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    ['missing content', { ...ok, messages: [{ role: 'user' }] }, 'messages[0].content'],
    ['content wrong type', { ...ok, messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
    ['unknown part type', { ...ok, messages: [{ role: 'user', content: [{ type: 'audio', audio: 'x' }] }] }, 'messages[0].content[0].type'],
    ['text part without text', { ...ok, messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'messages[0].content[0].text'],
    ['image_url without url', { ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, 'messages[0].content[0].image_url.url'],
    ['data URL with bad base64', { ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,@@@!' } }] }] }, 'messages[0].content[0].image_url.url'],
    ['data URL not base64', { ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png,abc' } }] }] }, 'messages[0].content[0].image_url.url'],
    ['data URL of text/plain', { ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:text/plain;base64,aGVsbG8=' } }] }] }, 'messages[0].content[0].image_url.url'],
    ['remote URL while fetching is disabled', { ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }, 'messages[0].content[0].image_url.url'],
    ['ftp URL', { ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/a.png' } }] }] }, 'messages[0].content[0].image_url.url'],
    ['image in an assistant message', { ...ok, messages: [{ role: 'assistant', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1x1}` } }] }, { role: 'user', content: 'x' }] }, 'messages[0].content[0].type'],
    ['continue_final_message with add_generation_prompt true', { ...ok, continue_final_message: true, add_generation_prompt: true }, 'continue_final_message'],
    ['continue_final_message not a boolean', { ...ok, continue_final_message: 'yes' }, 'continue_final_message'],
    ['add_generation_prompt not a boolean', { ...ok, add_generation_prompt: 0 }, 'add_generation_prompt'],
    ['continue_final_message after an image', { ...ok, continue_final_message: true, messages: [{ role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1x1}` } }] }] }, 'messages[0].content'],
    ['continue_final_message of blank text', { ...ok, continue_final_message: true, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: ' ' }] }, 'messages[1].content'],
    ['negative max_tokens', { ...ok, max_tokens: -1 }, 'max_tokens'],
    ['zero max_tokens', { ...ok, max_tokens: 0 }, 'max_tokens'],
    ['max_tokens above the limit', { ...ok, max_tokens: 1_000_000 }, 'max_tokens'],
    ['fractional max_tokens', { ...ok, max_tokens: 1.5 }, 'max_tokens'],
    ['temperature 5', { ...ok, temperature: 5 }, 'temperature'],
    ['temperature negative', { ...ok, temperature: -0.1 }, 'temperature'],
    ['temperature a string', { ...ok, temperature: 'hot' }, 'temperature'],
    ['top_p 0', { ...ok, top_p: 0 }, 'top_p'],
    ['top_p above 1', { ...ok, top_p: 1.5 }, 'top_p'],
    ['presence_penalty out of range', { ...ok, presence_penalty: 3 }, 'presence_penalty'],
    ['frequency_penalty out of range', { ...ok, frequency_penalty: -3 }, 'frequency_penalty'],
    ['n above the choices limit', { ...ok, n: DEFAULT_CHAT_LIMITS.maxChoices + 1 }, 'n'],
    ['n = 0', { ...ok, n: 0 }, 'n'],
    ['fractional n', { ...ok, n: 1.5 }, 'n'],
    ['too many stop sequences', { ...ok, stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }, 'stop'],
    ['empty stop sequence', { ...ok, stop: [''] }, 'stop[0]'],
    ['stream not a boolean', { ...ok, stream: 'yes' }, 'stream'],
    ['seed not an integer', { ...ok, seed: 1.25 }, 'seed'],
    ['top_logprobs without logprobs', { ...ok, top_logprobs: 3 }, 'top_logprobs'],
    ['top_logprobs above the limit', { ...ok, logprobs: true, top_logprobs: 50 }, 'top_logprobs'],
    ['prompt_logprobs above the limit', { ...ok, prompt_logprobs: 21 }, 'prompt_logprobs'],
    ['prompt_logprobs streamed (vLLM: whole responses only)', { ...ok, prompt_logprobs: 1, stream: true }, 'prompt_logprobs'],
    ['bad collection name', { ...ok, collection: { name: '../etc' } }, 'collection.name'],
    ['collection k above the limit', { ...ok, collection: { name: 'docs', k: 500 } }, 'collection.k'],
    ['max_slice_nums 0', { ...ok, max_slice_nums: 0 }, 'max_slice_nums'],
    ['mm_processor_kwargs not an object', { ...ok, mm_processor_kwargs: '4x' }, 'mm_processor_kwargs'],
    ['an unknown mm_processor_kwargs key', { ...ok, mm_processor_kwargs: { max_slice_nums: 4 } }, 'mm_processor_kwargs.max_slice_nums'],
    ['downsample_mode not a string', { ...ok, mm_processor_kwargs: { downsample_mode: 4 } }, 'mm_processor_kwargs.downsample_mode'],
    ['chat_template_kwargs not an object', { ...ok, chat_template_kwargs: true }, 'chat_template_kwargs'],
    ['enable_thinking not a boolean', { ...ok, chat_template_kwargs: { enable_thinking: 'yes' } }, 'chat_template_kwargs.enable_thinking'],
    ['enable_thinking 1', { ...ok, chat_template_kwargs: { enable_thinking: 1 } }, 'chat_template_kwargs.enable_thinking'],
    ['logit_bias not an object', { ...ok, logit_bias: [1, 2] }, 'logit_bias'],
    ['ignore_eos not a boolean', { ...ok, ignore_eos: 'yes' }, 'ignore_eos'],
    ['stop_token_ids not an array', { ...ok, stop_token_ids: 7 }, 'stop_token_ids'],
    ['a negative stop token id', { ...ok, stop_token_ids: [1, -2] }, 'stop_token_ids[1]'],
    ['ignore_eos with a json_object answer', { ...ok, ignore_eos: true, response_format: { type: 'json_object' } }, 'ignore_eos'],
    ['min_tokens above max_tokens', { ...ok, max_tokens: 8, min_tokens: 9 }, 'min_tokens'],
    ['a negative min_tokens', { ...ok, min_tokens: -1 }, 'min_tokens'],
    ['min_tokens not an integer', { ...ok, min_tokens: 2.5 }, 'min_tokens'],
    ['min_tokens with a json_schema answer', { ...ok, min_tokens: 2, response_format: { type: 'json_schema', json_schema: { name: 'n', schema: { type: 'object' } } } }, 'min_tokens'],
    ['ignore_eos with a required tool call', { ...ok, ignore_eos: true, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }], tool_choice: 'required' }, 'ignore_eos'],
    ['a logit_bias key that is no token id', { ...ok, logit_bias: { hello: 1 } }, 'logit_bias.hello'],
    ['a negative logit_bias token id', { ...ok, logit_bias: { '-1': 1 } }, 'logit_bias.-1'],
    ['a logit_bias above 100', { ...ok, logit_bias: { '42': 101 } }, 'logit_bias.42'],
    ['a logit_bias that is not a number', { ...ok, logit_bias: { '42': 'max' } }, 'logit_bias.42'],
    ['301 logit_bias entries', { ...ok, logit_bias: Object.fromEntries(Array.from({ length: 301 }, (_, i) => [String(i), 1])) }, 'logit_bias'],
  ];
  it.each(cases)('rejects %s', (_name, body, field, code) => {
    const e = fails(body, field, code ?? 'INVALID_ARGUMENT');
    expect(e.message.length).toBeGreaterThan(5);
  });

  it("OpenAI's n: 1..maxChoices (the 400 names n and the limit); n = 1, null or absent leave the request as it was", () => {
    const n = (b: Record<string, unknown>, limits = DEFAULT_CHAT_LIMITS) => validateChatRequest({ ...ok, ...b }, limits, MODELS).n;
    expect([n({ n: 3 }), n({ n: DEFAULT_CHAT_LIMITS.maxChoices })]).toEqual([3, DEFAULT_CHAT_LIMITS.maxChoices]);
    expect(validateChatRequest({ ...ok, n: 1 }, DEFAULT_CHAT_LIMITS, MODELS)).toEqual(validateChatRequest(ok, DEFAULT_CHAT_LIMITS, MODELS));
    expect('n' in validateChatRequest({ ...ok, n: null }, DEFAULT_CHAT_LIMITS, MODELS)).toBe(false);
    // The deployment's limit (TESSERA_GATEWAY_MAX_CHOICES), not a constant.
    expect(fails({ ...ok, n: 9 }, 'n').message).toBe('n is 9; allowed: 1 <= n <= 8');
    expect(n({ n: 12 }, { ...DEFAULT_CHAT_LIMITS, maxChoices: 16 })).toBe(12);
    expect(() => validateChatRequest({ ...ok, n: 3 }, { ...DEFAULT_CHAT_LIMITS, maxChoices: 2 }, MODELS)).toThrow('1 <= n <= 2');
  });

  it('carries logit_bias through as token id → offset; null and {} (what SDKs send by default) mean none', () => {
    const v = (b: Record<string, unknown>) => validateChatRequest({ ...ok, ...b }, DEFAULT_CHAT_LIMITS, MODELS).sampling.logitBias;
    expect(v({ logit_bias: { '42': -100, '7': 2.5, '0': 100 } })).toEqual({ 42: -100, 7: 2.5, 0: 100 });
    expect(v({ logit_bias: null })).toBeUndefined();
    const eos = (b: Record<string, unknown>) => validateChatRequest({ ...ok, ...b }, DEFAULT_CHAT_LIMITS, MODELS).sampling.ignoreEos;
    expect([eos({ ignore_eos: true }), eos({ ignore_eos: false }), eos({})]).toEqual([true, undefined, undefined]);
    const stops = (b: Record<string, unknown>) => validateChatRequest({ ...ok, ...b }, DEFAULT_CHAT_LIMITS, MODELS).sampling.stopTokenIds;
    expect([stops({ stop_token_ids: [9707, 0] }), stops({ stop_token_ids: [] }), stops({ stop_token_ids: null })]).toEqual([[9707, 0], undefined, undefined]);
    // Auto tools leave the text free, so the end-of-sequence may be ignored there.
    expect(eos({ ignore_eos: true, tools: [{ type: 'function', function: { name: 'f' } }] })).toBe(true);
    const min = (b: Record<string, unknown>) => validateChatRequest({ ...ok, ...b }, DEFAULT_CHAT_LIMITS, MODELS).sampling.minTokens;
    expect([min({ min_tokens: 3 }), min({ min_tokens: 16, max_tokens: 16 }), min({ min_tokens: 0 }), min({ min_tokens: null }), min({})]).toEqual([3, 16, undefined, undefined, undefined]);
    expect(v({ logit_bias: {} })).toBeUndefined();
    expect(v({})).toBeUndefined();
  });

  it("a last assistant message is answered after (OpenAI, vLLM) or continued with vLLM's continue_final_message", () => {
    const ending = (b: Record<string, unknown>) => validateChatRequest({ ...ok, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'The answer is' }], ...b }, DEFAULT_CHAT_LIMITS, MODELS).ending;
    expect(ending({})).toBeUndefined();
    expect(ending({ add_generation_prompt: true, continue_final_message: false })).toBeUndefined();
    expect(ending({ add_generation_prompt: false })).toBe('closed');
    // vLLM asks for add_generation_prompt: false next to it; unset is enough here.
    expect([ending({ continue_final_message: true }), ending({ continue_final_message: true, add_generation_prompt: false })]).toEqual(['continue-final', 'continue-final']);
  });

  it('carries mm_processor_kwargs.downsample_mode (vLLM name) through', () => {
    expect(validateChatRequest({ ...ok, mm_processor_kwargs: { downsample_mode: '4x' } }, DEFAULT_CHAT_LIMITS, MODELS).downsampleMode).toBe('4x');
    expect(validateChatRequest(ok, DEFAULT_CHAT_LIMITS, MODELS).downsampleMode).toBeUndefined();
  });

  it('carries chat_template_kwargs.enable_thinking (vLLM name) through; other kwargs are ignored, as vLLM drops what the template does not use', () => {
    const v = (b: Record<string, unknown>) => validateChatRequest({ ...ok, ...b }, DEFAULT_CHAT_LIMITS, MODELS);
    expect(v({ chat_template_kwargs: { enable_thinking: true, unknown_knob: 3 } }).enableThinking).toBe(true);
    expect(v({ chat_template_kwargs: { enable_thinking: false }, response_format: { type: 'json_object' } }).enableThinking).toBe(false);
    // Thinking before constrained output: the decoder starts the constraint after `</think>` (vLLM's behaviour).
    expect(v({ chat_template_kwargs: { enable_thinking: true }, response_format: { type: 'json_object' } }).enableThinking).toBe(true);
    expect(v({ chat_template_kwargs: { enable_thinking: true }, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }], tool_choice: 'required' }).enableThinking).toBe(true);
    expect(v({ chat_template_kwargs: { enable_thinking: true }, tools: [{ type: 'function', function: { name: 'f' } }] }).enableThinking).toBe(true);
    expect(v({ chat_template_kwargs: {} }).enableThinking).toBeUndefined();
    expect(v({}).enableThinking).toBeUndefined();
  });

  it('names the limit for too many images', () => {
    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1x1}` } };
    const e = fails({ ...ok, messages: [{ role: 'user', content: [image, image, image] }] }, 'messages[0].content[2]', 'INVALID_ARGUMENT', { ...DEFAULT_CHAT_LIMITS, maxImagesPerRequest: 2 });
    expect(e.details.limit).toBe('images per request <= 2');
  });

  it('names the limit for an oversized image', () => {
    const big = Buffer.alloc(4096).toString('base64');
    const e = fails({ ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${big}` } }] }] }, 'messages[0].content[0].image_url.url', 'INVALID_ARGUMENT', { ...DEFAULT_CHAT_LIMITS, maxImageBytes: 1000 });
    expect(e.details.limit).toBe('image bytes <= 1000');
  });

  it('enforces the allow-list when remote images are enabled', () => {
    const limits = { ...DEFAULT_CHAT_LIMITS, allowRemoteImages: true, remoteImageAllowList: ['images.example.com'] };
    const body = (url: string) => ({ ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] });
    expect(validateChatRequest(body('https://images.example.com/a.png'), limits, MODELS).images[0]!.kind).toBe('url');
    fails(body('https://evil.example.net/a.png'), 'messages[0].content[0].image_url.url', 'PERMISSION_DENIED', limits);
  });
});

describe('response_format, tools and tool_choice', () => {
  const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
  it('accepts json_object and a supported json_schema (passed on as JSON text)', () => {
    expect(validateChatRequest({ ...ok, response_format: { type: 'json_object' } }, DEFAULT_CHAT_LIMITS, MODELS).responseFormat).toEqual({ kind: 'json_object' });
    const v = validateChatRequest({ ...ok, response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } } }, DEFAULT_CHAT_LIMITS, MODELS);
    expect(v.responseFormat).toEqual({ kind: 'json_schema', name: 'answer', schemaJson: JSON.stringify(schema), strict: true });
    expect(validateChatRequest({ ...ok, response_format: { type: 'text' } }, DEFAULT_CHAT_LIMITS, MODELS).responseFormat).toBeUndefined();
  });

  const tool = (parameters: unknown) => ({ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters } });
  const cases: Array<[string, unknown, string]> = [
    ['an unsupported schema keyword (named)', { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { age: { type: 'integer', minimum: 0 } } } } } }, 'response_format.json_schema.schema.properties.age.minimum'],
    ['pattern', { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: '^a' } } } }, 'response_format.json_schema.schema.pattern'],
    ['an unknown response_format type', { response_format: { type: 'yaml' } }, 'response_format.type'],
    ['json_schema without a name', { response_format: { type: 'json_schema', json_schema: { schema } } }, 'response_format.json_schema.name'],
    ['a tool with an invalid parameter schema', { tools: [tool({ type: 'object', properties: { city: { type: 'text' } } })] }, 'tools[0].function.parameters.properties.city.type'],
    ['a tool whose parameters are not an object schema', { tools: [tool({ type: 'string' })] }, 'tools[0].function.parameters.type'],
    ['a tool whose parameters are not a schema at all', { tools: [tool([1, 2])] }, 'tools[0].function.parameters'],
    ['a tool without a name', { tools: [{ type: 'function', function: { parameters: { type: 'object' } } }] }, 'tools[0].function.name'],
    ['tool_choice naming an unknown tool', { tools: [tool({ type: 'object' })], tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice.function.name'],
    ['a forced tool whose parameters use a keyword the decoder cannot enforce', { tools: [tool({ type: 'object', properties: { n: { type: 'integer', minimum: 1 } } })], tool_choice: 'required' }, 'tools[0].function.parameters.properties.n.minimum'],
    ['parallel_tool_calls that is not a boolean', { tools: [tool({ type: 'object' })], parallel_tool_calls: 'no' }, 'parallel_tool_calls'],
    ['a tool message answering no earlier call', { messages: [{ role: 'user', content: 'hi' }, { role: 'tool', tool_call_id: 'call_x', content: 'sunny' }] }, 'messages[1].tool_call_id'],
    ['a tool message without tool_call_id', { messages: [{ role: 'user', content: 'hi' }, { role: 'tool', content: 'sunny' }] }, 'messages[1].tool_call_id'],
    ['tool_calls on a user message', { messages: [{ role: 'user', content: 'hi', tool_calls: [] }] }, 'messages[0].tool_calls'],
    ['a tool call without a function name', { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }] }, 'messages[1].tool_calls[0].function.name'],
  ];
  it.each(cases)('rejects %s', (_name, extra, field) => {
    const e = fails({ ...ok, ...(extra as object) }, field);
    expect(e.message.length).toBeGreaterThan(10);
  });

  it('accepts tools on MiniCPM-V 2.6 (Hermes template) and 4.6 (its own template); refuses them on a family without a tool format naming it, unless tool_choice is "none"', () => {
    const t = tool({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] });
    expect(validateChatRequest({ ...ok, tools: [t], tool_choice: 'required' }, DEFAULT_CHAT_LIMITS, MODELS).tools).toMatchObject({ choice: 'required', tools: [{ name: 'get_weather' }] });
    expect(validateChatRequest({ ...ok, tools: [t], tool_choice: { type: 'function', function: { name: 'get_weather' } } }, DEFAULT_CHAT_LIMITS, MODELS).tools?.choice).toBe('get_weather');
    expect(validateChatRequest({ ...ok, tools: [t], parallel_tool_calls: false }, DEFAULT_CHAT_LIMITS, MODELS).tools).toMatchObject({ choice: '', parallel: false });
    expect(validateChatRequest({ ...ok, tools: [t] }, DEFAULT_CHAT_LIMITS, MODELS, modelFeatures('4.6')).tools).toMatchObject({ choice: '', tools: [{ name: 'get_weather' }] });
    const noTools = { toolCalls: false, familyName: 'Toy 1.0', why: 'its template has no tool section' };
    const e = (() => {
      try {
        validateChatRequest({ ...ok, tools: [t] }, DEFAULT_CHAT_LIMITS, MODELS, noTools);
      } catch (err) {
        return err as TesseraError;
      }
      throw new Error('accepted');
    })();
    expect(e.details.field).toBe('tools');
    expect(e.message).toMatch(/Toy 1\.0.*tool calls: its template has no tool section/);
    expect(validateChatRequest({ ...ok, tools: [t], tool_choice: 'none' }, DEFAULT_CHAT_LIMITS, MODELS, noTools).tools?.choice).toBe('none');
  });

  it('takes a tool-call round trip in history: assistant tool_calls (content null) and the tool result', () => {
    const v = validateChatRequest(
      {
        ...ok,
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        ],
      },
      DEFAULT_CHAT_LIMITS,
      MODELS,
    );
    expect(v.messages[1]).toEqual({ role: 'assistant', parts: [], toolCalls: [{ id: 'call_1', name: 'get_weather', argumentsJson: '{"city":"Paris"}' }] });
    expect(v.messages[2]).toEqual({ role: 'tool', parts: [{ kind: 'text', text: 'sunny' }], toolCallId: 'call_1' });
  });
});
