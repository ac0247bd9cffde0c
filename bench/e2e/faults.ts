/**
 * bench/e2e/faults — issue 20: what a fault costs a client, and what liveness and TLS cost when nothing fails.
 *   1. overhead, same run: two stacks up at once (plain nats-server, and one requiring TLS), each with
 *      two gateways (stream heartbeats 1 s / off); requests round-robin over the four → TTFT and
 *      tokens/s ratios against plain + heartbeats off;
 *   2. faults, time to failure (the client sees an error, or the stream resumes) and to recovery (a new
 *      request answered): decoder kill -9 with a second replica, the last decoder kill -9, nats-server
 *      kill + restart, and loss of the JetStream-leading node of a 3-node cluster (replicas 3).
 * Numbers under load are indicative; the ratios are measured in the same run. Tiny model by default.
 * Usage: npx tsx bench/e2e/faults.ts [--model DIR] [--rounds N] [--section all|overhead|faults|cluster]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from 'nats';
import { startLocalStack, writeApiKeysFile, type RunningStack, type StackOptions } from '@tessera/local-stack';
import { ensureTinyModel } from '@tessera/model';
import { readSse, startNatsServer } from '@tessera/testing';

const { values } = parseArgs({ options: { model: { type: 'string' }, rounds: { type: 'string', default: '12' }, section: { type: 'string', default: 'all' } } });
const run = (s: string) => values.section === 'all' || values.section === s;
const KEY = 'sk-bench';
const MODEL = 'minicpm-v-2_6';
const ROUNDS = Number(values.rounds);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Streamed {
  status: number;
  ttftMs: number;
  tokens: number;
  totalMs: number;
  done: boolean;
  error?: string;
  /** ms since the request started of each content chunk */
  chunkAt: number[];
}

/** A streamed chat; `onChunk(n)` after the n-th content chunk (fault injection). */
async function stream(url: string, body: object, onChunk?: (n: number) => void): Promise<Streamed> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, stream: true, stream_options: { include_usage: true }, seed: 5, ...body }),
  });
  const out: Streamed = { status: res.status, ttftMs: NaN, tokens: 0, totalMs: 0, done: false, chunkAt: [] };
  if (!res.ok || !res.body) {
    out.error = await res.text();
    out.totalMs = performance.now() - t0;
    return out;
  }
  const { done } = await readSse(res, (c) => {
    if (c.error) out.error = c.error.code ?? c.error.message;
    if (c.choices?.[0]?.delta?.content) {
      out.chunkAt.push(performance.now() - t0);
      if (Number.isNaN(out.ttftMs)) out.ttftMs = out.chunkAt[0]!;
      onChunk?.(out.chunkAt.length);
    }
    if (c.usage) out.tokens = c.usage.completion_tokens;
  });
  out.done = done;
  out.totalMs = performance.now() - t0;
  return out;
}
const tokensPerS = (s: Streamed) => (s.tokens - 1) / ((s.totalMs - s.ttftMs) / 1000);
const ask = (url: string, maxTokens = 4) => stream(url, { max_tokens: maxTokens, messages: [{ role: 'user', content: 'hi' }] });

async function boot(dir: string, o: Partial<StackOptions>): Promise<RunningStack> {
  const keysFile = writeApiKeysFile(join(dir, 'keys.json'), [{ id: 'bench', tenant: 'bench', key: KEY }]);
  return startLocalStack({
    modelDir: values.model ?? (await ensureTinyModel()),
    workDir: mkdtempSync(join(dir, 'stack-')),
    services: ['decoder', 'gateway'],
    env: { TESSERA_INTRA_OP_THREADS: '1' },
    serviceEnv: { gateway: { TESSERA_GATEWAY_API_KEYS_FILE: keysFile, TESSERA_GATEWAY_MODEL_ID: MODEL, TESSERA_GATEWAY_RECORD_RESPONSES: 'false' } },
    ...o,
  });
}

/** Round-robin over the variants, the order rotated every round, so a drift in machine load hits all alike. */
async function measure(variants: Record<string, string>): Promise<Record<string, Streamed[]>> {
  const names = Object.keys(variants);
  const body = (i: number) => ({ max_tokens: 48, temperature: 0, messages: [{ role: 'user', content: `round ${i}: tell me a story` }] });
  const out: Record<string, Streamed[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) await stream(variants[n]!, body(-1)); // warm-up
  for (let i = 0; i < ROUNDS; i++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(i + k) % names.length]!;
      out[n]!.push(await stream(variants[n]!, body(i)));
    }
  }
  return out;
}

