/**
 * gRPC server adapter: binds ServiceImpl objects to a grpc-js Server, with grpc.health.v1 and
 * server reflection. Metadata ↔ ctx: `tessera-tenant`, `tessera-request-id`, the gRPC deadline
 * (and `tessera-deadline`, whichever is earlier), `traceparent`/`tracestate`.
 */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { once } from 'node:events';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { extractTrace, recordCarrier, SpanName, Attr } from '@tessera/telemetry';
import { abortReason, cancelledError, raceAbort } from '../context.js';
import { methodsOf, type MethodInfo, type ServiceDefinition, type ServiceImpl } from '../definition.js';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { beginCall, pumpStream, wireError, type ActiveCall, type ServerPolicy } from '../server-call.js';
import { SpanKind } from '../tracing.js';
import { metadataToHeaders } from './headers.js';
import { Header } from '../wire-headers.js';
import { toGrpcStatus } from './status.js';
import { Metric, metrics } from '@tessera/telemetry';

export interface GrpcServerOptions extends ServerPolicy {
  /** Default `0.0.0.0`. */
  host?: string;
  /** 0 = a free port (see `start()`'s result). */
  port: number;
  /** Serve grpc.health.v1 (default true). */
  health?: boolean;
  /** Serve reflection from these .proto files (ts-proto output cannot feed @grpc/reflection). */
  reflection?: { protoFiles: string[]; includeDirs?: string[] };
  /** Max request/response message size. Default 64 MiB (image bytes and tensors go inline on gRPC). */
  maxMessageBytes?: number;
  /**
   * Service credential of the internal API: every call to a service added with `requireTenant`
   * (the default) must carry it in `tessera-service-token` metadata, or it is refused UNAUTHENTICATED
   * before its `tessera-tenant` header is read — the tenant header is trusted only from a caller that
   * holds it. Health and reflection stay open (kubelet probes). Unset = no check (tests, loopback).
   */
  serviceToken?: string;
}

const SERVICE_TOKEN_HEADER = Header.SERVICE_TOKEN;

const digest = (s: string) => createHash('sha256').update(s).digest();

type GrpcDeadline = Date | number;

const HEALTH_SERVICE = 'grpc.health.v1.Health';
const REFLECTION_SERVICE = 'grpc.reflection.v1.ServerReflection';
// The .proto files the health and reflection packages ship, resolved relative to their include dirs.
const require = createRequire(import.meta.url);
const HEALTH_PROTO = 'health/v1/health.proto';
const REFLECTION_PROTO = 'grpc/reflection/v1/reflection.proto';
const BUNDLED_PROTO_DIRS = [
  join(dirname(require.resolve('grpc-health-check/package.json')), 'proto'),
  join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto'),
];

function deadlineMs(d: GrpcDeadline): number | undefined {
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : undefined;
}

export class GrpcServer {
  readonly server: grpc.Server;
  private readonly health: HealthImplementation | undefined;
  private readonly names: string[] = [];
  private readonly active = new Set<ActiveCall>();
  private boundPort = 0;
  private readonly tokenDigest: Buffer | undefined;

  constructor(private readonly opts: GrpcServerOptions) {
    const max = opts.maxMessageBytes ?? 64 * 1024 * 1024;
    this.tokenDigest = opts.serviceToken ? digest(opts.serviceToken) : undefined;
    this.server = new grpc.Server({ 'grpc.max_receive_message_length': max, 'grpc.max_send_message_length': max });
    if (opts.health !== false) {
      this.health = new HealthImplementation({ '': 'NOT_SERVING' });
      this.health.addToServer(this.server);
    }
  }

