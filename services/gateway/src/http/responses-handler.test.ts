import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { TesseraError, ErrorCode } from '@tessera/runtime';
import type { ChatEvent, ChatService } from '../domain/chat-events.js';
import type { ValidChatRequest } from '../domain/openai/valid-request.js';
import { DEFAULT_CHAT_LIMITS } from '../domain/openai/limits.js';
import { ApiKeyStore, hashApiKey } from '../domain/tenancy/api-keys.js';
import { QuotaLedger } from '../domain/tenancy/quota-ledger.js';
import { createHttpServer } from './server.js';
import { withNats } from '@tessera/testing/vitest';
import { ImageStore } from '@tessera/vision';
import { KvResponseStore } from '../adapters/responses/kv-response-store.js';
import { StoredResponses } from '../domain/responses/stored-responses.js';
import { storedResponsesRoute } from './stored-responses-routes.js';

/**
 * `/v1/responses` against a scripted ChatService: the last user text is the script. Words are
 * answered one delta each; `think:` first = reasoning before the answer; `call` = a Hermes
 * `<tool_call>` block the tool parser reads; `fail` = an error after the first delta; `boom` =
 * an error before any.
 */
const seen: ValidChatRequest[] = [];
const scripted: ChatService = {
  async estimatePromptTokens() {
    return 10;
  },
  async *chat(req, ctx): AsyncIterable<ChatEvent> {
    seen.push(req);
    const last = req.messages.at(-1)!.parts.flatMap((p) => (p.kind === 'text' ? [p.text] : [])).join(' ');
    if (last === 'boom') throw new TesseraError(ErrorCode.UNAVAILABLE, 'decoder unavailable');
    const deltas: Array<{ text: string; reasoning?: string; logprob?: number }> = [];
    let words = last.split(' ');
    if (words[0] === 'think:') {
      deltas.push({ text: '', reasoning: 'Let me ' }, { text: '', reasoning: 'see.' }, { text: '\n\n' });
      words = words.slice(1);
    }
    for (const w of words) {
      if (w === 'call') deltas.push({ text: '\n<tool_call>\n{"name": "get_weather", ' }, { text: '"arguments": {"city": "Paris"}}\n</tool_call>' });
      else deltas.push({ text: `${w} ` });
    }
    let n = 0;
    for (const d of deltas.slice(0, req.sampling.maxTokens)) {
      if (ctx.signal.aborted) break;
      n++;
      if (last.startsWith('fail') && n === 2) throw new TesseraError(ErrorCode.INTERNAL, 'decoder died');
      const logprobs = req.sampling.logprobs ? [{ token: d.text, logprob: -n, top: Array.from({ length: req.sampling.topLogprobs }, (_, k) => ({ token: `alt${k}`, logprob: -n - k - 1 })) }] : undefined;
      yield { kind: 'delta', text: d.text, ...(d.reasoning && { reasoning: d.reasoning }), tokenIds: [n], ...(logprobs && { logprobs }) };
    }
    yield { kind: 'final', finishReason: n < req.sampling.maxTokens ? 'stop' : 'length', usage: { promptTokens: 10, visualTokens: 0, completionTokens: n, cachedTokens: 4 }, timings: { total: 1 }, sources: [] };
  },
};

let server: Server;
let base: string;
const auth = { authorization: 'Bearer sk-test' };

