/**
 * The direct uplink on a real leaf topology (hub + site nats-servers, every service with its own
 * NATS user and the edge permissions, as the chart and the local stack render them): a site's
 * HubChat offers a forwarded chat to the hub gateway on `tessera.uplink.>` first and queues it in
 * TESSERA_UPLINK only when nobody takes it.
 *   (a) hub gateway up → answered directly, no job stored;
 *   (b) hub gateway gone (restarting) → "no responders" → the job waits in the hub's queue and is
 *       answered once a hub gateway is back;
 *   (c) the link stalls (a cable pulled: both servers still think it is up) → the offer is never
 *       accepted and fails UNAVAILABLE after the accept timeout, far inside the deadline, unqueued;
 *       the link cut outright → UNAVAILABLE too (the caller's router then answers 503 or falls back);
 *   (d) the hub answers under the site's response id, and feedback on that answer goes to the hub's
 *       feedback service through the uplink queue (SubmitFeedback is unary: queued, never offered);
 *       with the link cut it fails fast.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { commonServiceConfig, loadConfig } from '@tessera/config';
import type { feedbackV1 } from '@tessera/contracts';
import { hubServiceUsers, siteInboxPrefix, siteServiceUsers, UPLINK_NAMESPACE, UPLINK_STREAM } from '@tessera/edge';
import { startLeafPair, waitForLeafs, type HubServer, type LeafPair, type TopologyServer } from '@tessera/edge/testing';
import { BUS_USERS, busInboxPrefix, startService, type BusUser, type ServiceClient, type ServiceHost } from '@tessera/runtime';
import type { ChatEvent, ChatService } from '../../domain/chat-events.js';
import { DEFAULT_CHAT_LIMITS } from '../../domain/openai/limits.js';
import { modelFeatures } from '../../domain/openai/response-format.js';
import { validateChatRequest } from '../../domain/openai/validate-chat.js';
import { validateCompletionRequest } from '../../domain/openai/validate-completion.js';
import type { ValidChatRequest } from '../../domain/openai/valid-request.js';
import type { ModelInfo } from '../../domain/orchestrator/model-catalog.js';
import { ApiKeyStore, hashApiKey } from '../../domain/tenancy/api-keys.js';
import { QuotaLedger } from '../../domain/tenancy/quota-ledger.js';
import { newResponseId } from '../../http/responses-handler.js';
import { HubChat } from './hub-chat.js';
import { uplinkBinding } from './uplink.js';

const SITE = 'shop-1';
const MODEL = 'hub-big';
const passwords = Object.fromEntries(BUS_USERS.map((u) => [u, randomBytes(9).toString('base64url')])) as Record<BusUser, string>;
let pair: LeafPair;
let hub: HubServer;
let site: TopologyServer;
let hubNc: NatsConnection;
let siteNc: NatsConnection;
let hubGateway: ServiceHost | undefined;
let hubChat: HubChat;

const keys = new ApiKeyStore({ keys: [{ id: 'k', tenant: 'acme', sha256: hashApiKey('sk-test') }] }, { requestsPerMinute: 1000, tokensPerMinute: 1_000_000, concurrentStreams: 64, maxImagePixels: 4_000_000, maxImagesPerRequest: 4 });
/** What the hub's service was asked, in order, and the response ids it answered under. */
const atHub: ValidChatRequest[] = [];
const hubResponseIds: string[] = [];
/** Feedback the hub gateway passed to its feedback service, with the tenant it called it for. */
const feedbackAtHub: Array<{ req: feedbackV1.SubmitFeedbackRequest; tenant: string | undefined }> = [];
const hubFeedback = {
  async submitFeedback(req: feedbackV1.SubmitFeedbackRequest, o: { tenant?: string }) {
    feedbackAtHub.push({ req, tenant: o.tenant });
    return { duplicate: false };
  },
} as unknown as ServiceClient<typeof feedbackV1.FeedbackServiceService>;
const answering: ChatService = {
  estimatePromptTokens: async () => 10,
  async *chat(req, ctx): AsyncIterable<ChatEvent> {
    atHub.push(req);
    hubResponseIds.push(ctx.responseId);
    // OpenAI `n`: every choice's delta, then each choice's final (choice i generated i + 1 tokens).
    const n = req.n ?? 1;
    for (let i = 0; i < n; i++) yield { kind: 'delta', choice: i, text: i === 0 ? 'from the hub' : `from the hub, choice ${i}`, tokenIds: [1] };
    for (let i = n - 1; i >= 0; i--) yield { kind: 'final', choice: i, finishReason: i === 0 ? 'stop' : 'length', usage: { promptTokens: 10, visualTokens: 0, completionTokens: 1 + i }, timings: {}, sources: [] };
  },
};

