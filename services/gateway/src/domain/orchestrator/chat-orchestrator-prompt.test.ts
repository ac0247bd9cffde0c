/**
 * A text completion (`ValidChatRequest.prompt`, the HTTP API's /v1/completions) over the bus: the
 * decoder gets the prompt as raw `prompt` parts and no messages, the output comes back as written
 * (no reasoning split even when the decoder's first chunk says a reasoning block opens), the
 * reservation is the prompt's exact token count, and the feedback record carries the raw prompt.
 * A scripted decoder and feedback service on a real nats-server stand in for the real ones (the
 * real decoder's answer for a raw prompt is checked end to end in e2e/src/openai-sdk.e2e.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonV1, type decodingV1, type feedbackV1 } from '@tessera/contracts';
import { ensureTinyModel } from '@tessera/model';
import { consoleLogger, type ServiceHost } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import type { ChatEvent } from '../chat-events.js';
import { DEFAULT_CHAT_LIMITS } from '../openai/limits.js';
import { validateCompletionRequest } from '../openai/validate-completion.js';
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
const PROMPT = 'Once upon a time <|im_end|> there';

beforeAll(async () => {
  model = loadModelInfo(await ensureTinyModel(), 'tiny');
  const usage = { promptTokens: 7, visualTokens: 0, completionTokens: 2, totalTokens: 9 };
  host = await startScriptedStages(
    { nc: bus.nc, url: bus.server.url },
    async function* generate(req) {
      generated.push(req);
      // A decoder that claims the output opens with reasoning: a completion's text must still come back as is.
      yield decoderChunk(' a <think>king', { reasoning: true });
      yield decoderChunk('</think> lived', { finishReason: commonV1.FinishReason.LENGTH, usage, seed: 5 });
    },
    recorded,
  );
}, 120_000);

afterAll(async () => {
  await host?.shutdown();
});

describe('ChatOrchestrator: a text completion', () => {
  const tenant: Tenant = { id: 'acme', quota: { requestsPerMinute: 10, tokensPerMinute: 10_000, concurrentStreams: 1, maxImagePixels: 1e8, maxImagesPerRequest: 8, imageCostPerMinute: 100 } };
  // Text only: the image pipeline only ever sees an empty list.
  const noImages = { admit: async () => [], useImageId: false } as unknown as ImagePipeline;

  it('sends the raw prompt to the decoder, returns its output unsplit, reserves the exact prompt tokens and records the prompt', async () => {
    const orchestrator = new ChatOrchestrator(bus.nc, model, noImages, consoleLogger('test', 'error'), { recordResponses: true, decoderWorkQueue: false });
    const req = validateCompletionRequest({ model: 'tiny', prompt: PROMPT, max_tokens: 2, temperature: 0 }, DEFAULT_CHAT_LIMITS, ['tiny']);
    // The decoder encodes a raw prompt as one text run, control-token spellings as text: exactly encodePlain.
    expect(await orchestrator.estimatePromptTokens(req, tenant)).toBe(model.tokenizer.encodePlain(PROMPT).length);

    const events: ChatEvent[] = [];
    for await (const ev of orchestrator.chat(req, { tenant, responseId: 'cmpl-1', requestId: 'q-1', deadline: Date.now() + 30_000, signal: new AbortController().signal })) events.push(ev);
    const deltas = events.filter((e) => e.kind === 'delta');
    expect(deltas.map((d) => d.text).join('')).toBe(' a <think>king</think> lived');
    expect(deltas.some((d) => d.reasoning)).toBe(false);
    expect(events.at(-1)).toMatchObject({ kind: 'final', finishReason: 'length', usage: { promptTokens: 7, completionTokens: 2 } });

    const sent = generated.at(-1)!;
    expect(sent.messages).toEqual([]);
    expect(sent.prompt).toEqual([{ part: { $case: 'text', text: PROMPT } }]);
    expect(sent.sampling).toMatchObject({ maxTokens: 2, temperature: 0 });
    expect(sent.enableThinking).toBeUndefined();

    for (let i = 0; i < 50 && recorded.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(recorded.at(-1)).toMatchObject({ responseId: 'cmpl-1', messages: [], prompt: PROMPT, answer: ' a <think>king</think> lived', model: 'tiny' });
  });

  it('a prompt of token ids goes to the decoder as prompt_token_ids, reserves its length and is recorded as its text', async () => {
    const orchestrator = new ChatOrchestrator(bus.nc, model, noImages, consoleLogger('test', 'error'), { recordResponses: true, decoderWorkQueue: false });
    const ids = model.tokenizer.encodePlain('Once upon a time');
    const req = validateCompletionRequest({ model: 'tiny', prompt: ids, max_tokens: 2, temperature: 0 }, DEFAULT_CHAT_LIMITS, ['tiny']);
    expect(await orchestrator.estimatePromptTokens(req, tenant)).toBe(ids.length);
    for await (const _ of orchestrator.chat(req, { tenant, responseId: 'cmpl-2', requestId: 'q-2', deadline: Date.now() + 30_000, signal: new AbortController().signal }));
    const sent = generated.at(-1)!;
    expect([sent.messages, sent.prompt, sent.promptTokenIds]).toEqual([[], [], { ids }]);
    for (let i = 0; i < 50 && recorded.at(-1)?.responseId !== 'cmpl-2'; i++) await new Promise((r) => setTimeout(r, 20));
    // Training data is text: the record holds the ids decoded by the model's tokenizer.
    expect(recorded.at(-1)).toMatchObject({ responseId: 'cmpl-2', messages: [], prompt: 'Once upon a time' });
  });
});
