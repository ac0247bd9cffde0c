/**
 * The gRPC edge (tessera.gateway.v1) against a scripted ChatService: response_format reaches the
 * decoding contract through the same validator as HTTP (same 400s), and a gRPC chat counts in the
 * same request-level vllm:* series as an HTTP one. The real path over the bus is in e2e/.
 */
import { describe, expect, it, vi } from 'vitest';
import { commonV1, gatewayV1, type feedbackV1 } from '@tessera/contracts';
import { localClient, TesseraError, type ServiceClient } from '@tessera/runtime';
import { MetricsRegistry, parseExposition } from '@tessera/telemetry';
import type { ChatEvent, ChatService } from './domain/chat-events.js';
import { DEFAULT_CHAT_LIMITS } from './domain/openai/limits.js';
import type { ValidChatRequest } from './domain/openai/valid-request.js';
import type { ModelInfo } from './domain/orchestrator/model-catalog.js';
import { ApiKeyStore, hashApiKey } from './domain/tenancy/api-keys.js';
import { QuotaLedger, Reservation } from './domain/tenancy/quota-ledger.js';
import { HttpMetrics } from './http/request-metrics.js';
import { gatewayGrpcService } from './service.js';

const seen: ValidChatRequest[] = [];
const scripted: ChatService = {
  async estimatePromptTokens() {
    return 10;
  },
  async *chat(req): AsyncIterable<ChatEvent> {
    seen.push(req);
    // With prompt_logprobs the first delta carries the prompt's scores (the first token has none).
    const prompt = req.promptLogprobs === undefined ? undefined : { text: 'ab', tokens: [{ tokenId: 5, token: 'a', logprob: null, rank: null, top: [] }, { tokenId: 6, token: 'b', logprob: -0.25, rank: 2, top: [{ tokenId: 7, token: 'c', logprob: -0.1 }] }] };
    for (let i = 0; i < 3; i++) yield { kind: 'delta', text: i === 0 ? '{"ok":' : i === 1 ? 'true' : '}', tokenIds: [i], ...(i === 0 && prompt && { prompt }) };
    yield { kind: 'final', finishReason: 'stop', usage: { promptTokens: 10, visualTokens: 0, completionTokens: 3 }, timings: {}, sources: [] };
  },
};

const registry = new MetricsRegistry({ service: 'gateway' });
const keys = new ApiKeyStore({ keys: [{ id: 'k', tenant: 'acme', sha256: hashApiKey('sk-test') }] }, { requestsPerMinute: 1000, tokensPerMinute: 1_000_000, concurrentStreams: 8, maxImagePixels: 4_000_000, maxImagesPerRequest: 4 });
const client: ServiceClient<typeof gatewayV1.GatewayServiceService> = localClient(
  gatewayV1.GatewayServiceService,
  gatewayGrpcService({
    keys,
    quotas: new QuotaLedger(),
    chat: scripted,
    limits: () => DEFAULT_CHAT_LIMITS,
    model: { id: 'tiny', revision: 'r1', family: '2.6', downsampleModes: [] } as unknown as ModelInfo,
    feedback: {} as ServiceClient<typeof feedbackV1.FeedbackServiceService>,
    metrics: new HttpMetrics(registry),
  }),
);
const call = { headers: { authorization: 'Bearer sk-test' } };
const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };

function request(responseFormat?: gatewayV1.ChatCompletionRequest['responseFormat']): gatewayV1.ChatCompletionRequest {
  return { model: 'tiny', messages: [{ role: commonV1.Role.USER, content: [{ part: { $case: 'text', text: 'JSON please' } }] }], user: '', tools: [], toolChoice: '', ...(responseFormat && { responseFormat }) };
}

async function collect(req: gatewayV1.ChatCompletionRequest): Promise<string> {
  let text = '';
  for await (const c of client.chatCompletion(req, call)) text += c.textDelta;
  return text;
}

