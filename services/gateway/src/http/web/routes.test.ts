/**
 * The playground's HTTP routes on the gateway's real HTTP server (createHttpServer: one error
 * mapping), a real nats-server and the real feedback service bound on NATS in this process.
 * Every case checks the status and the OpenAI-style error body the browser shows.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedbackV1 } from '@tessera/contracts';
import { feedbackService, feedbackSettings, loadFeedbackConfig, openFeedback, readBundle, type FeedbackStack } from '@tessera/feedback';
import { bindNats, getPayload, natsClient, sha256Hex, type NatsBinding } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import { DEFAULT_IMAGE_LIMITS, ImageStore } from '@tessera/vision';
import { createHttpServer } from '../server.js';
import { DEFAULT_CHAT_LIMITS } from '../../domain/openai/limits.js';
import { ApiKeyStore, hashApiKey } from '../../domain/tenancy/api-keys.js';
import { QuotaLedger } from '../../domain/tenancy/quota-ledger.js';
import { feedbackRoutes } from './feedback-routes.js';
import { slicePlanRoute } from './slice-plan-route.js';
import { staticFiles } from './static-files.js';

const KEY = 'sk-web-acme';
const OTHER = 'sk-web-other';
const QUOTA = { requestsPerMinute: 100, tokensPerMinute: 1e6, concurrentStreams: 4, maxImagePixels: 1e8, maxImagesPerRequest: 8 };
const ANSWER = 'I see 𠮷 two red apples.'; // 𠮷 is 2 UTF-16 units, 1 code point

const bus = withNats();
let fb: FeedbackStack;
let binding: NatsBinding;
let feedback: ReturnType<typeof natsClient<typeof feedbackV1.FeedbackServiceService>>;
let server: Server;
let base: string;
let dir: string;

const auth = (key = KEY) => ({ authorization: `Bearer ${key}` });
async function call(path: string, init: RequestInit = {}): Promise<{ status: number; body: any; text: string; res: Response }> {
  const res = await fetch(base + path, init);
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* JSONL or HTML */
  }
  return { status: res.status, body, text, res };
}
const post = (path: string, body: unknown, key = KEY) => call(path, { method: 'POST', headers: { ...auth(key), 'content-type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-web-routes-'));
  const settings = feedbackSettings(loadFeedbackConfig({ TESSERA_DATA_DIR: join(dir, 'feedback') }));
  // The image store, tenant-scoped, as the feedback service's compose wires it (inline exports and bundles read it).
  settings.core.objects = { read: (ref, tenant) => getPayload(bus.nc, { bucket: ref.bucket, key: ref.key, size: ref.size }, { tenant }), delete: async () => false };
  fb = await openFeedback(bus.nc, settings);
  binding = await bindNats(bus.nc, feedbackV1.FeedbackServiceService, feedbackService(fb.core), { serviceName: 'feedback' });
  feedback = natsClient(bus.nc, feedbackV1.FeedbackServiceService);
  const keys = new ApiKeyStore({ keys: [{ id: 'a', tenant: 'acme', sha256: hashApiKey(KEY) }, { id: 'o', tenant: 'other', sha256: hashApiKey(OTHER) }] }, QUOTA);
  const web = join(dir, 'web');
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(web, 'assets', 'app-abc.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'outside the web root');
  server = createHttpServer({
    keys,
    quotas: new QuotaLedger(),
    chat: undefined as never, // the chat route is not exercised here
    limits: DEFAULT_CHAT_LIMITS,
    models: () => ['minicpm-v-2_6'],
    maxBodyBytes: 1024 * 1024,
    requestTimeoutMs: 10_000,
    ready: () => true,
    routes: [
      feedbackRoutes({ keys, feedback, maxBodyBytes: 64 * 1024, timeoutMs: 10_000 }),
      slicePlanRoute({ keys, limits: { ...DEFAULT_IMAGE_LIMITS, maxBytes: 200_000, maxPixels: 4_000_000 }, slicing: { scaleResolution: 448, maxSliceNums: 9, patchSize: 14 }, queryNum: 64 }),
      staticFiles(web),
    ],
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  await feedback.recordResponse(
    {
      response: feedbackV1.ResponseRecord.fromJSON({
        responseId: 'chatcmpl-web-1',
        model: 'minicpm-v-2_6',
        modelRevision: 'rev',
        messages: [{ role: 'ROLE_USER', content: [{ text: 'How many apples?' }] }],
        answer: ANSWER,
        finishReason: 'FINISH_REASON_STOP',
        confidence: { tokenCount: 6, meanLogprob: -1, minLogprob: -3, lowConfidenceTokens: 1, spans: [{ start: 8, end: 11, meanLogprob: -2.5 }] },
      }),
    },
    { tenant: 'acme' },
  );
}, 60_000);

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await binding?.stop(1000);
  await fb?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/tessera/slice-plan', () => {
  it('plans from JSON sizes: 1344×896 → overview + 3×2 = 7 images = 448 visual tokens', async () => {
    const { status, body } = await post('/v1/tessera/slice-plan', { width: 1344, height: 896 });
    expect(status).toBe(200);
    expect(body).toMatchObject({ source: { width: 1344, height: 896 }, grid: { cols: 3, rows: 2 }, images: 7, visualTokens: 448, maxSliceNums: 9, scaleResolution: 448 });
    expect(body.slices).toHaveLength(6);
  });

  it('plans from image bytes (header only) and honours ?max_slice_nums', async () => {
    const png = await sharp({ create: { width: 1344, height: 896, channels: 3, background: '#336699' } }).png().toBuffer();
    const { status, body } = await call('/v1/tessera/slice-plan?max_slice_nums=1', { method: 'POST', headers: { ...auth(), 'content-type': 'image/png' }, body: png });
    expect(status).toBe(200);
    expect(body).toMatchObject({ format: 'png', grid: null, images: 1, visualTokens: 64, maxSliceNums: 1 });
  });

  it('refuses what is not an image, too large, out of range, unauthenticated or the wrong method', async () => {
    const notImage = await call('/v1/tessera/slice-plan', { method: 'POST', headers: { ...auth(), 'content-type': 'application/octet-stream' }, body: 'hello, not an image' });
    expect(notImage.status).toBe(400);
    expect(notImage.body.error).toMatchObject({ type: 'invalid_request_error', param: 'image', code: 'invalid_argument' });
    expect(notImage.body.error.message).toContain('not a decodable image');

    const big = await call('/v1/tessera/slice-plan', { method: 'POST', headers: { ...auth(), 'content-type': 'image/png' }, body: Buffer.alloc(300_000) });
    expect(big.status).toBe(413);
    expect(big.body.error.message).toContain('limit of 200000 bytes');

    const pixels = await post('/v1/tessera/slice-plan', { width: 4000, height: 4000 });
    expect(pixels.status).toBe(400); // like chat: the request's problem, not a retryable quota
    expect(pixels.body.error).toMatchObject({ param: 'image', code: 'invalid_argument' });

    const zero = await post('/v1/tessera/slice-plan', { width: 0, height: 10 });
    expect(zero.status).toBe(400);
    expect(zero.body.error).toMatchObject({ param: 'width', code: 'invalid_argument' });

    const slices = await post('/v1/tessera/slice-plan', { width: 100, height: 100, max_slice_nums: 99 });
    expect(slices.status).toBe(400);
    expect(slices.body.error.param).toBe('max_slice_nums');

    const text = await call('/v1/tessera/slice-plan', { method: 'POST', headers: { ...auth(), 'content-type': 'text/plain' }, body: 'x' });
    expect(text.status).toBe(400);
    expect(text.body.error.param).toBe('content-type');

    const anon = await call('/v1/tessera/slice-plan', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"width":10,"height":10}' });
    expect(anon.status).toBe(401);
    expect(anon.body.error).toMatchObject({ type: 'authentication_error', param: 'authorization' });

    const bad = await post('/v1/tessera/slice-plan', { width: 10, height: 10 }, 'sk-wrong');
    expect(bad.status).toBe(401);
    expect(bad.body.error.message).toBe('invalid API key');

    const get = await call('/v1/tessera/slice-plan', { headers: auth() });
    expect(get.status).toBe(405);
    expect(get.res.headers.get('allow')).toBe('POST');
  });
});