function row(name: string, xs: Streamed[], base: Streamed[]): string {
  const ttft = median(xs.map((s) => s.ttftMs));
  const tps = median(xs.map(tokensPerS));
  return `| ${name} | ${ttft.toFixed(1)} | ${tps.toFixed(1)} | ${(ttft / median(base.map((s) => s.ttftMs))).toFixed(3)}× | ${(tps / median(base.map(tokensPerS))).toFixed(3)}× |`;
}

async function overhead(dir: string): Promise<void> {
  const hb = { gateway: [{ TESSERA_STREAM_HEARTBEAT: '1000' }, { TESSERA_STREAM_HEARTBEAT: '0' }] };
  console.log(`\n## Overhead of stream heartbeats and NATS TLS (${ROUNDS} rounds, 4 gateways round-robin, max_tokens 48, greedy)`);
  // Both stacks up at once: a plain nats-server and one that requires TLS, each with a decoder and two
  // gateways (heartbeats 1 s / off). Requests alternate over all four, so every ratio is same-load.
  const [plain, tls] = await Promise.all([boot(dir, { replicas: { gateway: 2 }, replicaEnv: hb }), boot(dir, { replicas: { gateway: 2 }, replicaEnv: hb, natsTls: true })]);
  try {
    const gw = (s: RunningStack, i: number) => `http://127.0.0.1:${s.processes.filter((p) => p.name === 'gateway')[i]!.httpPort}`;
    const r = await measure({ plainOff: gw(plain, 1), plainOn: gw(plain, 0), tlsOff: gw(tls, 1), tlsOn: gw(tls, 0) });
    console.log('| setup | TTFT p50 ms | tokens/s p50 | TTFT ratio | tokens/s ratio |\n|---|---|---|---|---|');
    console.log(row('plain NATS, heartbeats off (baseline)', r.plainOff!, r.plainOff!));
    console.log(row('plain NATS, heartbeats 1 s', r.plainOn!, r.plainOff!));
    console.log(row('TLS NATS, heartbeats off', r.tlsOff!, r.plainOff!));
    console.log(row('TLS NATS, heartbeats 1 s (production default)', r.tlsOn!, r.plainOff!));
  } finally {
    await Promise.all([plain.stop(), tls.stop()]);
  }
}

/** Retries a short request until it is answered; ms from `since` to that answer. */
async function recoveredAfter(url: string, since: number, limitMs = 60_000): Promise<number> {
  while (performance.now() - since < limitMs) {
    if ((await ask(url).catch(() => undefined))?.status === 200) return performance.now() - since;
    await sleep(50);
  }
  return NaN;
}