describe('gateway gRPC ChatCompletion', () => {
  it('passes response_format (json_schema and json_object) on to constrained decoding', async () => {
    expect(await collect(request({ format: { $case: 'jsonSchema', jsonSchema: { name: 'answer', schemaJson: JSON.stringify(schema), strict: true } } }))).toBe('{"ok":true}');
    expect(seen.at(-1)!.responseFormat).toEqual({ kind: 'json_schema', name: 'answer', schemaJson: JSON.stringify(schema), strict: true });
    await collect(request({ format: { $case: 'jsonObject', jsonObject: {} } }));
    expect(seen.at(-1)!.responseFormat).toEqual({ kind: 'json_object' });
    await collect(request());
    expect(seen.at(-1)!.responseFormat).toBeUndefined();
  });

  it('refuses what HTTP refuses: an unsupported keyword named by path, schema_json that is not JSON', async () => {
    const bad = { type: 'object', properties: { n: { type: 'integer', minimum: 1 } } };
    const e1 = await collect(request({ format: { $case: 'jsonSchema', jsonSchema: { name: 'n', schemaJson: JSON.stringify(bad), strict: false } } })).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(TesseraError);
    expect(e1).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'response_format.json_schema.schema.properties.n.minimum' } });
    const e2 = await collect(request({ format: { $case: 'jsonSchema', jsonSchema: { name: 'n', schemaJson: '{', strict: false } } })).catch((e: unknown) => e);
    expect(e2).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'response_format.json_schema.schema_json' } });
  });

  it('counts in the same vllm:* request series as HTTP, labelled with the API model id', async () => {
    const families = parseExposition(await registry.text());
    const count = (family: string, sample: string, labels: Record<string, string>) =>
      (families.get(family)?.samples ?? []).filter((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
    // Three successful chats above (the refused ones never reached the model).
    expect(count('vllm:time_to_first_token_seconds', 'vllm:time_to_first_token_seconds_count', { model_name: 'tiny' })).toBe(3);
    expect(count('vllm:e2e_request_latency_seconds', 'vllm:e2e_request_latency_seconds_count', { model_name: 'tiny' })).toBe(3);
    expect(count('vllm:request_success_total', 'vllm:request_success_total', { model_name: 'tiny', finished_reason: 'stop' })).toBe(3);
    expect(count('vllm:generation_tokens_total', 'vllm:generation_tokens_total', { model_name: 'tiny' })).toBe(9);
  });
});

describe('gateway gRPC: API key and model as gateway.proto documents them', () => {
  it('accepts the key as `x-api-key` metadata as well as `authorization: Bearer`, and refuses a missing one', async () => {
    expect((await client.listModels({}, { headers: { 'x-api-key': 'sk-test' } })).models[0]!.id).toBe('tiny');
    await expect(client.listModels({}, { headers: { 'x-api-key': 'sk-wrong' } })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(client.listModels({}, {})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('an empty model means the default model', async () => {
    const before = seen.length;
    let text = '';
    for await (const c of client.chatCompletion({ ...request(), model: '' }, { headers: { 'x-api-key': 'sk-test' } })) text += c.textDelta;
    expect(text).toBe('{"ok":true}');
    expect(seen.length).toBe(before + 1);
    expect(seen.at(-1)!.model).toBe('tiny');
  });
});

// After the vllm:* counts above: these chats would change them.
describe('gateway gRPC: sampling', () => {
  it('passes sampling.logit_bias, stop_token_ids, ignore_eos and min_tokens on (validated as HTTP validates them)', async () => {
    const sampling = (bias: Record<number, number>): gatewayV1.ChatCompletionRequest['sampling'] => ({ topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, stop: [], stopTokenIds: [], logprobs: false, topLogprobs: 0, logitBias: { bias } });
    await collect({ ...request(), sampling: sampling({ 42: -100, 7: 2.5 }) });
    expect(seen.at(-1)!.sampling.logitBias).toEqual({ 42: -100, 7: 2.5 });
    await collect({ ...request(), sampling: sampling({}) });
    expect(seen.at(-1)!.sampling.logitBias).toBeUndefined();
    await collect({ ...request(), sampling: { ...sampling({})!, stopTokenIds: [5, 9], ignoreEos: true } });
    expect([seen.at(-1)!.sampling.stopTokenIds, seen.at(-1)!.sampling.ignoreEos]).toEqual([[5, 9], true]);
    await collect({ ...request(), sampling: { ...sampling({})!, maxTokens: 8, minTokens: 3 } });
    expect(seen.at(-1)!.sampling.minTokens).toBe(3);
    const over = await collect({ ...request(), sampling: { ...sampling({})!, maxTokens: 8, minTokens: 9 } }).catch((err: unknown) => err);
    expect(over).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'min_tokens' } });
    // The chat ending (vLLM's add_generation_prompt / continue_final_message) as over HTTP.
    const prefill = { ...request(), messages: [...request().messages, { role: commonV1.Role.ASSISTANT, content: [{ part: { $case: 'text' as const, text: 'Sure:' } }] }] };
    await collect({ ...prefill, continueFinalMessage: true });
    expect(seen.at(-1)!.ending).toBe('continue-final');
    await collect({ ...prefill, addGenerationPrompt: false });
    expect(seen.at(-1)!.ending).toBe('closed');
    const e = await collect({ ...request(), sampling: sampling({ 42: 101 }) }).catch((err: unknown) => err);
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'logit_bias.42' } });
  });
});

