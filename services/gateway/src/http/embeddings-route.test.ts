/**
 * POST /v1/embeddings conformance with the official `openai` npm client, through the gateway's
 * real HTTP server, a real nats-server and the real retrieval service (its embedder) bound on
 * NATS in this process: float and base64 encodings, usage, batch and token limits (400 naming the
 * limit), unknown model (404), tenant quota (429).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retrievalV1 } from '@tessera/contracts';
import { HashingEmbedder, LanceStore, RetrievalEngine, TermHashEmbedder, createRetrievalService } from '@tessera/retrieval';
import { bindNats, natsClient, type NatsBinding } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import { DEFAULT_CHAT_LIMITS } from '../domain/openai/limits.js';
import { ApiKeyStore, hashApiKey } from '../domain/tenancy/api-keys.js';
import { QuotaLedger } from '../domain/tenancy/quota-ledger.js';
import { embeddingsRoute } from './embeddings-route.js';
import { createHttpServer } from './server.js';

const KEY = 'sk-emb-acme';
const LIMITED = 'sk-emb-limited';
const QUOTA = { requestsPerMinute: 100, tokensPerMinute: 1e6, concurrentStreams: 4, maxImagePixels: 1e8, maxImagesPerRequest: 8 };
const MODEL = 'hash-terms-v2-384';

const bus = withNats();
let binding: NatsBinding;
let server: Server;
let store: LanceStore;
let dir: string;
let engine: RetrievalEngine;
let client: OpenAI;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-embeddings-'));
  store = new LanceStore({ dir });
  engine = new RetrievalEngine({ store, embedders: [new TermHashEmbedder(), new HashingEmbedder()], limits: { maxEmbedInputs: 8, maxEmbedTokens: 64 } });
  binding = await bindNats(bus.nc, retrievalV1.RetrievalServiceService, createRetrievalService(engine), { serviceName: 'retrieval' });
  const keys = new ApiKeyStore(
    { tenants: { limited: { requestsPerMinute: 1 } }, keys: [{ id: 'a', tenant: 'acme', sha256: hashApiKey(KEY) }, { id: 'l', tenant: 'limited', sha256: hashApiKey(LIMITED) }] },
    QUOTA,
  );
  const quotas = new QuotaLedger();
  server = createHttpServer({
    keys,
    quotas,
    chat: undefined as never, // the chat route is not exercised here
    limits: DEFAULT_CHAT_LIMITS,
    models: () => ['tiny'],
    maxBodyBytes: 1 << 20,
    requestTimeoutMs: 10_000,
    ready: () => true,
    routes: [embeddingsRoute({ keys, quotas, retrieval: natsClient(bus.nc, retrievalV1.RetrievalServiceService), maxBodyBytes: 1 << 20, timeoutMs: 10_000 })],
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  client = new OpenAI({ apiKey: KEY, baseURL: `http://127.0.0.1:${addr.port}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await new Promise<void>((r) => server?.close(() => r()));
  await binding?.stop(1000);
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function status(p: Promise<unknown>): Promise<{ status?: number; param?: string | null; message: string }> {
  try {
    await p;
    return { message: 'OK' };
  } catch (e) {
    const err = e as InstanceType<typeof OpenAI.APIError>;
    return { status: err.status, param: (err.error as { param?: string | null } | undefined)?.param ?? null, message: err.message };
  }
}

describe('POST /v1/embeddings (openai client)', () => {
  it('float: one vector per input, the service embedder\'s values, usage in its tokens', async () => {
    const texts = ['東京の図書館', 'İstanbul kitapları'];
    const out = await client.embeddings.create({ model: MODEL, input: texts, encoding_format: 'float' });
    const ref = await engine.embed({ inputs: texts });
    expect(out.object).toBe('list');
    expect(out.model).toBe(MODEL);
    expect(out.data.map((d) => [d.object, d.index, d.embedding.length])).toEqual([['embedding', 0, 384], ['embedding', 1, 384]]);
    expect(out.data[1]!.embedding).toEqual(Array.from(ref.vectors[1]!));
    expect(out.usage).toEqual({ prompt_tokens: ref.promptTokens, total_tokens: ref.promptTokens });
    expect(ref.promptTokens).toBeGreaterThan(0);
  });

  it('base64: little-endian float32 bytes; the client\'s default (base64 decoded) gives the same floats', async () => {
    const raw = await client.embeddings.create({ model: MODEL, input: 'hello world', encoding_format: 'base64' });
    const b64 = raw.data[0]!.embedding as unknown as string;
    expect(typeof b64).toBe('string');
    const bytes = Buffer.from(b64, 'base64');
    const floats = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    const ref = Array.from((await engine.embed({ inputs: ['hello world'] })).vectors[0]!);
    expect(floats).toEqual(ref);
    const dflt = await client.embeddings.create({ model: MODEL, input: 'hello world' });
    expect(dflt.data[0]!.embedding).toEqual(ref);
    // Another loaded embedder by id.
    expect((await client.embeddings.create({ model: 'hash-ngram-v1-256', input: 'x' })).data[0]!.embedding).toHaveLength(256);
  });

  it('bad input: batch and token limits are 400 naming the limit; unknown model 404; token ids 400', async () => {
    const batch = await status(client.embeddings.create({ model: MODEL, input: Array.from({ length: 9 }, (_, i) => `t${i}`) }));
    expect([batch.status, batch.param]).toEqual([400, 'input']);
    expect(batch.message).toMatch(/9 inputs/);
    expect(batch.message).toMatch(/inputs <= 8/); // names the limit
    const long = await status(client.embeddings.create({ model: MODEL, input: ['ok', 'word '.repeat(200)] }));
    expect([long.status, long.param]).toEqual([400, 'input[1]']);
    expect(long.message).toMatch(/tokens/);
    expect(long.message).toMatch(/<= 64 tokens per input/);
    const empty = await status(client.embeddings.create({ model: MODEL, input: ['a', ''] }));
    expect([empty.status, empty.param]).toEqual([400, 'input[1]']);
    const model = await status(client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }));
    expect([model.status, model.param]).toEqual([404, 'model']);
    const ids = await status(client.embeddings.create({ model: MODEL, input: [1, 2, 3] }));
    expect([ids.status, ids.param]).toEqual([400, 'input']);
    const fmt = await status(client.embeddings.create({ model: MODEL, input: 'x', encoding_format: 'int8' as never }));
    expect([fmt.status, fmt.param]).toEqual([400, 'encoding_format']);
    const dims = await status(client.embeddings.create({ model: MODEL, input: 'x', dimensions: 64 }));
    expect([dims.status, dims.param]).toEqual([400, 'dimensions']);
  });

  it('applies the tenant\'s quota (429) and authentication (401)', async () => {
    const limited = new OpenAI({ apiKey: LIMITED, baseURL: client.baseURL, maxRetries: 0 });
    expect((await status(limited.embeddings.create({ model: MODEL, input: 'x' }))).message).toBe('OK');
    expect((await status(limited.embeddings.create({ model: MODEL, input: 'x' }))).status).toBe(429);
    const anon = new OpenAI({ apiKey: 'sk-wrong', baseURL: client.baseURL, maxRetries: 0 });
    expect((await status(anon.embeddings.create({ model: MODEL, input: 'x' }))).status).toBe(401);
  });
});
