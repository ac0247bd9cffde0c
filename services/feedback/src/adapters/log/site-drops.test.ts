/**
 * The hub counts exactly what a site's stream dropped: a hub and a site nats-server (separate
 * JetStream domains, the leaf link through a relay the test cuts), the site's feedback log with a
 * 100-event limit (discard old), the hub's feedback stack sourcing it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { siteFeedbackSource, siteInboxPrefix } from '@tessera/edge';
import { leafCount, SERVICE_USER, startLeafPair, type HubServer, type LeafPair, type TopologyServer } from '@tessera/edge/testing';
import { metrics } from '@tessera/telemetry';
import { waitFor } from '@tessera/testing';
import { openFeedback, type FeedbackStack } from '../../compose.js';
import { testSettings } from '../../test/settings.js';
import { FeedbackLog } from './feedback-log.js';

const SITE = 'shop-9';
const LIMIT = 100;
let pair: LeafPair;
let hub: HubServer;
let site: TopologyServer;
let hubNc: NatsConnection;
let siteNc: NatsConnection;
let siteLog: FeedbackLog;
const dirs: string[] = [];


/** The hub's feedback service (a fresh process each call), its store in its own directory. */
async function openHub(dir: string): Promise<FeedbackStack> {
  const s = testSettings({ kind: 'file', dir, snapshotEvery: 1000, fsync: false });
  return openFeedback(hubNc, { ...s, log: { ...s.log, sources: [siteFeedbackSource(SITE, SITE)] } });
}

let written = 0;
/** `n` events recorded at the site (erasure requests: the smallest valid events). */
async function record(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await siteLog.append({ v: 1, type: 'erase', tenant: 'acme', requestId: `r${++written}`, requestedAt: 1 });
}

async function outage(events: number): Promise<void> {
  hub.uplink.cut();
  await waitFor(async () => (await leafCount(hub.nats.monitorPort)) === 0, 30_000, 100, 'leaf gone at the hub');
  await record(events);
  hub.uplink.restore();
}

beforeAll(async () => {
  pair = await startLeafPair({ site: SITE, password: 'p9' });
  ({ hub, site } = pair);
  hubNc = await connect({ servers: hub.nats.url, user: SERVICE_USER.user, pass: SERVICE_USER.password });
  siteNc = await connect({ servers: site.nats.url, user: SERVICE_USER.user, pass: SERVICE_USER.password, inboxPrefix: siteInboxPrefix(SITE) });
  // The site profile's log: 100 events at most, the oldest discarded first.
  siteLog = await FeedbackLog.open(siteNc, { ...testSettings({ kind: 'file', dir: '', snapshotEvery: 1, fsync: false }).log, maxMessages: LIMIT });
}, 60_000);

afterAll(async () => {
  await siteNc?.close();
  await hubNc?.close();
  await pair?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('site drop count at the hub', () => {
  it('reports exactly N − limit dropped after an outage of N > limit events, also across a restart of the hub service', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedback-hub-'));
    dirs.push(dir);
    let stack = await openHub(dir);
    try {
      await record(20);
      await waitFor(() => stack.projector.appliedSeq === 20, 30_000, 100, '20 applied at the hub');
      expect(stack.siteDrops?.dropped(SITE)).toBe(0);

      await outage(150); // 150 into a 100-event stream while the hub cannot source: the oldest 50 go
      await waitFor(() => stack.projector.appliedSeq === 120, 30_000, 100, 'the 100 survivors applied at the hub');
      expect(stack.siteDrops?.dropped(SITE)).toBe(150 - LIMIT);
      expect(await metrics().text()).toContain(`tessera_feedback_site_events_dropped_total{site="${SITE}"} 50`);

      // The hub's service restarts during the next outage: it finds the site's last sequence in its stream.
      await stack.close();
      await outage(130);
      stack = await openHub(dir);
      await waitFor(() => stack.projector.appliedSeq === 220, 30_000, 100, 'the next 100 applied at the hub');
      expect(stack.siteDrops?.dropped(SITE)).toBe(130 - LIMIT);
    } finally {
      await stack.close();
    }
  }, 120_000);
});
