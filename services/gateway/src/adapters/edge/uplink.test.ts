/**
 * The hub's uplink binding on a real nats-server, through the same client an edge site uses (the
 * uplink work queue): a forwarded chat holds its job for its whole answer, so the binding must run
 * many at once — a site's concurrent requests must not wait in the queue behind whole answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commonServiceConfig, loadConfig } from '@tessera/config';
import { commonV1, gatewayV1, type feedbackV1 } from '@tessera/contracts';
import { UPLINK_NAMESPACE, UPLINK_STAGE } from '@tessera/edge';
import { natsClient, startService, type ServiceClient, type ServiceHost } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import type { ChatEvent, ChatService } from '../../domain/chat-events.js';
import { DEFAULT_CHAT_LIMITS } from '../../domain/openai/limits.js';
import type { ModelInfo } from '../../domain/orchestrator/model-catalog.js';
import { ApiKeyStore, hashApiKey } from '../../domain/tenancy/api-keys.js';
import { QuotaLedger } from '../../domain/tenancy/quota-ledger.js';
import { uplinkBinding } from './uplink.js';

const AT_ONCE = 8;
const bus = withNats();
let host: ServiceHost;
let started = 0;
let release!: () => void;
const released = new Promise<void>((r) => (release = r));

/** Every answer waits until AT_ONCE of them have started (or the test's deadline). */
const waiting: ChatService = {
  estimatePromptTokens: async () => 10,
  async *chat(): AsyncIterable<ChatEvent> {
    if (++started === AT_ONCE) release();
    await released;
    yield { kind: 'delta', text: 'ok', tokenIds: [1] };
    yield { kind: 'final', finishReason: 'stop', usage: { promptTokens: 10, visualTokens: 0, completionTokens: 1, cachedTokens: 16 }, timings: {}, sources: [] };
  },
};

beforeAll(async () => {
  // The hub gateway's process settings: TESSERA_MAX_CONCURRENCY stays at its default (4).
  const config = loadConfig(commonServiceConfig({ serviceName: 'gateway', grpcPort: 0, metricsPort: 0 }), { NATS_URL: bus.server.url });
  expect(config.maxConcurrency).toBeLessThan(AT_ONCE);
  const keys = new ApiKeyStore({ keys: [{ id: 'k', tenant: 'acme', sha256: hashApiKey('sk-test') }] }, { requestsPerMinute: 1000, tokensPerMinute: 1_000_000, concurrentStreams: 64, maxImagePixels: 4_000_000, maxImagesPerRequest: 4 });
  const deps = { keys, quotas: new QuotaLedger(), chat: waiting, limits: () => DEFAULT_CHAT_LIMITS, model: { id: 'hub-big', revision: 'r1', family: '2.6', downsampleModes: [] } as unknown as ModelInfo, feedback: {} as ServiceClient<typeof feedbackV1.FeedbackServiceService> };
  host = await startService({ config, nc: bus.nc, services: [uplinkBinding(deps, 256)], grpc: false, metricsEndpoint: false, handleSignals: false, telemetry: false });
}, 30_000);

afterAll(async () => {
  await host?.shutdown();
});

describe('hub uplink binding', () => {
  it(`streams ${AT_ONCE} forwarded chats at once, more than TESSERA_MAX_CONCURRENCY`, async () => {
    const site = natsClient(bus.nc, gatewayV1.GatewayServiceService, { workQueue: { stage: UPLINK_STAGE, methods: ['chatCompletion'] } });
    const req: gatewayV1.ChatCompletionRequest = { model: 'hub-big', messages: [{ role: commonV1.Role.USER, content: [{ part: { $case: 'text', text: 'hi' } }] }], user: '', tools: [], toolChoice: '' };
    const answer = async () => {
      let text = '';
      let first: gatewayV1.ChatCompletionResponse | undefined;
      let last: gatewayV1.ChatCompletionResponse | undefined;
      for await (const c of site.chatCompletion(req, { tenant: 'acme', timeoutMs: 8_000 })) {
        first ??= c;
        last = c;
        text += c.textDelta;
      }
      return { text, first, last };
    };
    // With only 4 slots the other 4 would wait in the queue for answers that wait for them: a deadline.
    const answers = await Promise.all(Array.from({ length: AT_ONCE }, answer));
    expect(answers.map((a) => a.text)).toEqual(Array(AT_ONCE).fill('ok'));
    // No empty head chunk over the uplink (the gRPC stream's response_id-only opener): the first chunk
    // a site gets is the first text, and carries response_id and model as every chunk does.
    for (const a of answers) expect(a.first).toMatchObject({ textDelta: 'ok', responseId: expect.stringMatching(/^chatcmpl-/), model: 'hub-big', modelRevision: 'r1' });
    // The usage reaches the site whole, the prefix cache's share included (the site's cached_tokens).
    for (const a of answers) expect(a.last?.usage).toEqual({ promptTokens: 10, visualTokens: 0, completionTokens: 1, totalTokens: 11, cachedTokens: 16 });
    site.close();
  }, 20_000);

  it("holds no request/reply subscription on the gateway's subjects (only the queue and the uplink namespace)", async () => {
    const subsz = (await (await fetch(`http://127.0.0.1:${bus.server.monitorPort}/subsz?subs=1`)).json()) as { subscriptions_list?: Array<{ subject: string }> };
    expect((subsz.subscriptions_list ?? []).map((s) => s.subject).filter((s) => s.includes('GatewayService'))).toEqual([`${UPLINK_NAMESPACE}.*.GatewayService.*`]);
  });
});
