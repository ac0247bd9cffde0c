import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { ChatEvent, ChatService, PromptScores } from '../domain/chat-events.js';
import type { ValidChatRequest, ValidCompletionRequest } from '../domain/openai/valid-request.js';
import { DEFAULT_CHAT_LIMITS } from '../domain/openai/limits.js';
import { ApiKeyStore, hashApiKey } from '../domain/tenancy/api-keys.js';
import { QuotaLedger } from '../domain/tenancy/quota-ledger.js';
import { createHttpServer } from './server.js';

// The HTTP edge is tested here against a scripted ChatService (it echoes the prompt word by word);
// the real orchestrator over the bus is exercised by e2e/ with every service running.
// A text completion's raw prompt is echoed the same way; with logprobs each word gets -n and its alternatives.
const seen: ValidChatRequest[] = [];
const scripted: ChatService = {
  async estimatePromptTokens() {
    return 10;
  },
  async *chat(req, ctx): AsyncIterable<ChatEvent> {
    seen.push(req);
    const words = req.promptTokenIds ? req.promptTokenIds.map(String) : req.prompt !== undefined ? req.prompt.split(' ') : req.messages.flatMap((m) => m.parts.flatMap((p) => (p.kind === 'text' ? p.text.split(' ') : ['<img>'])));
    let n = 0;
    // Prompt logprobs come with the first delta: prompt word i scores -i/2 with rank i (the first none).
    let prompt: PromptScores | undefined =
      req.promptLogprobs === undefined
        ? undefined
        : {
            text: req.prompt ?? `ids ${req.promptTokenIds?.join(' ')}`,
            tokens: words.map((w, i) => ({ tokenId: 100 + i, token: i ? ` ${w}` : w, logprob: i ? -i / 2 : null, rank: i ? i : null, top: i ? Array.from({ length: req.promptLogprobs! }, (_, k) => ({ tokenId: 200 + k, token: `p${k}`, logprob: -0.1 * (k + 1) })) : [] })),
          };
    // With thinking on, the orchestrator's split (reasoning-output.ts) hands the reasoning over first.
    if (req.enableThinking) yield { kind: 'delta', text: '', reasoning: 'Counting words. ', tokenIds: [0] };
    for (const w of words.slice(0, req.sampling.maxTokens)) {
      if (ctx.signal.aborted) break;
      n++;
      const logprobs = req.sampling.logprobs ? [{ token: `${w} `, logprob: -n, top: Array.from({ length: req.sampling.topLogprobs }, (_, k) => ({ token: `alt${k}`, logprob: -n - k - 1 })) }] : undefined;
      yield { kind: 'delta', text: `${w} `, tokenIds: [n], ...(logprobs && { logprobs }), ...(prompt && { prompt }) };
      prompt = undefined;
    }
    yield { kind: 'final', finishReason: n < req.sampling.maxTokens ? 'stop' : 'length', usage: { promptTokens: 10, visualTokens: 0, completionTokens: n }, timings: { total: 1 }, sources: [] };
  },
};

let server: Server;
let base: string;
const auth = { authorization: 'Bearer sk-test' };

beforeAll(async () => {
  const keys = new ApiKeyStore(
    {
      tenants: { t2: { requestsPerMinute: 1 } },
      keys: [
        { id: 'k', tenant: 't1', sha256: hashApiKey('sk-test') },
        { id: 'r', tenant: 't1', sha256: hashApiKey('sk-revoked'), revoked: true },
        { id: 'k2', tenant: 't2', sha256: hashApiKey('sk-t2') },
      ],
    },
    { requestsPerMinute: 1000, tokensPerMinute: 1_000_000, concurrentStreams: 8, maxImagePixels: 4_000_000, maxImagesPerRequest: 4 },
  );
  server = createHttpServer({
    keys,
    quotas: new QuotaLedger(),
    chat: scripted,
    limits: DEFAULT_CHAT_LIMITS,
    models: () => ['tiny'],
    describeModel: () => ({ family: '4.6', downsample_modes: ['16x', '4x'] }),
    maxBodyBytes: 4096,
    requestTimeoutMs: 10_000,
    ready: () => true,
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const post = (body: string, headers: Record<string, string> = auth) =>
  fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const chatBody = (extra: object = {}) => JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'one two three' }], ...extra });

