/**
 * bench/edge/transport — what the leaf hop's transport alone costs (issue 18 hop check): the one-way
 * time of a 200-byte job from a site connection to a worker at the hub, on the same topology as
 * bench/edge (hub + site nats-servers, TLS leaf link), without any gateway:
 *   - core NATS: a plain subscriber at the hub (what a request/reply uplink would cost);
 *   - the JetStream work queue as TESSERA_UPLINK uses it (work-queue retention, a pending pull of 64,
 *     PubAck across the link), with file storage (as shipped) and memory storage;
 * each through the test relay (as bench/edge) and with the site dialing the hub's leaf port directly
 * (a real link has no relay). Ratios are against core NATS through the same link in the same round.
 * Usage: npx tsx bench/edge/transport.ts [--messages 300] [--rounds 2]
 */
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { AckPolicy, connect, nanos, RetentionPolicy, StorageType, type NatsConnection } from 'nats';
import { makeTestCerts, SERVICE_USER, startHub, startSite, waitForLeafs } from '@tessera/edge/testing';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '300' }, rounds: { type: 'string', default: '2' } } });
const N = Number(values.messages);
const ROUNDS = Number(values.rounds);
const SUBJECT = 'tessera.work.uplink.bench'; // a subject the site's leaf credential may publish on
const body = new Uint8Array(200);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const gap = () => new Promise((r) => setTimeout(r, 5)); // one message at a time, as sequential requests

async function core(site: NatsConnection, hub: NatsConnection): Promise<number[]> {
  let got: (() => void) | undefined;
  const sub = hub.subscribe(`${SUBJECT}.core`, { callback: () => got?.() });
  await hub.flush();
  await new Promise((r) => setTimeout(r, 300)); // interest reaches the site over the leaf
  const xs: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => {
      got = r;
      site.publish(`${SUBJECT}.core`, body);
    });
    xs.push(performance.now() - t0);
    await gap();
  }
  sub.unsubscribe();
  return xs;
}

async function workQueue(site: NatsConnection, hub: NatsConnection, storage: StorageType): Promise<{ deliver: number[]; ack: number[] }> {
  const jsm = await hub.jetstreamManager();
  await jsm.streams.add({ name: 'BENCH_UPLINK', subjects: [`${SUBJECT}.js.>`], retention: RetentionPolicy.Workqueue, storage, duplicate_window: nanos(120_000) });
  await jsm.consumers.add('BENCH_UPLINK', { durable_name: 'w', ack_policy: AckPolicy.Explicit, max_batch: 64 });
  const consumer = await hub.jetstream().consumers.get('BENCH_UPLINK', 'w');
  let got: (() => void) | undefined;
  let pulling = true;
  const loop = (async () => {
    try {
      while (pulling) for await (const m of await consumer.fetch({ max_messages: 64, expires: 1000 })) (m.ack(), got?.());
    } catch {
      // stream deleted below
    }
  })();
  const js = site.jetstream({ domain: 'hub' });
  await new Promise((r) => setTimeout(r, 300));
  const deliver: number[] = [];
  const ack: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const delivered = new Promise<void>((r) => (got = r));
    const acked = js.publish(`${SUBJECT}.js.x`, body, { msgID: `${storage}-${i}-${t0}` }).then(() => ack.push(performance.now() - t0));
    await delivered;
    deliver.push(performance.now() - t0);
    await acked;
    await gap();
  }
  pulling = false;
  await new Promise((r) => setTimeout(r, 1100)); // the pending pull expires
  await jsm.streams.delete('BENCH_UPLINK');
  await loop;
  return { deliver, ack };
}

const certs = makeTestCerts();
console.log(`bench/edge/transport: ${N} messages one at a time, ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')}`);
for (const direct of [false, true]) {
  const hub = await startHub({ sites: [{ site: 's1', domain: 's1', password: 'pw' }], tls: certs });
  const leafPort = Number(/"leafnodes":\s*{\s*"host":\s*"[^"]*",\s*"port":\s*(\d+)/.exec(readFileSync(hub.confFile, 'utf8'))![1]);
  const site = await startSite({ site: 's1', domain: 's1', leafUrl: direct ? `nats-leaf://127.0.0.1:${leafPort}` : hub.leafUrl, password: 'pw', caFile: certs.caFile });
  const h = await connect({ servers: hub.nats.url, user: SERVICE_USER.user, pass: SERVICE_USER.password });
  const s = await connect({ servers: site.nats.url, user: SERVICE_USER.user, pass: SERVICE_USER.password, inboxPrefix: '_INBOX_s1' });
  try {
    await waitForLeafs(hub.nats.monitorPort, 1);
    for (let round = 0; round < ROUNDS; round++) {
      const c = await core(s, h);
      const file = await workQueue(s, h, StorageType.File);
      const mem = await workQueue(s, h, StorageType.Memory);
      const row = (name: string, xs: number[], extra = '') => `   ${name.padEnd(22)} p50 ${pct(xs, 50).toFixed(3)} ms, p90 ${pct(xs, 90).toFixed(3)} ms, p50 ratio to core ${(pct(xs, 50) / pct(c, 50)).toFixed(2)}${extra}`;
      console.log(`${direct ? 'site dials the hub directly' : 'through the test relay'}, round ${round + 1} (load ${os.loadavg()[0]!.toFixed(1)}):`);
      console.log(row('core NATS', c));
      console.log(row('JetStream, file', file.deliver, ` (PubAck at the site p50 ${pct(file.ack, 50).toFixed(3)} ms)`));
      console.log(row('JetStream, memory', mem.deliver, ` (PubAck at the site p50 ${pct(mem.ack, 50).toFixed(3)} ms)`));
    }
  } finally {
    await s.close();
    await h.close();
    await site.stop();
    await hub.stop();
  }
}
rmSync(certs.dir, { recursive: true, force: true });
