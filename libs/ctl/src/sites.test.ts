/**
 * `tessera ctl sites` against a real hub and site (nats-server leaf link, the hub's feedback stream
 * sourcing the site's) and a Prometheus endpoint holding the hub feedback service's drop counter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { FEEDBACK_STREAM, siteFeedbackSource } from '@tessera/edge';
import { SERVICE_USER, startLeafPair, type LeafPair } from '@tessera/edge/testing';
import { Metric, MetricsRegistry, startMetricsServer, type MetricsServer } from '@tessera/telemetry';
import { runCtl } from './ctl.js';

let pair: LeafPair;
let server: MetricsServer;

beforeAll(async () => {
  pair = await startLeafPair({ site: 'shop-5', password: 'p5' });
  const nc = await connect({ servers: pair.hub.nats.url, user: SERVICE_USER.user, pass: SERVICE_USER.password });
  await (await nc.jetstreamManager()).streams.add({ name: FEEDBACK_STREAM, subjects: ['tessera.feedback.events.>'], sources: [siteFeedbackSource('shop-5', 'shop-5')] });
  await nc.close();
  const registry = new MetricsRegistry();
  registry.counter(Metric.feedbackSiteDropped).inc({ site: 'shop-5' }, 50);
  server = await startMetricsServer(0, registry, '127.0.0.1');
}, 60_000);

afterAll(async () => {
  await server?.close();
  await pair?.stop();
});

async function ctl(...args: string[]): Promise<string> {
  let out = '';
  const code = await runCtl(['sites', '--nats-monitor', `http://127.0.0.1:${pair.hub.nats.monitorPort}`, ...args], { out: (t) => (out += t), err: (t) => (out += t), env: {} });
  expect(code, out).toBe(0);
  return out;
}

describe('ctl sites', () => {
  it("shows each site's dropped feedback from the hub feedback service's metrics, '-' without them", async () => {
    const [s] = JSON.parse(await ctl('--feedback-metrics', `127.0.0.1:${server.port}`, '-o', 'json')) as Array<{ site: string; link: string; feedbackDropped?: number }>;
    expect(s).toMatchObject({ site: 'shop-5', link: 'up', feedbackDropped: 50 });
    const table = (await ctl('--feedback-metrics', `http://127.0.0.1:${server.port}/metrics`)).split('\n');
    expect(table[0]).toMatch(/FEEDBACK BACKLOG\s+DROPPED\s+LAST HEARD/);
    expect(table[1]).toMatch(/^shop-5\s+shop-5\s+up\s+\S+\s+0\s+50\s/);
    expect((await ctl()).split('\n')[1]).toMatch(/^shop-5\s+shop-5\s+up\s+\S+\s+0\s+-\s/);
  });
});
