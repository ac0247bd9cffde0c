/**
 * What every transport does with an inbound call before and after the handler, in one place:
 * headers → ctx (tenant, request id, deadline), the deadline-drop rule, span and metrics.
 */
import { randomUUID } from 'node:crypto';
import { type Context } from '@opentelemetry/api';
import { Attr, Metric, metrics } from '@tessera/telemetry';
import { createContext, deadlineError, raceAbort, type ServerContext, type Transport } from './context.js';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { Header } from './wire-headers.js';
import type { MethodInfo } from './definition.js';
import { SpanKind, endSpan, startSpan } from './tracing.js';
import type { Span } from '@opentelemetry/api';

export interface ServerPolicy {
  /** Reject calls without `tessera-tenant` (UNAUTHENTICATED). Default true; the gateway's public API sets false. */
  requireTenant?: boolean;
  /** Deadline for calls that arrive without one. Default 60 s. */
  defaultDeadlineMs?: number;
}

const TENANT_RE = /^[A-Za-z0-9._-]{1,64}$/;

export interface InboundCall {
  info: MethodInfo;
  transport: Transport;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** Deadline the transport itself carries (gRPC), epoch ms. */
  transportDeadline?: number;
  trace: Context;
  spanName: string;
  spanKind: SpanKind;
  spanAttributes?: Record<string, string | number | boolean>;
  attempt?: number;
  working?: () => void;
  controller?: AbortController;
}

export interface ActiveCall {
  ctx: ServerContext;
  span: Span;
  /** Ends span, metrics and timers; pass the error if the call failed. */
  finish(err?: unknown): void;
}

const labelsOf = (info: MethodInfo, transport: Transport) => ({ method: `${info.service}/${info.method}`, transport });

/** Parses the call's headers into a ctx. Throws a TesseraError for bad headers or a passed deadline. */
export function beginCall(call: InboundCall, policy: ServerPolicy = {}): ActiveCall {
  const h = call.headers;
  const labels = labelsOf(call.info, call.transport);
  const started = performance.now();
  const { span, ctx: traceCtx } = startSpan({
    name: call.spanName,
    kind: call.spanKind,
    parent: call.trace,
    attributes: {
      [Attr.rpcService]: call.info.fullService,
      [Attr.rpcMethod]: call.info.method,
      [Attr.transport]: call.transport,
      ...call.spanAttributes,
    },
  });
  const reject = (err: TesseraError, counter: 'badInput' | 'deadlineDropped'): never => {
    if (counter === 'deadlineDropped') metrics().counter(Metric.deadlineDropped).inc(labels);
    else metrics().counter(Metric.badInput).inc({ ...labels, code: err.code });
    endSpan(span, err);
    throw err;
  };

  const tenant = h[Header.TENANT] ?? '';
  if (tenant === '' && policy.requireTenant !== false) {
    reject(new TesseraError(ErrorCode.UNAUTHENTICATED, `missing tessera-tenant header on ${call.info.path}`, { field: 'tessera-tenant' }), 'badInput');
  }
  if (tenant !== '' && !TENANT_RE.test(tenant)) {
    reject(new TesseraError(ErrorCode.INVALID_ARGUMENT, 'tessera-tenant must match [A-Za-z0-9._-]{1,64}', { field: 'tessera-tenant', limit: '1..64 chars of [A-Za-z0-9._-]' }), 'badInput');
  }
  let deadline = call.transportDeadline ?? Number.POSITIVE_INFINITY;
  const rawDeadline = h[Header.DEADLINE];
  if (rawDeadline !== undefined) {
    const d = Number(rawDeadline);
    if (!Number.isFinite(d) || d <= 0) {
      reject(new TesseraError(ErrorCode.INVALID_ARGUMENT, 'tessera-deadline must be epoch milliseconds', { field: 'tessera-deadline' }), 'badInput');
    }
    deadline = Math.min(deadline, d);
  }
  if (!Number.isFinite(deadline)) deadline = Date.now() + (policy.defaultDeadlineMs ?? 60_000);
  // Drop before any compute: the caller has given up already.
  if (deadline <= Date.now()) reject(deadlineError(call.info.path, deadline), 'deadlineDropped');

  const requestId = h[Header.REQUEST_ID] || randomUUID();
  span.setAttribute(Attr.requestId, requestId);
  if (tenant) span.setAttribute(Attr.tenant, tenant);
  const ctx = createContext({
    tenant,
    requestId,
    deadline,
    headers: h,
    transport: call.transport,
    method: call.info.path,
    trace: traceCtx,
    attempt: call.attempt,
    working: call.working,
    controller: call.controller,
  });
  const inFlight = metrics().gauge(Metric.rpcServerInFlight);
  inFlight.inc(labels);
  let done = false;
  return {
    ctx,
    span,
    finish(err) {
      if (done) return;
      done = true;
      ctx.dispose();
      inFlight.dec(labels);
      const code = err === undefined ? 'OK' : TesseraError.from(err).code;
      metrics().histogram(Metric.rpcServerDuration).observe({ ...labels, code }, (performance.now() - started) / 1000);
      endSpan(span, err);
    },
  };
}

/** Header records from any transport, names lower-cased. */
export function lowerCaseHeaders(entries: Iterable<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of entries) out[k.toLowerCase()] = v;
  return out;
}

/** Turns a thrown value into the error to send; handler bugs (non-TesseraError) become INTERNAL. */
export function wireError(err: unknown, ctx?: ServerContext): TesseraError {
  // A handler that threw because its signal aborted reports why it aborted.
  if (ctx?.signal.aborted && !(err instanceof TesseraError)) {
    const r: unknown = ctx.signal.reason;
    if (r instanceof TesseraError) return r;
  }
  return TesseraError.from(err);
}

/**
 * The server-streaming loop of both transports: pulls the handler's chunks until it ends or ctx
 * aborts — one abort promise per call, so a handler that ignores ctx.signal still stops streaming —
 * hands each to the transport's `write` (a promise = back-pressure: gRPC drain, NATS credit), counts
 * what was written, and stops the generator (its finally blocks run) when leaving early.
 */
export async function pumpStream(stream: AsyncIterable<unknown>, ctx: ServerContext, labels: { method: string; transport: Transport }, write: (chunk: unknown) => Promise<void> | void): Promise<void> {
  const it = stream[Symbol.asyncIterator]();
  const aborted = raceAbort(new Promise<never>(() => {}), ctx.signal);
  aborted.catch(() => {});
  let n = 0;
  try {
    for (;;) {
      ctx.throwIfAborted();
      const r = await Promise.race([it.next(), aborted]);
      if (r.done) break;
      ctx.throwIfAborted();
      const pending = write(r.value);
      if (pending) await pending;
      n++;
    }
  } finally {
    metrics().counter(Metric.streamChunks).inc(labels, n);
    void it.return?.()?.catch(() => {});
  }
}