describe('gateway HTTP edge', () => {
  it('answers a non-streamed chat in the OpenAI schema with an id', async () => {
    const res = await post(chatBody());
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0].message).toEqual({ role: 'assistant', content: 'one two three ' });
    expect(body.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 });
    expect(res.headers.get('x-response-id')).toBe(body.id);
    expect(res.headers.get('cache-control')).toBe('no-store'); // one JSON writer (route-kit sendJson) for every answer
  });

  it('streams SSE chunks ending in usage and [DONE]', async () => {
    const res = await post(chatBody({ stream: true, stream_options: { include_usage: true }, max_tokens: 2 }));
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('one two ');
    expect(chunks.at(-2).choices[0].finish_reason).toBe('length');
    expect(chunks.at(-2).tessera.timings_ms).toEqual({ total: 1 });
    expect(chunks.at(-1).choices).toEqual([]);
    expect(chunks.at(-1).usage.completion_tokens).toBe(2);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('without include_usage every chunk has a choice (the `chunk.choices[0].delta` loop never throws)', async () => {
    const res = await post(chatBody({ stream: true, max_tokens: 2 }));
    const events = (await res.text()).split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    for (const c of chunks) expect(c.choices[0].delta).toBeTypeOf('object');
    expect(chunks.some((c) => 'usage' in c)).toBe(false);
    // Per-stage timings ride on the last content chunk as the documented `tessera` extension.
    expect(chunks.at(-1).choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1).tessera.timings_ms).toEqual({ total: 1 });
  });

  it('reasoning goes to message.reasoning_content / delta.reasoning_content (and vLLM\'s `reasoning`); none without thinking', async () => {
    const thinking = { chat_template_kwargs: { enable_thinking: true } };
    const json = (await (await post(chatBody(thinking))).json()) as any;
    expect(json.choices[0].message).toEqual({ role: 'assistant', content: 'one two three ', reasoning_content: 'Counting words. ', reasoning: 'Counting words. ' });
    const events = (await (await post(chatBody({ ...thinking, stream: true }))).text()).split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    const deltas = events.slice(0, -1).map((e) => JSON.parse(e).choices[0].delta);
    expect(deltas[1]).toEqual({ reasoning_content: 'Counting words. ', reasoning: 'Counting words. ' });
    expect(deltas.map((d) => d.content ?? '').join('')).toBe('one two three ');
    expect(deltas.filter((d) => 'reasoning_content' in d)).toHaveLength(1);
    const plain = (await (await post(chatBody({ chat_template_kwargs: { enable_thinking: false } }))).json()) as any;
    expect(plain.choices[0].message).toEqual({ role: 'assistant', content: 'one two three ' });
    const bad = await post(chatBody({ chat_template_kwargs: { enable_thinking: 'on' } }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.param).toBe('chat_template_kwargs.enable_thinking');
  });

  it('echoes a caller x-request-id, makes one up otherwise, on every response', async () => {
    const mine = await post(chatBody(), { ...auth, 'x-request-id': 'trace-abc-123' });
    expect(mine.headers.get('x-request-id')).toBe('trace-abc-123');
    const fresh = await post(chatBody());
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const junk = await post(chatBody(), { ...auth, 'x-request-id': 'has spaces "and quotes"' });
    expect(junk.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    for (const r of [await fetch(`${base}/v1/nothing`, { headers: auth }), await fetch(`${base}/healthz`), await post('{"model": ')]) {
      expect(r.headers.get('x-request-id')).toBeTruthy();
    }
  });

  it('reports x-ratelimit-* headers from the tenant quota', async () => {
    const res = await post(chatBody());
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('1000');
    expect(Number(res.headers.get('x-ratelimit-remaining-requests'))).toBeLessThan(1000);
    expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('1000000');
    expect(Number(res.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(1_000_000);
    expect(res.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+\.\d{3}s$/);
  });

  it('retrieves one model by id (404 in the OpenAI shape for an unknown one) and answers vLLM\'s /health', async () => {
    const one = await fetch(`${base}/v1/models/tiny`, { headers: auth });
    expect(one.status).toBe(200);
    expect(await one.json()).toEqual({ id: 'tiny', object: 'model', created: 0, owned_by: 'tessera', family: '4.6', downsample_modes: ['16x', '4x'] });
    const missing = await fetch(`${base}/v1/models/gpt-9`, { headers: auth });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).error.param).toBe('model');
    expect((await fetch(`${base}/v1/models/tiny`)).status).toBe(401);
    // A malformed percent-escape in the id is the caller's error (400 naming the field), not a 500.
    const malformed = await fetch(`${base}/v1/models/%E0%A4%A`, { headers: auth });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as any).error.param).toBe('model');
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
  });

  const errorCases: Array<[string, () => Promise<Response>, number, string | null]> = [
    ['no key', () => post(chatBody(), {}), 401, 'authorization'],
    ['wrong key', () => post(chatBody(), { authorization: 'Bearer sk-wrong' }), 401, 'authorization'],
    ['revoked key', () => post(chatBody(), { authorization: 'Bearer sk-revoked' }), 401, 'authorization'],
    ['malformed JSON', () => post('{"model": '), 400, 'body'],
    ['empty body', () => post(''), 400, 'body'],
    ['invalid UTF-8', () => fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: Buffer.concat([Buffer.from('{"model":"tiny","messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]) }), 400, 'body'],
    ['oversized body', () => post(chatBody({ pad: 'x'.repeat(10_000) })), 413, 'body'],
    ['wrong content type', () => fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: chatBody() }), 400, 'content-type'],
    ['unknown model', () => post(chatBody({ model: 'nope' })), 404, 'model'],
    ['wrong types', () => post(JSON.stringify({ model: 'tiny', messages: { role: 'user' } })), 400, 'messages'],
    ['negative max_tokens', () => post(chatBody({ max_tokens: -5 })), 400, 'max_tokens'],
    ['temperature 5', () => post(chatBody({ temperature: 5 })), 400, 'temperature'],
    ['unknown route', () => fetch(`${base}/v1/nothing`, { headers: auth }), 404, 'path'],
  ];
  it.each(errorCases)('%s → %i with an OpenAI error body', async (_n, call, status, param) => {
    const res = await call();
    expect(res.status).toBe(status);
    expect([res.headers.get('content-type'), res.headers.get('cache-control')]).toEqual(['application/json', 'no-store']);
    const body = (await res.json()) as any;
    expect(body.error.message).toEqual(expect.any(String));
    expect(body.error.type).toEqual(expect.any(String));
    expect(body.error.param).toBe(param);
  });

  it('names the broken limit in the message (as gRPC BadRequest does), once', async () => {
    const message = async (body: string) => ((await (await post(body)).json()) as any).error.message as string;
    expect(await message(chatBody({ stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }))).toBe('too many stop sequences: 17 (limit: stop <= 16)');
    // A message that already spells its limit is not given it twice.
    expect(await message(chatBody({ temperature: 5 }))).toBe('temperature is 5; allowed: 0 <= temperature <= 2');
    expect(await message(chatBody({ max_tokens: 0 }))).toBe('max_tokens is 0; allowed: 1 <= max_tokens <= 4096');
  });

  it('answers 405 with Allow for a wrong method', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, { headers: auth });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(((await res.json()) as any).error.code).toBe('method_not_allowed');
    const models = await fetch(`${base}/v1/models`, { method: 'DELETE', headers: auth });
    expect([models.status, models.headers.get('allow')]).toEqual([405, 'GET']);
  });

  it('answers 429 with Retry-After when a tenant is over its request rate, without affecting others', async () => {
    expect((await post(chatBody(), { authorization: 'Bearer sk-t2' })).status).toBe(200);
    const res = await post(chatBody(), { authorization: 'Bearer sk-t2' });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await post(chatBody())).status).toBe(200);
  });

  it('lists models for an authenticated caller', async () => {
    const res = await fetch(`${base}/v1/models`, { headers: auth });
    expect(((await res.json()) as any).data[0]).toMatchObject({ id: 'tiny', family: '4.6', downsample_modes: ['16x', '4x'] });
    expect((await fetch(`${base}/v1/models`)).status).toBe(401);
  });
  describe('POST /v1/completions', () => {
    const complete = (extra: object = {}, headers: Record<string, string> = auth) =>
      fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'tiny', prompt: 'one two three', ...extra }) });
    const sse = async (res: Response) => {
      const events = (await res.text()).split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
      expect(events.at(-1)).toBe('[DONE]');
      return events.slice(0, -1).map((e) => JSON.parse(e));
    };

    it('answers in the text_completion shape with a cmpl- id, usage and the chat headers; the service gets the raw prompt and no messages', async () => {
      const res = await complete({ max_tokens: 2 }, { ...auth, 'x-request-id': 'cmpl-req-1' });
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      expect(body).toMatchObject({ object: 'text_completion', model: 'tiny', choices: [{ index: 0, text: 'one two ', logprobs: null, finish_reason: 'length' }], usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 } });
      expect(body.id).toMatch(/^cmpl-[0-9a-f-]{36}$/);
      expect(body.created).toEqual(expect.any(Number));
      expect([res.headers.get('x-response-id'), res.headers.get('x-request-id'), res.headers.get('x-ratelimit-limit-requests')]).toEqual([body.id, 'cmpl-req-1', '1000']);
      const req = seen.at(-1)!;
      expect([req.prompt, req.messages, req.images, req.sampling.maxTokens]).toEqual(['one two three', [], [], 2]);
      // OpenAI's default max_tokens for completions is 16 (chat's is the deployment's default).
      await complete();
      expect(seen.at(-1)!.sampling.maxTokens).toBe(16);
    });

    it('echo puts the prompt before the text, in the JSON body and as the first streamed chunk', async () => {
      const json = (await (await complete({ echo: true })).json()) as any;
      expect(json.choices[0].text).toBe('one two threeone two three ');
      const chunks = await sse(await complete({ echo: true, stream: true }));
      expect(chunks[0].choices[0]).toEqual({ index: 0, text: 'one two three', logprobs: null, finish_reason: null });
      expect(chunks.map((c) => c.choices[0].text).join('')).toBe(json.choices[0].text);
    });

    it('streams text_completion chunks: text deltas, finish_reason last, usage only with include_usage, then [DONE]', async () => {
      const chunks = await sse(await complete({ stream: true, max_tokens: 2 }));
      expect(new Set(chunks.map((c) => `${c.object} ${c.id}`)).size).toBe(1);
      expect(chunks[0].object).toBe('text_completion');
      expect(chunks.map((c) => c.choices[0].text).join('')).toBe('one two ');
      expect(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
      expect(chunks.at(-1).choices[0].finish_reason).toBe('length');
      expect(chunks.some((c) => 'usage' in c)).toBe(false);
      const withUsage = await sse(await complete({ stream: true, stream_options: { include_usage: true } }));
      expect(withUsage.at(-2).choices[0].finish_reason).toBe('stop');
      expect(withUsage.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 } });
    });

    it('logprobs k: the legacy object (tokens, token_logprobs, top_logprobs with k alternatives and the token, text_offset), streamed with running offsets', async () => {
      const json = (await (await complete({ logprobs: 2 })).json()) as any;
      expect(json.choices[0].logprobs).toEqual({
        tokens: ['one ', 'two ', 'three '],
        token_logprobs: [-1, -2, -3],
        top_logprobs: [{ alt0: -2, alt1: -3, 'one ': -1 }, { alt0: -3, alt1: -4, 'two ': -2 }, { alt0: -4, alt1: -5, 'three ': -3 }],
        text_offset: [0, 4, 8],
      });
      // Offsets count characters as Python does (vLLM): an emoji is one, not two UTF-16 units.
      const emoji = (await (await complete({ prompt: 'a 🙂 b', logprobs: 0 })).json()) as any;
      expect(emoji.choices[0].logprobs.text_offset).toEqual([0, 2, 4]);
      const chunks = await sse(await complete({ logprobs: 0, stream: true }));
      const streamed = chunks.filter((c) => c.choices[0].logprobs);
      expect(streamed.map((c) => c.choices[0].logprobs.text_offset[0])).toEqual([0, 4, 8]);
      expect(streamed[1].choices[0].logprobs.top_logprobs).toEqual([{ 'two ': -2 }]);
    });

    it('echo with logprobs: the prompt tokens first (the first with null logprob and alternatives), offsets running on into the answer', async () => {
      const json = (await (await complete({ echo: true, logprobs: 1, max_tokens: 2 })).json()) as any;
      const c = json.choices[0];
      expect(c.text).toBe('one two threeone two ');
      expect(c.logprobs).toEqual({
        tokens: ['one', ' two', ' three', 'one ', 'two '],
        token_logprobs: [null, -0.5, -1, -1, -2],
        top_logprobs: [null, { p0: -0.1, ' two': -0.5 }, { p0: -0.1, ' three': -1 }, { alt0: -2, 'one ': -1 }, { alt0: -3, 'two ': -2 }],
        text_offset: [0, 3, 7, 13, 17],
      });
      expect(seen.at(-1)!.promptLogprobs).toBe(1);
      expect(c.prompt_logprobs).toBeUndefined();
      // Streamed: the echoed prompt and its scores in the first chunk, then the answer's.
      const chunks = await sse(await complete({ echo: true, logprobs: 1, max_tokens: 2, stream: true }));
      expect(chunks[0].choices[0]).toMatchObject({ text: 'one two three', logprobs: { tokens: ['one', ' two', ' three'], token_logprobs: [null, -0.5, -1], text_offset: [0, 3, 7] } });
      expect(chunks.map((x) => x.choices[0].text).join('')).toBe(c.text);
      expect(chunks.filter((x) => x.choices[0].logprobs).flatMap((x) => x.choices[0].logprobs.text_offset)).toEqual(c.logprobs.text_offset);
    });

    it('max_tokens 0 with echo returns the prompt alone (scored), finish_reason length, no completion tokens; token ids echo as the decoder decodes them', async () => {
      const json = (await (await complete({ echo: true, logprobs: 0, max_tokens: 0 })).json()) as any;
      expect(json.choices[0]).toMatchObject({ text: 'one two three', finish_reason: 'length', logprobs: { tokens: ['one', ' two', ' three'], token_logprobs: [null, -0.5, -1] } });
      expect(json.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 0 });
      expect(seen.at(-1)!.sampling.maxTokens).toBe(1);
      const chunks = await sse(await complete({ echo: true, max_tokens: 0, stream: true, stream_options: { include_usage: true } }));
      expect(chunks.map((x) => x.choices[0]?.text ?? '').join('')).toBe('one two three');
      expect(chunks.at(-1).usage.completion_tokens).toBe(0);
      const ids = (await (await complete({ prompt: [7, 8], echo: true, max_tokens: 1 })).json()) as any;
      expect(ids.choices[0].text).toBe('ids 7 8' + '7 ');
      expect(ids.choices[0].logprobs).toBeNull();
    });

    it("prompt_logprobs as vLLM returns them: per choice on completions (null first, keyed by token id with rank and decoded_token), at the top on chat", async () => {
      const json = (await (await complete({ prompt_logprobs: 1, max_tokens: 1 })).json()) as any;
      expect(json.choices[0].prompt_logprobs).toEqual([null, { 200: { logprob: -0.1, rank: 1, decoded_token: 'p0' }, 101: { logprob: -0.5, rank: 1, decoded_token: ' two' } }, { 200: { logprob: -0.1, rank: 1, decoded_token: 'p0' }, 102: { logprob: -1, rank: 2, decoded_token: ' three' } }]);
      expect(json.choices[0].text).toBe('one ');
      const streamed = await sse(await complete({ prompt_logprobs: 0, max_tokens: 1, stream: true }));
      expect(streamed[0].choices[0].prompt_logprobs).toHaveLength(3);
      const chat = (await (await post(chatBody({ prompt_logprobs: 0, max_tokens: 1 }))).json()) as any;
      expect(chat.prompt_logprobs).toHaveLength(3);
      expect(chat.prompt_logprobs[0]).toBeNull();
    });

    it('a batch of prompts: each answered as alone (echo, its own recorded id) in prompt order, usage sums the prompts', async () => {
      // (The scripted service answers one choice per request; n per prompt is the orchestrator's, e2e.)
      const json = (await (await complete({ prompt: ['a b', 'c d e'], echo: true })).json()) as any;
      expect(json.choices.map((c: any) => [c.index, c.text, c.tessera.response_id])).toEqual([
        [0, 'a ba b ', json.id],
        [1, 'c d ec d e ', `${json.id}-p1`],
      ]);
      expect(json.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 5 });
      expect(seen.slice(-2).map((r) => [r.prompt, (r as ValidCompletionRequest).batch])).toEqual([['a b', undefined], ['c d e', undefined]]);
      const chunks = await sse(await complete({ prompt: ['a b', 'c'], stream: true, stream_options: { include_usage: true } }));
      const textOf = (i: number) => chunks.filter((c) => c.choices[0]?.index === i).map((c) => c.choices[0].text).join('');
      expect([textOf(0), textOf(1)]).toEqual(['a b ', 'c ']);
      expect(chunks.at(-1).usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 3 });
    });

    it('refuses what it cannot do with a 400 naming the field (suffix, best_of, a bad prompt of a batch)', async () => {
      for (const [extra, param] of [[{ suffix: '!' }, 'suffix'], [{ best_of: 2 }, 'best_of'], [{ prompt: ['a', ''] }, 'prompt[1]'], [{ prompt: [1, -2] }, 'prompt[1]'], [{ max_tokens: 0 }, 'max_tokens'], [{ prompt_logprobs: 30 }, 'prompt_logprobs'], [{ temperature: 5 }, 'temperature']] as const) {
        const res = await complete(extra);
        expect([res.status, ((await res.json()) as any).error.param]).toEqual([400, param]);
      }
      expect((await complete({}, {})).status).toBe(401);
      const get = await fetch(`${base}/v1/completions`, { headers: auth });
      expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    });
  });
});
