/**
 * OpenAI's `n` over the bus: one request, n decoder generations. Each choice has its own decoder
 * request id (choice 0 the response id, choice i `<id>-<i>`) and seed (seed + i with a request seed,
 * its own draw without), the image is encoded once for all of them, their deltas interleave as they
 * arrive, each ends with its own final and its own feedback record (same prompt), and one failing
 * choice or the client going away cancels the others at the decoder. A scripted decoder and feedback
 * service on a real nats-server stand in for the real ones (the real decoder in e2e/src/choices.e2e.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonV1, retrievalV1, type decodingV1, type feedbackV1 } from '@tessera/contracts';
import { ensureTinyModel } from '@tessera/model';
import { consoleLogger, hosted, type ServiceHost } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import type { ChatEvent } from '../chat-events.js';
import { DEFAULT_CHAT_LIMITS } from '../openai/limits.js';
import { validateChatRequest } from '../openai/validate-chat.js';
import type { Tenant } from '../tenancy/api-keys.js';
import { ChatOrchestrator } from './chat-orchestrator.js';
import type { AdmittedImage, EncodedImage, ImagePipeline } from './image-pipeline.js';
import { loadModelInfo, type ModelInfo } from './model-catalog.js';
import { decoderChunk, startScriptedStages } from './test/scripted-stages.js';

const bus = withNats();
const generated: decodingV1.GenerateRequest[] = [];
const cancelled: string[] = [];
const recorded: feedbackV1.ResponseRecord[] = [];
const queries: retrievalV1.QueryRequest[] = [];
let host: ServiceHost;
let model: ModelInfo;
let encodeCalls = 0;

/**
 * Each choice's second token waits until every generation of the request has sent its first: the
 * gateway must be reading the choices side by side to see them at all. A request id ending in `-1`
 * whose prompt says "fail" fails after its first token; one whose prompt says "hang" streams nothing
 * more until it is cancelled.
 */
let firstTokens = 0;
let expectedChoices = 0;
let allStarted: () => void = () => {};
let started = new Promise<void>((r) => (allStarted = r));
function resetBarrier(n: number): void {
  firstTokens = 0;
  expectedChoices = n;
  started = new Promise<void>((r) => (allStarted = r));
}

const usage = (completionTokens: number, cachedTokens: number) => ({ promptTokens: 7, visualTokens: 64, completionTokens, totalTokens: 7 + completionTokens, cachedTokens });

const promptText = (req: decodingV1.GenerateRequest) => req.messages.flatMap((m) => m.parts.map((p) => (p.part?.$case === 'text' ? p.part.text : ''))).join('');

beforeAll(async () => {
  model = loadModelInfo(await ensureTinyModel(), 'tiny');
  host = await startScriptedStages(
    { nc: bus.nc, url: bus.server.url },
    async function* generate(req, ctx) {
      generated.push(req);
      const seed = req.sampling!.seed!;
      const prompt = promptText(req);
      yield decoderChunk(`s${seed}a `);
      if (++firstTokens === expectedChoices) allStarted();
      await started;
      if (prompt.includes('fail') && req.requestId.endsWith('-1')) {
        // gRPC status 8: RESOURCE_EXHAUSTED.
        yield decoderChunk('', { error: { code: 8, message: 'KV cache full', field: '', limit: '', retryAfterMs: 0, metadata: {} } });
        return;
      }
      if (prompt.includes('hang')) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        cancelled.push(req.requestId);
        return;
      }
      // The choices finish with different lengths and reasons; choice 0 reports the cached prompt blocks.
      const length = req.requestId.endsWith('-2') ? 1 : 2;
      if (length === 2) yield decoderChunk(`s${seed}b`);
      yield decoderChunk('', { finishReason: length === 2 ? commonV1.FinishReason.LENGTH : commonV1.FinishReason.STOP, usage: usage(length + 1, /-\d+$/.test(req.requestId) ? 0 : 16), seed });
    },
    recorded,
    [
      hosted({
        definition: { query: retrievalV1.RetrievalServiceService.query },
        impl: {
          async query(req: retrievalV1.QueryRequest) {
            queries.push(req);
            return { results: [{ id: 'doc-1', score: 0.9, relevance: 0.9, text: 'The sea is salty.', metadata: {}, vector: [] }], distance: 0, mode: 0 } as retrievalV1.QueryResponse;
          },
        },
      }),
    ],
  );
}, 120_000);

