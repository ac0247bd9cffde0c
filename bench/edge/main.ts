/**
 * bench/edge — an edge site on a NATS leaf node (issue 18), all in one run on loopback:
 *   1. TTFT and tokens/s of a hub model asked at the edge gateway (site HTTP → leaf link over TLS →
 *      hub gateway's uplink queue → decoder) vs asked directly at the hub gateway's HTTP API, as
 *      ratios measured in the same run, requests interleaved so load drifts hit both alike;
 *      Each request's TTFT is split into the hub decoder's own (time_to_first_token_ms, engine submit to
 *      first token, reported in the stream) and the rest outside the decoder (HTTP, validation, the bus,
 *      and for the leaf path the site gateway and the link). CPU per request of every process on the path (schedstat
 *      of all its threads, read before and after each request) shows what the hop costs in work;
 *   2. catch-up: feedback events recorded at the site while the uplink is cut, then the time from
 *      restoring the link to the hub's feedback stream holding all of them (events/s).
 * Part 1 runs with the site dialing the hub's leaf port directly, as over a real link; part 2 on a
 * second, feedback-only stack whose site dials through the test relay, which can cut the link. With
 * the relay in part 1 (`--link relay`, as before 2026-12-04) every message on the hop is also copied
 * through this process's event loop: ~0.4 ms of a forwarded chat's time to first token, counted
 * under "bench (client + relay)" (docs/decisions.md "Issue 18 (hop cost …)").
 * 1b. `--concurrent` requests at once per path, twice each, alternating: a site's concurrent requests
 *      must not queue at the hub (the uplink binding streams up to TESSERA_GATEWAY_UPLINK_CONCURRENCY).
 * The site offers each forwarded chat to the hub gateway directly (core NATS, `tessera.uplink.>`) and
 * queues it in TESSERA_UPLINK only when no hub gateway takes it; `--uplink queue` sets
 * TESSERA_GATEWAY_UPLINK_DIRECT=false (always the queue, as before) for a before/after comparison. The
 * bench prints how many forwarded chats went through the queue (TESSERA_UPLINK's sequence).
 * 80 requests per path of 16 tokens by default (as long as 40 of 32 were): the decoder's prefill is bimodal on a
 *   shared 2-core box (~45 and ~67 ms, about half each, 2026-12-05), so either path's p50 falls between the modes
 *   and swings ±5 % run to run on the same code. The hop is therefore measured on the pairs: the median and
 *   the mean of (via leaf − direct) over requests run back to back, with bootstrap intervals (`pairedHop`),
 *   and each path's share of requests in the slow mode (`slowShares`).
 * Route (`--route`, the site config's `route` of the hub model): `stages` (default) — the site's gateway
 * orchestrates the text chat itself and calls the hub decoder over the leaf (`tessera.hubmodel.<revision>.>`),
 * so the first token crosses the link but no second gateway (the link and the site's orchestrator fall in the
 * "outside the decoder" column).
 * `gateway` — the site forwards the chat to the hub gateway (the route before 2026-12-05, and what
 * requests with images, video or a collection still take).
 * Usage: npx tsx bench/edge/main.ts [--preset bench|tiny] [--model DIR] [--requests 80] [--tokens 16] [--concurrent 8] [--events 10000] [--route stages|gateway] [--uplink direct|queue] [--link direct|relay] [--samples FILE (every request's numbers, JSON)]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import { startEdgeStack, writeApiKeysFile, type EdgeStack } from '@tessera/local-stack';
import { ensurePresetModelPaths } from '@tessera/model';
import { readSse } from '@tessera/testing';

const { values } = parseArgs({ options: { preset: { type: 'string', default: 'bench' }, model: { type: 'string' }, requests: { type: 'string', default: '80' }, tokens: { type: 'string', default: '16' }, concurrent: { type: 'string', default: '8' }, events: { type: 'string', default: '10000' }, uplink: { type: 'string', default: 'direct' }, link: { type: 'string', default: 'direct' }, route: { type: 'string', default: 'stages' }, samples: { type: 'string' } } });
if (values.preset !== 'bench' && values.preset !== 'tiny') throw new Error(`--preset must be bench or tiny, not ${values.preset}`);
if (values.uplink !== 'direct' && values.uplink !== 'queue') throw new Error(`--uplink must be direct or queue, not ${values.uplink}`);
if (values.link !== 'direct' && values.link !== 'relay') throw new Error(`--link must be direct or relay, not ${values.link}`);
if (values.route !== 'stages' && values.route !== 'gateway') throw new Error(`--route must be stages or gateway, not ${values.route}`);
const REQUESTS = Number(values.requests);
const TOKENS = Number(values.tokens);
const EVENTS = Number(values.events);
const CONCURRENT = Number(values.concurrent);
const KEY = 'sk-bench-edge';
const SITE = 'bench-site';
const MODEL = 'hub-big';

/**
 * The hop's cost from the paired requests: each via-leaf request runs right after (or before) a direct
 * one, so their differences cancel what both share — load drift, and above all the decoder's two
 * prefill modes (on a shared 2-core box ~45 and ~67 ms, about half the requests each: a path's p50
 * falls in the gap and swung ±5 % run to run on unchanged code, 2026-12-05 runs in docs/decisions.md).
 * The median of the differences is robust to the pairs whose two requests landed in different modes;
 * it cannot see a path that puts more requests into the slow mode, which the mean and the slow-mode
 * shares (`slowShares`) do. 95 % intervals by resampling the pairs (2,000 draws, a seeded 32-bit
 * generator); pairs are treated as independent, so under drifting load the intervals are optimistic.
 */