async function startHubGateway(): Promise<ServiceHost> {
  const config = loadConfig(commonServiceConfig({ serviceName: 'gateway', grpcPort: 0, metricsPort: 0 }), { NATS_URL: hub.nats.url, TESSERA_SHUTDOWN_GRACE: '1s' });
  const deps = { keys, quotas: new QuotaLedger(), chat: answering, limits: () => DEFAULT_CHAT_LIMITS, model: { id: MODEL, revision: 'r1', family: '2.6', downsampleModes: [] } as unknown as ModelInfo, feedback: hubFeedback };
  return startService({ config, nc: hubNc, services: [uplinkBinding(deps, 4)], grpc: false, metricsEndpoint: false, handleSignals: false, telemetry: false });
}

/** One forwarded chat through the site's HubChat, as the site router runs it; its events. */
async function forwardEvents(timeoutMs: number, req: ValidChatRequest, responseId = 'r'): Promise<ChatEvent[]> {
  const ctx = { tenant: keys.tenant('acme')!, responseId, requestId: `q-${randomBytes(4).toString('hex')}`, deadline: Date.now() + timeoutMs, signal: new AbortController().signal };
  const events: ChatEvent[] = [];
  for await (const e of hubChat.chat(req, ctx)) events.push(e);
  return events;
}

/** One forwarded chat through the site's HubChat; its text. */
async function forward(timeoutMs = 30_000, req: ValidChatRequest = validateChatRequest({ model: MODEL, messages: [{ role: 'user', content: 'hello from the shop' }] }, DEFAULT_CHAT_LIMITS, [MODEL], modelFeatures('2.6'))): Promise<string> {
  return (await forwardEvents(timeoutMs, req)).map((e) => (e.kind === 'delta' ? e.text : '')).join('');
}

/**
 * After a cut link is restored, until the hub gateway's subscription is seen again at the site (one
 * interest message across the re-established leaf, after the leaf itself is up), an offer finds no
 * responder: the next test must not race it.
 */
async function waitForHubGatewayInterest(): Promise<void> {
  await waitForLeafs(hub.nats.monitorPort, 1);
  const direct = `${UPLINK_NAMESPACE}.v1.GatewayService.ChatCompletion`;
  // 503 = no responder at the site yet; anything else (the hub ignoring an empty offer: a timeout) = it is there.
  for (const until = Date.now() + 20_000; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
    const code = await siteNc.request(direct, new Uint8Array(0), { timeout: 200 }).then(() => 'answered', (e: { code?: string }) => e.code);
    if (code !== '503') return;
  }
  throw new Error('the hub gateway did not become reachable from the site within 20 s of the restore');
}

/** Jobs ever stored in the hub's uplink queue (a direct answer stores none). */
const jobsStored = async () => (await (await hubNc.jetstreamManager()).streams.info(UPLINK_STREAM)).state.last_seq;

beforeAll(async () => {
  pair = await startLeafPair({ site: SITE, password: randomBytes(9).toString('base64url'), hubUsers: hubServiceUsers([SITE], passwords), siteUsers: siteServiceUsers(SITE, 'hub', passwords) });
  ({ hub, site } = pair);
  hubNc = await connect({ servers: hub.nats.url, user: 'gateway', pass: passwords.gateway, inboxPrefix: busInboxPrefix('gateway') });
  siteNc = await connect({ servers: site.nats.url, user: 'gateway', pass: passwords.gateway, inboxPrefix: siteInboxPrefix(SITE), maxReconnectAttempts: -1 });
  hubGateway = await startHubGateway();
  hubChat = new HubChat(siteNc, { site: SITE, hubDomain: 'hub', heartbeatMs: 1_000, uplink: { direct: true, acceptTimeoutMs: 1_000 } });
}, 60_000);

afterAll(async () => {
  await hubGateway?.shutdown();
  await siteNc?.close();
  await hubNc?.close();
  await pair?.stop();
});