async function faults(dir: string): Promise<void> {
  console.log('\n## Faults on one nats-server (time from the fault, ms)');
  console.log('| fault | in-flight stream | time to failure / resume | new request refused in | recovered (new request answered) |\n|---|---|---|---|---|');
  const stack = await boot(dir, { replicas: { decoder: 2 } });
  try {
    const long = (onChunk: (n: number) => void) => stream(stack.httpUrl, { max_tokens: 120, messages: [{ role: 'user', content: 'tell me a long story' }] }, onChunk);
    await ask(stack.httpUrl);
    // 1. decoder kill -9 with a second replica: the stream resumes on it.
    let killAt = 0;
    const decoders = stack.processes.filter((p) => p.name === 'decoder');
    const r1 = await long((n) => {
      if (n !== 5) return;
      killAt = performance.now();
      void Promise.all(decoders.map((d) => fetch(`http://127.0.0.1:${d.metricsPort}/metrics`).then((x) => x.text()))).then((texts) => {
        const serving = texts.findIndex((t) => /^vllm:num_requests_running\S* [1-9]/m.test(t));
        stack.kill('decoder', decoders[serving >= 0 ? serving : 0]!.index);
      });
    });
    const t0 = performance.now() - r1.totalMs; // request start on this clock
    const gap = (r1.chunkAt.find((t) => t0 + t > killAt + 1) ?? NaN) - (killAt - t0);
    console.log(`| decoder kill -9, second replica | ${r1.done && !r1.error ? 'completed' : `ended: ${r1.error}`} | resumed after ${gap.toFixed(0)} | — | next request answered in ${(await recoveredAfter(stack.httpUrl, performance.now())).toFixed(0)} |`);
    // 2. the last decoder: the stream fails; new requests fail until a decoder is back (not restarted here).
    const last = stack.processes.find((p) => p.name === 'decoder' && p.process.exitCode === null && p.process.signalCode === null)!;
    const r2 = await long((n) => {
      if (n !== 3) return;
      killAt = performance.now();
      last.process.kill('SIGKILL');
    });
    const failedIn = performance.now() - killAt;
    const refused = performance.now();
    const nr = await ask(stack.httpUrl);
    console.log(`| last decoder kill -9 | ${r2.done ? 'completed?' : `ended: ${r2.error}`} | ${failedIn.toFixed(0)} | ${(performance.now() - refused).toFixed(0)} (HTTP ${nr.status}) | needs a decoder process (startup) |`);
  } finally {
    await stack.stop();
  }
  // 3. nats-server kill + restart 2 s later (same port and store).
  const s2 = await boot(dir, {});
  let restarted: Awaited<ReturnType<typeof startNatsServer>> | undefined;
  try {
    await ask(s2.httpUrl);
    const nats = s2.nats!;
    let killAt = 0;
    const r = await stream(s2.httpUrl, { max_tokens: 120, messages: [{ role: 'user', content: 'tell me a long story' }] }, (n) => {
      if (n !== 3) return;
      killAt = performance.now();
      nats.process.kill('SIGKILL');
    });
    const failedIn = performance.now() - killAt;
    const t = performance.now();
    const down = await ask(s2.httpUrl);
    const refusedIn = performance.now() - t;
    await sleep(Math.max(0, 2_000 - (performance.now() - killAt)));
    restarted = await startNatsServer({ port: nats.port, storeDir: nats.storeDir, args: nats.args });
    const backAt = performance.now();
    const rec = await recoveredAfter(s2.httpUrl, backAt);
    console.log(`| nats-server kill -9, restart after 2 s | ${r.done ? 'completed?' : `ended: ${r.error}`} | ${failedIn.toFixed(0)} | ${refusedIn.toFixed(0)} (HTTP ${down.status}) | ${rec.toFixed(0)} after the server is back |`);
  } finally {
    await s2.stop();
    await restarted?.stop();
  }
}

async function clusterLoss(dir: string): Promise<void> {
  console.log('\n## Node loss on a 3-node JetStream cluster (replicas 3, decoder jobs through the work queue)');
  const stack = await boot(dir, { natsCluster: 3, env: { TESSERA_INTRA_OP_THREADS: '1', TESSERA_JETSTREAM_REPLICAS: '3', TESSERA_DECODER_WORK_QUEUE: 'true' } });
  try {
    const nc = await connect({ servers: stack.natsUrl.split(','), ...stack.natsLogin });
    const leader = (await (await nc.jetstreamManager()).streams.info('TESSERA_DECODER')).cluster?.leader;
    await nc.close();
    const victim = stack.natsCluster!.nodes.findIndex((_, i) => `tessera-${i}` === leader);
    const before: number[] = [];
    for (let i = 0; i < 6; i++) before.push((await ask(stack.httpUrl, 8)).totalMs);
    const killAt = performance.now();
    stack.natsCluster!.nodes[victim]!.process.kill('SIGKILL');
    const after: { at: number; ms: number; status: number }[] = [];
    while (performance.now() - killAt < 15_000) {
      const at = performance.now() - killAt;
      const r = await ask(stack.httpUrl, 8);
      after.push({ at, ms: r.totalMs, status: r.status });
    }
    const failed = after.filter((a) => a.status !== 200);
    const firstOk = after.find((a) => a.status === 200);
    const worst = Math.max(...after.map((a) => a.ms));
    console.log('| measure | value |\n|---|---|');
    console.log(`| request latency before the loss (p50) | ${median(before).toFixed(0)} ms |`);
    console.log(`| requests in the 15 s after the loss | ${after.length}, ${failed.length} failed (${[...new Set(failed.map((f) => f.status))].join(', ') || 'none'}) |`);
    console.log(`| time to failure (first failed request) | ${failed[0] ? `${failed[0].at.toFixed(0)} ms` : 'none failed'} |`);
    console.log(`| recovered (first request after the loss answered, at its end) | ${firstOk ? `${(firstOk.at + firstOk.ms).toFixed(0)} ms` : 'not within 15 s'} |`);
    console.log(`| worst request latency after the loss | ${worst.toFixed(0)} ms = ${(worst / median(before)).toFixed(1)}× the p50 before |`);
  } finally {
    await stack.stop();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-faults-'));
  try {
    if (run('overhead')) await overhead(dir);
    if (run('faults')) await faults(dir);
    if (run('cluster')) await clusterLoss(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
