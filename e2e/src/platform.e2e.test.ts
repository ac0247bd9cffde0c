/**
 * The whole platform as a user runs it: nats-server + every service as its own process with the tiny
 * generated checkpoint, driven only through the gateway's public HTTP and gRPC APIs.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { connect, type NatsConnection } from 'nats';
import { commonV1, feedbackV1, gatewayV1, SERVICES } from '@tessera/contracts';
import { startLocalStack, type RunningStack } from '@tessera/local-stack';
import { ensureTinyModel, readManifest } from '@tessera/model';
import { grpcClient, natsClient, serviceInboxPrefix, statPayload, TesseraError } from '@tessera/runtime';
import { meterBus } from '@tessera/testing';
import { exportBundle } from '@tessera/cli';
import { readBundle } from '@tessera/feedback';
import { OtlpCollector } from './otlp-collector.js';
import { finalOf, readSse, textOf } from './sse.js';

const KEYS = { acme: 'sk-e2e-acme', limited: 'sk-e2e-limited', small: 'sk-e2e-small', revoked: 'sk-e2e-revoked', admin: 'sk-e2e-admin' };
const MODEL = 'minicpm-v-2_6';
let stack: RunningStack;
let collector: OtlpCollector;
let nc: NatsConnection;
let hiddenSize: number;

async function png(width: number, height: number, seed: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + seed * 97 + ((i / 3 / width) | 0)) & 0xff;
  return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
}
const dataUrl = (b: Buffer) => `data:image/png;base64,${b.toString('base64')}`;
const imagePart = (b: Buffer) => ({ type: 'image_url', image_url: { url: dataUrl(b) } });

function chat(body: Record<string, unknown>, key: string = KEYS.acme, signal?: AbortSignal): Promise<Response> {
  return fetch(`${stack.httpUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, max_tokens: 8, seed: 1, ...body }),
    ...(signal && { signal }),
  });
}

async function metricValue(port: number, name: string, match: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    if (Object.entries(match).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').at(-1));
  }
  return total;
}

beforeAll(async () => {
  const modelDir = await ensureTinyModel();
  hiddenSize = readManifest(modelDir).config.llm.hiddenSize;
  collector = new OtlpCollector();
  const otlp = await collector.start();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
  const keysFile = join(dir, 'keys.json');
  const sha = (k: string) => createHash('sha256').update(k).digest('hex');
  writeFileSync(
    keysFile,
    JSON.stringify({
      tenants: { limited: { requestsPerMinute: 2 }, small: { maxImagePixels: 100_000, maxImagesPerRequest: 1 } },
      keys: [
        { id: 'acme', tenant: 'acme', sha256: sha(KEYS.acme) },
        { id: 'limited', tenant: 'limited', sha256: sha(KEYS.limited) },
        { id: 'small', tenant: 'small', sha256: sha(KEYS.small) },
        { id: 'old', tenant: 'acme', sha256: sha(KEYS.revoked), revoked: true },
        { id: 'ops', tenant: 'ops', sha256: sha(KEYS.admin), admin: true },
      ],
    }),
  );
  stack = await startLocalStack({
    modelDir,
    workDir: dir,
    replicas: { slicer: 2 },
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp, OTEL_BSP_SCHEDULE_DELAY: '200', TESSERA_ACK_WAIT: '3s', TESSERA_INTRA_OP_THREADS: '1' },
    serviceEnv: { gateway: { TESSERA_GATEWAY_API_KEYS_FILE: keysFile, TESSERA_GATEWAY_MODEL_ID: MODEL } },
  });
  // The operator's own inbox prefix: services answer its calls only into `_INBOX.operator.<service>.r`.
  nc = await connect({ servers: stack.natsUrl, ...stack.natsLogin, inboxPrefix: serviceInboxPrefix('operator') });
}, 420_000);

afterAll(async () => {
  await nc?.close();
  await stack?.stop();
  await collector?.stop();
});

describe('chat over HTTP', () => {
  it('streams an answer about an image with usage, timings and a response id', async () => {
    const res = await chat({ stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: [imagePart(await png(1344, 896, 1)), { type: 'text', text: 'What is this?' }] }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const { chunks, done } = await readSse(res);
    expect(done).toBe(true);
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^chatcmpl-/);
    expect(res.headers.get('x-response-id')).toBe([...ids][0]);
    const final = finalOf(chunks);
    // 1344×896 → overview + 3×2 grid = 7 images × 64 queries
    expect(final.usage.prompt_tokens_details.image_tokens).toBe(448);
    expect(final.usage.completion_tokens).toBeGreaterThan(0);
    expect(final.usage.completion_tokens).toBeLessThanOrEqual(8);
    expect(textOf(chunks).length).toBeGreaterThan(0);
    expect(final.tessera.timings_ms.vision_encode_ms).toBeGreaterThan(0);
    expect(final.tessera.timings_ms.encoder_cache_hits).toBe(0);
  });

  it('answers with several images in one message', async () => {
    const res = await chat({ messages: [{ role: 'user', content: [imagePart(await png(448, 448, 2)), imagePart(await png(900, 300, 3)), { type: 'text', text: 'Compare.' }] }] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.object).toBe('chat.completion');
    expect(body.usage.prompt_tokens_details.image_tokens).toBeGreaterThanOrEqual(2 * 64);
    expect(body.tessera.timings_ms.images).toBe(2);
  });

  it('answers text-only requests without touching the vision stages', async () => {
    // Watch the bus instead of the slicers' RPC counters: on a loaded machine a job of an earlier
    // test may be redelivered (ack wait 3 s here) and move those counters during this request. A
    // redelivery arrives with a `$JS.ACK.` reply subject; any new vision work would be a fresh
    // publish on a work subject or a control request to a vision service.
    const visionTraffic: string[] = [];
    const subjects = ['tessera.work.slicer.>', 'tessera.work.resampler.>', 'tessera.vision.v1.>', 'tessera.resampling.v1.>'];
    const subs = subjects.map((subject) =>
      nc.subscribe(subject, {
        callback: (_err, m) => {
          if (!m.reply?.startsWith('$JS.ACK.')) visionTraffic.push(m.subject);
        },
      }),
    );
    await nc.flush();
    try {
      const res = await chat({ messages: [{ role: 'user', content: 'Hello there' }] });
      const body = (await res.json()) as any;
      expect(res.status).toBe(200);
      expect(body.usage.prompt_tokens_details.image_tokens).toBe(0);
      expect(body.tessera.timings_ms.vision_encode_ms).toBeUndefined();
      await nc.flush();
    } finally {
      for (const sub of subs) sub.unsubscribe();
    }
    expect(visionTraffic).toEqual([]);
  });

  it('serves a repeated image from the encoder cache: no slicer call, lower time to first token', async () => {
    const image = await png(1000, 700, 4);
    const body = { messages: [{ role: 'user', content: [imagePart(image), { type: 'text', text: 'Again?' }] }] };
    const first = (await (await chat(body)).json()) as any;
    const slicerCalls = () => Promise.all(stack.processes.filter((p) => p.name === 'slicer').map((p) => metricValue(p.metricsPort, 'tessera_rpc_server_duration_seconds_count')));
    // A slicer observes a call's duration when the call ends on its side (its work-queue message acked),
    // which can come after the gateway has answered: read the counts once they stop moving (a CI run
    // read the first request's call as the second's).
    const settledSlicerCalls = async () => {
      for (let prev = await slicerCalls(); ; ) {
        await new Promise((r) => setTimeout(r, 150));
        const now = await slicerCalls();
        if (now.join() === prev.join()) return now;
        prev = now;
      }
    };
    const callsBefore = await settledSlicerCalls();
    const second = (await (await chat(body)).json()) as any;
    expect(await settledSlicerCalls()).toEqual(callsBefore);
    expect(first.tessera.timings_ms.encoder_cache_hits).toBe(0);
    expect(second.tessera.timings_ms.encoder_cache_hits).toBe(1);
    expect(second.tessera.timings_ms.vision_encode_ms).toBe(0);
    expect(second.tessera.timings_ms.time_to_first_token_ms).toBeLessThan(first.tessera.timings_ms.time_to_first_token_ms);
    // Same seed, same image, same tokens: the cached visual tokens are the ones the stages produced.
    expect(second.choices[0].message.content).toBe(first.choices[0].message.content);
  });

  it('moves images and tensors by reference: visual tokens cross the bus twice on a miss, once on a hit', async () => {
    const image = await png(1100, 800, 15);
    const body = { messages: [{ role: 'user', content: [imagePart(image), { type: 'text', text: 'bytes?' }] }] };
    const meter = await meterBus(nc);
    try {
      const miss = (await (await chat(body)).json()) as any;
      await nc.flush();
      expect(miss.tessera.timings_ms.encoder_cache_hits).toBe(0);
      const tokenBytes = miss.usage.prompt_tokens_details.image_tokens * hiddenSize * 4;
      const cacheMiss = meter.bucket('tessera-encoder-cache');
      const imagesMiss = meter.bucket('tessera-images');
      const missTotal = meter.totalBytes();
      meter.reset();
      const hit = (await (await chat(body)).json()) as any;
      await nc.flush();
      expect(hit.tessera.timings_ms.encoder_cache_hits).toBe(1);
      const cacheHit = meter.bucket('tessera-encoder-cache');
      const imagesHit = meter.bucket('tessera-images');
      const hitTotal = meter.totalBytes();
      console.log(`bus bytes per image request: miss ${missTotal} (visual tokens ${cacheMiss.writtenBytes + cacheMiss.readBytes} = ${((cacheMiss.writtenBytes + cacheMiss.readBytes) / tokenBytes).toFixed(2)}× their size, image ${imagesMiss.writtenBytes + imagesMiss.readBytes} of ${image.length}), hit ${hitTotal}`);
      // Miss: the resampler writes the tokens into the cache, the decoder reads them: 2 crossings (was 4).
      expect(cacheMiss).toEqual({ writtenBytes: tokenBytes, readBytes: tokenBytes });
      // The image is stored once at admission and read once by the slicer.
      expect(imagesMiss).toEqual({ writtenBytes: image.length, readBytes: image.length });
      // Hit: the image is already stored, the decoder reads the cached tokens: 1 crossing, no image bytes.
      expect(cacheHit).toEqual({ writtenBytes: 0, readBytes: tokenBytes });
      expect(imagesHit).toEqual({ writtenBytes: 0, readBytes: 0 });
      expect(hitTotal).toBeLessThan(tokenBytes + image.length); // the request body's image never crosses again
    } finally {
      await meter.stop();
    }
  });

  it('keeps the encoder cache per tenant', async () => {
    const image = await png(300, 200, 5);
    const body = { messages: [{ role: 'user', content: [imagePart(image), { type: 'text', text: 'x' }] }] };
    expect(((await (await chat(body)).json()) as any).tessera.timings_ms.encoder_cache_hits).toBe(0);
    const other = (await (await chat(body, KEYS.small)).json()) as any;
    expect(other.tessera.timings_ms.encoder_cache_hits).toBe(0);
  });

  it('cancelling mid-stream frees the decoder sequence and its KV cache', async () => {
    const decoder = natsClient(nc, SERVICES.decoder.definition);
    const abort = new AbortController();
    const res = await chat({ stream: true, max_tokens: 2000, temperature: 0.8, messages: [{ role: 'user', content: 'Write a very long story.' }] }, KEYS.acme, abort.signal);
    let seen = 0;
    await readSse(res, () => {
      if (++seen === 3) abort.abort();
    }).catch(() => undefined);
    expect(seen).toBeGreaterThanOrEqual(3);
    let stats: any;
    for (let i = 0; i < 50; i++) {
      stats = await decoder.getEngineStats({}, { tenant: 'e2e' });
      if (stats.numRunning === 0 && stats.kvCacheUsedTokens === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(stats.numRunning).toBe(0);
    expect(stats.kvCacheUsedTokens).toBe(0);
  });
});

describe('grounded chat', () => {
  it('retrieves from a tenant collection, returns sources, and hides it from other tenants', async () => {
    const retrieval = natsClient(nc, SERVICES.retrieval.definition);
    await retrieval.createCollection({ name: 'handbook', description: '', distance: 0, embeddingModel: '', dimension: 0, getOrCreate: true }, { tenant: 'acme' });
    await retrieval.addDocuments(
      {
        collection: 'handbook',
        documents: [
          { id: 'vacation', text: 'Employees get 30 days of paid vacation per year.', metadata: { topic: 'hr' } },
          { id: 'parking', text: 'The parking garage opens at 6am and closes at midnight.', metadata: { topic: 'facilities' } },
          { id: 'coffee', text: 'Free coffee is available on every floor next to the elevators.', metadata: { topic: 'facilities' } },
        ],
        async: false,
      },
      { tenant: 'acme' },
    );
    const res = await chat({ stream: true, collection: { name: 'handbook', k: 2 }, messages: [{ role: 'user', content: 'How many days of paid vacation do employees get?' }] });
    expect(res.status).toBe(200);
    const final = finalOf((await readSse(res)).chunks);
    expect(final.tessera.sources.length).toBe(2);
    expect(final.tessera.sources[0].id).toMatch(/^vacation/);
    expect(final.tessera.sources[0].text).toMatch(/30 days/);
    expect(final.tessera.sources[0].relevance).toBeGreaterThan(0);
    const other = await chat({ collection: { name: 'handbook', k: 2 }, messages: [{ role: 'user', content: 'vacation?' }] }, KEYS.small);
    expect(other.status).toBe(404);
  });
});

describe('tenancy', () => {
  it('enforces a tenant request rate with 429 and Retry-After, without touching other tenants', async () => {
    const body = { messages: [{ role: 'user', content: 'hi' }] };
    expect((await chat(body, KEYS.limited)).status).toBe(200);
    expect((await chat(body, KEYS.limited)).status).toBe(200);
    const third = await chat(body, KEYS.limited);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await third.json()) as any).error.type).toBe('rate_limit_error');
    expect((await chat(body)).status).toBe(200);
  });

  it('applies per-tenant image limits', async () => {
    const res = await chat({ messages: [{ role: 'user', content: [imagePart(await png(400, 400, 6)), { type: 'text', text: 'x' }] }] }, KEYS.small);
    expect(res.status).toBe(400);
    const err = ((await res.json()) as any).error;
    expect(err.param).toBe('messages[0].content[0].image_url.url');
    expect(err.message).toMatch(/100000/);
  });
});

describe('bad input through the real stack', () => {
  const notImage = Buffer.from('this is plain text, not an image');
  const cases: Array<[string, () => Promise<Response>, number, string | null]> = [
    ['image_url that is not an image', () => chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${notImage.toString('base64')}` } }] }] }), 400, 'messages[0].content[0].image_url.url'],
    ['truncated PNG', async () => chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: dataUrl((await png(64, 64, 7)).subarray(0, 40)) } }] }] }), 400, 'messages[0].content[0].image_url.url'],
    ['1×1 image', async () => chat({ messages: [{ role: 'user', content: [imagePart(await png(1, 1, 8))] }] }), 400, 'messages[0].content[0].image_url.url'],
    ['bad base64', () => chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,%%%' } }] }] }), 400, 'messages[0].content[0].image_url.url'],
    ['too many images for the tenant', async () => chat({ messages: [{ role: 'user', content: [imagePart(await png(20, 20, 9)), imagePart(await png(20, 20, 10))] }] }, KEYS.small), 400, 'messages[0].content[1]'],
    ['revoked key', () => chat({ messages: [{ role: 'user', content: 'x' }] }, KEYS.revoked), 401, 'authorization'],
    ['unknown model', () => chat({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), 404, 'model'],
    ['unknown role', () => chat({ messages: [{ role: 'robot', content: 'x' }] }), 400, 'messages[0].role'],
    ['max_tokens above the limit', () => chat({ max_tokens: 10_000_000, messages: [{ role: 'user', content: 'x' }] }), 400, 'max_tokens'],
  ];
  it.each(cases)('%s → %i', async (_n, call, status, param) => {
    const res = await call();
    expect(res.status).toBe(status);
    const body = (await res.json()) as any;
    expect(body.error.param).toBe(param);
    expect(body.error.message.length).toBeGreaterThan(10);
  });

  it('keeps serving after all of them', async () => {
    expect((await chat({ messages: [{ role: 'user', content: 'still there?' }] })).status).toBe(200);
  });
});

describe('gRPC API', () => {
  it('internal ports: a caller without the service credential is refused, so a forged tenant header reads nothing', async () => {
    const feedbackPort = stack.processes.find((p) => p.name === 'feedback')!.grpcPort;
    const forged = grpcClient(SERVICES.feedback.definition, `127.0.0.1:${feedbackPort}`);
    const err = await forged.listFeedback(feedbackV1.ListFeedbackRequest.fromPartial({}), { tenant: 'acme', timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAUTHENTICATED', details: { field: 'tessera-service-token' } });
    forged.close();
    const service = grpcClient(SERVICES.feedback.definition, `127.0.0.1:${feedbackPort}`, { serviceToken: stack.serviceToken! });
    await expect(service.listFeedback(feedbackV1.ListFeedbackRequest.fromPartial({}), { tenant: 'acme', timeoutMs: 10_000 })).resolves.toBeDefined();
    service.close();
    // The bus has the same rule: no NATS credentials, no connection.
    await expect(connect({ servers: stack.natsUrl, maxReconnectAttempts: 0, reconnect: false })).rejects.toThrow(/Authorization/i);
  });

  it('streams a chat completion with an image and lists models; rejects a missing key', async () => {
    const client = grpcClient(gatewayV1.GatewayServiceService, stack.grpcAddress);
    const auth = { headers: { authorization: `Bearer ${KEYS.acme}` }, timeoutMs: 60_000 };
    const models = await client.listModels({}, auth);
    expect(models.models[0]!.id).toBe(MODEL);
    const chunks: gatewayV1.ChatCompletionResponse[] = [];
    for await (const c of client.chatCompletion(
      {
        model: MODEL,
        messages: [{ role: commonV1.Role.USER, content: [{ part: { $case: 'image', image: { source: { $case: 'data', data: await png(500, 500, 11) } } } }, { part: { $case: 'text', text: 'What?' } }] }],
        sampling: { maxTokens: 6, stop: [], stopTokenIds: [], topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, logprobs: false, topLogprobs: 0, temperature: 0 },
        user: '',
        tools: [],
        toolChoice: '',
      },
      auth,
    ))
      chunks.push(c);
    const last = chunks.at(-1)!;
    expect(last.finishReason).not.toBe(commonV1.FinishReason.UNSPECIFIED);
    expect(last.usage!.visualTokens).toBeGreaterThan(0);
    expect(chunks[0]!.responseId).toMatch(/^chatcmpl-/);
    await expect(client.listModels({}, { timeoutMs: 5000 })).rejects.toSatisfy((e: unknown) => e instanceof TesseraError && e.code === 'UNAUTHENTICATED');
    client.close();
  });
});

describe('feedback on a response', () => {
  it('records every answer under its response id; feedback through the gateway is scoped to the key\'s tenant', async () => {
    const res = await chat({ messages: [{ role: 'user', content: 'Rate me' }] });
    const responseId = ((await res.json()) as any).id as string;
    const client = grpcClient(gatewayV1.GatewayServiceService, stack.grpcAddress);
    const feedback = (key: string) =>
      client.submitFeedback(
        { feedback: { feedbackId: `fb-${key}-${responseId}`, responseId, rating: { key: 'overall', value: { $case: 'thumbs', thumbs: 1 } }, comment: '', correction: '', spans: [] } as any },
        { headers: { authorization: `Bearer ${key}` }, timeoutMs: 20_000 },
      );
    // The gateway stores the response asynchronously after the last chunk: retry briefly.
    let out: Awaited<ReturnType<typeof feedback>> | undefined;
    for (let i = 0; i < 40 && !out; i++) {
      out = await feedback(KEYS.acme).catch((e) => {
        if (e instanceof TesseraError && e.code === 'NOT_FOUND') return undefined;
        throw e;
      });
      if (!out) await new Promise((r) => setTimeout(r, 250));
    }
    expect(out?.record?.tenant).toBe('acme');
    expect(out?.record?.feedback?.responseId).toBe(responseId);
    // Another tenant cannot attach feedback to acme's response.
    await expect(feedback(KEYS.small)).rejects.toSatisfy((e: unknown) => e instanceof TesseraError && ['NOT_FOUND', 'PERMISSION_DENIED'].includes(e.code));
    client.close();
  });

  it('a prompt with U+0000 is answered and recorded, the NUL kept visibly escaped (PostgreSQL text cannot hold it)', async () => {
    const res = await chat({ messages: [{ role: 'user', content: 'nul\u0000here' }] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    const responseId = body.id as string;
    const feedback = natsClient(nc, SERVICES.feedback.definition);
    let got: feedbackV1.GetResponseResponse | undefined;
    for (let i = 0; i < 40 && !got; i++) {
      got = await feedback.getResponse({ responseId }, { tenant: 'acme', timeoutMs: 10_000 }).catch((e) => {
        if (e instanceof TesseraError && e.code === 'NOT_FOUND') return undefined;
        throw e;
      });
      if (!got) await new Promise((r) => setTimeout(r, 250));
    }
    const part = got?.response?.messages[0]?.content[0]?.part;
    expect(part?.$case === 'text' && part.text).toBe('nul\\u0000here');
    // No client logprobs: the gateway asked the decoder for `confidence` (raw chosen-token logprobs), one per token.
    expect(got?.response?.sampling).toMatchObject({ logprobs: false, confidence: true });
    expect(got?.response?.confidence?.tokenCount).toBe(body.usage.completion_tokens);
    expect(got?.response?.confidence?.meanLogprob).toBeLessThanOrEqual(0);
    feedback.close();
  });
});

describe('tracing and failover', () => {
  it('one trace spans the gateway, slicer, resampler and decoder processes', async () => {
    const res = await chat({ messages: [{ role: 'user', content: [imagePart(await png(640, 480, 12)), { type: 'text', text: 'trace me' }] }] });
    expect(res.status).toBe(200);
    const services = new Set(['tessera-gateway', 'tessera-slicer', 'tessera-resampler', 'tessera-decoder']);
    let trace: typeof collector.spans = [];
    for (let i = 0; i < 60 && trace.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const byTrace = new Map<string, typeof collector.spans>();
      for (const s of collector.spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
      trace = [...byTrace.values()].find((spans) => [...services].every((svc) => spans.some((s) => s.service === svc))) ?? [];
    }
    expect(trace.length, `spans seen: ${collector.spans.length}`).toBeGreaterThan(0);
    // Every span but the root has its parent inside the same trace: the context crossed every hop.
    const ids = new Set(trace.map((s) => s.spanId));
    const orphans = trace.filter((s) => s.parentSpanId && !ids.has(s.parentSpanId));
    expect(orphans.map((s) => `${s.service}:${s.name}`)).toEqual([]);
    const slicerSpan = trace.find((s) => s.service === 'tessera-slicer')!;
    const parent = trace.find((s) => s.spanId === slicerSpan.parentSpanId);
    expect(parent?.service).toBe('tessera-gateway');
  });

  it('finishes a request whose slicer worker is killed mid-job on the second worker', { timeout: 180_000 }, async () => {
    const slicers = stack.processes.filter((p) => p.name === 'slicer' && p.process.exitCode === null);
    expect(slicers.length).toBe(2);
    const pending = chat({ messages: [{ role: 'user', content: [imagePart(await png(2400, 1800, 13)), { type: 'text', text: 'survive' }] }] });
    // Find the worker that holds the job (in-flight gauge) and kill -9 it.
    let victim: (typeof slicers)[number] | undefined;
    for (let i = 0; i < 200 && !victim; i++) {
      for (const s of slicers) if ((await metricValue(s.metricsPort, 'tessera_rpc_server_in_flight', { transport: 'jetstream' })) > 0) victim = s;
      if (!victim) await new Promise((r) => setTimeout(r, 25));
    }
    expect(victim, 'no slicer picked up the job').toBeDefined();
    victim!.process.kill('SIGKILL');
    const res = await pending;
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.usage.prompt_tokens_details.image_tokens).toBeGreaterThan(0);
  });
});

describe('training exports', () => {
  it('a chat with an image and a span correction become bundles a trainer loads, with the same image bytes', { timeout: 120_000 }, async () => {
    const image = await png(640, 400, 16);
    const imageSha = createHash('sha256').update(image).digest('hex');
    const res = await chat({ messages: [{ role: 'user', content: [imagePart(image), { type: 'text', text: 'Describe the picture.' }] }] });
    const answerBody = (await res.json()) as any;
    const responseId = answerBody.id as string;
    const answer = answerBody.choices[0].message.content as string;
    const client = grpcClient(gatewayV1.GatewayServiceService, stack.grpcAddress);
    const submit = (feedback: Record<string, unknown>) => client.submitFeedback({ feedback: { responseId, comment: '', correction: '', spans: [], ...feedback } as any }, { headers: { authorization: `Bearer ${KEYS.acme}` }, timeoutMs: 20_000 });
    // The response is recorded asynchronously after the last chunk: retry while it is NOT_FOUND.
    let out: Awaited<ReturnType<typeof submit>> | undefined;
    const first = Array.from(answer)[0] ?? '';
    for (let i = 0; i < 40 && !out; i++) {
      out = await submit({ feedbackId: `span-${responseId}`, spans: [{ start: 0, end: 1, original: first, replacement: 'A cat', category: 'object' }] }).catch((e) => {
        if (e instanceof TesseraError && e.code === 'NOT_FOUND') return undefined;
        throw e;
      });
      if (!out) await new Promise((r) => setTimeout(r, 250));
    }
    expect(out?.duplicate).toBe(false);
    await submit({ feedbackId: `up-${responseId}`, rating: { key: 'overall', value: { $case: 'thumbs', thumbs: 1 } } });
    client.close();

    const dir = mkdtempSync(join(tmpdir(), 'tessera-bundles-'));
    const exportAs = (format: Parameters<typeof exportBundle>[0]['format'], out: string) => exportBundle({ format, out: join(dir, out), tenant: 'acme', natsUrl: stack.natsUrl, ...(stack.natsLogin && { auth: { natsUser: stack.natsLogin.user, natsPassword: stack.natsLogin.pass } }) });
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    const mine = (rows: any[]) => rows.filter((r) => String(r.id ?? '').includes(responseId) || JSON.stringify(r).includes(answer));
    // TRL DPO (a directory) and SFT / KTO (tars): `images` are paths inside the bundle, bytes equal the upload.
    for (const [format, out] of [['trl-dpo', 'trl'], ['sft', 'sft.tar'], ['kto', 'kto.tar']] as const) {
      await exportAs(format, out);
      const b = await readBundle(join(dir, out));
      const row = mine(b.rows).find((r) => Array.isArray(r.images) && r.images.length);
      expect(row, `${format}: a row of this response`).toBeDefined();
      expect(sha(b.images.get(row.images[0])!), format).toBe(imageSha);
    }
    // RLAIF-V: parquet, read back with a parquet reader, image.bytes filled.
    await exportAs('rlaif-v', 'rlaif.tar');
    const rl = await readBundle(join(dir, 'rlaif.tar'));
    const rlRow = rl.rows.find((r: any) => r.id === `span-${responseId}`) as any;
    expect(sha(rlRow.image.bytes)).toBe(imageSha);
    expect(rlRow.question).toBe('Describe the picture.');
    expect(rlRow.rejected).toBe(answer);
    // OpenAI SFT: image_url data URLs holding the uploaded bytes.
    await exportAs('openai-sft', 'openai-sft');
    const oa = (await readBundle(join(dir, 'openai-sft'))).rows.find((r: any) => r.messages.at(-1).content.startsWith('A cat')) as any;
    const dataUrl = oa.messages[0].content.find((p: any) => p.type === 'image_url').image_url.url as string;
    expect(sha(Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64'))).toBe(imageSha);
    // OpenAI DPO: text-only, the dropped images counted.
    const dpo = await exportAs('openai-dpo', 'openai-dpo');
    expect(dpo.imagesDropped).toBeGreaterThan(0);
    const dpoRows = (await readBundle(join(dir, 'openai-dpo'))).rows as any[];
    expect(dpoRows.every((r) => r.input.messages.every((m: any) => typeof m.content === 'string'))).toBe(true);
  });
});

describe('erasure', () => {
  it('an admin erases a tenant everywhere its data was copied: encoder cache, feedback, collections', async () => {
    const image = await png(320, 240, 14);
    const body = { messages: [{ role: 'user', content: [imagePart(image), { type: 'text', text: 'remember me' }] }] };
    await (await chat(body)).json();
    const stored = { bucket: 'tessera-images', key: createHash('sha256').update(image).digest('hex') };
    expect((await statPayload(nc, stored, { tenant: 'acme' }))?.size).toBe(image.length);
    const erase = (key: string, tenant = 'acme', confirm = tenant) =>
      fetch(`${stack.httpUrl}/v1/admin/tenants/${tenant}?confirm=${confirm}`, { method: 'DELETE', headers: { authorization: `Bearer ${key}` } });
    expect((await erase(KEYS.acme)).status).toBe(403);
    expect((await erase(KEYS.admin, 'acme', 'other')).status).toBe(400);
    const res = await erase(KEYS.admin);
    expect(res.status).toBe(200);
    const out = (await res.json()) as any;
    expect(out.encoder_cache_entries).toBeGreaterThan(0);
    expect(out.responses_deleted).toBeGreaterThan(0);
    expect(out.collections_deleted).toContain('handbook');
    // The stored image is gone with the rest.
    expect(out.images_deleted).toBeGreaterThan(0);
    expect(await statPayload(nc, stored, { tenant: 'acme' })).toBeNull();
    // The same image is a cache miss again; other tenants keep their cache.
    expect(((await (await chat(body)).json()) as any).tessera.timings_ms.encoder_cache_hits).toBe(0);
  });
});

describe('authenticated bus', () => {
  it('every service did all of the above within its own NATS permissions (per-service users and inboxes): nats-server logged no violation', () => {
    expect(stack.natsLogin).toBeDefined();
    const log = readFileSync(join(stack.workDir, 'logs', 'nats-server.log'), 'utf8');
    expect(log.match(/.*Violation.*/gi) ?? []).toEqual([]);
  });
});