describe('gateway gRPC: text completions (`prompt`, the HTTP API\'s /v1/completions)', () => {
  const completion = (extra: Partial<gatewayV1.ChatCompletionRequest> = {}): gatewayV1.ChatCompletionRequest => ({ ...request(), messages: [], prompt: 'Once upon a time', ...extra });

  it('a prompt instead of messages: the service gets the raw prompt with the completions defaults, chunks carry a cmpl- id', async () => {
    const ids = new Set<string>();
    let text = '';
    for await (const c of client.chatCompletion(completion({ sampling: { topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, stop: ['\n'], stopTokenIds: [], logprobs: true, topLogprobs: 3 } }), call)) {
      ids.add(c.responseId);
      text += c.textDelta;
    }
    expect(text).toBe('{"ok":true}');
    expect([...ids]).toEqual([expect.stringMatching(/^cmpl-/)]);
    const req = seen.at(-1)!;
    expect([req.prompt, req.messages, req.sampling.maxTokens, req.sampling.stop, req.sampling.logprobs, req.sampling.topLogprobs]).toEqual(['Once upon a time', [], 16, ['\n'], true, 3]);
  });

  it('prompt_logprobs reaches the service and comes back on the first chunk (common.v1 PromptLogprobs: the first token with logprob 0 = none)', async () => {
    const chunks: gatewayV1.ChatCompletionResponse[] = [];
    for await (const c of client.chatCompletion(completion({ promptLogprobs: 1 }), call)) chunks.push(c);
    expect(seen.at(-1)!.promptLogprobs).toBe(1);
    const scored = chunks.filter((c) => c.promptLogprobs);
    expect(scored).toHaveLength(1);
    expect(scored[0]!.promptLogprobs).toEqual({ text: 'ab', tokens: [{ tokenId: 5, token: 'a', logprob: 0, topLogprobs: [] }, { tokenId: 6, token: 'b', logprob: -0.25, rank: 2, topLogprobs: [{ tokenId: 7, token: 'c', logprob: -0.1 }] }] });
    await expect(collect(completion({ promptLogprobs: 21 }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'prompt_logprobs' } });
    // On a chat as well (vLLM takes prompt_logprobs on both).
    for await (const c of client.chatCompletion({ ...request(), promptLogprobs: 0 }, call)) void c;
    expect(seen.at(-1)!.promptLogprobs).toBe(0);
  });

  it('refuses chat-only fields next to a prompt, and the completions limits, naming the field', async () => {
    const cases: Array<[Partial<gatewayV1.ChatCompletionRequest>, string]> = [
      [{ messages: request().messages }, 'messages'],
      [{ tools: [{ name: 'f', description: '', parametersJson: '' }] }, 'tools'],
      [{ responseFormat: { format: { $case: 'jsonObject', jsonObject: {} } } }, 'response_format'],
      [{ enableThinking: true }, 'enable_thinking'],
      [{ continueFinalMessage: true }, 'continue_final_message'],
      [{ prompt: '' }, 'prompt'],
      [{ sampling: { topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, stop: [], stopTokenIds: [], logprobs: true, topLogprobs: 6 } }, 'logprobs'],
    ];
    for (const [extra, field] of cases) {
      await expect(collect(completion(extra))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field } });
    }
  });
});