afterAll(async () => {
  await host?.shutdown();
});

const tenant: Tenant = { id: 'acme', quota: { requestsPerMinute: 10, tokensPerMinute: 10_000, concurrentStreams: 1, maxImagePixels: 1e8, maxImagesPerRequest: 8, imageCostPerMinute: 100 } };
const SHA = 'ab'.repeat(32);
/** One admitted image whose encoding is counted: the choices must share one encode. */
const oneImage = {
  useImageId: true,
  admit: async (): Promise<AdmittedImage[]> => [
    { field: 'messages[0].content[0].image_url', bytes: undefined, sha256: SHA, contentType: 'image/png', size: 10, width: 448, height: 448, plan: {} as AdmittedImage['plan'], maxSliceNums: 1, scaleResolution: 448, stored: { bucket: 'imgs', key: SHA, size: 10, contentType: 'image/png' } as AdmittedImage['stored'] },
  ],
  encode: async (): Promise<EncodedImage> => {
    encodeCalls++;
    return { embedding: { gridCols: 0, gridRows: 0, useImageId: true, imageSha256: SHA } as decodingV1.ImageEmbedding, cacheHit: false, timings: { visionEncodeMs: 3, resampleMs: 2, preprocessMs: 1 } };
  },
} as unknown as ImagePipeline;
const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const request = (text: string, extra: Record<string, unknown> = {}) =>
  validateChatRequest({ model: 'tiny', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1x1}` } }, { type: 'text', text }] }], max_tokens: 2, ...extra }, DEFAULT_CHAT_LIMITS, ['tiny']);
const orchestrator = () => new ChatOrchestrator(bus.nc, model, oneImage, consoleLogger('test', 'error'), { recordResponses: true, decoderWorkQueue: false });
const context = (responseId: string, signal = new AbortController().signal) => ({ tenant, responseId, requestId: `q-${responseId}`, deadline: Date.now() + 30_000, signal });

async function collect(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const ev of events) out.push(ev);
  return out;
}

describe('ChatOrchestrator: n choices', () => {
  it('n = 3 with a seed: three generations (own request ids, seed + i), one image encode, interleaved deltas, a final and a record per choice', async () => {
    resetBarrier(3);
    generated.length = 0;
    encodeCalls = 0;
    const events = await collect(orchestrator().chat(request('What is this?', { n: 3, seed: 40 }), context('chatcmpl-a')));

    expect(generated.map((g) => g.requestId).sort()).toEqual(['chatcmpl-a', 'chatcmpl-a-1', 'chatcmpl-a-2']);
    const seedOf = (id: string) => generated.find((g) => g.requestId === id)!.sampling!.seed;
    expect(['chatcmpl-a', 'chatcmpl-a-1', 'chatcmpl-a-2'].map(seedOf)).toEqual([40, 41, 42]);
    // One encode; every generation gets the same prompt and image.
    expect(encodeCalls).toBe(1);
    expect(new Set(generated.map((g) => JSON.stringify([g.messages, g.images]))).size).toBe(1);

    // Every choice's first delta came before any choice's second (the decoder held the second back until then).
    expect(events.slice(0, 3).map((e) => e.choice).sort()).toEqual([0, 1, 2]);
    const text = (c: number) => events.filter((e) => e.kind === 'delta' && e.choice === c).map((e) => (e.kind === 'delta' ? e.text : '')).join('');
    expect([text(0), text(1), text(2)]).toEqual(['s40a s40b', 's41a s41b', 's42a ']);
    const finals = events.filter((e) => e.kind === 'final');
    expect(finals.map((f) => f.choice).sort()).toEqual([0, 1, 2]);
    expect(finals.find((f) => f.choice === 2)).toMatchObject({ finishReason: 'stop', usage: { promptTokens: 7, completionTokens: 2 } });
    expect(finals.find((f) => f.choice === 0)).toMatchObject({ finishReason: 'length', usage: { completionTokens: 3, cachedTokens: 16 } });
    // Each choice's timings hold the shared image stages.
    for (const f of finals) expect(f.kind === 'final' && f.timings.vision_encode_ms).toBe(3);

    for (let i = 0; i < 100 && recorded.filter((r) => r.responseId.startsWith('chatcmpl-a')).length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    const records = recorded.filter((r) => r.responseId.startsWith('chatcmpl-a')).sort((a, b) => a.responseId.localeCompare(b.responseId));
    expect(records.map((r) => [r.responseId, r.answer, r.sampling?.seed])).toEqual([
      ['chatcmpl-a', 's40a s40b', 40],
      ['chatcmpl-a-1', 's41a s41b', 41],
      ['chatcmpl-a-2', 's42a ', 42],
    ]);
    // The same prompt in every record: feedback pairs them as answers to one prompt.
    expect(new Set(records.map((r) => JSON.stringify(r.messages))).size).toBe(1);
  });

  it('grounded chat: retrieval runs once, every choice gets the same grounding turn and sources', async () => {
    resetBarrier(2);
    generated.length = 0;
    queries.length = 0;
    const events = await collect(orchestrator().chat(request('Grounded?', { n: 2, collection: { name: 'docs', k: 1 } }), context('chatcmpl-g')));
    expect(queries).toHaveLength(1);
    expect(generated).toHaveLength(2);
    expect(generated.map((g) => g.messages[0])).toEqual([generated[0]!.messages[0], generated[0]!.messages[0]]);
    expect(JSON.stringify(generated[0]!.messages[0])).toContain('The sea is salty.');
    expect(events.filter((e) => e.kind === 'final').map((e) => (e.kind === 'final' ? e.sources.map((s) => s.id) : []))).toEqual([['doc-1'], ['doc-1']]);
  });

  it('without a seed each choice draws its own', async () => {
    resetBarrier(4);
    generated.length = 0;
    await collect(orchestrator().chat(request('Again?', { n: 4 }), context('chatcmpl-b')));
    expect(new Set(generated.map((g) => g.sampling!.seed)).size).toBe(4);
  });

  it('n = 1 is one generation under the response id, as before n', async () => {
    resetBarrier(1);
    generated.length = 0;
    const events = await collect(orchestrator().chat(request('Once?', { seed: 5 }), context('chatcmpl-c')));
    expect(generated.map((g) => [g.requestId, g.sampling!.seed])).toEqual([['chatcmpl-c', 5]]);
    expect(events.filter((e) => e.kind === 'final')).toHaveLength(1);
  });

  it('one failing choice fails the request and cancels the choices still running', async () => {
    resetBarrier(3);
    cancelled.length = 0;
    // Choice 1 fails; choices 0 and 2 hang until they are cancelled.
    await expect(collect(orchestrator().chat(request('fail and hang', { n: 3 }), context('chatcmpl-d')))).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: 'KV cache full' });
    for (let i = 0; i < 100 && cancelled.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(cancelled.filter((id) => id.startsWith('chatcmpl-d')).sort()).toEqual(['chatcmpl-d', 'chatcmpl-d-2']);
  });

  it('the client going away cancels every choice at the decoder', async () => {
    resetBarrier(3);
    cancelled.length = 0;
    const client = new AbortController();
    const events = orchestrator().chat(request('hang', { n: 3 }), context('chatcmpl-e', client.signal))[Symbol.asyncIterator]();
    await events.next();
    client.abort();
    await expect((async () => {
      for (let r = await events.next(); !r.done; r = await events.next());
    })()).rejects.toBeDefined();
    const mine = () => cancelled.filter((id) => id.startsWith('chatcmpl-e')).sort();
    for (let i = 0; i < 100 && mine().length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(mine()).toEqual(['chatcmpl-e', 'chatcmpl-e-1', 'chatcmpl-e-2']);
  });
});