function pairedHop(direct: number[], viaLeaf: number[]): { median: Estimate; mean: Estimate } {
  const diffs = viaLeaf.map((x, i) => x - direct[i]!);
  const median = (xs: number[]) => pct(xs, 50);
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  const rand = mulberry32(12345);
  const resamples = Array.from({ length: 2000 }, () => diffs.map(() => diffs[Math.floor(rand() * diffs.length)]!));
  const estimate = (f: (xs: number[]) => number): Estimate => {
    const draws = resamples.map(f);
    return { value: f(diffs), lo: pct(draws, 2.5), hi: pct(draws, 97.5) };
  };
  return { median: estimate(median), mean: estimate(mean) };
}
interface Estimate {
  value: number;
  lo: number;
  hi: number;
}

/** A 32-bit PRNG exact in doubles (Math.imul), uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The two TTFT modes split where 1-D 2-means puts the boundary over both paths' requests; each path's share in the slow one. */
function slowShares(direct: number[], viaLeaf: number[]): { boundary: number; direct: number; viaLeaf: number } {
  const all = [...direct, ...viaLeaf].sort((a, b) => a - b);
  let lo = all[0]!;
  let hi = all[all.length - 1]!;
  for (let i = 0; i < 50; i++) {
    const cut = (lo + hi) / 2;
    const fast = all.filter((x) => x <= cut);
    const slow = all.filter((x) => x > cut);
    if (fast.length === 0 || slow.length === 0) break;
    lo = fast.reduce((a, x) => a + x, 0) / fast.length;
    hi = slow.reduce((a, x) => a + x, 0) / slow.length;
  }
  const boundary = (lo + hi) / 2;
  const share = (xs: number[]) => xs.filter((x) => x > boundary).length / xs.length;
  return { boundary, direct: share(direct), viaLeaf: share(viaLeaf) };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

interface Sample {
  ttftMs: number;
  /** The hub decoder's own time to first token (engine submit → first token, from the stream's timings): decoder work, not the path. */
  hubTtftMs: number;
  tokens: number;
  totalMs: number;
  /** CPU ms per process during this request. */
  cpuMs: Record<string, number>;
}

/** CPU time of a process, all its threads, in ms (/proc/<pid>/task/<tid>/schedstat: ns on CPU). */
function cpuMsOf(pid: number): number {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    // a thread ended between the listing and the read
  }
  return ns / 1e6;
}

async function streamChat(url: string, pids: Record<string, number>): Promise<Sample> {
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMsOf(pid)]));
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, stream: true, stream_options: { include_usage: true }, seed: 1, max_tokens: TOKENS, messages: [{ role: 'user', content: 'describe the shop floor' }] }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttft = NaN;
  let hubTtft = NaN;
  let tokens = 0;
  await readSse(res, (c) => {
    if (Number.isNaN(ttft) && c.choices?.[0]?.delta?.content) ttft = performance.now() - t0;
    if (c.tessera?.timings_ms?.time_to_first_token_ms !== undefined) hubTtft = c.tessera.timings_ms.time_to_first_token_ms;
    if (c.usage) tokens = c.usage.completion_tokens;
  });
  const totalMs = performance.now() - t0;
  return { ttftMs: ttft, hubTtftMs: hubTtft, tokens, totalMs, cpuMs: Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMsOf(pid) - cpu0[k]!])) };
}

