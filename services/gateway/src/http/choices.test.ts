/**
 * OpenAI's `n` at the HTTP edge, against a scripted ChatService that streams n choices the way the
 * orchestrator does (domain/chat-events.ts: deltas tagged with their choice, interleaved, one final
 * per choice): the JSON and SSE shapes of chat and text completions, usage (prompt once, completions
 * summed, cached tokens of choice 0), the reservation (prompt + n × max_tokens), one request in the
 * vllm:* series, failures before and after the first byte, and the client going away. The fan-out
 * into decoder generations is chat-orchestrator-choices.test.ts; the real stack e2e/src/choices.e2e.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { MetricsRegistry, parseExposition } from '@tessera/telemetry';
import type { ChatEvent, ChatService } from '../domain/chat-events.js';
import { DEFAULT_CHAT_LIMITS } from '../domain/openai/limits.js';
import { ApiKeyStore, hashApiKey } from '../domain/tenancy/api-keys.js';
import { QuotaLedger } from '../domain/tenancy/quota-ledger.js';
import { HttpMetrics } from './request-metrics.js';
import { createHttpServer } from './server.js';

const PROMPT_TOKENS = 10;
const cancelled: string[] = [];

/**
 * Choice i writes `c<i>t0 `, `c<i>t1 ` (the last choice only its first token, then stops): every
 * choice's first token, then the last choice's final, then the others' second tokens and finals.
 * The prompt picks a failure: "fail early" before any event, "fail late" in choice 1 after the first
 * round, "hang" waits for the client to go away.
 */
const scripted: ChatService = {
  async estimatePromptTokens() {
    return PROMPT_TOKENS;
  },
  async *chat(req, ctx): AsyncIterable<ChatEvent> {
    const text = req.prompt ?? req.messages.flatMap((m) => m.parts.map((p) => (p.kind === 'text' ? p.text : ''))).join('');
    const n = req.n ?? 1;
    if (text === 'fail early') throw new TesseraError(ErrorCode.UNAVAILABLE, 'the decoder is down', { retryAfterMs: 1000 });
    const final = (choice: number, tokens: number, finishReason: 'stop' | 'length'): ChatEvent => ({
      kind: 'final',
      choice,
      finishReason,
      // The choices after choice 0 find the prompt cached by it: only choice 0's count is the client's.
      usage: { promptTokens: PROMPT_TOKENS, visualTokens: 0, completionTokens: tokens, cachedTokens: choice === 0 ? 4 : PROMPT_TOKENS },
      timings: { total_ms: 10 + choice },
      sources: [],
    });
    if (text === 'tools') {
      // Choice 1 writes a tool call in two pieces with choice 0's reasoning and answer in between: each
      // choice needs its own tool-call parser (a shared one would swallow choice 0's text into the call).
      const lp = (token: string, logprob: number) => [{ token, logprob, top: [] }];
      yield { kind: 'delta', choice: 1, text: '<tool_call>\n{"name": "get_time", ', tokenIds: [1], logprobs: lp('<tool_call>', -1) };
      yield { kind: 'delta', choice: 0, text: '', reasoning: 'Thinking 0. ', tokenIds: [1], logprobs: lp('Thinking', -2) };
      yield { kind: 'delta', choice: 0, text: 'Plain answer.', tokenIds: [2], logprobs: lp('Plain answer.', -3) };
      yield { kind: 'delta', choice: 1, text: '"arguments": {}}\n</tool_call>', tokenIds: [2], logprobs: lp('</tool_call>', -4) };
      yield final(0, 2, 'stop');
      yield final(1, 2, 'stop');
      return;
    }
    for (let i = 0; i < n; i++) yield { kind: 'delta', choice: i, text: `c${i}t0 `, tokenIds: [1] };
    if (text === 'hang') {
      await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r(), { once: true }));
      cancelled.push(ctx.responseId);
      return;
    }
    if (n > 1) yield final(n - 1, 1, 'stop');
    for (let i = 0; i < Math.max(1, n - 1); i++) {
      if (text === 'fail late' && i === 1) throw new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, 'KV cache full');
      yield { kind: 'delta', choice: i, text: `c${i}t1 `, tokenIds: [2] };
    }
    for (let i = 0; i < Math.max(1, n - 1); i++) yield final(i, 2, 'length');
  },
};

const registry = new MetricsRegistry({ service: 'gateway' });
const ledger = new QuotaLedger();
const admit = vi.spyOn(ledger, 'admit');
let server: Server;
let base: string;
const headers = { authorization: 'Bearer sk-test', 'content-type': 'application/json' };

