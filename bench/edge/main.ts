/**
 * bench/edge — an edge site on a NATS leaf node (issue 18), all in one run on loopback:
 *   1. TTFT and tokens/s of a hub model asked at the edge gateway (site HTTP → leaf link over TLS →
 *      hub gateway's uplink queue → decoder) vs asked directly at the hub gateway's HTTP API, as
 *      ratios measured in the same run, requests interleaved so load drifts hit both alike;
 *   2. catch-up: feedback events recorded at the site while the uplink is cut, then the time from
 *      restoring the link to the hub's feedback stream holding all of them (events/s).
 * Usage: npx tsx bench/edge/main.ts [--requests 20] [--tokens 32] [--events 10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from 'nats';
import { startEdgeStack, writeApiKeysFile } from '@tessera/local-stack';
import { ensureTinyModel } from '@tessera/model';
import { readSse } from '@tessera/testing';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '20' }, tokens: { type: 'string', default: '32' }, events: { type: 'string', default: '10000' } } });
const REQUESTS = Number(values.requests);
const TOKENS = Number(values.tokens);
const EVENTS = Number(values.events);
const KEY = 'sk-bench-edge';
const SITE = 'bench-site';
const MODEL = 'hub-big';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

async function streamChat(url: string): Promise<{ ttftMs: number; tokens: number; totalMs: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, stream: true, stream_options: { include_usage: true }, seed: 1, max_tokens: TOKENS, messages: [{ role: 'user', content: 'describe the shop floor' }] }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttft = NaN;
  let tokens = 0;
  await readSse(res, (c) => {
    if (Number.isNaN(ttft) && c.choices?.[0]?.delta?.content) ttft = performance.now() - t0;
    if (c.usage) tokens = c.usage.completion_tokens;
  });
  return { ttftMs: ttft, tokens, totalMs: performance.now() - t0 };
}

async function feedbackEvents(nc: NatsConnection): Promise<number> {
  const info = await (await nc.jetstreamManager()).streams.info('TESSERA_FEEDBACK', { subjects_filter: 'tessera.feedback.events.bench.feedback' });
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
}

const modelDir = await ensureTinyModel();
const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-edge-'));
const keysFile = writeApiKeysFile(join(dir, 'keys.json'), [{ id: 'bench', tenant: 'bench', key: KEY }]);
const quota = { TESSERA_QUOTA_REQUESTS_PER_MINUTE: '100000', TESSERA_QUOTA_TOKENS_PER_MINUTE: '100000000', TESSERA_GATEWAY_RECORD_RESPONSES: 'false' };
const edge = await startEdgeStack({
  modelDir,
  workDir: join(dir, 'stack'),
  site: SITE,
  keysFile,
  hubModel: MODEL,
  siteServices: ['feedback', 'gateway'],
  siteFeedbackMaxEvents: Math.max(1_000_000, EVENTS * 2),
  env: { TESSERA_INTRA_OP_THREADS: '1' },
  gatewayEnv: quota,
});
const { hub, site, hubStack, siteStack } = edge;
const hubNc = await connect({ servers: hub.nats.url, user: edge.operator.user, pass: edge.operator.password });
const siteNc = await connect({ servers: site.nats.url, user: edge.operator.user, pass: edge.operator.password });

try {
  console.log(`bench/edge: tiny model, ${REQUESTS} streamed requests per path, max_tokens ${TOKENS}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`);
  for (let i = 0; i < 3; i++) await Promise.all([streamChat(hubStack.httpUrl), streamChat(siteStack.httpUrl)]); // warm-up: sessions, streams, consumers
  const direct: Awaited<ReturnType<typeof streamChat>>[] = [];
  const viaLeaf: Awaited<ReturnType<typeof streamChat>>[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    // Alternate which path goes first so drift in machine load falls on both.
    if (i % 2 === 0) {
      direct.push(await streamChat(hubStack.httpUrl));
      viaLeaf.push(await streamChat(siteStack.httpUrl));
    } else {
      viaLeaf.push(await streamChat(siteStack.httpUrl));
      direct.push(await streamChat(hubStack.httpUrl));
    }
  }
  const summary = (xs: typeof direct) => {
    const ttft = xs.map((x) => x.ttftMs);
    const tokPerS = xs.reduce((a, x) => a + x.tokens, 0) / (xs.reduce((a, x) => a + (x.totalMs - x.ttftMs), 0) / 1000);
    return { p50: pct(ttft, 50), p90: pct(ttft, 90), tokPerS };
  };
  const d = summary(direct);
  const l = summary(viaLeaf);
  console.log(`1. hub model, TTFT p50 / p90 and decode tokens/s:`);
  console.log(`   direct at the hub gateway   ${d.p50.toFixed(1)} / ${d.p90.toFixed(1)} ms   ${d.tokPerS.toFixed(1)} tok/s`);
  console.log(`   via the edge gateway + leaf ${l.p50.toFixed(1)} / ${l.p90.toFixed(1)} ms   ${l.tokPerS.toFixed(1)} tok/s`);
  console.log(`   ratio leaf/direct: TTFT p50 ${(l.p50 / d.p50).toFixed(3)}, p90 ${(l.p90 / d.p90).toFixed(3)}; tokens/s ${(l.tokPerS / d.tokPerS).toFixed(3)}; added TTFT p50 ${(l.p50 - d.p50).toFixed(1)} ms`);

  // 2. Catch-up after an outage: the events go straight into the site stream the site feedback
  // service owns (same subjects and Nats-Msg-Id as its appends), 10k HTTP posts would time the gateway.
  await new Promise((r) => setTimeout(r, 1000));
  const before = await feedbackEvents(hubNc);
  hub.uplink.cut();
  const js = siteNc.jetstream();
  const recordStart = performance.now();
  for (let i = 0; i < EVENTS; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, EVENTS - i) }, (_, j) => js.publish('tessera.feedback.events.bench.feedback', Buffer.from(JSON.stringify({ v: 1, type: 'feedback', record: { tenant: 'bench', feedbackId: `bench-${i + j}` } })), { msgID: `f:bench:bench-${i + j}` })));
  }
  const recordMs = performance.now() - recordStart;
  const restoredAt = performance.now();
  hub.uplink.restore();
  let leafBackAt = 0;
  for (;;) {
    if (!leafBackAt && ((await (await fetch(`http://127.0.0.1:${hub.nats.monitorPort}/leafz`)).json()) as { leafnodes: number }).leafnodes > 0) leafBackAt = performance.now();
    if ((await feedbackEvents(hubNc)) - before >= EVENTS) break;
    if (performance.now() - restoredAt > 300_000) throw new Error('hub did not catch up within 300 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const caughtUpMs = performance.now() - restoredAt;
  const exact = (await feedbackEvents(hubNc)) - before;
  console.log(`2. ${EVENTS} feedback events recorded at the site during the outage (${(EVENTS / (recordMs / 1000)).toFixed(0)} events/s into the site stream)`);
  console.log(`   link restore → hub has all: ${caughtUpMs.toFixed(0)} ms (leaf reconnect ${leafBackAt ? (leafBackAt - restoredAt).toFixed(0) : '?'} ms, then ${(EVENTS / ((caughtUpMs - (leafBackAt ? leafBackAt - restoredAt : 0)) / 1000)).toFixed(0)} events/s sourced); at the hub: ${exact} (exactly ${EVENTS}: ${exact === EVENTS})`);
} finally {
  await siteNc.close();
  await hubNc.close();
  await edge.stop();
  rmSync(dir, { recursive: true, force: true });
}
