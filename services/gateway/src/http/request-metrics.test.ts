import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { MetricsRegistry, parseExposition, type Family } from '@tessera/telemetry';
import type { ChatEvent, ChatService } from '../domain/chat-events.js';
import { DEFAULT_CHAT_LIMITS } from '../domain/openai/limits.js';
import { ApiKeyStore, hashApiKey } from '../domain/tenancy/api-keys.js';
import { QuotaLedger } from '../domain/tenancy/quota-ledger.js';
import { tenantUsageMetrics } from '../domain/tenancy/usage-metrics.js';
import { HttpMetrics } from './request-metrics.js';
import { createHttpServer } from './server.js';

/** Stands in for the vision stages: the first token comes only after this much work. */
const VISION_MS = 40;
const scripted: ChatService = {
  async estimatePromptTokens() {
    return 10;
  },
  async *chat(): AsyncIterable<ChatEvent> {
    await new Promise((r) => setTimeout(r, VISION_MS));
    for (let i = 0; i < 3; i++) yield { kind: 'delta', text: `t${i} `, tokenIds: [i] };
    yield { kind: 'final', finishReason: 'stop', usage: { promptTokens: 74, visualTokens: 64, completionTokens: 3 }, timings: {}, sources: [] };
  },
};

const registry = new MetricsRegistry({ service: 'gateway' });
const ledger = new QuotaLedger();
let server: Server;
let base: string;
const auth = { authorization: 'Bearer sk-test', 'content-type': 'application/json' };

beforeAll(async () => {
  const keys = new ApiKeyStore({ keys: [{ id: 'k', tenant: 'acme', sha256: hashApiKey('sk-test') }] }, { requestsPerMinute: 1000, tokensPerMinute: 1_000_000, concurrentStreams: 8, maxImagePixels: 4_000_000, maxImagesPerRequest: 4 });
  server = createHttpServer({ keys, quotas: ledger, chat: scripted, limits: DEFAULT_CHAT_LIMITS, models: () => ['minicpm-v-4_6'], maxBodyBytes: 4096, requestTimeoutMs: 10_000, ready: () => true, metrics: new HttpMetrics(registry) });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const one = (f: Family | undefined, name: string, labels: Record<string, string>): number =>
  f!.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);

describe('gateway metrics exposition', () => {
  it('exports vLLM request-level series labelled with the API model id, OTel HTTP server metrics and tenant counters, all parseable', async () => {
    const body = (extra: object) => JSON.stringify({ model: 'minicpm-v-4_6', messages: [{ role: 'user', content: 'hi' }], ...extra });
    expect((await (await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: auth, body: body({ stream: true }) })).text()).endsWith('[DONE]\n\n')).toBe(true);
    expect((await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: auth, body: body({}) })).status).toBe(200);
    expect((await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: auth, body: body({ temperature: 9 }) })).status).toBe(400);
    expect((await fetch(`${base}/v1/models/minicpm-v-4_6`, { headers: auth })).status).toBe(200);
    tenantUsageMetrics(ledger, registry, 0)();

    const families = parseExposition(await registry.text());
    const ttft = families.get('vllm:time_to_first_token_seconds');
    expect(ttft?.type).toBe('histogram');
    expect(one(ttft, 'vllm:time_to_first_token_seconds_count', { model_name: 'minicpm-v-4_6' })).toBe(2);
    // Measured from arrival at the gateway: the (simulated) vision work is inside TTFT.
    expect(one(ttft, 'vllm:time_to_first_token_seconds_sum', {})).toBeGreaterThanOrEqual((2 * VISION_MS * 0.9) / 1000);
    expect(one(families.get('vllm:inter_token_latency_seconds'), 'vllm:inter_token_latency_seconds_count', {})).toBe(4);
    expect(one(families.get('vllm:e2e_request_latency_seconds'), 'vllm:e2e_request_latency_seconds_count', { model_name: 'minicpm-v-4_6' })).toBe(2);
    expect(one(families.get('vllm:request_success_total'), 'vllm:request_success_total', { finished_reason: 'stop' })).toBe(2);
    expect(one(families.get('vllm:prompt_tokens_total'), 'vllm:prompt_tokens_total', {})).toBe(2 * 74);
    expect(one(families.get('vllm:generation_tokens_total'), 'vllm:generation_tokens_total', {})).toBe(6);

    const http = families.get('http_server_request_duration_seconds');
    expect(one(http, 'http_server_request_duration_seconds_count', { http_route: '/v1/chat/completions', http_request_method: 'POST', http_response_status_code: '200' })).toBe(2);
    expect(one(http, 'http_server_request_duration_seconds_count', { http_route: '/v1/chat/completions', http_response_status_code: '400' })).toBe(1);
    expect(one(http, 'http_server_request_duration_seconds_count', { http_route: '/v1/models/{model}' })).toBe(1);
    expect(one(families.get('http_server_active_requests'), 'http_server_active_requests', {})).toBe(0);

    expect(families.get('tessera_tenant_requests_total')?.type).toBe('counter');
    expect(one(families.get('tessera_tenant_requests_total'), 'tessera_tenant_requests_total', { tenant: 'acme' })).toBe(2);
    expect(one(families.get('tessera_tenant_completion_tokens_total'), 'tessera_tenant_completion_tokens_total', { tenant: 'acme' })).toBe(6);
  });

  it('a text completion (/v1/completions) counts in the same vllm:* series and under its own http_route', async () => {
    const ttftCount = async () => one(parseExposition(await registry.text()).get('vllm:time_to_first_token_seconds'), 'vllm:time_to_first_token_seconds_count', { model_name: 'minicpm-v-4_6' });
    const before = await ttftCount();
    const res = await fetch(`${base}/v1/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ model: 'minicpm-v-4_6', prompt: 'hi' }) });
    expect([res.status, ((await res.json()) as { object: string }).object]).toEqual([200, 'text_completion']);
    expect(await ttftCount()).toBe(before + 1);
    const http = parseExposition(await registry.text()).get('http_server_request_duration_seconds');
    expect(one(http, 'http_server_request_duration_seconds_count', { http_route: '/v1/completions', http_request_method: 'POST', http_response_status_code: '200' })).toBe(1);
  });

  it('the parser rejects what Prometheus would: undeclared samples, broken histograms, bad counters', () => {
    expect(() => parseExposition('x_total 1\n')).toThrow(/undeclared/);
    expect(() => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 3\nh_count 3\nh_sum 1\n')).toThrow(/cumulative/);
    expect(() => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 3\nh_count 4\nh_sum 1\n')).toThrow(/_count/);
    expect(() => parseExposition('# TYPE c counter\nc 1\n')).toThrow(/_total/);
    expect(() => parseExposition('# TYPE g gauge\ng{bad-label="1"} 1\n')).toThrow(/labels/);
  });
});
