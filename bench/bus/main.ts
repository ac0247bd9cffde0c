/**
 * Bus benchmark: the same echo service called in-process, over NATS request/reply, over the JetStream
 * work queue and over gRPC (server and client in this process, loopback), plus object-store claim
 * checks. Every number is printed with its ratio to the in-process baseline measured in this run.
 *
 *   npx tsx bench/bus/main.ts [--calls 2000] [--chunks 10000] [--mib 8]
 */
import { randomBytes, createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect } from 'nats';
import { startNatsServer } from '@tessera/testing';
import { GrpcServer, bindNats, getPayload, grpcClient, localClient, natsClient, putPayload, type ServiceClient } from '@tessera/runtime';
import { ECHO_WORK_QUEUE, EchoServiceService, echoService } from '../../libs/runtime/src/test/proof/echo-service.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '2000' }, chunks: { type: 'string', default: '10000' }, mib: { type: 'string', default: '8' } } });
const CALLS = Number(values.calls);
const CHUNKS = Number(values.chunks);
const MIB = Number(values.mib);

type Echo = ServiceClient<typeof EchoServiceService>;
const request = { text: 'ping', delayMs: 0, blob: Buffer.alloc(64, 1), failCode: '' };
const opts = { tenant: 'bench' };

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function unary(call: () => Promise<unknown>, n: number): Promise<{ p50: number; p99: number; perSec: number }> {
  for (let i = 0; i < Math.min(200, n); i++) await call(); // warm-up (JIT, connections, streams)
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await call();
    lat.push(performance.now() - s);
  }
  const total = performance.now() - t0;
  lat.sort((a, b) => a - b);
  return { p50: pct(lat, 50), p99: pct(lat, 99), perSec: (n / total) * 1000 };
}

async function streaming(client: Echo, method: 'count' | 'countWork', n: number): Promise<number> {
  let got = 0;
  for await (const _ of client[method]({ count: 100, delayMs: 0, failAfter: 0 }, opts)) got++; // warm-up
  got = 0;
  const t0 = performance.now();
  for await (const _ of client[method]({ count: n, delayMs: 0, failAfter: 0 }, { ...opts, timeoutMs: 300_000 })) got++;
  if (got !== n) throw new Error(`stream delivered ${got} of ${n}`);
  return (n / (performance.now() - t0)) * 1000;
}

const fmtMs = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);
const ratio = (x: number, base: number) => `${(x / base).toFixed(1)}×`;

async function main(): Promise<void> {
  const server = await startNatsServer();
  const nc = await connect({ servers: server.url });
  const impl = echoService();
  const binding = await bindNats(nc, EchoServiceService, impl, { serviceName: 'echo', workQueue: { ...ECHO_WORK_QUEUE, concurrency: 1 } });
  const grpcServer = new GrpcServer({ host: '127.0.0.1', port: 0 }).add(EchoServiceService, impl);
  const port = await grpcServer.start();
  // A second connection for the client side, as in production (a different process).
  const cnc = await connect({ servers: server.url });
  const clients: Record<string, Echo> = {
    'in-process': localClient(EchoServiceService, impl),
    'NATS request/reply': natsClient(cnc, EchoServiceService),
    'JetStream work queue': natsClient(cnc, EchoServiceService, { workQueue: ECHO_WORK_QUEUE }),
    gRPC: grpcClient(EchoServiceService, `127.0.0.1:${port}`),
  };

  console.log(`tessera bus bench — ${new Date().toISOString()}, node ${process.version}, load avg ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`\nunary echo (64 B payload), ${CALLS} sequential calls each`);
  const uRes: Record<string, { p50: number; p99: number; perSec: number }> = {};
  for (const [name, c] of Object.entries(clients)) {
    const n = name === 'JetStream work queue' ? Math.max(100, Math.floor(CALLS / 4)) : CALLS;
    uRes[name] = await unary(() => (name === 'JetStream work queue' ? c.work(request, opts) : c.echo(request, opts)), n);
  }
  const ub = uRes['in-process']!;
  console.log('| transport | p50 | p99 | calls/s | p50 vs in-process | p99 vs in-process |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [name, r] of Object.entries(uRes)) console.log(`| ${name} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} | ${r.perSec.toFixed(0)} | ${ratio(r.p50, ub.p50)} | ${ratio(r.p99, ub.p99)} |`);

  console.log(`\nserver streaming, ${CHUNKS} chunks of 2 B`);
  const sRes: Record<string, number> = {};
  for (const [name, c] of Object.entries(clients)) sRes[name] = await streaming(c, name === 'JetStream work queue' ? 'countWork' : 'count', CHUNKS);
  const sb = sRes['in-process']!;
  console.log('| transport | msgs/s | vs in-process |');
  console.log('| --- | --- | --- |');
  for (const [name, r] of Object.entries(sRes)) console.log(`| ${name} | ${r.toFixed(0)} | ${(r / sb).toFixed(3)}× |`);

  console.log(`\nobject store (claim checks), ${MIB} MiB payloads, 5 rounds each`);
  const bytesLen = MIB * 1024 * 1024;
  const mbs = (ms: number) => bytesLen / (1024 * 1024) / (ms / 1000);
  const base: number[] = [];
  const puts: number[] = [];
  const gets: number[] = [];
  for (let i = 0; i < 5; i++) {
    const payload = randomBytes(bytesLen);
    let t = performance.now();
    createHash('sha256').update(payload).digest('hex');
    Buffer.from(payload); // the copy an in-process hand-over would at most cost
    base.push(performance.now() - t);
    t = performance.now();
    const ref = await putPayload(cnc, payload);
    puts.push(performance.now() - t);
    t = performance.now();
    const back = await getPayload(nc, ref);
    gets.push(performance.now() - t);
    if (back.length !== payload.length) throw new Error('object store round trip lost bytes');
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  console.log('| operation | MiB/s (median) | vs in-process sha256+copy |');
  console.log('| --- | --- | --- |');
  console.log(`| in-process sha256 + copy | ${mbs(med(base)).toFixed(0)} | 1.0× |`);
  console.log(`| putPayload | ${mbs(med(puts)).toFixed(0)} | ${(mbs(med(puts)) / mbs(med(base))).toFixed(3)}× |`);
  console.log(`| getPayload | ${mbs(med(gets)).toFixed(0)} | ${(mbs(med(gets)) / mbs(med(base))).toFixed(3)}× |`);

  for (const c of Object.values(clients)) c.close();
  await binding.stop(1000);
  await grpcServer.shutdown(1000);
  await cnc.close();
  await nc.close();
  await server.stop();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
