/**
 * The runtime across real processes: a worker killed mid-job, graceful shutdown past the grace
 * time, a 5 MB payload through the object store, and one trace across a NATS hop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { collectSpans, spawnTs, type SpanCollector, type SpanRecord, type SpawnedProcess } from '@tessera/testing';
import { withNats } from '@tessera/testing/vitest';
import { natsClient } from './nats/client.js';
import { grpcClient } from './grpc/client.js';
import { ECHO_WORK_QUEUE, EchoServiceService, type EchoRequest } from './test/proof/echo-service.js';
import type { ServiceClient } from './client-types.js';

const entry = fileURLToPath(new URL('./test/proof/echo-main.ts', import.meta.url));
const req = (o: Partial<EchoRequest> = {}): EchoRequest => ({ text: 'hi', delayMs: 0, blob: Buffer.alloc(0), failCode: '', ...o });

describe('runtime across processes', () => {
  const bus = withNats();
  let client: ServiceClient<typeof EchoServiceService>;
  let spans: SpanCollector;
  const children: SpawnedProcess[] = [];
  const worker = async (env: Record<string, string> = {}) => {
    const p = await spawnTs(entry, {
      env: { NATS_URL: bus.server.url, TESSERA_GRPC_PORT: '0', TESSERA_METRICS_PORT: '0', TESSERA_ACK_WAIT: '1s', OTEL_SERVICE_NAME: 'echo-worker', ...env },
      readyPattern: /^tessera-ready /,
    });
    children.push(p);
    return p;
  };

  beforeAll(async () => {
    spans = collectSpans('test-gateway');
    client = natsClient(bus.nc, EchoServiceService, { workQueue: ECHO_WORK_QUEUE });
  });
  afterAll(async () => {
    client.close();
    await Promise.all(children.map((c) => c.kill9()));
  });

  it('redelivers a job to a second worker process when the first is killed mid-job', async () => {
    const a = await worker();
    const call = client.work(req({ text: 'survive', delayMs: 1_500 }), { tenant: 'acme', requestId: 'kill-1', timeoutMs: 30_000 });
    await a.waitForLine(/^started echo kill-1 attempt=1$/);
    const [, b] = await Promise.all([a.kill9(), worker({ ECHO_PRINT_SPANS: '1' })]);
    const res = await call;
    expect(res).toMatchObject({ text: 'survive', requestId: 'kill-1', attempt: 2, pid: b.pid });
    expect(b.lines).toContain('started echo kill-1 attempt=2');
  });

  it('moves a 5 MB payload through the object store both ways', async () => {
    const blob = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < blob.length; i += 4096) blob[i] = i % 251;
    const res = await client.work(req({ blob }), { tenant: 'acme', timeoutMs: 30_000 });
    expect(Buffer.from(res.blob).equals(blob)).toBe(true);
    const os = await bus.nc.jetstream().views.os('tessera-payloads');
    const list = await os.list();
    expect(list.some((o) => o.size > 5 * 1024 * 1024)).toBe(true);
  });

  it('keeps one trace across the NATS hop, with the worker span a child of the client span', async () => {
    const b = children.at(-1)!;
    const root = trace.getTracer('test').startSpan('POST /v1/chat/completions', { kind: SpanKind.SERVER });
    const res = await context.with(trace.setSpan(context.active(), root), () => client.work(req({ text: 'traced' }), { tenant: 'acme' }));
    root.end();
    const traceId = root.spanContext().traceId;
    expect(res.traceId).toBe(traceId);
    const send = spans.trace(traceId).find((s) => s.kind === SpanKind.PRODUCER)!;
    expect(send.name).toBe('send tessera.work.echo.v1.EchoService.Work');
    expect(send.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    const remote = async () => {
      for (let i = 0; i < 100; i++) {
        const found = b.lines.filter((l) => l.startsWith('span ')).map((l) => JSON.parse(l.slice(5)) as SpanRecord).filter((s) => s.traceId === traceId);
        if (found.length >= 2) return found;
        await new Promise((r) => setTimeout(r, 50));
      }
      return [];
    };
    const theirs = await remote();
    const processSpan = theirs.find((s) => s.kind === SpanKind.CONSUMER)!;
    expect(processSpan).toMatchObject({ name: 'process tessera.work.echo.v1.EchoService.Work', parentSpanId: send.spanContext().spanId, service: 'echo-worker' });
    expect(theirs.find((s) => s.name === 'echo compute')).toMatchObject({ parentSpanId: processSpan.spanId });
  });

  it('serves the same implementation over gRPC from the same process', async () => {
    const b = children.at(-1)!;
    const ready = JSON.parse((await b.waitForLine(/^tessera-ready /)).slice('tessera-ready '.length)) as { grpcPort: number };
    const g = grpcClient(EchoServiceService, `127.0.0.1:${ready.grpcPort}`);
    try {
      await expect(g.echo(req({ text: 'over grpc' }), { tenant: 'acme' })).resolves.toMatchObject({ text: 'over grpc', pid: b.pid, tenant: 'acme' });
      const got: number[] = [];
      for await (const m of g.count({ count: 5, delayMs: 0, failAfter: 0 }, { tenant: 'acme' })) got.push(m.n);
      expect(got).toEqual([0, 1, 2, 3, 4]);
    } finally {
      g.close();
    }
  });

  it('on SIGTERM past the grace time, naks the job back and exits; another worker finishes it', async () => {
    await children.at(-1)!.kill9();
    const a = await worker({ TESSERA_SHUTDOWN_GRACE: '300ms' });
    const call = client.work(req({ text: 'handover', delayMs: 2_000 }), { tenant: 'acme', requestId: 'term-1', timeoutMs: 30_000 });
    await a.waitForLine(/^started echo term-1 attempt=1$/);
    // The second worker starts while the first shuts down; it can only get the job by the nak.
    const [code, b] = await Promise.all([a.terminate(), worker()]);
    expect(code).toBe(0);
    const res = await call;
    expect(res).toMatchObject({ requestId: 'term-1', attempt: 2, pid: b.pid });
  });

  it('on SIGTERM within the grace time, finishes the in-flight job before exiting', async () => {
    const a = children.at(-1)!; // default grace 25 s
    const call = client.work(req({ text: 'finish me', delayMs: 800 }), { tenant: 'acme', requestId: 'term-2', timeoutMs: 30_000 });
    await a.waitForLine(/^started echo term-2 attempt=1$/);
    const exit = a.terminate();
    const res = await call;
    expect(res).toMatchObject({ requestId: 'term-2', attempt: 1, pid: a.pid });
    expect(await exit).toBe(0);
  });
});