beforeAll(async () => {
  const keys = new ApiKeyStore({ keys: [{ id: 'k', tenant: 't1', sha256: hashApiKey('sk-test') }] }, { requestsPerMinute: 1000, tokensPerMinute: 1_000_000, concurrentStreams: 8, maxImagePixels: 4_000_000, maxImagesPerRequest: 4 });
  server = createHttpServer({ keys, quotas: new QuotaLedger(), chat: scripted, limits: DEFAULT_CHAT_LIMITS, models: () => ['tiny'], maxBodyBytes: 1 << 16, requestTimeoutMs: 10_000, ready: () => true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const post = (body: object) => fetch(`${base}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ model: 'tiny', ...body }) });
const json = async (body: object) => {
  const res = await post(body);
  expect(res.status, await res.clone().text()).toBe(200);
  return { res, body: (await res.json()) as any };
};
const weather = { type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } };

/** The SSE events of a streamed answer, in order (`event:` type and `data`). */
async function events(body: object): Promise<{ status: number; list: Array<{ event: string; data: any }>; raw: string }> {
  const res = await post({ ...body, stream: true });
  const raw = await res.text();
  const list = raw
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
      return { event, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) };
    });
  return { status: res.status, list, raw };
}

/** What the openai SDK's accumulator does with the events (enough of it to check the items assemble). */
function assemble(list: Array<{ data: any }>): any {
  let snap: any;
  for (const { data: e } of list) {
    if (e.type === 'response.created') snap = structuredClone(e.response);
    else if (e.type === 'response.output_item.added') snap.output.push(structuredClone(e.item));
    else if (e.type === 'response.content_part.added') (snap.output[e.output_index].content ??= []).push(structuredClone(e.part));
    else if (e.type === 'response.output_text.delta' || e.type === 'response.reasoning_text.delta') snap.output[e.output_index].content[e.content_index].text += e.delta;
    else if (e.type === 'response.function_call_arguments.delta') snap.output[e.output_index].arguments += e.delta;
    else if (e.type === 'response.output_item.done') {
      // The deltas must already have built what the done event says.
      const built = { ...snap.output[e.output_index], status: e.item.status };
      expect(JSON.stringify(built.content?.map((c: any) => c.text) ?? built.arguments)).toBe(JSON.stringify(e.item.content?.map((c: any) => c.text) ?? e.item.arguments));
      snap.output[e.output_index] = structuredClone(e.item);
    } else if (e.type === 'response.completed' || e.type === 'response.incomplete') {
      expect(snap.output).toEqual(e.response.output);
      snap = e.response;
    }
  }
  return snap;
}

describe('POST /v1/responses', () => {
  it('answers a string input as a response object: one message item, usage in input/output terms, the id in x-response-id', async () => {
    const { res, body } = await json({ input: 'one two three', instructions: 'Be nice.', metadata: { run: '7' }, temperature: 0.5 });
    expect(body.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(res.headers.get('x-response-id')).toBe(body.id);
    expect(body).toMatchObject({ object: 'response', status: 'completed', incomplete_details: null, error: null, model: 'tiny', instructions: 'Be nice.', metadata: { run: '7' }, temperature: 0.5, top_p: 1, store: false, previous_response_id: null, tool_choice: 'auto', tools: [], text: { format: { type: 'text' } }, parallel_tool_calls: true });
    expect(typeof body.created_at).toBe('number');
    expect(body.output).toHaveLength(1);
    expect(body.output[0]).toMatchObject({ type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'one two three ', annotations: [] }] });
    expect(body.output[0].id).toMatch(/^msg_/);
    expect(body.usage).toEqual({ input_tokens: 10, input_tokens_details: { cached_tokens: 4 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 13 });
    expect(seen.at(-1)!.messages.map((m) => m.role)).toEqual(['system', 'user']);
  });

  it('cut by max_output_tokens: status incomplete with the reason, the message incomplete', async () => {
    const { body } = await json({ input: 'one two three', max_output_tokens: 2 });
    expect(body).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, max_output_tokens: 2 });
    expect(body.output[0]).toMatchObject({ status: 'incomplete', content: [{ text: 'one two ' }] });
  });

  it('reasoning comes first as a reasoning item (reasoning_text), then the message; reasoning tokens are counted', async () => {
    const { body } = await json({ input: 'think: yes', reasoning: { effort: 'high' } });
    expect(seen.at(-1)!.enableThinking).toBe(true);
    expect(body.output.map((i: any) => i.type)).toEqual(['reasoning', 'message']);
    expect(body.output[0]).toMatchObject({ summary: [], content: [{ type: 'reasoning_text', text: 'Let me see.' }] });
    expect(body.output[0].id).toMatch(/^rs_/);
    expect(body.output[1].content[0].text).toBe('\n\nyes ');
    expect(body.usage.output_tokens_details.reasoning_tokens).toBe(2);
    expect(body.reasoning).toEqual({ effort: 'high', summary: null });
  });

  it('a tool call is a function_call item (call_id, name, arguments); text before it is a message; the whitespace between opens none', async () => {
    const { body } = await json({ input: 'Sure call', tools: [weather] });
    expect(body.output.map((i: any) => i.type)).toEqual(['message', 'function_call']);
    // As chat's content: the text as written up to the call (only a whitespace-only message is not made).
    expect(body.output[0].content[0].text).toBe('Sure \n');
    expect(body.output[1]).toMatchObject({ type: 'function_call', status: 'completed', name: 'get_weather', arguments: '{"city":"Paris"}' });
    expect(body.output[1].call_id).toMatch(/^call_/);
    expect(body.output[1].id).toMatch(/^fc_/);
    expect(body.tools).toEqual([{ type: 'function', name: 'get_weather', description: null, parameters: weather.parameters, strict: null }]);
    const only = await json({ input: 'call', tools: [weather] });
    expect(only.body.output.map((i: any) => i.type)).toEqual(['function_call']);
  });

  it('include output logprobs: each output_text carries its tokens with top_logprobs alternatives', async () => {
    const { body } = await json({ input: 'a b', include: ['message.output_text.logprobs'], top_logprobs: 2 });
    expect(body.top_logprobs).toBe(2);
    expect(body.output[0].content[0].logprobs).toEqual([
      { token: 'a ', logprob: -1, bytes: [...Buffer.from('a ')], top_logprobs: [{ token: 'alt0', logprob: -2, bytes: [...Buffer.from('alt0')] }, { token: 'alt1', logprob: -3, bytes: [...Buffer.from('alt1')] }] },
      expect.objectContaining({ token: 'b ', logprob: -2 }),
    ]);
  });

  it('streams OpenAI events (event lines, sequence numbers, no [DONE]) that assemble into the JSON answer', async () => {
    for (const body of [{ input: 'one two three' }, { input: 'think: Sure call', tools: [weather] }, { input: 'one two three', max_output_tokens: 2 }]) {
      const { status, list, raw } = await events(body);
      expect(status).toBe(200);
      expect(raw).not.toContain('[DONE]');
      expect(list.every((e) => e.event === e.data.type)).toBe(true);
      expect(list.map((e) => e.data.sequence_number)).toEqual(list.map((_, i) => i));
      expect(list.slice(0, 2).map((e) => e.event)).toEqual(['response.created', 'response.in_progress']);
      expect(list[0]!.data.response).toMatchObject({ status: 'in_progress', output: [], usage: null });
      const done = await json(body);
      const assembled = assemble(list);
      const strip = (r: any) => ({ ...r, id: 0, created_at: 0, tessera: 0, output: r.output.map((i: any) => ({ ...i, id: 0, ...(i.call_id && { call_id: 0 }) })) });
      expect(strip(assembled)).toEqual(strip(done.body));
      expect(list.at(-1)!.event).toBe(done.body.status === 'completed' ? 'response.completed' : 'response.incomplete');
    }
  });

  it('streamed events for text, reasoning and a call are the ones OpenAI sends, in order', async () => {
    const { list } = await events({ input: 'think: Hi call', tools: [weather] });
    expect(list.map((e) => e.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.reasoning_text.delta',
      'response.reasoning_text.delta',
      'response.reasoning_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const delta = list.find((e) => e.event === 'response.output_text.delta')!.data;
    expect(delta).toMatchObject({ output_index: 1, content_index: 0, delta: '\n\nHi ' });
    expect(delta.item_id).toBe(list[9]!.data.item.id);
  });

  it('errors: a 400 naming the field; a failure before the first event keeps its status; one after it is an error event', async () => {
    // Nothing is stored on this server (no store configured: TESSERA_GATEWAY_RESPONSES_TTL=0), so every id is unknown.
    const bad = await post({ input: 'x', previous_response_id: 'resp_x' });
    expect(bad.status).toBe(404);
    expect(((await bad.json()) as any).error).toMatchObject({ param: 'previous_response_id' });
    const invalid = await post({ input: 'x', previous_response_id: 7 });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as any).error).toMatchObject({ param: 'previous_response_id', type: 'invalid_request_error' });
    expect((await fetch(`${base}/v1/responses/resp_x`, { headers: auth })).status).toBe(404);
    const early = await post({ input: 'boom', stream: true });
    expect(early.status).toBe(503);
    const { status, list } = await events({ input: 'fail now' });
    expect(status).toBe(200);
    const last = list.at(-1)!;
    expect(last.event).toBe('error');
    expect(last.data).toMatchObject({ type: 'error', code: 'internal', message: 'internal error', sequence_number: list.length - 1, error: { code: 'internal' } });
  });
});

/** The same server with a store (a real nats-server: KV bucket and image store), two tenants. */
describe('stored responses: store, previous_response_id, GET / DELETE /v1/responses/{id}', () => {
  const bus = withNats();
  let stored: Server;
  let at: string;
  const other = { authorization: 'Bearer sk-other' };
  beforeAll(async () => {
    const keys = new ApiKeyStore({ keys: [{ id: 'k', tenant: 't1', sha256: hashApiKey('sk-test') }, { id: 'k2', tenant: 't2', sha256: hashApiKey('sk-other') }] }, { requestsPerMinute: 1000, tokensPerMinute: 1_000_000, concurrentStreams: 8, maxImagePixels: 4_000_000, maxImagesPerRequest: 4 });
    const images = await ImageStore.open(bus.nc, { bucket: 'handler-images' });
    const responses = new StoredResponses(await KvResponseStore.open(bus.nc, { bucket: 'handler-responses', ttlMs: 60_000, maxValueBytes: 64 * 1024 }), images, { ttlMs: 60_000, maxBytes: 64 * 1024 });
    stored = createHttpServer({ keys, quotas: new QuotaLedger(), chat: scripted, limits: DEFAULT_CHAT_LIMITS, models: () => ['tiny'], maxBodyBytes: 1 << 16, requestTimeoutMs: 10_000, ready: () => true, responses, routes: [storedResponsesRoute({ keys, responses })] });
    await new Promise<void>((r) => stored.listen(0, '127.0.0.1', r));
    at = `http://127.0.0.1:${(stored.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => stored.close(() => r())));

  const create = async (body: object, headers: Record<string, string> = auth) => {
    const res = await fetch(`${at}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'tiny', ...body }) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const get = (id: string, headers: Record<string, string> = auth, suffix = '') => fetch(`${at}/v1/responses/${id}${suffix}`, { headers });

  it('stores by default (store: true), GET returns the response as answered, DELETE removes it', async () => {
    const { body } = await create({ input: 'one two', instructions: 'Be nice.' });
    expect(body).toMatchObject({ store: true, previous_response_id: null });
    const got = await get(body.id);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(body);
    const items = (await (await get(body.id, auth, '/input_items?order=asc')).json()) as any;
    expect(items).toMatchObject({ object: 'list', has_more: false, data: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'one two' }] }] });
    // Another tenant's id reads as unknown.
    expect((await get(body.id, other)).status).toBe(404);
    expect((await fetch(`${at}/v1/responses/${body.id}`, { method: 'DELETE', headers: other })).status).toBe(404);
    const del = await fetch(`${at}/v1/responses/${body.id}`, { method: 'DELETE', headers: auth });
    expect(await del.json()).toEqual({ id: body.id, object: 'response.deleted', deleted: true });
    const gone = await get(body.id);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as any).error.param).toBe('response_id');
  });

  it('store: false stores nothing', async () => {
    const { body } = await create({ input: 'one', store: false });
    expect(body.store).toBe(false);
    expect((await get(body.id)).status).toBe(404);
  });

  it('previous_response_id: the stored conversation (input, then output) before this input; instructions not inherited; another tenant gets 404', async () => {
    const first = await create({ input: 'call', instructions: 'Use tools.', tools: [weather] });
    expect(first.body.output.map((o: any) => o.type)).toEqual(['function_call']);
    const call = first.body.output[0];
    seen.length = 0;
    const second = await create({ previous_response_id: first.body.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temp": 21}' }], tools: [weather] });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body).toMatchObject({ previous_response_id: first.body.id, store: true, instructions: null });
    const req = seen.at(-1)!;
    expect(req.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(req.messages[1]!.toolCalls).toEqual([{ id: call.call_id, name: 'get_weather', argumentsJson: call.arguments }]);
    // A third turn continues the second: the whole conversation, from one record.
    seen.length = 0;
    const third = await create({ previous_response_id: second.body.id, input: 'three four' });
    expect(third.status).toBe(200);
    expect(seen.at(-1)!.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'user']);
    const theirs = await create({ previous_response_id: first.body.id, input: 'x' }, other);
    expect(theirs.status).toBe(404);
    expect(theirs.body.error.param).toBe('previous_response_id');
  });

  it('a streamed answer is stored before response.completed: GET right after equals the completed response', async () => {
    const res = await fetch(`${at}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ model: 'tiny', input: 'think: a b', stream: true }) });
    const raw = await res.text();
    const completed = JSON.parse(/event: response.completed\ndata: (.*)/.exec(raw)![1]!).response;
    expect(completed.store).toBe(true);
    expect(await (await get(completed.id)).json()).toEqual(completed);
  });

  it('a failed answer is not stored', async () => {
    const res = await fetch(`${at}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ model: 'tiny', input: 'fail now', stream: true }) });
    const id = res.headers.get('x-response-id')!;
    await res.text();
    expect((await get(id)).status).toBe(404);
  });
});
