/**
 * Hub + one site on loopback, real nats-servers (2.9.10): separate JetStream domains, the uplink
 * over TLS through a relay the test cuts, feedback sourced from the site stream into the hub stream,
 * and the site credential's permissions at the hub.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, DiscardPolicy, nanos, type NatsConnection } from 'nats';
import { FeedbackBacklog } from './feedback-backlog.js';
import { HubLink } from './hub-link.js';
import { getPayload, putPayload } from '@tessera/runtime';
import { waitFor } from '@tessera/testing';
import { FEEDBACK_STREAM, siteFeedbackSource, siteInboxPrefix, siteUplinkBucket } from './subjects.js';
import { leafCount, makeTestCerts, SERVICE_USER, startHub, startLeafPair, startSite, waitForLeafs, type HubServer, type LeafPair, type Relay, type TopologyServer } from './test/topology.js';

const SITE = 'shop-1';
const PASSWORD = 'leaf-secret';
let pair: LeafPair;
let hub: HubServer;
let site: TopologyServer;
let relay: Relay;
let certs: ReturnType<typeof makeTestCerts>;
let hubNc: NatsConnection;
let siteNc: NatsConnection;


beforeAll(async () => {
  certs = makeTestCerts();
  pair = await startLeafPair({ site: SITE, password: PASSWORD, tls: certs, otherSites: [{ site: 'shop-2', domain: 'shop-2', password: 'other' }] });
  ({ hub, site } = pair);
  relay = hub.uplink;
  hubNc = await connect({ servers: hub.nats.url, user: SERVICE_USER.user, pass: SERVICE_USER.password });
  siteNc = await connect({ servers: site.nats.url, user: SERVICE_USER.user, pass: SERVICE_USER.password, inboxPrefix: siteInboxPrefix(SITE), maxReconnectAttempts: -1 });
}, 60_000);

afterAll(async () => {
  await siteNc?.close();
  await hubNc?.close();
  await pair?.stop();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

async function publishEvents(from: number, to: number): Promise<void> {
  const js = siteNc.jetstream();
  await Promise.all(Array.from({ length: to - from }, (_, i) => js.publish(`tessera.feedback.events.acme.feedback`, new TextEncoder().encode(`{"n":${from + i}}`), { msgID: `f:acme:${from + i}` })));
}

const hubCount = async () => (await (await hubNc.jetstreamManager()).streams.info(FEEDBACK_STREAM)).state.messages;

describe('edge site as a leaf node', () => {
  it('reaches the hub JetStream API over the TLS uplink; each side keeps its own domain', async () => {
    const hubJs = await siteNc.jetstreamManager({ domain: 'hub' });
    const own = await siteNc.jetstreamManager();
    expect((await hubJs.getAccountInfo()).domain).toBe('hub');
    expect((await own.getAccountInfo()).domain).toBe(SITE);
    const leafz = (await (await fetch(`http://127.0.0.1:${hub.nats.monitorPort}/leafz`)).json()) as { leafs: Array<{ account: string }> };
    expect(leafz.leafs[0]?.account).toBe('TESSERA');
  });

  it("puts a large uplink request into the site's bucket at the hub, through the leaf credential; the hub reads it locally", async () => {
    const bytes = Buffer.alloc(1_300_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
    const ref = await putPayload(siteNc, bytes, { bucket: siteUplinkBucket(SITE), jsDomain: 'hub', ttlMs: 60_000 });
    expect(ref).toMatchObject({ bucket: 'tessera-uplink-shop-1', size: bytes.length });
    expect(Buffer.from(await getPayload(hubNc, ref)).equals(bytes)).toBe(true);
    // Not in the site's own domain.
    await expect((await siteNc.jetstreamManager()).streams.info(`OBJ_${siteUplinkBucket(SITE)}`)).rejects.toThrow(/not found/);
    // The same bytes again: found by sha256 at the hub, not re-sent.
    expect(await putPayload(siteNc, bytes, { bucket: siteUplinkBucket(SITE), jsDomain: 'hub' })).toEqual(ref);
    expect((await (await hubNc.jetstreamManager()).streams.info(`OBJ_${siteUplinkBucket(SITE)}`)).state.messages).toBe(Math.ceil(bytes.length / (256 * 1024)) + 1);
    // Another site's bucket is out of this credential's reach.
    await expect(putPayload(siteNc, bytes, { bucket: siteUplinkBucket('shop-2'), jsDomain: 'hub' })).rejects.toThrow();
  });

  it('records feedback at the site through an outage; the hub sources exactly N, no duplicates', async () => {
    const siteJsm = await siteNc.jetstreamManager();
    await siteJsm.streams.add({ name: FEEDBACK_STREAM, subjects: ['tessera.feedback.events.>'], discard: DiscardPolicy.Old, max_msgs: 100_000, duplicate_window: nanos(120_000) });
    const hubJsm = await hubNc.jetstreamManager();
    await hubJsm.streams.add({ name: FEEDBACK_STREAM, subjects: ['tessera.feedback.events.>'], duplicate_window: nanos(120_000), sources: [siteFeedbackSource(SITE, SITE)] });
    const link = await new HubLink(siteNc, { hubDomain: 'hub', intervalMs: 200 }).start();
    try {
      expect(link.state).toBe('up');
      await publishEvents(0, 50);
      await waitFor(async () => (await hubCount()) === 50, 30_000, 100, '50 sourced at the hub');

      const backlog = new FeedbackBacklog(siteJsm);
      expect(await backlog.poll(true)).toMatchObject({ pending: 0, delivered: 50 });
      relay.cut();
      await waitFor(() => link.state === 'down', 30_000, 100, 'link seen down');
      await waitFor(async () => (await leafCount(hub.nats.monitorPort)) === 0, 30_000, 100, 'leaf gone at the hub');
      await publishEvents(50, 550); // 500 events recorded at the edge while the uplink is down
      await publishEvents(50, 60); // retried writes: same ids, stored once at the site
      expect(await backlog.poll(false)).toMatchObject({ pending: 500, dropped: 0 });
      expect(await hubCount()).toBe(50);

      relay.restore();
      await waitFor(() => link.state === 'up', 30_000, 100, 'link back up');
      await waitFor(async () => (await hubCount()) >= 550, 30_000, 100, 'hub caught up');
      await new Promise((r) => setTimeout(r, 1500)); // anything late would show up as a duplicate
      expect(await hubCount()).toBe(550);
      const ids = new Set<string>();
      for (let seq = 1; seq <= 550; seq++) ids.add((await hubJsm.streams.getMessage(FEEDBACK_STREAM, { seq })).header.get('Nats-Msg-Id'));
      expect(ids.size).toBe(550);
      expect(await backlog.poll(true)).toMatchObject({ pending: 0, dropped: 0 });
    } finally {
      link.stop();
    }
  });

  it("skips its probe while the hub's answers arrive, and sees the link drop within two intervals once they stop", async () => {
    // Every probe is one call of the hub's JetStream API (its /jsz counts them).
    const hubApiCalls = async () => ((await (await fetch(`http://127.0.0.1:${hub.nats.monitorPort}/jsz`)).json()) as { api: { total: number } }).api.total;
    const intervalMs = 100;
    const link = await new HubLink(siteNc, { hubDomain: 'hub', intervalMs }).start();
    const answers = setInterval(() => link.reportAlive(), 20);
    try {
      expect(link.state).toBe('up');
      let before = await hubApiCalls();
      await new Promise((r) => setTimeout(r, 1_000));
      expect((await hubApiCalls()) - before).toBeLessThanOrEqual(2); // ~10 probes without the skip
      expect(link.state).toBe('up');
      clearInterval(answers);
      before = await hubApiCalls();
      await new Promise((r) => setTimeout(r, 1_000));
      expect((await hubApiCalls()) - before).toBeGreaterThanOrEqual(4); // probing again (~10)

      // Lost mid-answer: the answers stop with the link; seen down within two intervals of the last one
      // (asserted against the 2 s fail-fast budget, which is what callers rely on, not a loaded CI's timers).
      const again = setInterval(() => link.reportAlive(), 20);
      await new Promise((r) => setTimeout(r, 300));
      clearInterval(again);
      relay.cut();
      const cutAt = Date.now();
      await waitFor(() => link.state === 'down', 10_000, 10, 'link seen down');
      expect(Date.now() - cutAt).toBeLessThan(2_000);
      relay.restore();
      await waitFor(() => link.state === 'up', 30_000, 50, 'link back up');
    } finally {
      clearInterval(answers);
      link.stop();
    }
  });

  it('limits the site credential to its own subjects at the hub', async () => {
    const asSite = await connect({ servers: hub.nats.url, user: SITE, pass: PASSWORD });
    const errors: string[] = [];
    void (async () => {
      for await (const s of asSite.status()) {
        const ctx = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
        if (ctx) errors.push(`${ctx.operation} "${ctx.subject}"`);
      }
    })();
    try {
      const denied = ['_INBOX_shop-2.>', 'tessera.site.shop-2.deliver.>', 'tessera.feedback.events.acme.>', 'tessera.work.decoder.>', '_INBOX.>'];
      const subs = denied.map((s) => asSite.subscribe(s));
      const allowed = asSite.subscribe(`${siteInboxPrefix(SITE)}.x`);
      await asSite.flush();
      await waitFor(() => errors.length >= denied.length, 10_000, 100, 'permission errors');
      for (const s of denied) expect(errors.join('\n')).toContain(`"${s}"`);
      expect(errors.join('\n')).not.toContain(`${siteInboxPrefix(SITE)}.x`);
      subs.forEach((s) => s.unsubscribe());
      allowed.unsubscribe();
    } finally {
      await asSite.close();
    }
  });
});

describe('oversized backlog', () => {
  it('discards the oldest events at the site and counts those the hub never received', async () => {
    const name = 'shop-3';
    const h = await startHub({ sites: [{ site: name, domain: name, password: 'p3' }] });
    const r = h.uplink;
    const s = await startSite({ site: name, domain: name, leafUrl: h.leafUrl, password: 'p3' });
    const hnc = await connect({ servers: h.nats.url, user: SERVICE_USER.user, pass: SERVICE_USER.password });
    const snc = await connect({ servers: s.nats.url, user: SERVICE_USER.user, pass: SERVICE_USER.password, inboxPrefix: siteInboxPrefix(name) });
    try {
      await waitForLeafs(h.nats.monitorPort, 1);
      const sjsm = await snc.jetstreamManager();
      await sjsm.streams.add({ name: FEEDBACK_STREAM, subjects: ['tessera.feedback.events.>'], discard: DiscardPolicy.Old, max_msgs: 100 });
      const hjsm = await hnc.jetstreamManager();
      await hjsm.streams.add({ name: FEEDBACK_STREAM, subjects: ['tessera.feedback.events.>'], sources: [siteFeedbackSource(name, name)] });
      const js = snc.jetstream();
      const put = async (a: number, b: number) => {
        for (let i = a; i < b; i++) await js.publish('tessera.feedback.events.acme.feedback', new Uint8Array([1]), { msgID: `f:${i}` });
      };
      const backlog = new FeedbackBacklog(sjsm);
      await put(0, 20);
      const count = async () => (await hjsm.streams.info(FEEDBACK_STREAM)).state.messages;
      await waitFor(async () => (await count()) === 20, 30_000, 100, '20 at the hub');
      expect((await backlog.poll(true)).delivered).toBe(20);
      r.cut();
      await waitFor(async () => (await leafCount(h.nats.monitorPort)) === 0, 30_000, 100, 'leaf gone');
      await put(20, 170); // 150 during the outage into a 100-message stream: 50 of them are discarded
      const b = await backlog.poll(false);
      expect(b).toMatchObject({ dropped: 50, pending: 100, firstSeq: 71, lastSeq: 170, maxMessages: 100 });
      r.restore();
      await waitFor(async () => (await count()) === 120, 30_000, 100, 'hub has the surviving 100');
      expect((await backlog.poll(true)).dropped).toBe(50);
    } finally {
      await snc.close();
      await hnc.close();
      await s.stop();
      await h.stop();
    }
  });
});