describe('direct uplink over a leaf link', () => {
  it('(a) a hub gateway that is up takes the chat directly: answered, no job in TESSERA_UPLINK', async () => {
    expect(await forward()).toBe('from the hub');
    expect(await forward()).toBe('from the hub');
    expect(await jobsStored()).toBe(0);
  });

  it('(a) a text completion (/v1/completions) for a hub model goes the same way: the hub validates it as one, its service gets the raw prompt', async () => {
    const completion = validateCompletionRequest({ model: MODEL, prompt: 'Once upon a time', max_tokens: 5, logprobs: 1 }, DEFAULT_CHAT_LIMITS, [MODEL]);
    expect(await forward(30_000, completion)).toBe('from the hub');
    expect(atHub.at(-1)).toMatchObject({ prompt: 'Once upon a time', messages: [], sampling: { maxTokens: 5, logprobs: true, topLogprobs: 1 } });
    expect(await jobsStored()).toBe(0);
  });

  it("(a) OpenAI n for a hub model: the hub generates the choices, the site gets each one's deltas and final by index", async () => {
    const req = validateChatRequest({ model: MODEL, messages: [{ role: 'user', content: 'two answers, please' }], n: 3, seed: 7 }, DEFAULT_CHAT_LIMITS, [MODEL], modelFeatures('2.6'));
    const events = await forwardEvents(30_000, req);
    expect(atHub.at(-1)).toMatchObject({ n: 3, sampling: { seed: 7 } });
    expect(events.filter((e) => e.kind === 'delta').map((e) => [e.choice, e.text])).toEqual([
      [0, 'from the hub'],
      [1, 'from the hub, choice 1'],
      [2, 'from the hub, choice 2'],
    ]);
    // Every choice's own final reaches the site (the stream does not end at the first).
    expect(events.filter((e) => e.kind === 'final').map((e) => (e.kind === 'final' ? [e.choice, e.finishReason, e.usage.completionTokens] : []))).toEqual([
      [2, 'length', 3],
      [1, 'length', 2],
      [0, 'stop', 1],
    ]);
  });

  it('(b) no hub gateway subscribed → the chat waits in the queue and is answered when one is back', async () => {
    await hubGateway!.shutdown();
    hubGateway = undefined;
    // Until the site has seen the unsubscribe (one message across the leaf), an offer would still go to the hub.
    const direct = `${UPLINK_NAMESPACE}.v1.GatewayService.ChatCompletion`;
    for (;;) {
      const code = await siteNc.request(direct, new Uint8Array(0), { timeout: 500 }).then(() => 'answered', (e: { code?: string }) => e.code);
      if (code === '503') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const answer = forward();
    const jsm = await hubNc.jetstreamManager();
    while ((await jsm.streams.info(UPLINK_STREAM)).state.messages === 0) await new Promise((r) => setTimeout(r, 20));
    hubGateway = await startHubGateway();
    expect(await answer).toBe('from the hub');
    expect(await jobsStored()).toBe(1);
    // Back up: the next chat is direct again.
    expect(await forward()).toBe('from the hub');
    expect(await jobsStored()).toBe(1);
  }, 30_000);

  it('(c) a stalled link: the offer is never accepted and fails UNAVAILABLE after the accept timeout, not at the 60 s deadline, and is not queued', async () => {
    hub.uplink.stall();
    try {
      await expect(forward(60_000)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/did not accept the stream in time/) });
    } finally {
      hub.uplink.restore();
    }
    expect(await jobsStored()).toBe(1);
  }, 30_000);

  it('(c) a cut link: UNAVAILABLE, not at the 60 s deadline', async () => {
    hub.uplink.cut();
    try {
      await expect(forward(60_000)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      hub.uplink.restore();
    }
    await waitForHubGatewayInterest();
  }, 30_000);

  it("(d) the hub answers under the site's response id (the one its client sees), and feedback on it goes to the hub's feedback service for the site's tenant", async () => {
    const req = validateChatRequest({ model: MODEL, messages: [{ role: 'user', content: 'rate me' }] }, DEFAULT_CHAT_LIMITS, [MODEL], modelFeatures('2.6'));
    const siteId = `chatcmpl-${randomUUID()}`;
    await forwardEvents(30_000, req, siteId);
    expect(hubResponseIds.at(-1)).toBe(siteId);
    // A completion batch's prompt p answers under `<id>-p<p>` at the site: the hub records it so too.
    const batchPromptId = `cmpl-${randomUUID()}-p2`;
    await forwardEvents(30_000, validateCompletionRequest({ model: MODEL, prompt: 'the second prompt of a batch' }, DEFAULT_CHAT_LIMITS, [MODEL]), batchPromptId);
    expect(hubResponseIds.at(-1)).toBe(batchPromptId);
    // Not an id of the kind asked for (a completion's prefix on a chat, or no uuid): the hub draws its own.
    await forwardEvents(30_000, req, `cmpl-${randomUUID()}`);
    expect(hubResponseIds.at(-1)).toMatch(/^chatcmpl-[0-9a-f-]{36}$/);
    await forwardEvents(30_000, req, 'chatcmpl-mine');
    expect(hubResponseIds.at(-1)).not.toBe('chatcmpl-mine');
    // A site's /v1/responses answer is a chat at the hub, recorded under the site's `resp_` id.
    const responsesId = newResponseId();
    await forwardEvents(30_000, req, responsesId);
    expect(hubResponseIds.at(-1)).toBe(responsesId);
    const out = await hubChat.submitFeedback({ feedback: { feedbackId: 'fb-1', responseId: siteId, comment: 'good', correction: '', spans: [] } }, { tenant: 'acme', timeoutMs: 10_000 });
    expect(out.duplicate).toBe(false);
    expect(feedbackAtHub.at(-1)).toMatchObject({ req: { feedback: { feedbackId: 'fb-1', responseId: siteId } }, tenant: 'acme' });
    // The link cut: the site cannot check feedback on a hub answer, so it fails fast (UNAVAILABLE) for the client to retry.
    hub.uplink.cut();
    try {
      const t0 = Date.now();
      await expect(hubChat.submitFeedback({ feedback: { feedbackId: 'fb-2', responseId: siteId, comment: 'later', correction: '', spans: [] } }, { tenant: 'acme', timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(Date.now() - t0).toBeLessThan(5_000); // electionWaitMs (1 s) past the lost link (plus a loaded CI), never the 60 s deadline
    } finally {
      hub.uplink.restore();
    }
  }, 60_000);

});