  /** Binds one implementation. `policy` overrides the server's (e.g. `requireTenant: false` for a public API). */
  add<D extends ServiceDefinition>(definition: D, impl: ServiceImpl<D>, policy: ServerPolicy = {}): this {
    const infos = methodsOf(definition);
    const merged: ServerPolicy = { requireTenant: policy.requireTenant ?? this.opts.requireTenant, defaultDeadlineMs: policy.defaultDeadlineMs ?? this.opts.defaultDeadlineMs };
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const info of infos) {
      const fn = (impl as Record<string, (req: unknown, ctx: unknown) => unknown>)[info.key];
      if (typeof fn !== 'function') throw new Error(`${info.fullService}: implementation has no method ${info.key}`);
      handlers[info.key] = info.def.responseStream ? this.streaming(info, fn.bind(impl), merged) : this.unary(info, fn.bind(impl), merged);
    }
    this.server.addService(definition as unknown as grpc.ServiceDefinition, handlers);
    this.names.push(infos[0]!.fullService);
    return this;
  }

  /** Binds the port and marks every added service SERVING. Resolves to the bound port. */
  async start(): Promise<number> {
    if (this.opts.reflection) {
      // Imported here: protobufjs + proto-loader cost ~0.3 s at startup, and only reflection needs them.
      const [protoLoader, { ReflectionService }] = await Promise.all([import('@grpc/proto-loader'), import('@grpc/reflection')]);
      const r = this.opts.reflection;
      // grpc.health.v1 and the reflection service itself are listed too (as grpc-go and grpcurl
      // expect), so a generic client can discover and call the health check without our .proto files.
      const hosted = [...this.names, REFLECTION_SERVICE, ...(this.health ? [HEALTH_SERVICE] : [])];
      const files = [...r.protoFiles, ...(this.health ? [HEALTH_PROTO] : []), REFLECTION_PROTO];
      const pkg = protoLoader.loadSync(files, { includeDirs: [...(r.includeDirs ?? []), ...BUNDLED_PROTO_DIRS], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
      // Only the services this server hosts: gateway.proto imports feedback.proto, and reflection would
      // otherwise advertise FeedbackService on the gateway's port.
      new ReflectionService(pkg, { services: hosted }).addToServer(this.server);
    }
    const addr = `${this.opts.host ?? '0.0.0.0'}:${this.opts.port}`;
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.setServing(true);
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  get inFlight(): number {
    return this.active.size;
  }

  setServing(serving: boolean): void {
    const s = serving ? 'SERVING' : 'NOT_SERVING';
    this.health?.setStatus('', s);
    for (const n of this.names) this.health?.setStatus(n, s);
  }

  /**
   * Graceful stop: health NOT_SERVING, refuse new calls, wait up to `graceMs` for in-flight calls,
   * then abort the rest (their ctx.signal fires with UNAVAILABLE) and force-close.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.setServing(false);
    const graceful = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    if ((await Promise.race([graceful, timer])) === 'timeout') {
      for (const c of this.active) c.ctx.controller.abort(new TesseraError(ErrorCode.UNAVAILABLE, 'server shutting down: call aborted after the shutdown grace period', { retryAfterMs: 0 }));
      this.server.forceShutdown();
    }
  }

  private begin(info: MethodInfo, call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>, policy: ServerPolicy): ActiveCall {
    const headers = metadataToHeaders(call.metadata);
    const presented = headers[SERVICE_TOKEN_HEADER];
    delete headers[SERVICE_TOKEN_HEADER]; // never into ctx.headers, logs or spans
    if (this.tokenDigest && policy.requireTenant !== false) {
      // Digests compared in constant time: equal lengths, no early exit on the first differing byte.
      if (presented === undefined || !timingSafeEqual(digest(presented), this.tokenDigest)) {
        metrics().counter(Metric.badInput).inc({ method: `${info.service}/${info.method}`, transport: 'grpc', code: ErrorCode.UNAUTHENTICATED });
        throw new TesseraError(
          ErrorCode.UNAUTHENTICATED,
          `${info.path}: ${presented === undefined ? 'missing' : 'wrong'} service credential (${SERVICE_TOKEN_HEADER} metadata); internal ports serve only Tessera services`,
          { field: SERVICE_TOKEN_HEADER },
        );
      }
    }
    const controller = new AbortController();
    call.on('cancelled', () => controller.abort(cancelledError()));
    const active = beginCall(
      {
        info,
        transport: 'grpc',
        headers,
        transportDeadline: deadlineMs(call.getDeadline()),
        trace: extractTrace(recordCarrier(headers)),
        spanName: SpanName.rpc(info.fullService, info.method),
        spanKind: SpanKind.SERVER,
        spanAttributes: { [Attr.rpcSystem]: 'grpc' },
        controller,
      },
      policy,
    );
    this.active.add(active);
    return active;
  }

  private unary(info: MethodInfo, fn: (req: unknown, ctx: unknown) => unknown, policy: ServerPolicy): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      let active: ActiveCall | undefined;
      void (async () => {
        active = this.begin(info, call, policy);
        const ctx = active.ctx;
        // Whichever comes first: the handler's result or the ctx aborting (deadline / cancel).
        return raceAbort(fn(call.request, ctx) as Promise<unknown>, ctx.signal);
      })().then(
        (res) => {
          active?.finish();
          this.forget(active);
          callback(null, res);
        },
        (err: unknown) => {
          const e = wireError(err, active?.ctx);
          active?.finish(e);
          this.forget(active);
          callback(toGrpcStatus(e));
        },
      );
    };
  }

  private streaming(info: MethodInfo, fn: (req: unknown, ctx: unknown) => unknown, policy: ServerPolicy): grpc.handleServerStreamingCall<unknown, unknown> {
    const labels = { method: `${info.service}/${info.method}`, transport: 'grpc' as const };
    return (call) => {
      let active: ActiveCall | undefined;
      void (async () => {
        active = this.begin(info, call, policy);
        const ctx = active.ctx;
        await pumpStream(fn(call.request, ctx) as AsyncIterable<unknown>, ctx, labels, (chunk) => (call.write(chunk) ? undefined : waitDrain(call, ctx.signal)));
      })().then(
        () => {
          active?.finish();
          this.forget(active);
          call.end();
        },
        (err: unknown) => {
          const e = wireError(err, active?.ctx);
          active?.finish(e);
          this.forget(active);
          if (!call.cancelled) call.emit('error', toGrpcStatus(e));
        },
      );
    };
  }

  private forget(active: ActiveCall | undefined): void {
    if (active) this.active.delete(active);
  }
}

async function waitDrain(call: grpc.ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  await once(call, 'drain', { signal }).catch((err: unknown) => {
    if (signal.aborted) throw abortReason(signal);
    throw err;
  });
}