const FEEDBACK_SUBJECT = 'tessera.feedback.events.bench.feedback';

/** One feedback event as the site's feedback service writes it (its Nats-Msg-Id is what the hub deduplicates by). */
function recordFeedback(js: JetStreamClient, feedbackId: string) {
  return js.publish(FEEDBACK_SUBJECT, Buffer.from(JSON.stringify({ v: 1, type: 'feedback', record: { tenant: 'bench', feedbackId } })), { msgID: `f:bench:${feedbackId}` });
}

async function feedbackEvents(nc: NatsConnection): Promise<number> {
  const info = await (await nc.jetstreamManager()).streams.info('TESSERA_FEEDBACK', { subjects_filter: FEEDBACK_SUBJECT });
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
}

const modelDir = values.model ?? (await ensurePresetModelPaths(values.preset)).model;
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
  gatewayEnv: { ...quota, TESSERA_GATEWAY_UPLINK_DIRECT: String(values.uplink === 'direct') },
  directUplink: values.link === 'direct',
  hubRoute: values.route,
  // The site config's default probe interval (libs/edge site-config.ts), not local-stack's 250 ms for
  // tests: the site's CPU columns then show what a site spends as shipped. The probe does not move the
  // TTFT: with it switched off the hop measured the same (docs/decisions.md "Issue 18 (site idle cost …)").
  probeIntervalMs: 500,
});
const { hub, site, hubStack, siteStack } = edge;
const hubNc = await connect({ servers: hub.nats.url, user: edge.operator.user, pass: edge.operator.password });
/** Part 2's stack (with `--link direct`): hub and site feedback services, the site dialing through the relay. */
let catchUpStack: EdgeStack | undefined;
let edgeStopped = false;
const startCatchUpStack = () =>
  startEdgeStack({ modelDir, workDir: join(dir, 'catch-up'), site: SITE, keysFile, hubModel: MODEL, hubServices: ['feedback'], siteServices: ['feedback'], siteFeedbackMaxEvents: Math.max(1_000_000, EVENTS * 2) });

/** Jobs ever stored in the hub's uplink queue (a chat the hub gateway took directly stores none). */
const uplinkJobs = async () => (await (await hubNc.jetstreamManager()).streams.info('TESSERA_UPLINK').catch(() => undefined))?.state.last_seq ?? 0;

const pid = (stack: typeof hubStack, name: string) => stack.processes.find((p) => p.name === name)!.process.pid!;
const pids = {
  'bench (client + relay)': process.pid,
  'site gateway': pid(siteStack, 'gateway'),
  'site nats-server': site.nats.process.pid!,
  'hub nats-server': hub.nats.process.pid!,
  'hub gateway': pid(hubStack, 'gateway'),
  'hub decoder': pid(hubStack, 'decoder'),
};