describe('feedback over HTTP', () => {
  it('saves span corrections (code points) and shows them in the response, the list and the SFT export', async () => {
    // "two" starts at code point 8 (UTF-16 offset 9: 𠮷 is a surrogate pair).
    const spans = [{ start: 8, end: 11, original: 'two', replacement: 'three', category: 'count' }];
    const saved = await post('/v1/tessera/feedback', { feedback: { feedbackId: 'fb-1', responseId: 'chatcmpl-web-1', spans, annotator: { id: 'ann', source: 'FEEDBACK_SOURCE_HUMAN' } } });
    expect(saved.status).toBe(200);
    expect(saved.body.record.correctedAnswer).toBe('I see 𠮷 three red apples.');
    expect(saved.body.record.tenant).toBe('acme');

    const got = await call('/v1/tessera/responses/chatcmpl-web-1', { headers: auth() });
    expect(got.status).toBe(200);
    expect(got.body.response.answer).toBe(ANSWER);
    expect(got.body.feedback).toHaveLength(1);

    const list = await call('/v1/tessera/feedback?response_id=chatcmpl-web-1&category=count', { headers: auth() });
    expect(list.status).toBe(200);
    expect(list.body.feedback.map((f: any) => f.feedback.feedbackId)).toEqual(['fb-1']);

    const sft = await call('/v1/tessera/export?format=sft', { headers: auth() });
    expect(sft.status).toBe(200);
    expect(sft.res.headers.get('content-type')).toBe('application/x-ndjson');
    const rows = sft.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(JSON.stringify(rows)).toContain('I see 𠮷 three red apples.');
  });

  it('offers the export as a training bundle (?bundle=tar): rows plus the image files they name, byte-identical', async () => {
    const png = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#c03020' } }).png().toBuffer();
    const store = await ImageStore.open(bus.nc, {});
    const ref = await store.put('acme', png, sha256Hex(png), 'image/png');
    await feedback.recordResponse(
      {
        response: feedbackV1.ResponseRecord.fromJSON({
          responseId: 'chatcmpl-web-img',
          model: 'minicpm-v-2_6',
          modelRevision: 'rev',
          messages: [{ role: 'ROLE_USER', content: [{ image: ref }, { text: 'What colour?' }] }],
          answer: 'It is blue.',
          finishReason: 'FINISH_REASON_STOP',
        }),
      },
      { tenant: 'acme' },
    );
    const spans = [{ start: 6, end: 10, original: 'blue', replacement: 'red', category: 'attribute' }];
    const sub = await post('/v1/tessera/feedback', { feedback: { feedbackId: 'fb-img', responseId: 'chatcmpl-web-img', spans, annotator: { id: 'ann', source: 'FEEDBACK_SOURCE_HUMAN' } } });
    expect(sub.status, sub.text).toBe(200);

    const res = await fetch(`${base}/v1/tessera/export?format=sft&bundle=tar&response_id=chatcmpl-web-img`, { headers: auth() });
    expect(res.status, res.status === 200 ? '' : await res.text()).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-tar');
    expect(res.headers.get('content-disposition')).toContain('tessera-sft.tar');
    const tarPath = join(dir, 'export.tar');
    writeFileSync(tarPath, Buffer.from(await res.arrayBuffer()));
    const b = await readBundle(tarPath);
    expect(b.rows).toHaveLength(1);
    const images = b.rows[0]!.images as string[];
    expect(images).toEqual([`images/${ref.key}.png`]);
    expect(sha256Hex(b.images.get(images[0]!)!)).toBe(ref.key);
    expect(JSON.stringify(b.rows[0])).toContain('It is red.');
    expect(b.summary).toMatchObject({ format: 'sft', rows: 1 });

    const bad = await call('/v1/tessera/export?format=sft&bundle=zip', { headers: auth() });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('bundle');
  });

  it('keeps tenants apart: another key sees no response, no feedback, an empty export and queue', async () => {
    const got = await call('/v1/tessera/responses/chatcmpl-web-1', { headers: auth(OTHER) });
    expect(got.status).toBe(404);
    expect(got.body.error).toMatchObject({ type: 'not_found_error', code: 'not_found' });
    const list = await call('/v1/tessera/feedback', { headers: auth(OTHER) });
    expect(list.body.feedback ?? []).toEqual([]);
    const exp = await call('/v1/tessera/export?format=sft', { headers: auth(OTHER) });
    expect(exp.status).toBe(200);
    expect(exp.text).toBe('');
    const queue = await call('/v1/tessera/review-queue', { headers: auth(OTHER) });
    expect(queue.body.items ?? []).toEqual([]);
    const malformed = await call('/v1/tessera/responses/%E0%A4%A', { headers: auth() });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.param).toBe('response_id');
    const foreign = await post('/v1/tessera/feedback', { feedback: { feedbackId: 'fb-x', responseId: 'chatcmpl-web-1', rating: { thumbs: 'THUMBS_DOWN' } } }, OTHER);
    expect(foreign.status).toBe(404);
  });

  it('answers bad feedback input with the service’s status and message', async () => {
    const unknown = await post('/v1/tessera/feedback', { feedback: { feedbackId: 'fb-2', responseId: 'chatcmpl-nope', rating: { thumbs: 'THUMBS_UP' } } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');

    const mismatch = await post('/v1/tessera/feedback', { feedback: { feedbackId: 'fb-3', responseId: 'chatcmpl-web-1', spans: [{ start: 0, end: 1, original: 'X', replacement: 'Y', category: 'count' }] } });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error.type).toBe('invalid_request_error');

    const category = await post('/v1/tessera/feedback', { feedback: { feedbackId: 'fb-4', responseId: 'chatcmpl-web-1', spans: [{ start: 0, end: 1, original: 'I', replacement: 'We', category: 'no-such-kind' }] } });
    expect(category.status).toBe(400);
    expect(category.body.error.message).toContain('not in the taxonomy');

    const shape = await post('/v1/tessera/feedback', { responseId: 'chatcmpl-web-1' });
    expect(shape.status).toBe(400);
    expect(shape.body.error.param).toBe('feedback');

    const notJson = await call('/v1/tessera/feedback', { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: '{oops' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.param).toBe('body');

    const anon = await call('/v1/tessera/feedback', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anon.status).toBe(401);

    const format = await call('/v1/tessera/export?format=csv', { headers: auth() });
    expect(format.status).toBe(400);
    expect(format.body.error).toMatchObject({ param: 'format', code: 'invalid_argument' });

    const page = await call('/v1/tessera/review-queue?page_size=0', { headers: auth() });
    expect(page.status).toBe(400);
    expect(page.body.error.param).toBe('page_size');

    const reason = await call('/v1/tessera/review-queue?reason=boredom', { headers: auth() });
    expect(reason.status).toBe(400);
    expect(reason.body.error.param).toBe('reason');

    const del = await call('/v1/tessera/feedback', { method: 'DELETE', headers: auth() });
    expect(del.status).toBe(405);
  });

  it('ranks a thumbs-down response in the review queue; a human-corrected one has left it', async () => {
    await feedback.recordResponse(
      { response: feedbackV1.ResponseRecord.fromJSON({ responseId: 'chatcmpl-web-2', model: 'minicpm-v-2_6', modelRevision: 'rev', messages: [{ role: 'ROLE_USER', content: [{ text: 'Colour?' }] }], answer: 'Blue.', finishReason: 'FINISH_REASON_STOP' }) },
      { tenant: 'acme' },
    );
    const down = await post('/v1/tessera/feedback', { feedback: { feedbackId: 'fb-rq', responseId: 'chatcmpl-web-2', rating: { thumbs: 'THUMBS_DOWN' } } });
    expect(down.status).toBe(200);
    const queue = await call('/v1/tessera/review-queue?reason=thumbs_down&page_size=10', { headers: auth() });
    expect(queue.status).toBe(200);
    expect(queue.body.items.map((i: any) => [i.response.responseId, i.reasons])).toEqual([['chatcmpl-web-2', ['REVIEW_REASON_THUMBS_DOWN']]]);
  });
});

describe('the playground files', () => {
  it('serves index.html at / and hashed assets, with a CSP and cache headers', async () => {
    const index = await call('/');
    expect(index.status).toBe(200);
    expect(index.res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(index.res.headers.get('cache-control')).toBe('no-cache');
    const asset = await call('/assets/app-abc.js');
    expect(asset.status).toBe(200);
    expect(asset.res.headers.get('cache-control')).toContain('immutable');
  });

  it('never serves outside its directory and keeps API 404s as JSON', async () => {
    const escape = await call('/%2e%2e/secret.txt');
    expect(escape.status).toBe(404);
    expect(escape.body.error.code).toBe('not_found');
    const malformed = await call('/%E0%A4%A');
    expect(malformed.status).toBe(404);
    const missing = await call('/v1/tessera/nothing', { headers: auth() });
    expect(missing.status).toBe(404);
    expect(missing.body.error.type).toBe('not_found_error');
  });

  it('says how to build the playground when it is missing', async () => {
    const s = createHttpServer({ keys: new ApiKeyStore({ keys: [] }, QUOTA), quotas: new QuotaLedger(), chat: undefined as never, limits: DEFAULT_CHAT_LIMITS, models: () => [], maxBodyBytes: 1024, requestTimeoutMs: 1000, ready: () => true, routes: [staticFiles(join(dir, 'absent'))] });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const res = await fetch(`http://127.0.0.1:${(s.address() as { port: number }).port}/`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.message).toContain('npm run build -w @tessera/web');
    await new Promise((r) => s.close(r));
  });
});