beforeAll(async () => {
  const keys = new ApiKeyStore({ keys: [{ id: 'k', tenant: 'acme', sha256: hashApiKey('sk-test') }] }, { requestsPerMinute: 1000, tokensPerMinute: 1_000_000, concurrentStreams: 8, maxImagePixels: 4_000_000, maxImagesPerRequest: 4 });
  server = createHttpServer({ keys, quotas: ledger, chat: scripted, limits: DEFAULT_CHAT_LIMITS, models: () => ['tiny'], maxBodyBytes: 4096, requestTimeoutMs: 10_000, ready: () => true, metrics: new HttpMetrics(registry) });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const chat = (content: string, extra: object = {}) => fetch(`${base}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content }], ...extra }) });
const completion = (prompt: string, extra: object = {}) => fetch(`${base}/v1/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'tiny', prompt, ...extra }) });
/** The SSE events of a finished stream, `[DONE]` as the string. */
const sse = async (res: Response) =>
  (await res.text())
    .split('\n\n')
    .filter(Boolean)
    .map((e) => e.replace(/^data: /, ''))
    .map((e) => (e === '[DONE]' ? e : JSON.parse(e)));

describe('OpenAI n over HTTP', () => {
  it('chat JSON: choices 0..n-1, each its own message, finish_reason and tessera.response_id; usage = prompt once + completions summed', async () => {
    const res = await chat('hi', { n: 3, max_tokens: 5 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.choices.map((c: any) => [c.index, c.message.content, c.finish_reason, c.tessera.response_id])).toEqual([
      [0, 'c0t0 c0t1 ', 'length', body.id],
      [1, 'c1t0 c1t1 ', 'length', `${body.id}-1`],
      [2, 'c2t0 ', 'stop', `${body.id}-2`],
    ]);
    expect(body.usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { image_tokens: 0, cached_tokens: 4 } });
    // The reservation covered every choice's max_tokens.
    expect(admit.mock.calls.at(-1)![1]).toBe(PROMPT_TOKENS + 3 * 5);
  });

  it('n = 1 answers in the shape it always had (no per-choice extension)', async () => {
    const body = (await (await chat('hi')).json()) as any;
    expect(body.choices).toEqual([{ index: 0, message: { role: 'assistant', content: 'c0t0 c0t1 ' }, finish_reason: 'length', logprobs: null }]);
    expect(admit.mock.calls.at(-1)![1]).toBe(PROMPT_TOKENS + DEFAULT_CHAT_LIMITS.defaultMaxTokens);
  });

  it('chat SSE: a role chunk per choice, chunks carry their index as tokens arrive, a finish chunk per choice, usage and [DONE] after all', async () => {
    const events = await sse(await chat('hi', { n: 3, stream: true, stream_options: { include_usage: true } }));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1);
    expect(chunks.slice(0, 3).map((c: any) => [c.choices[0].index, c.choices[0].delta])).toEqual([0, 1, 2].map((i) => [i, { role: 'assistant', content: '' }]));
    const ofChoice = (i: number) => chunks.filter((c: any) => c.choices[0]?.index === i);
    expect([0, 1, 2].map((i) => ofChoice(i).map((c: any) => c.choices[0].delta.content ?? '').join(''))).toEqual(['c0t0 c0t1 ', 'c1t0 c1t1 ', 'c2t0 ']);
    const finishes = chunks.filter((c: any) => c.choices[0]?.finish_reason);
    expect(finishes.map((c: any) => [c.choices[0].index, c.choices[0].finish_reason, c.choices[0].tessera.response_id, c.tessera.timings_ms.total_ms])).toEqual([
      [2, 'stop', `${chunks[0].id}-2`, 12],
      [0, 'length', chunks[0].id, 10],
      [1, 'length', `${chunks[0].id}-1`, 11],
    ]);
    // Interleaved as they arrived: choice 2 finished before the others' second tokens.
    const order = chunks.map((c: any) => (c.choices[0]?.finish_reason ? `end${c.choices[0].index}` : (c.choices[0]?.delta.content ?? '')));
    expect(order.indexOf('end2')).toBeLessThan(order.indexOf('c0t1 '));
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } });
    expect(chunks.filter((c: any) => c.usage).length).toBe(1);
  });

  it('completions JSON and SSE: text per choice (echo once per choice), index, finish_reason; usage summed', async () => {
    const body = (await (await completion('Once', { n: 2, echo: true })).json()) as any;
    expect(body.choices.map((c: any) => [c.index, c.text, c.finish_reason, c.tessera.response_id])).toEqual([
      [0, 'Oncec0t0 c0t1 ', 'length', body.id],
      [1, 'Oncec1t0 ', 'stop', `${body.id}-1`],
    ]);
    expect(body.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 3 });

    const events = await sse(await completion('Once', { n: 2, stream: true, stream_options: { include_usage: true } }));
    const chunks = events.slice(0, -1);
    expect([0, 1].map((i) => chunks.filter((c: any) => c.choices[0]?.index === i).map((c: any) => c.choices[0].text).join(''))).toEqual(['c0t0 c0t1 ', 'c1t0 ']);
    expect(chunks.filter((c: any) => c.choices[0]?.finish_reason).map((c: any) => c.choices[0].index)).toEqual([1, 0]);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 3 } });
  });

  it('tool calls, reasoning and logprobs are per choice (JSON and SSE)', async () => {
    const tools = { tools: [{ type: 'function', function: { name: 'get_time' } }], n: 2, logprobs: true };
    const body = (await (await chat('tools', tools)).json()) as any;
    expect(body.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop', message: { content: 'Plain answer.', reasoning_content: 'Thinking 0. ' } });
    expect(body.choices[0].logprobs.content.map((t: any) => t.token)).toEqual(['Thinking', 'Plain answer.']);
    expect(body.choices[1]).toMatchObject({ index: 1, finish_reason: 'tool_calls', message: { tool_calls: [{ type: 'function', function: { name: 'get_time', arguments: '{}' } }] } });
    expect(body.choices[1].message.reasoning_content).toBeUndefined();
    expect(body.choices[1].logprobs.content.map((t: any) => t.token)).toEqual(['<tool_call>', '</tool_call>']);

    const chunks = (await sse(await chat('tools', { ...tools, stream: true }))).slice(0, -1);
    const deltas = (i: number) => chunks.filter((c: any) => c.choices[0]?.index === i).map((c: any) => c.choices[0].delta);
    expect(deltas(0).map((d: any) => d.content ?? '').join('')).toBe('Plain answer.');
    expect(deltas(0).some((d: any) => d.reasoning_content === 'Thinking 0. ')).toBe(true);
    expect(deltas(1).flatMap((d: any) => d.tool_calls ?? []).map((c: any) => c.function.name)).toEqual(['get_time']);
    expect(deltas(1).some((d: any) => d.content)).toBe(false);
    expect(chunks.filter((c: any) => c.choices[0]?.finish_reason).map((c: any) => [c.choices[0].index, c.choices[0].finish_reason])).toEqual([
      [0, 'stop'],
      [1, 'tool_calls'],
    ]);
  });

  it('one request in the vllm:* series, with the tokens of every choice', async () => {
    const families = async () => parseExposition(await registry.text());
    // A histogram's family is its base name, its samples `<name>_count` / `_sum` / `_bucket`.
    const sum = (f: Awaited<ReturnType<typeof families>>, name: string) => f.get(name.replace(/_count$/, ''))!.samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
    const before = await families();
    await (await chat('hi', { n: 3 })).json();
    const after = await families();
    expect(sum(after, 'vllm:request_success_total') - sum(before, 'vllm:request_success_total')).toBe(1);
    expect(sum(after, 'vllm:prompt_tokens_total') - sum(before, 'vllm:prompt_tokens_total')).toBe(PROMPT_TOKENS);
    expect(sum(after, 'vllm:generation_tokens_total') - sum(before, 'vllm:generation_tokens_total')).toBe(5);
    expect(sum(after, 'vllm:time_to_first_token_seconds_count') - sum(before, 'vllm:time_to_first_token_seconds_count')).toBe(1);
    // Inter-token gaps within a choice: choices 0 and 1 have one each (choice 2 has a single token).
    expect(sum(after, 'vllm:inter_token_latency_seconds_count') - sum(before, 'vllm:inter_token_latency_seconds_count')).toBe(2);
  });

  it('a choice failing before the first byte is an HTTP error; after it, the SSE error event (no [DONE])', async () => {
    const early = await chat('fail early', { n: 3, stream: true });
    expect(early.status).toBe(503);
    const late = await sse(await chat('fail late', { n: 3, stream: true }));
    expect(late.at(-1)).toMatchObject({ error: { message: 'KV cache full' } });
    expect(late).not.toContain('[DONE]');
    expect((await chat('fail late', { n: 3 })).status).toBe(429);
  });

  it('the client going away cancels the request (and with it every choice)', async () => {
    const client = new AbortController();
    const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hang' }], n: 3, stream: true }), signal: client.signal });
    const reader = res.body!.getReader();
    await reader.read();
    client.abort();
    for (let i = 0; i < 100 && cancelled.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(cancelled).toHaveLength(1);
  });

  it('n above TESSERA_GATEWAY_MAX_CHOICES is a 400 naming n and the limit, on both endpoints', async () => {
    for (const res of [await chat('hi', { n: 9 }), await completion('hi', { n: 9 })]) {
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error).toMatchObject({ param: 'n', message: 'n is 9; allowed: 1 <= n <= 8' });
    }
  });
});