try {
  const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' / ');
  console.log(`bench/edge: ${values.model ? values.model : `${values.preset} preset`}, ${REQUESTS} streamed requests per path (interleaved), max_tokens ${TOKENS}, leaf link ${values.link === 'direct' ? 'dialed directly' : 'through the test relay'}, ${os.cpus().length} cores, load (1/5/15 min) ${load()}`);
  for (let i = 0; i < 3; i++) await Promise.all([streamChat(hubStack.httpUrl, pids), streamChat(siteStack.httpUrl, pids)]); // warm-up: sessions, streams, consumers
  const queuedBefore = await uplinkJobs();
  const direct: Sample[] = [];
  const viaLeaf: Sample[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    // Alternate which path goes first so drift in machine load falls on both.
    if (i % 2 === 0) {
      direct.push(await streamChat(hubStack.httpUrl, pids));
      viaLeaf.push(await streamChat(siteStack.httpUrl, pids));
    } else {
      viaLeaf.push(await streamChat(siteStack.httpUrl, pids));
      direct.push(await streamChat(hubStack.httpUrl, pids));
    }
  }
  const summary = (xs: Sample[]) => {
    const ttft = xs.map((x) => x.ttftMs);
    const tokPerS = xs.reduce((a, x) => a + x.tokens, 0) / (xs.reduce((a, x) => a + (x.totalMs - x.ttftMs), 0) / 1000);
    const rest = xs.map((x) => x.ttftMs - x.hubTtftMs);
    const cpu = Object.fromEntries(Object.keys(pids).map((k) => [k, xs.reduce((a, x) => a + x.cpuMs[k]!, 0) / xs.length]));
    return { p50: pct(ttft, 50), p90: pct(ttft, 90), hubP50: pct(xs.map((x) => x.hubTtftMs), 50), restP50: pct(rest, 50), restP90: pct(rest, 90), tokPerS, cpu, wallMs: xs.reduce((a, x) => a + x.totalMs, 0) / xs.length };
  };
  const d = summary(direct);
  const l = summary(viaLeaf);
  if (values.samples) writeFileSync(values.samples, JSON.stringify({ direct, viaLeaf }));
  console.log(`1. hub model (--route ${values.route}: ${values.route === 'stages' ? "the site's gateway orchestrates, the hub decoder answers over the leaf" : 'forwarded to the hub gateway'}), TTFT p50 / p90 (of which the hub decoder's own p50; outside the decoder p50 / p90) and decode tokens/s:`);
  console.log(`   direct at the hub gateway   ${d.p50.toFixed(1)} / ${d.p90.toFixed(1)} ms (decoder ${d.hubP50.toFixed(1)}; outside ${d.restP50.toFixed(1)} / ${d.restP90.toFixed(1)})   ${d.tokPerS.toFixed(1)} tok/s`);
  console.log(`   via the edge gateway + leaf ${l.p50.toFixed(1)} / ${l.p90.toFixed(1)} ms (decoder ${l.hubP50.toFixed(1)}; outside ${l.restP50.toFixed(1)} / ${l.restP90.toFixed(1)})   ${l.tokPerS.toFixed(1)} tok/s`);
  const queued = (await uplinkJobs()) - queuedBefore;
  if (values.route === 'gateway') console.log(`   uplink (--uplink ${values.uplink}): ${REQUESTS - queued} of ${REQUESTS} forwarded chats taken directly by the hub gateway (core NATS, tessera.uplink.>), ${queued} through the TESSERA_UPLINK work queue`);
  const hop = pairedHop(direct.map((x) => x.ttftMs), viaLeaf.map((x) => x.ttftMs));
  const modes = slowShares(direct.map((x) => x.ttftMs), viaLeaf.map((x) => x.ttftMs));
  // Shares of the direct TTFT's mean: its p50 is the unstable statistic (above).
  const directMean = direct.reduce((a, x) => a + x.ttftMs, 0) / direct.length;
  const share = (ms: number) => `${((100 * ms) / directMean).toFixed(1)} %`;
  const est = (e: Estimate) => `${e.value >= 0 ? '+' : ''}${e.value.toFixed(2)} ms = ${share(e.value)} (95 %: ${share(e.lo)} to ${share(e.hi)})`;
  console.log(`   the hop's TTFT cost (the issue's measure), over the ${REQUESTS} back-to-back pairs' leaf − direct, as a share of the direct TTFT mean ${directMean.toFixed(1)} ms: median ${est(hop.median)}; mean ${est(hop.mean)}; ratio ${(1 + hop.median.value / directMean).toFixed(3)} (median) / ${(1 + hop.mean.value / directMean).toFixed(3)} (mean), target ≤ 1.05`);
  console.log(`   the decoder's slow mode (TTFT > ${modes.boundary.toFixed(1)} ms, 2-means over both paths): direct ${(100 * modes.direct).toFixed(0)} %, via leaf ${(100 * modes.viaLeaf).toFixed(0)} % of requests`);
  console.log(`   ratio leaf/direct of the percentiles: TTFT p50 ${(l.p50 / d.p50).toFixed(3)}, p90 ${(l.p90 / d.p90).toFixed(3)}; tokens/s ${(l.tokPerS / d.tokPerS).toFixed(3)}; added TTFT p50 ${(l.p50 - d.p50).toFixed(1)} ms, added outside the decoder p50 ${(l.restP50 - d.restP50).toFixed(1)} ms (${share(l.restP50 - d.restP50)})`);
  console.log(`   CPU ms per request (wall ${d.wallMs.toFixed(1)} direct / ${l.wallMs.toFixed(1)} via leaf):`);
  for (const k of Object.keys(pids)) console.log(`     ${k.padEnd(24)} ${d.cpu[k]!.toFixed(2).padStart(7)} direct  ${l.cpu[k]!.toFixed(2).padStart(7)} via leaf`);
  if (CONCURRENT > 1) {
    const batch = async (url: string) => {
      const t0 = performance.now();
      const xs = await Promise.all(Array.from({ length: CONCURRENT }, () => streamChat(url, {})));
      return { ttft: xs.map((x) => x.ttftMs), wallMs: performance.now() - t0 };
    };
    const cd: Awaited<ReturnType<typeof batch>>[] = [];
    const cl: typeof cd = [];
    for (let i = 0; i < 2; i++) {
      if (i % 2 === 0) (cd.push(await batch(hubStack.httpUrl)), cl.push(await batch(siteStack.httpUrl)));
      else (cl.push(await batch(siteStack.httpUrl)), cd.push(await batch(hubStack.httpUrl)));
    }
    const row = (xs: typeof cd) => `TTFT p50 / p90 ${pct(xs.flatMap((x) => x.ttft), 50).toFixed(1)} / ${pct(xs.flatMap((x) => x.ttft), 90).toFixed(1)} ms, batch wall ${(xs.reduce((a, x) => a + x.wallMs, 0) / xs.length).toFixed(0)} ms`;
    console.log(`1b. ${CONCURRENT} requests at once: direct ${row(cd)}; via leaf ${row(cl)}`);
  }
  console.log(`   load after part 1: ${load()}`);

  // 2. Catch-up after an outage: the events go straight into the site stream the site feedback
  // service owns (same subjects and Nats-Msg-Id as its appends), 10k HTTP posts would time the gateway.
  // On a second stack (feedback services only) whose site dials through the relay that cuts the link.
  if (values.link === 'direct') {
    await hubNc.close();
    await edge.stop();
    edgeStopped = true;
    catchUpStack = await startCatchUpStack();
  }
  const cu = catchUpStack ?? edge;
  const cuHubNc = await connect({ servers: cu.hub.nats.url, user: cu.operator.user, pass: cu.operator.password });
  const siteNc = await connect({ servers: cu.site.nats.url, user: cu.operator.user, pass: cu.operator.password });
  try {
    const js = siteNc.jetstream();
    // One event through first: a fresh stack's hub may not be sourcing the site stream yet (seen: a
    // catch-up of 5.8 s, the source's retry, not the link).
    const seen = await feedbackEvents(cuHubNc);
    await recordFeedback(js, 'bench-warm-up');
    while ((await feedbackEvents(cuHubNc)) <= seen) await new Promise((r) => setTimeout(r, 50));
    const before = await feedbackEvents(cuHubNc);
    cu.hub.uplink.cut();
    const recordStart = performance.now();
    for (let i = 0; i < EVENTS; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, EVENTS - i) }, (_, j) => recordFeedback(js, `bench-${i + j}`)));
    }
    const recordMs = performance.now() - recordStart;
    const restoredAt = performance.now();
    cu.hub.uplink.restore();
    let leafBackAt = 0;
    for (;;) {
      if (!leafBackAt && ((await (await fetch(`http://127.0.0.1:${cu.hub.nats.monitorPort}/leafz`)).json()) as { leafnodes: number }).leafnodes > 0) leafBackAt = performance.now();
      if ((await feedbackEvents(cuHubNc)) - before >= EVENTS) break;
      if (performance.now() - restoredAt > 300_000) throw new Error('hub did not catch up within 300 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const caughtUpMs = performance.now() - restoredAt;
    const exact = (await feedbackEvents(cuHubNc)) - before;
    console.log(`2. ${EVENTS} feedback events recorded at the site during the outage (${(EVENTS / (recordMs / 1000)).toFixed(0)} events/s into the site stream)`);
    console.log(`   link restore → hub has all: ${caughtUpMs.toFixed(0)} ms (leaf reconnect ${leafBackAt ? (leafBackAt - restoredAt).toFixed(0) : '?'} ms, then ${(EVENTS / ((caughtUpMs - (leafBackAt ? leafBackAt - restoredAt : 0)) / 1000)).toFixed(0)} events/s sourced); at the hub: ${exact} (exactly ${EVENTS}: ${exact === EVENTS})`);
  } finally {
    await siteNc.close();
    await cuHubNc.close();
  }
} finally {
  if (!hubNc.isClosed()) await hubNc.close();
  if (!edgeStopped) await edge.stop();
  await catchUpStack?.stop();
  rmSync(dir, { recursive: true, force: true });
}
