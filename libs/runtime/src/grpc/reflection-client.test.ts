/**
 * The gRPC server as a tool nobody here wrote sees it: a generic reflection client (the algorithm of
 * grpcurl: list services, fetch file descriptors by symbol, build the types from the descriptors and
 * call) and the standard google.rpc.Status decoded from `grpc-status-details-bin` with types declared
 * independently of our encoder (protobufjs from the googleapis field numbers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GrpcServer } from './server.js';
import { EchoServiceService, echoService } from '../test/proof/echo-service.js';
import { decodeStatus, encodeStatus, statusOf } from './rpc-status.js';
import { TesseraError } from '@tessera/errors';

const proto = fileURLToPath(new URL('../../test-fixtures/echo.proto', import.meta.url));
const require = createRequire(import.meta.url);
const reflectionDir = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');

/** google/rpc/status.proto and error_details.proto, declared from their published field numbers. */
const rpc = protobuf.Root.fromJSON(<protobuf.INamespace>{
  nested: {
    google: {
      nested: {
        protobuf: { nested: { Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } }, Duration: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } } } },
        rpc: {
          nested: {
            Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 }, details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 } } },
            ErrorInfo: { fields: { reason: { type: 'string', id: 1 }, domain: { type: 'string', id: 2 }, metadata: { keyType: 'string', type: 'string', id: 3 } as protobuf.IField } },
            BadRequest: { fields: { field_violations: { rule: 'repeated', type: 'FieldViolation', id: 1 } }, nested: { FieldViolation: { fields: { field: { type: 'string', id: 1 }, description: { type: 'string', id: 2 } } } } },
            RetryInfo: { fields: { retry_delay: { type: 'google.protobuf.Duration', id: 1 } } },
          },
        },
      },
    },
  },
});

function decodeRich(bytes: Uint8Array) {
  const status = rpc.lookupType('google.rpc.Status').toObject(rpc.lookupType('google.rpc.Status').decode(bytes), { longs: Number }) as { code: number; message: string; details: Array<{ type_url: string; value: Uint8Array }> };
  const details: Record<string, any> = {};
  for (const d of status.details) {
    const name = d.type_url.replace('type.googleapis.com/', '');
    const t = rpc.lookupType(name);
    details[name] = t.toObject(t.decode(d.value), { longs: Number });
  }
  return { code: status.code, message: status.message, details };
}

describe('gRPC through a generic reflection client', () => {
  let server: GrpcServer;
  let address: string;

  beforeAll(async () => {
    server = new GrpcServer({ host: '127.0.0.1', port: 0, reflection: { protoFiles: [proto] } });
    server.add(EchoServiceService, echoService());
    address = `127.0.0.1:${await server.start()}`;
  });
  afterAll(() => server.shutdown(1000));

  /** One reflection request/response over the v1 stream, with the reflection.proto types. */
  async function reflect(request: Record<string, unknown>): Promise<any> {
    const def = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', { includeDirs: [reflectionDir], keepCase: true, longs: Number, defaults: true, oneofs: true });
    const Client = grpc.loadPackageDefinition(def).grpc as any;
    const client = new Client.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
    const call = client.ServerReflectionInfo();
    const reply = new Promise<any>((resolve, reject) => {
      call.once('data', resolve);
      call.once('error', reject);
    });
    call.write(request);
    const out = await reply;
    call.end();
    client.close();
    return out;
  }

  it('lists grpc.health.v1.Health and calls it from descriptors fetched over reflection', async () => {
    const list = await reflect({ list_services: '' });
    const names = list.list_services_response.service.map((s: { name: string }) => s.name);
    expect(names).toEqual(expect.arrayContaining(['tessera.echo.v1.EchoService', 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection']));

    const files = await reflect({ file_containing_symbol: 'grpc.health.v1.Health' });
    const set = descriptor.FileDescriptorSet.fromObject({ file: files.file_descriptor_response.file_descriptor_proto.map((b: Buffer) => descriptor.FileDescriptorProto.decode(b)) });
    const root = (protobuf.Root as any).fromDescriptor(set) as protobuf.Root;
    const service = root.lookupService('grpc.health.v1.Health');
    const check = service.methods.Check!.resolve() as protobuf.Method;
    const Req = check.resolvedRequestType!;
    const Res = check.resolvedResponseType!;
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    const call = (svc: string) =>
      new Promise<any>((resolve, reject) =>
        client.makeUnaryRequest('/grpc.health.v1.Health/Check', (v: object) => Buffer.from(Req.encode(Req.fromObject(v)).finish()), (b: Buffer) => Res.toObject(Res.decode(b), { enums: String }), { service: svc }, (e, r) => (e ? reject(e) : resolve(r))),
      );
    expect((await call('')).status).toBe('SERVING');
    expect((await call('tessera.echo.v1.EchoService')).status).toBe('SERVING');
    client.close();
  });

  it('errors carry google.rpc.Status with ErrorInfo and BadRequest in grpc-status-details-bin', async () => {
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set('tessera-tenant', 't1');
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      client.makeUnaryRequest(EchoServiceService.echo.path, EchoServiceService.echo.requestSerialize, EchoServiceService.echo.responseDeserialize, { text: '', delayMs: 0, blob: Buffer.alloc(0), failCode: 'INVALID_ARGUMENT' }, md, (e) => resolve(e!)),
    );
    client.close();
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const bin = err.metadata.get('grpc-status-details-bin')[0] as Buffer;
    expect(Buffer.isBuffer(bin)).toBe(true);
    const rich = decodeRich(bin);
    expect(rich.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(rich.message).toBe('asked to fail with INVALID_ARGUMENT');
    expect(rich.details['google.rpc.ErrorInfo']).toEqual({ reason: 'INVALID_ARGUMENT', domain: 'tessera', metadata: { field: 'fail_code', limit: 'none' } });
    expect(rich.details['google.rpc.BadRequest'].field_violations).toEqual([{ field: 'fail_code', description: 'asked to fail with INVALID_ARGUMENT (limit: none)' }]);
    // No custom trailers any more: the standard one carries everything.
    expect(err.metadata.get('tessera-error-details-bin')).toEqual([]);
  });

  it('RetryInfo carries retryAfterMs; our decoder and an independent one agree', () => {
    const e = new TesseraError('RESOURCE_EXHAUSTED', 'queue full', { field: 'queue', limit: 'waiting <= 8', retryAfterMs: 2500, tenantWaiting: 3 });
    const bytes = encodeStatus(statusOf(e, 8));
    const rich = decodeRich(bytes);
    expect(rich.details['google.rpc.RetryInfo']).toEqual({ retry_delay: { seconds: 2, nanos: 500_000_000 } });
    expect(rich.details['google.rpc.ErrorInfo'].metadata).toEqual({ field: 'queue', limit: 'waiting <= 8', tenantWaiting: '3' });
    expect(decodeStatus(bytes)).toMatchObject({ code: 8, retryDelayMs: 2500, errorInfo: { reason: 'RESOURCE_EXHAUSTED' } });
  });
});
