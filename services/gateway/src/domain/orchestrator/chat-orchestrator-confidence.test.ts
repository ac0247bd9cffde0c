/**
 * The feedback record's per-token confidence without a full log-softmax per token: a request whose client
 * did not ask for logprobs asks the decoder for `confidence` (each chosen token's raw logprob, O(1) from the
 * graph's logits_lse) and not `logprobs`; one that asked gets `logprobs` as before. Either way the record's
 * confidence summary comes from what the decoder returned. A scripted decoder and feedback service on a
 * real nats-server stand in for the real ones (the real decoder: e2e/src/platform.e2e.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonV1, type decodingV1, type feedbackV1 } from '@tessera/contracts';
import { ensureTinyModel } from '@tessera/model';
import { consoleLogger, type ServiceHost } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import type { ChatEvent } from '../chat-events.js';
import { DEFAULT_CHAT_LIMITS } from '../openai/limits.js';
import { validateChatRequest } from '../openai/validate-chat.js';
import type { Tenant } from '../tenancy/api-keys.js';
import { ChatOrchestrator } from './chat-orchestrator.js';
import type { ImagePipeline } from './image-pipeline.js';
import { loadModelInfo, type ModelInfo } from './model-catalog.js';
import { decoderChunk, startScriptedStages } from './test/scripted-stages.js';

const bus = withNats();
const generated: decodingV1.GenerateRequest[] = [];
const recorded: feedbackV1.ResponseRecord[] = [];
let host: ServiceHost;
let model: ModelInfo;

/** Logprobs of the two tokens the scripted decoder sends: p = 0.9 and p = 0.2 (low confidence). */
const LP = [Math.log(0.9), Math.log(0.2)];
const lp = (token: string, logprob: number, top = 0): commonV1.TokenLogprob => ({ tokenId: 1, token, logprob, topLogprobs: Array.from({ length: top }, () => ({ tokenId: 2, token: 'x', logprob: logprob - 1 })) });

beforeAll(async () => {
  model = loadModelInfo(await ensureTinyModel(), 'tiny');
  const usage = { promptTokens: 7, visualTokens: 0, completionTokens: 2, totalTokens: 9 };
  host = await startScriptedStages(
    { nc: bus.nc, url: bus.server.url },
    async function* generate(req) {
      generated.push(req);
      // As the decoder does: entries when either is asked, alternatives only with logprobs.
      const s = req.sampling!;
      const wants = s.logprobs || s.confidence === true;
      const top = s.logprobs ? s.topLogprobs : 0;
      yield decoderChunk('Hello', { logprobs: wants ? [lp('Hello', LP[0]!, top)] : [] });
      yield decoderChunk(' there', { logprobs: wants ? [lp(' there', LP[1]!, top)] : [], finishReason: commonV1.FinishReason.LENGTH, usage, seed: 5 });
    },
    recorded,
  );
}, 120_000);

afterAll(async () => {
  await host?.shutdown();
});

const tenant: Tenant = { id: 'acme', quota: { requestsPerMinute: 10, tokensPerMinute: 10_000, concurrentStreams: 1, maxImagePixels: 1e8, maxImagesPerRequest: 8, imageCostPerMinute: 100 } };
const noImages = { admit: async () => [], useImageId: false } as unknown as ImagePipeline;
const orchestrator = () => new ChatOrchestrator(bus.nc, model, noImages, consoleLogger('test', 'error'), { recordResponses: true, decoderWorkQueue: false });
const context = (responseId: string) => ({ tenant, responseId, requestId: `q-${responseId}`, deadline: Date.now() + 30_000, signal: new AbortController().signal });
const request = (extra: Record<string, unknown> = {}) => validateChatRequest({ model: 'tiny', messages: [{ role: 'user', content: 'Hi?' }], max_tokens: 2, ...extra }, DEFAULT_CHAT_LIMITS, ['tiny']);

async function run(responseId: string, extra: Record<string, unknown>): Promise<{ events: ChatEvent[]; sent: decodingV1.GenerateRequest; record: feedbackV1.ResponseRecord }> {
  const events: ChatEvent[] = [];
  for await (const ev of orchestrator().chat(request(extra), context(responseId))) events.push(ev);
  for (let i = 0; i < 100 && !recorded.some((r) => r.responseId === responseId); i++) await new Promise((r) => setTimeout(r, 20));
  return { events, sent: generated.find((g) => g.requestId === responseId)!, record: recorded.find((r) => r.responseId === responseId)! };
}

describe('ChatOrchestrator: the feedback record\'s confidence', () => {
  it('without client logprobs: asks the decoder for confidence, not logprobs; the record\'s confidence is filled; the client gets no logprobs', async () => {
    const { events, sent, record } = await run('chatcmpl-conf', {});
    expect(sent.sampling).toMatchObject({ logprobs: false, topLogprobs: 0, confidence: true });
    expect(events.filter((e) => e.kind === 'delta').some((e) => e.kind === 'delta' && e.logprobs)).toBe(false);
    expect(record.confidence).toMatchObject({ tokenCount: 2, lowConfidenceTokens: 1 });
    expect(record.confidence!.meanLogprob).toBeCloseTo((LP[0]! + LP[1]!) / 2, 9);
    expect(record.confidence!.minLogprob).toBeCloseTo(LP[1]!, 9);
    expect(record.confidence!.spans).toEqual([{ start: 5, end: 11, meanLogprob: LP[1] }]);
    // The record's sampling is the client's (no logprobs) and says its confidence is the raw kind.
    expect(record.sampling).toMatchObject({ logprobs: false, confidence: true });
  });

  it('with client logprobs: asks logprobs (and no confidence) as before; the client gets them and the record summarises them', async () => {
    const { events, sent, record } = await run('chatcmpl-lp', { logprobs: true, top_logprobs: 2 });
    expect(sent.sampling).toMatchObject({ logprobs: true, topLogprobs: 2 });
    expect(sent.sampling!.confidence).toBeUndefined();
    const deltas = events.filter((e) => e.kind === 'delta');
    expect(deltas.map((e) => (e.kind === 'delta' ? e.logprobs?.map((l) => [l.token, l.logprob, l.top.length]) : undefined))).toEqual([[['Hello', LP[0], 2]], [[' there', LP[1], 2]]]);
    expect(record.confidence).toMatchObject({ tokenCount: 2, lowConfidenceTokens: 1 });
    expect(record.confidence!.meanLogprob).toBeCloseTo((LP[0]! + LP[1]!) / 2, 9);
    expect(record.sampling).toMatchObject({ logprobs: true });
    expect(record.sampling!.confidence).toBeUndefined();
  });
});
