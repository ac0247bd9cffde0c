/**
 * The slice-plan route for a MiniCPM-V 4.6 model on the gateway's real HTTP server: 56-px sides,
 * per-crop tokens in the chosen `downsample_mode`, and a mode the family lacks → 400 naming it.
 * (The 2.6 behaviour is covered in routes.test.ts.)
 */
import type { Server } from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE_LIMITS } from '@tessera/vision';
import { createHttpServer } from '../server.js';
import { DEFAULT_CHAT_LIMITS } from '../../domain/openai/limits.js';
import { ApiKeyStore, hashApiKey } from '../../domain/tenancy/api-keys.js';
import { QuotaLedger } from '../../domain/tenancy/quota-ledger.js';
import { slicePlanRoute } from './slice-plan-route.js';

const KEY = 'sk-slice-46';
const QUOTA = { requestsPerMinute: 100, tokensPerMinute: 1e6, concurrentStreams: 4, maxImagePixels: 1e8, maxImagesPerRequest: 8 };
let server: Server;
let base: string;

const post = async (path: string, init: RequestInit) => {
  const res = await fetch(base + path, { method: 'POST', ...init, headers: { authorization: `Bearer ${KEY}`, ...(init.headers as Record<string, string>) } });
  return { status: res.status, body: (await res.json()) as any };
};
const postJson = (body: unknown) => post('/v1/tessera/slice-plan', { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(async () => {
  const keys = new ApiKeyStore({ keys: [{ id: 'a', tenant: 'acme', sha256: hashApiKey(KEY) }] }, QUOTA);
  server = createHttpServer({
    keys,
    quotas: new QuotaLedger(),
    chat: undefined as never,
    limits: DEFAULT_CHAT_LIMITS,
    models: () => ['minicpm-v-4_6'],
    maxBodyBytes: 1024 * 1024,
    requestTimeoutMs: 10_000,
    ready: () => true,
    routes: [slicePlanRoute({ keys, limits: { ...DEFAULT_IMAGE_LIMITS, maxBytes: 200_000, maxPixels: 20_000_000 }, slicing: { scaleResolution: 448, maxSliceNums: 9, patchSize: 14 }, queryNum: 64, family: '4.6' })],
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
});

describe('POST /v1/tessera/slice-plan (MiniCPM-V 4.6)', () => {
  it('16x by default: 1344×896 → overview 560×392 (70) + 6 × 64 tokens', async () => {
    const { status, body } = await postJson({ width: 1344, height: 896 });
    expect(status).toBe(200);
    expect(body).toMatchObject({ family: '4.6', mode: '16x', overview: { width: 560, height: 392, tokens: 70 }, grid: { cols: 3, rows: 2 }, images: 7, visualTokens: 454 });
    expect(body.slices[0]).toEqual({ x: 0, y: 0, width: 448, height: 448, tokens: 64 });
  });

  it('4x from JSON or from image bytes with ?downsample_mode=4x', async () => {
    expect((await postJson({ width: 4032, height: 3024, downsample_mode: '4x' })).body).toMatchObject({ mode: '4x', overview: { width: 504, height: 392, tokens: 252 }, visualTokens: 2520 });
    const png = await sharp({ create: { width: 1344, height: 896, channels: 3, background: '#336699' } }).png().toBuffer();
    const { status, body } = await post('/v1/tessera/slice-plan?downsample_mode=4x&max_slice_nums=1', { headers: { 'content-type': 'image/png' }, body: png });
    expect(status).toBe(200);
    expect(body).toMatchObject({ mode: '4x', grid: null, images: 1, visualTokens: 280 });
  });

  it('an image over the pixel limit → 400 naming image and the limit, like chat (from JSON sizes and from a header-only read of the bytes)', async () => {
    const json = await postJson({ width: 6000, height: 6000 });
    expect(json.status).toBe(400);
    expect(json.body.error).toMatchObject({ param: 'image', code: 'invalid_argument' });
    expect(json.body.error.message).toContain('20000000');
    // A 6000×6000 flat PNG is a few KB: under the byte limit, refused on its header's size.
    const png = await sharp({ create: { width: 6000, height: 6000, channels: 3, background: '#ffffff' } }).png().toBuffer();
    expect(png.length).toBeLessThan(200_000);
    const bytes = await post('/v1/tessera/slice-plan', { headers: { 'content-type': 'image/png' }, body: png });
    expect(bytes.status).toBe(400);
    expect(bytes.body.error).toMatchObject({ param: 'image', code: 'invalid_argument' });
    expect(bytes.body.error.message).toMatch(/20000000|pixel/);
  });

  it('a mode the family does not have → 400 naming downsample_mode', async () => {
    const { status, body } = await postJson({ width: 100, height: 100, downsample_mode: '8x' });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ param: 'downsample_mode', code: 'invalid_argument' });
    expect(body.error.message).toContain('16x, 4x');
  });
});
