/**
 * The OpenAI-compatible API as users drive it, with clients nobody here wrote: the official `openai`
 * SDK and LangChain's `@langchain/openai`, against the whole stack as processes (tiny checkpoint).
 * Covers the patterns that broke before issue 17: the `chunk.choices[0].delta` stream loop,
 * `models.retrieve`, structured output parsing (`response_format` json_schema, enforced by
 * constrained decoding in the decoder — a random-weight model writes JSON only because of the mask),
 * tool calls (MiniCPM-V 2.6 through the Hermes tool template: a forced choice is constrained, so a
 * random-weight model still makes a valid call; the round trip feeds the result back), `x-request-id`, and the
 * user-facing TTFT series at the gateway (vision stages included).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import OpenAI from 'openai';
import { ChatOpenAI } from '@langchain/openai';
import { connect, type NatsConnection } from 'nats';
import { SERVICES, type decodingV1 } from '@tessera/contracts';
import { startLocalStack, type RunningStack } from '@tessera/local-stack';
import { ensureTinyModel, Tokenizer } from '@tessera/model';
import { natsClient, serviceInboxPrefix } from '@tessera/runtime';
import { parseExposition } from '@tessera/telemetry';
import { weatherTool } from './tools.js';

const KEY = 'sk-e2e-sdk';
const MODEL = 'minicpm-v-2_6';
let stack: RunningStack;
let client: OpenAI;
let nc: NatsConnection;

const mood = {
  type: 'object',
  properties: { happy: { type: 'boolean' }, weather: { type: 'string', enum: ['sun', 'rain', 'snow'] } },
  required: ['happy', 'weather'],
  additionalProperties: false,
};

beforeAll(async () => {
  const modelDir = await ensureTinyModel();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-sdk-'));
  const keysFile = join(dir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify({ keys: [{ id: 'sdk', tenant: 'sdk', sha256: createHash('sha256').update(KEY).digest('hex') }] }));
  stack = await startLocalStack({
    modelDir,
    workDir: dir,
    services: ['slicer', 'resampler', 'decoder', 'gateway'],
    env: { TESSERA_INTRA_OP_THREADS: '1' },
    serviceEnv: { gateway: { TESSERA_GATEWAY_API_KEYS_FILE: keysFile, TESSERA_GATEWAY_MODEL_ID: MODEL, TESSERA_GATEWAY_RECORD_RESPONSES: 'false' } },
  });
  client = new OpenAI({ apiKey: KEY, baseURL: `${stack.httpUrl}/v1`, maxRetries: 0, timeout: 120_000 });
  // The operator's login, to ask the decoder itself what the gateway's answers must equal.
  nc = await connect({ servers: stack.natsUrl, ...stack.natsLogin, inboxPrefix: serviceInboxPrefix('operator') });
}, 420_000);

afterAll(async () => {
  await nc?.close();
  await stack?.stop();
});

describe('official openai SDK', () => {
  it('lists and retrieves the model; an unknown id is NotFoundError', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toEqual([MODEL]);
    const m = await client.models.retrieve(MODEL);
    expect(m).toMatchObject({ id: MODEL, object: 'model' });
    await expect(client.models.retrieve('gpt-9')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('streams with the common `chunk.choices[0].delta` loop (no usage asked), with an image, x-request-id honoured', async () => {
    const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 40, g: 120, b: 200 } } }).png().toBuffer();
    const { data: stream, response } = await client.chat.completions
      .create(
        {
          model: MODEL,
          stream: true,
          max_tokens: 6,
          seed: 1,
          messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}` } }, { type: 'text', text: 'What is this?' }] }],
        },
        { headers: { 'x-request-id': 'sdk-stream-1' } },
      )
      .withResponse();
    expect(response.headers.get('x-request-id')).toBe('sdk-stream-1');
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]!.delta.content ?? '';
      finish = chunk.choices[0]!.finish_reason ?? finish;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(finish);

    // With usage asked for, the usage chunk (choices: []) comes last, as OpenAI sends it.
    const withUsage = await client.chat.completions.create({ model: MODEL, stream: true, max_tokens: 4, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] });
    const chunks = [];
    for await (const c of withUsage) chunks.push(c);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('logit_bias: +100 makes every token the biased one, -100 bans the one greedy decoding picks', async () => {
    const ask = (logit_bias?: Record<string, number>) => client.chat.completions.create({ model: MODEL, max_tokens: 3, temperature: 0, seed: 1, logprobs: true, messages: [{ role: 'user', content: 'Hi' }], ...(logit_bias && { logit_bias }) });
    const forced = await ask({ '9707': 100 }); // "Hello" in the Qwen2 vocabulary
    expect(forced.choices[0]!.message.content).toBe('HelloHelloHello');
    const firstToken = async (bias?: Record<string, number>) => (await ask(bias)).choices[0]!.logprobs!.content![0]!.token;
    const first = await firstToken();
    expect(await firstToken({})).toBe(first); // {} is no bias
    const ids = Tokenizer.fromDir(await ensureTinyModel()).encodePlain(first);
    expect(ids).toHaveLength(1);
    expect(await firstToken({ [String(ids[0])]: -100 })).not.toBe(first);
  });

  it('ignore_eos, stop_token_ids and min_tokens (vLLM): an end-of-sequence the model picks (here forced by logit_bias) no longer ends the answer, or not before min_tokens; a listed id does', async () => {
    // The Node SDK passes fields it does not know on in the body (vLLM's extras are sent this way).
    const ask = (extra: Record<string, unknown>) => client.chat.completions.create({ model: MODEL, max_tokens: 5, temperature: 0, messages: [{ role: 'user', content: 'Hi' }], logit_bias: { '151645': 100 }, ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const ended = await ask({});
    expect([ended.choices[0]!.finish_reason, ended.choices[0]!.message.content]).toEqual(['stop', '']);
    const full = await ask({ ignore_eos: true });
    expect([full.choices[0]!.finish_reason, full.usage!.completion_tokens]).toEqual(['length', 5]);
    expect(full.choices[0]!.message.content).not.toContain('<|im_end|>'); // special tokens are not text (vLLM's skip_special_tokens)
    // vLLM's stop_token_ids: the forced "Hello" (9707) ends the answer, its text returned as vLLM returns it.
    const hello = await ask({ logit_bias: { '9707': 100 }, stop_token_ids: [9707] });
    expect([hello.choices[0]!.finish_reason, hello.choices[0]!.message.content, hello.usage!.completion_tokens]).toEqual(['stop', 'Hello', 1]);
    // vLLM's min_tokens: the forced end-of-sequence is masked for the first 3 tokens, then it ends the answer.
    const held = await ask({ min_tokens: 3 });
    expect([held.choices[0]!.finish_reason, held.usage!.completion_tokens]).toEqual(['stop', 4]);
    expect(held.choices[0]!.message.content!.length).toBeGreaterThan(0);
    const bad = await ask({ min_tokens: 6 }).catch((err: unknown) => err);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('min_tokens');
  });

  it("usage.prompt_tokens_details.cached_tokens: what the decoder's prefix cache served (0 the first time, whole blocks of a repeated prompt after)", async () => {
    // A prompt of its own (no other test shares its prefix beyond the template), long enough for several 16-token blocks.
    const content = `Cache probe ${Date.now()}: ${'the quick brown fox jumps over the lazy dog, '.repeat(8)}`;
    const ask = () => client.chat.completions.create({ model: MODEL, max_tokens: 2, temperature: 0, messages: [{ role: 'user', content }] });
    const first = await ask();
    const again = await ask();
    const cached = (r: typeof first) => (r.usage!.prompt_tokens_details as { cached_tokens: number }).cached_tokens;
    expect(first.usage!.prompt_tokens).toBeGreaterThan(64);
    expect(cached(first)).toBe(0);
    expect(cached(again)).toBeGreaterThanOrEqual(64);
    expect(cached(again) % 16).toBe(0); // whole KV blocks (TESSERA_DECODER_KV_BLOCK_SIZE)
    expect(cached(again)).toBeLessThan(again.usage!.prompt_tokens); // the last prompt token is always computed
    expect(again.choices[0]!.message.content).toBe(first.choices[0]!.message.content);
  });

  it("a last assistant message is answered after it (as OpenAI does), or continued with vLLM's continue_final_message", async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Name a colour.' }, { role: 'assistant', content: 'My favourite colour is' }];
    const ask = (extra: Record<string, unknown> = {}) => client.chat.completions.create({ model: MODEL, max_tokens: 4, temperature: 0, messages, ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const after = await ask(); // was a 400 ("assistant prefill is not supported")
    const closed = await ask({ add_generation_prompt: false });
    const continued = await ask({ continue_final_message: true, add_generation_prompt: false });
    // ChatML (2.6): the default adds `<|im_start|>assistant\n` (3 tokens) to the closed chat; continuing drops its `<|im_end|>\n` (2).
    expect([after.usage!.prompt_tokens - closed.usage!.prompt_tokens, closed.usage!.prompt_tokens - continued.usage!.prompt_tokens]).toEqual([3, 2]);
    expect(continued.choices[0]!.message.content).not.toBe(after.choices[0]!.message.content);
    const both = await ask({ continue_final_message: true, add_generation_prompt: true }).catch((err: unknown) => err);
    expect(both).toBeInstanceOf(OpenAI.BadRequestError);
    expect((both as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('continue_final_message');
  });

  it('parses structured output (response_format json_schema) into an object of the schema', async () => {
    const completion = await client.chat.completions.parse({
      model: MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'How is the weather? Answer in JSON.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'mood', schema: mood, strict: true } },
    });
    const parsed = completion.choices[0]!.message.parsed as unknown as { happy: boolean; weather: string };
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(typeof parsed.happy).toBe('boolean');
    expect(['sun', 'rain', 'snow']).toContain(parsed.weather);
    expect(completion._request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a schema keyword constrained decoding cannot enforce, naming it (400)', async () => {
    const err = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'n', schema: { type: 'object', properties: { n: { type: 'integer', minimum: 1 } } } } } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('response_format.json_schema.schema.properties.n.minimum');
  });

  it('tool call round trip: a named tool_choice gives a call with schema-valid arguments, the result goes back as a tool message', async () => {
    const question = { role: 'user' as const, content: 'Weather in Paris?' };
    const first = await client.chat.completions.create({ model: MODEL, max_tokens: 32, messages: [question], tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0]!;
    expect(call.type).toBe('function');
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('get_weather');
    const args = JSON.parse(call.function.arguments) as { city: string; celsius: boolean };
    expect(['Paris', 'Oslo']).toContain(args.city);
    expect(typeof args.celsius).toBe('boolean');
    // The SDK's own message object goes back into history as is, followed by the tool result.
    const second = await client.chat.completions.create({
      model: MODEL,
      max_tokens: 8,
      tools: [weatherTool],
      messages: [question, choice.message, { role: 'tool', tool_call_id: call.id, content: JSON.stringify({ temperature: 18, sky: 'sunny' }) }],
    });
    expect(second.choices[0]!.message.role).toBe('assistant');
    expect(second.usage!.prompt_tokens).toBeGreaterThan(first.usage!.prompt_tokens);
  });

  it('streams tool calls as delta.tool_calls (tool_choice required) and ends with finish_reason tool_calls', async () => {
    const stream = await client.chat.completions.create({ model: MODEL, stream: true, max_tokens: 64, messages: [{ role: 'user', content: 'Weather?' }], tools: [weatherTool], tool_choice: 'required' });
    const calls: { id?: string; name: string; arguments: string }[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const d of chunk.choices[0]!.delta.tool_calls ?? []) {
        calls[d.index] ??= { name: '', arguments: '' };
        if (d.id) calls[d.index]!.id = d.id;
        calls[d.index]!.name += d.function?.name ?? '';
        calls[d.index]!.arguments += d.function?.arguments ?? '';
      }
      finish = chunk.choices[0]!.finish_reason ?? finish;
    }
    if (finish === 'length') return; // the array was cut by max_tokens: returned as content, as OpenAI does
    expect(finish).toBe('tool_calls');
    expect(calls.length).toBeGreaterThanOrEqual(1);
    for (const c of calls) {
      expect(c.id).toMatch(/^call_/);
      expect(c.name).toBe('get_weather');
      expect(['Paris', 'Oslo']).toContain((JSON.parse(c.arguments) as { city: string }).city);
    }
  });

  it('bad tool input is a 400 naming the field: an invalid parameter schema, a tool result answering no call', async () => {
    const badSchema = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'text' } } } } }] })
      .catch((e: unknown) => e);
    expect(badSchema).toBeInstanceOf(OpenAI.BadRequestError);
    expect((badSchema as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('tools[0].function.parameters.properties.a.type');
    const orphan = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'call_nope', content: 'r' }] })
      .catch((e: unknown) => e);
    expect((orphan as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages[1].tool_call_id');
  });
});

describe('@langchain/openai', () => {
  const llm = () => new ChatOpenAI({ model: MODEL, apiKey: KEY, configuration: { baseURL: `${stack.httpUrl}/v1` }, maxTokens: 48, temperature: 0, maxRetries: 0 });

  it('streams and invokes', async () => {
    let text = '';
    for await (const chunk of await llm().stream('Say hello')) text += typeof chunk.content === 'string' ? chunk.content : '';
    expect(text.length).toBeGreaterThan(0);
    const msg = await llm().invoke('Say hello');
    expect(typeof msg.content).toBe('string');
  });

  it('withStructuredOutput (json_schema) returns an object of the schema', async () => {
    const out = (await llm().withStructuredOutput(mood, { name: 'mood', method: 'jsonSchema', strict: true }).invoke('How is the weather?')) as { happy: boolean; weather: string };
    expect(typeof out.happy).toBe('boolean');
    expect(['sun', 'rain', 'snow']).toContain(out.weather);
  });

  it('bindTools with a forced tool returns a tool call with parsed arguments', async () => {
    const msg = await llm().bindTools([weatherTool], { tool_choice: 'get_weather' }).invoke('Weather in Paris?');
    expect(msg.tool_calls).toHaveLength(1);
    expect(msg.tool_calls![0]!.name).toBe('get_weather');
    expect(['Paris', 'Oslo']).toContain((msg.tool_calls![0]!.args as { city: string }).city);
  });
});

describe('user-facing metrics', () => {
  it('the gateway TTFT (vision included) is at least the decoder engine TTFT, labelled with the API model id', async () => {
    const scrape = async (name: string) => parseExposition(await (await fetch(`http://127.0.0.1:${stack.processes.find((p) => p.name === name)!.metricsPort}/metrics`)).text());
    const gateway = await scrape('gateway');
    const decoder = await scrape('decoder');
    const sum = (f: ReturnType<typeof parseExposition>, family: string, sample: string, labels: Record<string, string> = {}) =>
      (f.get(family)?.samples ?? []).filter((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
    const userTtft = sum(gateway, 'vllm:time_to_first_token_seconds', 'vllm:time_to_first_token_seconds_sum', { model_name: MODEL });
    const engineTtft = sum(decoder, 'tessera_decoder_time_to_first_token_seconds', 'tessera_decoder_time_to_first_token_seconds_sum');
    expect(sum(gateway, 'vllm:time_to_first_token_seconds', 'vllm:time_to_first_token_seconds_count', { model_name: MODEL })).toBeGreaterThanOrEqual(5);
    expect(userTtft).toBeGreaterThan(engineTtft);
    expect(decoder.has('vllm:time_to_first_token_seconds')).toBe(false);
    expect(sum(gateway, 'http_server_request_duration_seconds', 'http_server_request_duration_seconds_count', { http_route: '/v1/chat/completions', http_response_status_code: '400' })).toBeGreaterThanOrEqual(2);
  });
});

describe('official openai SDK: legacy text completions (client.completions.create)', () => {
  const PROMPT = 'The capital of France is';
  /** Greedy output of the decoder itself for PROMPT as a raw prompt (decoding.v1 GenerateRequest.prompt, no chat template). */
  async function decoderGreedy(maxTokens: number): Promise<{ text: string; completionTokens: number; promptTokens: number; finish: number }> {
    const decoder = natsClient(nc, SERVICES.decoder.definition);
    let text = '';
    let last: decodingV1.GenerateResponse | undefined;
    const sampling = { temperature: 0, maxTokens, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, stop: [], stopTokenIds: [], logprobs: false, topLogprobs: 0 };
    for await (const c of decoder.generate({ requestId: `e2e-raw-${maxTokens}-${Date.now()}`, messages: [], prompt: [{ part: { $case: 'text', text: PROMPT } }], images: [], sampling, modelRevision: '', tools: [], toolChoice: '' }, { tenant: 'sdk' })) {
      text += c.textDelta;
      last = c;
    }
    return { text, completionTokens: last!.usage!.completionTokens, promptTokens: last!.usage!.promptTokens, finish: last!.finishReason };
  }

  it('answers with the decoder\'s greedy output for the raw prompt; usage counts the prompt\'s own tokens (no chat template)', async () => {
    const expected = await decoderGreedy(10);
    const { data: completion, response } = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 10, temperature: 0 }).withResponse();
    expect(completion.object).toBe('text_completion');
    expect(completion.id).toMatch(/^cmpl-/);
    expect(response.headers.get('x-response-id')).toBe(completion.id);
    expect(response.headers.get('x-ratelimit-limit-requests')).toBeTruthy();
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]!.text).toBe(expected.text);
    expect(completion.choices[0]!.text.length).toBeGreaterThan(0);
    expect(completion.choices[0]!.logprobs).toBeNull();
    const promptTokens = Tokenizer.fromDir(await ensureTinyModel()).encodePlain(PROMPT).length;
    expect(completion.usage).toMatchObject({ prompt_tokens: promptTokens, completion_tokens: expected.completionTokens, total_tokens: promptTokens + expected.completionTokens });
    expect(expected.promptTokens).toBe(promptTokens);
    // A prompt in a list of one is the same request (what batch-of-one clients send).
    expect((await client.completions.create({ model: MODEL, prompt: [PROMPT], max_tokens: 10, temperature: 0 })).choices[0]!.text).toBe(expected.text);
    // The same prompt as token ids (what lm-eval's local-completions sends by default): the same answer and count.
    const ids = Tokenizer.fromDir(await ensureTinyModel()).encodePlain(PROMPT);
    const byIds = await client.completions.create({ model: MODEL, prompt: ids, max_tokens: 10, temperature: 0 });
    expect([byIds.choices[0]!.text, byIds.usage!.prompt_tokens]).toEqual([expected.text, ids.length]);
    // Every id is checked against the vocabulary, by the decoder: a 400 naming the position.
    const outside = await client.completions.create({ model: MODEL, prompt: [ids[0]!, 10_000_000], max_tokens: 2 }).catch((e: unknown) => e);
    expect(outside).toBeInstanceOf(OpenAI.BadRequestError);
    expect((outside as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('prompt_token_ids[1]');
  });

  it('streams the same text as text_completion chunks, finish_reason on the last choice, the usage chunk last when asked', async () => {
    const expected = await decoderGreedy(8);
    const stream = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const withChoice = chunks.filter((c) => c.choices.length > 0);
    expect(withChoice.map((c) => c.choices[0]!.text).join('')).toBe(expected.text);
    expect(withChoice.at(-1)!.choices[0]!.finish_reason).toBe(expected.completionTokens === 8 ? 'length' : 'stop');
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(expected.completionTokens);
  });

  it('echo: the text is the prompt followed by the completion', async () => {
    const expected = await decoderGreedy(6);
    const echoed = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 6, temperature: 0, echo: true });
    expect(echoed.choices[0]!.text.startsWith(PROMPT)).toBe(true);
    expect(echoed.choices[0]!.text).toBe(PROMPT + expected.text);
  });

  it("lm-eval's loglikelihood request (token ids, echo, max_tokens 1, logprobs 1): prompt scores equal the decoder's own scores of the tokens it generated, greedy ones are the max", async () => {
    // The decoder's greedy continuation of PROMPT, its token ids and each token's logprob (raw: temperature 0, no penalties).
    const decoder = natsClient(nc, SERVICES.decoder.definition);
    const sampling = { temperature: 0, maxTokens: 4, topK: 0, minP: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0, stop: [], stopTokenIds: [], ignoreEos: true, logprobs: true, topLogprobs: 0 };
    const gen: { id: number; logprob: number }[] = [];
    for await (const c of decoder.generate({ requestId: `e2e-ll-${Date.now()}`, messages: [], prompt: [{ part: { $case: 'text', text: PROMPT } }], images: [], sampling, modelRevision: '', tools: [], toolChoice: '' }, { tenant: 'sdk' })) {
      c.tokenIds.forEach((id, i) => gen.push({ id, logprob: c.logprobs[i]!.logprob }));
    }
    const tok = Tokenizer.fromDir(await ensureTinyModel());
    const context = tok.encodePlain(PROMPT);
    const ids = [...context, ...gen.map((g) => g.id)];
    const res = await client.completions.create({ model: MODEL, prompt: ids, temperature: 0, max_tokens: 1, logprobs: 1, echo: true, seed: 1234 });
    const lp = res.choices[0]!.logprobs!;
    // The prompt's tokens, then the one generated token; the first prompt token has nothing before it.
    expect(lp.token_logprobs).toHaveLength(ids.length + 1);
    expect(lp.token_logprobs![0]).toBeNull();
    expect(lp.top_logprobs![0]).toBeNull();
    expect(res.choices[0]!.text.startsWith(PROMPT)).toBe(true);
    // lm-eval's parse_logprobs: sum over [ctxlen:-1] and is_greedy = each equals the max of its alternatives.
    const continuation = lp.token_logprobs!.slice(context.length, -1) as number[];
    continuation.forEach((l, j) => expect(l, `continuation token ${j}`).toBeCloseTo(gen[j]!.logprob, 4));
    lp.top_logprobs!.slice(context.length, -1).forEach((top, j) => expect(continuation[j]).toBe(Math.max(...Object.values(top!))));
    expect(res.usage!.prompt_tokens).toBe(ids.length);
    // OpenAI's scoring call: max_tokens 0 with echo returns the prompt alone.
    const only = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 0, echo: true, logprobs: 0 });
    expect(only.choices[0]!.text).toBe(PROMPT);
    expect(only.choices[0]!.logprobs!.token_logprobs).toHaveLength(context.length);
    expect(only.choices[0]!.logprobs!.token_logprobs!.slice(1).every((x) => typeof x === 'number' && x <= 0)).toBe(true);
    expect(only.usage!.completion_tokens).toBe(0);
  });

  it('a batch of prompts (lm-eval with batch_size > 1): prompt p\'s choice i is choice p·n + i, each what the prompt alone answers; usage sums the prompts', async () => {
    const other = Tokenizer.fromDir(await ensureTinyModel()).encodePlain('Paris is a city where');
    const sampled = { max_tokens: 5, temperature: 1, seed: 11, n: 2 } as const;
    const alone = [await client.completions.create({ model: MODEL, prompt: PROMPT, ...sampled }), await client.completions.create({ model: MODEL, prompt: other, ...sampled })];
    const batch = await client.completions.create({ model: MODEL, prompt: [PROMPT, other] as unknown as string[], ...sampled });
    expect(batch.choices.map((c) => [c.index, c.text])).toEqual(alone.flatMap((a, p) => a.choices.map((c) => [p * 2 + c.index, c.text])));
    expect(batch.usage!.prompt_tokens).toBe(alone[0]!.usage!.prompt_tokens + alone[1]!.usage!.prompt_tokens);
    expect(batch.usage!.completion_tokens).toBe(alone[0]!.usage!.completion_tokens + alone[1]!.usage!.completion_tokens);
    // lm-eval's batched loglikelihood: token-id prompts, echo, logprobs: each choice scores its own prompt.
    const scored = await client.completions.create({ model: MODEL, prompt: [other, other.slice(0, 3)] as unknown as string[], max_tokens: 1, temperature: 0, echo: true, logprobs: 1 });
    expect(scored.choices.map((c) => c.logprobs!.token_logprobs!.length)).toEqual([other.length + 1, 4]);
  });

  it('logprobs k: per generated token its logprob, at most k + 1 alternatives holding it, offsets into the text; greedy picks the most likely', async () => {
    const completion = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 6, temperature: 0, logprobs: 2 });
    const lp = completion.choices[0]!.logprobs!;
    expect(lp.tokens).toHaveLength(completion.usage!.completion_tokens);
    expect(lp.token_logprobs).toHaveLength(lp.tokens!.length);
    expect(lp.text_offset![0]).toBe(0);
    lp.tokens!.forEach((token, i) => {
      const top = lp.top_logprobs![i]!;
      expect(Object.keys(top).length).toBeLessThanOrEqual(3);
      expect(top[token]).toBe(lp.token_logprobs![i]);
      // Greedy: the sampled token is the most likely one.
      expect(lp.token_logprobs![i]).toBe(Math.max(...Object.values(top)));
      if (i > 0) expect(lp.text_offset![i]).toBe(lp.text_offset![i - 1]! + [...lp.tokens![i - 1]!].length); // characters, as Python counts them
    });
  });

  it('stop: the text ends before the first stop string, finish_reason stop', async () => {
    const { text } = await decoderGreedy(12);
    expect(text.length).toBeGreaterThan(3);
    const stop = text.slice(Math.floor(text.length / 2), Math.floor(text.length / 2) + 2);
    const stopped = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 12, temperature: 0, stop: [stop] });
    expect(stopped.choices[0]!.text).toBe(text.slice(0, text.indexOf(stop)));
    expect(stopped.choices[0]!.finish_reason).toBe('stop');
  });

  it('a field this server does not support is a 400 naming it (suffix, best_of, logprobs above 5)', async () => {
    const refused = async (body: Record<string, unknown>) => {
      const err = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 2, ...body } as OpenAI.CompletionCreateParamsNonStreaming).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      return err as InstanceType<typeof OpenAI.BadRequestError>;
    };
    const suffix = await refused({ suffix: ' and so on' });
    expect([suffix.param, suffix.message]).toEqual(['suffix', expect.stringContaining('suffix')]);
    expect((await refused({ best_of: 3 })).param).toBe('best_of');
    expect((await refused({ logprobs: 9 })).message).toContain('0 <= logprobs <= 5');
  });
});

