import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { fileURLToPath } from 'node:url';
import { GrpcServer } from './server.js';
import { grpcClient } from './client.js';
import { TesseraError } from '@tessera/errors';
import { EchoServiceService, echoService } from '../test/proof/echo-service.js';
import type { ServiceClient } from '../client-types.js';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { collectSpans } from '@tessera/testing';

const proto = fileURLToPath(new URL('../../test-fixtures/echo.proto', import.meta.url));

describe('gRPC adapter', () => {
  let server: GrpcServer;
  let client: ServiceClient<typeof EchoServiceService>;
  let address: string;
  const streamEnds: number[] = [];

  beforeAll(async () => {
    server = new GrpcServer({ host: '127.0.0.1', port: 0, reflection: { protoFiles: [proto] } });
    server.add(EchoServiceService, echoService({ onStreamEnd: (n) => streamEnds.push(n) }));
    const port = await server.start();
    address = `127.0.0.1:${port}`;
    client = grpcClient(EchoServiceService, address);
  });
  afterAll(async () => {
    client.close();
    await server.shutdown(1000);
  });

  it('serves unary calls with tenant and request id from metadata', async () => {
    const res = await client.echo({ text: 'hi', delayMs: 0, blob: Buffer.alloc(0), failCode: '' }, { tenant: 't1', requestId: 'r-1' });
    expect(res).toMatchObject({ text: 'hi', tenant: 't1', requestId: 'r-1', pid: process.pid });
  });

  it('streams in order', async () => {
    const got: number[] = [];
    for await (const m of client.count({ count: 20, delayMs: 0, failAfter: 0 }, { tenant: 't1' })) got.push(m.n);
    expect(got).toEqual([...Array(20).keys()]);
  });

  it('maps TesseraError to gRPC status and back, details included', async () => {
    const err = await client.echo({ text: '', delayMs: 0, blob: Buffer.alloc(0), failCode: 'NOT_FOUND' }, { tenant: 't1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect(err).toMatchObject({ code: 'NOT_FOUND', message: 'asked to fail with NOT_FOUND', details: { field: 'fail_code', limit: 'none' } });
    // The raw status really is gRPC NOT_FOUND (5).
    const raw = new grpc.Client(address, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set('tessera-tenant', 't1');
    const status = await new Promise<grpc.ServiceError>((resolve) =>
      raw.makeUnaryRequest(EchoServiceService.echo.path, EchoServiceService.echo.requestSerialize, EchoServiceService.echo.responseDeserialize, { text: '', delayMs: 0, blob: Buffer.alloc(0), failCode: 'NOT_FOUND' }, md, (e) => resolve(e!)),
    );
    expect(status.code).toBe(grpc.status.NOT_FOUND);
    raw.close();
  });

  it('turns a handler crash into INTERNAL without the crash text', async () => {
    const err = await client.echo({ text: '', delayMs: 0, blob: Buffer.alloc(0), failCode: 'boom' }, { tenant: 't1' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INTERNAL', message: 'internal error' });
  });

  it('rejects a call without tenant', async () => {
    await expect(client.echo({ text: '', delayMs: 0, blob: Buffer.alloc(0), failCode: '' })).rejects.toMatchObject({ code: 'UNAUTHENTICATED', details: { field: 'tessera-tenant' } });
  });

  it('reports DEADLINE_EXCEEDED when the handler runs past the deadline', async () => {
    await expect(client.echo({ text: '', delayMs: 2000, blob: Buffer.alloc(0), failCode: '' }, { tenant: 't1', timeoutMs: 100 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
  });

  it('cancels the server-side stream when the client aborts', async () => {
    const ac = new AbortController();
    const got: number[] = [];
    const before = streamEnds.length;
    await expect(
      (async () => {
        for await (const m of client.count({ count: 1000, delayMs: 10, failAfter: 0 }, { tenant: 't1', signal: ac.signal })) {
          got.push(m.n);
          if (m.n === 3) ac.abort();
        }
      })(),
    ).rejects.toMatchObject({ code: 'CANCELLED' });
    for (let i = 0; i < 100 && streamEnds.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(streamEnds.length).toBe(before + 1);
    expect(streamEnds.at(-1)!).toBeLessThan(1000);
  });

  it('propagates the trace: SERVER span is the child of the CLIENT span, handler spans below it', async () => {
    const spans = collectSpans('grpc-test');
    const root = trace.getTracer('test').startSpan('root');
    const res = await context.with(trace.setSpan(context.active(), root), () => client.echo({ text: 't', delayMs: 0, blob: Buffer.alloc(0), failCode: '' }, { tenant: 't1' }));
    root.end();
    const mine = spans.trace(root.spanContext().traceId);
    const clientSpan = mine.find((s) => s.kind === SpanKind.CLIENT)!;
    const serverSpan = mine.find((s) => s.kind === SpanKind.SERVER)!;
    expect(clientSpan.name).toBe('tessera.echo.v1.EchoService/Echo');
    expect(clientSpan.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    expect(mine.find((s) => s.name === 'echo compute')?.parentSpanContext?.spanId).toBe(serverSpan.spanContext().spanId);
    expect(res.traceId).toBe(root.spanContext().traceId);
  });

  it('serves grpc.health.v1 and reflection', async () => {
    const health = new grpc.Client(address, grpc.credentials.createInsecure());
    const check = (service: string) =>
      new Promise<number>((resolve, reject) =>
        health.makeUnaryRequest(
          '/grpc.health.v1.Health/Check',
          (v: { service: string }) => Buffer.concat([Buffer.from([0x0a, Buffer.byteLength(v.service)]), Buffer.from(v.service)]),
          (b: Buffer) => (b.length >= 2 ? b[1]! : 0),
          { service },
          new grpc.Metadata(),
          (e, s) => (e ? reject(e) : resolve(s!)),
        ),
      );
    expect(await check('tessera.echo.v1.EchoService')).toBe(1); // SERVING
    server.setServing(false);
    expect(await check('tessera.echo.v1.EchoService')).toBe(2); // NOT_SERVING
    server.setServing(true);
    health.close();
    expect(HealthImplementation).toBeDefined();

    // Reflection: list services over the v1 reflection stream.
    const refl = new grpc.Client(address, grpc.credentials.createInsecure());
    const call = refl.makeBidiStreamRequest(
      '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
      (v: Buffer) => v,
      (b: Buffer) => b,
    );
    // ServerReflectionRequest { list_services (field 7) = "" }
    call.write(Buffer.from([0x3a, 0x00]));
    const reply = await new Promise<Buffer>((resolve, reject) => {
      call.once('data', resolve);
      call.once('error', reject);
    });
    call.end();
    refl.close();
    expect(reply.toString('latin1')).toContain('tessera.echo.v1.EchoService');
  });
});

describe('gRPC internal port with a service credential', () => {
  const TOKEN = 'svc-token-0123456789abcdef';
  let server: GrpcServer;
  let address: string;
  const req = { text: 'hi', delayMs: 0, blob: Buffer.alloc(0), failCode: '' };
  beforeAll(async () => {
    server = new GrpcServer({ host: '127.0.0.1', port: 0, serviceToken: TOKEN });
    server.add(EchoServiceService, echoService());
    address = `127.0.0.1:${await server.start()}`;
  });
  afterAll(() => server.shutdown(1000));

  it('refuses a caller without the credential (or with a wrong one) UNAUTHENTICATED, before trusting its tenant header', async () => {
    for (const serviceToken of [undefined, 'svc-token-wrong-0000000000']) {
      const client = grpcClient(EchoServiceService, address, { ...(serviceToken && { serviceToken }) });
      const unary = await client.echo(req, { tenant: 'someone-else' }).catch((e: unknown) => e);
      expect(unary).toMatchObject({ code: 'UNAUTHENTICATED', details: { field: 'tessera-service-token' } });
      const stream = await (async () => {
        for await (const _ of client.count({ count: 2, delayMs: 0, failAfter: 0 }, { tenant: 'someone-else' })) void _;
      })().catch((e: unknown) => e);
      expect(stream).toMatchObject({ code: 'UNAUTHENTICATED' });
      client.close();
    }
  });

  it('serves a caller with the credential', async () => {
    const client = grpcClient(EchoServiceService, address, { serviceToken: TOKEN });
    const res = await client.echo(req, { tenant: 't1' });
    expect(res).toMatchObject({ text: 'hi', tenant: 't1' });
    client.close();
  });

  it('leaves health open (kubelet probes carry no credential)', async () => {
    const health = new grpc.Client(address, grpc.credentials.createInsecure());
    const status = await new Promise<number>((resolve, reject) =>
      health.makeUnaryRequest('/grpc.health.v1.Health/Check', () => Buffer.from([]), (b: Buffer) => b, {}, (e, r) => (e ? reject(e) : resolve((r as Buffer)[1] ?? 0))),
    );
    expect(status).toBe(1); // SERVING
    health.close();
  });
});
