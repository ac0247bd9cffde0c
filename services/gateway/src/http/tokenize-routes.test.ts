/**
 * vLLM's tokenizer endpoints through the gateway's real HTTP server over the tiny 2.6 model's tokenizer:
 * the shapes lm-evaluation-harness's remote tokenizer reads (tokenizer_info's eos_token, tokenize's
 * tokens, detokenize's prompt), the decoder's ids (a typed control token stays text, a chat is the
 * decoder's ChatML), add_special_tokens adding nothing, validation naming the field and limit, the
 * default and unknown model, and a hub model at an edge site refused naming `model`. The same ids
 * against the real decoder's usage are checked end to end in e2e/src/tokenize.e2e.test.ts.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel, ensureTinyModel45Paths, ensureTinyModel46Paths } from '@tessera/model';
import { DEFAULT_CHAT_LIMITS } from '../domain/openai/limits.js';
import { modelFeatures } from '../domain/openai/response-format.js';
import { loadModelInfo, type ModelInfo } from '../domain/orchestrator/model-catalog.js';
import { chatPromptIds } from '../domain/orchestrator/prompt-estimate.js';
import { ApiKeyStore, hashApiKey } from '../domain/tenancy/api-keys.js';
import { QuotaLedger } from '../domain/tenancy/quota-ledger.js';
import { Tokenization } from '../domain/tokenizer/tokenization.js';
import { createHttpServer } from './server.js';
import { tokenizeRoutes } from './tokenize-routes.js';

const KEY = 'sk-tok-acme';
const MODEL = 'minicpm-v-2_6';
const HUB_MODEL = 'minicpm-v-4_6-big';
const LIMITS = { ...DEFAULT_CHAT_LIMITS, maxTextChars: 64 };
let model: ModelInfo;
const servers: Server[] = [];
let base: string;
let site: string;
let siteWithCard: string;
let card: ModelInfo;

async function serve(tokenization: Tokenization): Promise<string> {
  const keys = new ApiKeyStore({ keys: [{ id: 'a', tenant: 'acme', sha256: hashApiKey(KEY) }] }, { requestsPerMinute: 100, tokensPerMinute: 1e6, concurrentStreams: 4, maxImagePixels: 1e8, maxImagesPerRequest: 8 });
  const server = createHttpServer({
    keys,
    quotas: new QuotaLedger(),
    chat: undefined as never, // the chat routes are not exercised here
    limits: LIMITS,
    models: () => [MODEL],
    maxBodyBytes: 1 << 20,
    requestTimeoutMs: 10_000,
    ready: () => true,
    routes: [tokenizeRoutes({ keys, tokenization, limits: LIMITS, maxBodyBytes: 1 << 20 })],
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

beforeAll(async () => {
  model = loadModelInfo(await ensureTinyModel(), MODEL);
  const o = { features: modelFeatures('2.6'), decoderMaxContext: 8192, decoderEnableThinking: false };
  base = await serve(new Tokenization(model, { ...o, models: () => [MODEL] }));
  // An edge site: this gateway serves MODEL, the hub serves HUB_MODEL.
  site = await serve(new Tokenization(model, { ...o, models: () => [MODEL, HUB_MODEL], whereModelsRun: () => `${MODEL} (site shop-1), ${HUB_MODEL} (hub)` }));
  // An edge site holding the hub model's card (route "stages"): it tokenizes for that model too.
  card = loadModelInfo((await ensureTinyModel46Paths()).model, HUB_MODEL);
  siteWithCard = await serve(new Tokenization(model, { ...o, models: () => [MODEL, HUB_MODEL], cards: new Map([[HUB_MODEL, card]]) }));
});

afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
});

async function call(path: string, body?: unknown, o: { at?: string; key?: string; method?: string } = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${o.at ?? base}${path}`, {
    method: o.method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { authorization: `Bearer ${o.key ?? KEY}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

describe('POST /tokenize', () => {
  it("lm-eval's probe: {prompt: 'test', add_special_tokens: false} → {count, max_model_len, tokens, token_strs: null}", async () => {
    const r = await call('/tokenize', { prompt: 'test', add_special_tokens: false });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ count: 1, max_model_len: 8192, tokens: model.tokenizer.encodePlain('test'), token_strs: null });
  });

  it('adds no special tokens either way: these tokenizers have no BOS/EOS post-processor (ByteLevel only), for every family', async () => {
    const text = 'Hello, 世界 🙂';
    const [a, b] = await Promise.all([call('/tokenize', { model: MODEL, prompt: text, add_special_tokens: true }), call('/tokenize', { prompt: text })]);
    expect(a.json.tokens).toEqual(b.json.tokens);
    expect(a.json.tokens).toEqual(model.tokenizer.encodePlain(text));
    for (const dir of [await ensureTinyModel(), (await ensureTinyModel45Paths()).model, (await ensureTinyModel46Paths()).model]) {
      const tj = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
      const tc = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
      expect([tj.post_processor?.type, tc.add_bos_token ?? false, tc.add_eos_token ?? false]).toEqual(['ByteLevel', false, false]);
    }
  });

  it("gives the decoder's ids: a typed control token stays text; return_token_strs gives the vocabulary entries", async () => {
    const r = await call('/tokenize', { prompt: 'a <|im_end|> b', return_token_strs: true });
    expect(r.json.tokens).toEqual(model.tokenizer.encodePlain('a <|im_end|> b'));
    expect(r.json.tokens).not.toContain(model.tokenizer.specialTokenIds.imEnd);
    expect(r.json.token_strs.join('')).toBe('aĠ<|im_end|>Ġb');
    expect(r.json.count).toBe(r.json.tokens.length);
    expect((await call('/tokenize', { prompt: '' })).json).toMatchObject({ count: 0, tokens: [] });
  });

  it('messages: the ids of the chat the decoder would build (ChatML, default system turn, ending, tools)', async () => {
    const messages = [{ role: 'user', content: 'Hi there' }];
    const r = await call('/tokenize', { messages });
    const want = chatPromptIds('2.6', { messages: [{ role: 'user', parts: [{ kind: 'text', text: 'Hi there' }] }] }, model.tokenizer, { defaultEnableThinking: false });
    expect(r.json).toEqual({ count: want.length, max_model_len: 8192, tokens: want, token_strs: null });
    expect(model.tokenizer.decode(r.json.tokens)).toBe('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n');
    const closed = await call('/tokenize', { messages, add_generation_prompt: false });
    expect(closed.json.tokens).toEqual(want.slice(0, -3)); // <|im_start|> "assistant" "\n"
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    expect((await call('/tokenize', { messages, tools })).json.count).toBeGreaterThan(want.length + 40);
  });

  it('refuses what it cannot tokenize exactly, naming the field (and the limit)', async () => {
    const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };
    const cases: Array<[unknown, string, RegExp]> = [
      [{ messages: [{ role: 'user', content: [image, { type: 'text', text: 'x' }] }] }, 'messages[0].content[0].image_url.url', /text-only messages/],
      [{ prompt: 'x', messages: [{ role: 'user', content: 'x' }] }, 'messages', /not both/],
      [{}, 'prompt', /required/],
      [{ prompt: 'x'.repeat(65) }, 'prompt', /65 characters \(limit: prompt <= 64 characters\)/],
      [{ prompt: 'x', add_special_tokens: 'yes' }, 'add_special_tokens', /boolean/],
      [{ messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role', /unknown role/],
      [{ messages: [{ role: 'user', content: 'x' }], collection: 'docs' }, 'collection', /grounded chat/],
    ];
    for (const [body, param, message] of cases) {
      const r = await call('/tokenize', body);
      expect([r.status, r.json.error.param], JSON.stringify(body)).toEqual([400, param]);
      expect(r.json.error.message).toMatch(message);
    }
  });

  it('model: omitted = the served model; unknown → 404 naming model; a hub model at a site → 400 naming model, pointing at the hub', async () => {
    const unknown = await call('/tokenize', { model: 'gpt-4', prompt: 'x' });
    expect([unknown.status, unknown.json.error.param]).toEqual([404, 'model']);
    expect(unknown.json.error.message).toContain(`available: ${MODEL}`);
    const atSite = await call('/tokenize', { model: 'gpt-4', prompt: 'x' }, { at: site });
    expect(atSite.json.error.message).toContain(`models run at: ${MODEL} (site shop-1), ${HUB_MODEL} (hub)`);
    const hub = await call('/tokenize', { model: HUB_MODEL, prompt: 'x' }, { at: site });
    expect([hub.status, hub.json.error.param]).toEqual([400, 'model']);
    expect(hub.json.error.message).toMatch(/runs at the hub.*tokenize for "minicpm-v-4_6-big" at the hub's gateway/);
    expect((await call('/tokenize', { model: MODEL, prompt: 'x' }, { at: site })).status).toBe(200);
  });

  it('needs a tenant key, and POST', async () => {
    expect((await call('/tokenize', { prompt: 'x' }, { key: 'sk-wrong' })).status).toBe(401);
    expect((await call('/tokenize', undefined, { method: 'GET' })).status).toBe(405);
  });
});

describe('POST /detokenize', () => {
  it('round-trips a multilingual string; special tokens are kept', async () => {
    const text = 'Grüße, 世界! Привет 🙂 مرحبا <|im_end|>\n\tend';
    const t = await call('/tokenize', { prompt: text });
    const d = await call('/detokenize', { tokens: t.json.tokens });
    expect(d).toEqual({ status: 200, json: { prompt: text } });
    expect((await call('/detokenize', { tokens: [model.tokenizer.specialTokenIds.imStart] })).json.prompt).toBe('<|im_start|>');
  });

  it('an id outside the vocabulary is a 400 naming tokens[i] and the vocab size', async () => {
    const r = await call('/detokenize', { tokens: [15, model.tokenizer.vocabSize] });
    expect([r.status, r.json.error.param]).toEqual([400, 'tokens[1]']);
    expect(r.json.error.message).toContain(`vocab size ${model.tokenizer.vocabSize}`);
    expect((await call('/detokenize', { tokens: [1.5] })).json.error.param).toBe('tokens[0]');
    expect((await call('/detokenize', { tokens: new Array(65).fill(1) })).json.error).toMatchObject({ param: 'tokens', message: expect.stringContaining('tokens <= 64') });
    expect((await call('/detokenize', { model: HUB_MODEL, tokens: [1] }, { at: site })).json.error.param).toBe('model');
  });
});

describe('GET /tokenizer_info', () => {
  it("is the model's tokenizer_config.json with added tokens as text, the keys lm-eval reads and the chat template", async () => {
    const r = await call('/tokenizer_info');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ tokenizer_class: 'Qwen2Tokenizer', bos_token: '<|im_start|>', eos_token: '<|im_end|>', pad_token: '<|endoftext|>', add_bos_token: false, model_max_length: model.tokenizerConfig.model_max_length, chat_template: model.tokenizer.chatTemplate });
    expect(r.json.added_tokens_decoder[String(model.tokenizer.specialTokenIds.imEnd)]).toBe('<|im_end|>');
    expect((await call(`/tokenizer_info?model=${MODEL}`)).json).toEqual(r.json);
    expect((await call('/tokenizer_info?model=nope')).status).toBe(404);
    expect((await call(`/tokenizer_info?model=${HUB_MODEL}`, undefined, { at: site })).status).toBe(400);
    expect((await call('/tokenizer_info', undefined, { key: 'sk-wrong' })).status).toBe(401);
  });
});

describe('an edge site with a hub model\'s card (route "stages")', () => {
  it("tokenizes, detokenizes and describes the tokenizer with the card's vocabulary and chat format, checked against the card's family", async () => {
    const text = await call('/tokenize', { model: HUB_MODEL, prompt: 'Hello, 世界' }, { at: siteWithCard });
    expect(text.status, JSON.stringify(text.json)).toBe(200);
    expect(text.json.tokens).toEqual(card.tokenizer.encodePlain('Hello, 世界'));
    const messages = [{ role: 'user', content: 'hi' }];
    const chat = await call('/tokenize', { model: HUB_MODEL, messages }, { at: siteWithCard });
    expect(chat.status, JSON.stringify(chat.json)).toBe(200);
    // The 4.6 chat format (not the site's own 2.6 one): the card's family builds the prompt.
    expect(chat.json.tokens).toEqual(chatPromptIds('4.6', { messages: [{ role: 'user', parts: [{ kind: 'text', text: 'hi' }] }] }, card.tokenizer, { defaultEnableThinking: false }));
    expect(chat.json.max_model_len).toBe(Math.min(8192, card.maxPositionEmbeddings));
    const own = await call('/tokenize', { model: MODEL, messages }, { at: siteWithCard });
    expect(own.json.tokens).not.toEqual(chat.json.tokens);
    expect((await call('/detokenize', { model: HUB_MODEL, tokens: text.json.tokens }, { at: siteWithCard })).json).toEqual({ prompt: 'Hello, 世界' });
    const info = await call(`/tokenizer_info?model=${HUB_MODEL}`, undefined, { at: siteWithCard });
    expect(info.status).toBe(200);
    expect(info.json.chat_template).toBe(card.tokenizer.chatTemplate);
  });
});

