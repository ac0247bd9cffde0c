/**
 * Typed gRPC client from a service definition: `tenant`, `requestId`, deadline, trace context
 * go into metadata; errors come back as TesseraError (see status.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { Attr, Metric, SpanName, metrics } from '@tessera/telemetry';
import { abortReason, resolveCallOptions, type CallOptions } from '../context.js';
import { methodsOf, type MethodInfo, type ServiceDefinition } from '../definition.js';
import type { ServiceClient } from '../client-types.js';
import { SpanKind, callerContext, endSpan, startSpan } from '../tracing.js';
import { callMetadata } from './headers.js';
import { Header } from '../wire-headers.js';
import { fromGrpcError } from './status.js';
import { TesseraError } from '@tessera/errors';

export interface GrpcClientOptions {
  credentials?: grpc.ChannelCredentials;
  /** Default timeout when a call gives no deadline. Default 60 s. */
  defaultTimeoutMs?: number;
  maxMessageBytes?: number;
  /** Service credential sent as `tessera-service-token` (internal ports with TESSERA_SERVICE_TOKEN refuse calls without it). */
  serviceToken?: string;
}

export function grpcClient<D extends ServiceDefinition>(definition: D, address: string, opts: GrpcClientOptions = {}): ServiceClient<D> {
  const max = opts.maxMessageBytes ?? 64 * 1024 * 1024;
  const channel = new grpc.Client(address, opts.credentials ?? grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': max,
    'grpc.max_send_message_length': max,
  });
  const out: Record<string, unknown> = { close: () => channel.close() };
  for (const info of methodsOf(definition)) {
    out[info.key] = info.def.responseStream
      ? (req: unknown, o?: CallOptions) => streamCall(channel, info, req, o, opts)
      : (req: unknown, o?: CallOptions) => unaryCall(channel, info, req, o, opts);
  }
  return out as ServiceClient<D>;
}

function begin(info: MethodInfo, o: CallOptions | undefined, opts: GrpcClientOptions) {
  const call = resolveCallOptions(o, opts.defaultTimeoutMs);
  const { span, ctx } = startSpan({
    name: SpanName.rpc(info.fullService, info.method),
    kind: SpanKind.CLIENT,
    parent: callerContext(call.trace),
    attributes: { [Attr.rpcSystem]: 'grpc', [Attr.rpcService]: info.fullService, [Attr.rpcMethod]: info.method, [Attr.requestId]: call.requestId },
  });
  const started = performance.now();
  const labels = { method: `${info.service}/${info.method}`, transport: 'grpc' };
  const finish = (err?: unknown) => {
    metrics().histogram(Metric.rpcClientDuration).observe({ ...labels, code: err === undefined ? 'OK' : TesseraError.from(err).code }, (performance.now() - started) / 1000);
    endSpan(span, err);
  };
  const metadata = callMetadata(call, ctx);
  if (opts.serviceToken) metadata.set(Header.SERVICE_TOKEN, opts.serviceToken);
  return { call, metadata, finish };
}

function unaryCall(channel: grpc.Client, info: MethodInfo, req: unknown, o: CallOptions | undefined, opts: GrpcClientOptions): Promise<unknown> {
  const { call, metadata, finish } = begin(info, o, opts);
  return new Promise((resolve, reject) => {
    if (call.signal?.aborted) {
      const e = abortReason(call.signal);
      finish(e);
      return reject(e);
    }
    const c = channel.makeUnaryRequest(
      info.path,
      (v: unknown) => info.def.requestSerialize(v),
      (b: Buffer) => info.def.responseDeserialize(b),
      req,
      metadata,
      { deadline: call.deadline },
      (err, res) => {
        call.signal?.removeEventListener('abort', onAbort);
        if (err) {
          const e = fromGrpcError(err);
          finish(e);
          reject(e);
        } else {
          finish();
          resolve(res);
        }
      },
    );
    const onAbort = () => c.cancel();
    call.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function* streamCall(channel: grpc.Client, info: MethodInfo, req: unknown, o: CallOptions | undefined, opts: GrpcClientOptions): AsyncGenerator<unknown> {
  const { call, metadata, finish } = begin(info, o, opts);
  if (call.signal?.aborted) {
    const e = abortReason(call.signal);
    finish(e);
    throw e;
  }
  const stream = channel.makeServerStreamRequest(
    info.path,
    (v: unknown) => info.def.requestSerialize(v),
    (b: Buffer) => info.def.responseDeserialize(b),
    req,
    metadata,
    { deadline: call.deadline },
  );
  const onAbort = () => stream.cancel();
  call.signal?.addEventListener('abort', onAbort, { once: true });
  let failed: unknown;
  try {
    for await (const item of stream) yield item;
  } catch (err) {
    failed = call.signal?.aborted ? abortReason(call.signal) : fromGrpcError(err);
    throw failed;
  } finally {
    call.signal?.removeEventListener('abort', onAbort);
    // Consumer stopped early (break/return): cancel the server side.
    stream.cancel();
    finish(failed);
  }
}