describe("gateway gRPC: OpenAI's n (ChatCompletionRequest.n, ChatCompletionResponse.choice_index)", () => {
  /** Choice i writes `c<i>` and ends with i + 1 completion tokens; choice 1 ends first. */
  const choices: ChatService = {
    async estimatePromptTokens() {
      return 10;
    },
    async *chat(req): AsyncIterable<ChatEvent> {
      const n = req.n ?? 1;
      for (let i = 0; i < n; i++) yield { kind: 'delta', choice: i, text: `c${i}`, tokenIds: [i] };
      const order = n > 1 ? [1, 0, ...Array.from({ length: n - 2 }, (_, k) => k + 2)] : [0];
      for (const i of order) yield { kind: 'final', choice: i, finishReason: 'stop', usage: { promptTokens: 10, visualTokens: 0, completionTokens: i + 1 }, timings: {}, sources: [] };
    },
  };
  const ledger = new QuotaLedger();
  const admit = vi.spyOn(ledger, 'admit');
  const settle = vi.spyOn(Reservation.prototype, 'settle');
  const nClient = localClient(
    gatewayV1.GatewayServiceService,
    gatewayGrpcService({ keys, quotas: ledger, chat: choices, limits: () => DEFAULT_CHAT_LIMITS, model: { id: 'tiny', revision: 'r1', family: '2.6', downsampleModes: [] } as unknown as ModelInfo, feedback: {} as ServiceClient<typeof feedbackV1.FeedbackServiceService> }),
  );

  it('n = 3: chunks name their choice_index, each choice ends with its own finish chunk and usage; the quota reserves and settles every choice', async () => {
    const chunks: gatewayV1.ChatCompletionResponse[] = [];
    for await (const c of nClient.chatCompletion({ ...request(), n: 3, sampling: { topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, stop: [], stopTokenIds: [], logprobs: false, topLogprobs: 0, maxTokens: 4 } }, call)) chunks.push(c);
    const deltas = chunks.filter((c) => c.textDelta);
    expect(deltas.map((c) => [c.choiceIndex, c.textDelta])).toEqual([
      [0, 'c0'],
      [1, 'c1'],
      [2, 'c2'],
    ]);
    const finishes = chunks.filter((c) => c.finishReason !== commonV1.FinishReason.UNSPECIFIED);
    expect(finishes.map((c) => [c.choiceIndex, c.usage?.completionTokens])).toEqual([
      [1, 2],
      [0, 1],
      [2, 3],
    ]);
    expect(admit.mock.calls.at(-1)![1]).toBe(10 + 3 * 4);
    expect(settle.mock.calls.at(-1)![0]).toEqual({ prompt: 10, completion: 6 });
  });

  it('n = 1 (or unset) sends no choice_index; n above the limit is INVALID_ARGUMENT naming n', async () => {
    for await (const c of nClient.chatCompletion(request(), call)) expect(c.choiceIndex).toBeUndefined();
    await expect(
      (async () => {
        for await (const _ of nClient.chatCompletion({ ...request(), n: DEFAULT_CHAT_LIMITS.maxChoices + 1 }, call));
      })(),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'n' } });
  });
});
