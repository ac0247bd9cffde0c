import { ROOT_CONTEXT, trace, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/**
 * W3C trace-context on any header carrier. The runtime uses this propagator directly (not the
 * global one), so `traceparent` flows through a service even when that process runs no SDK.
 */
const w3c = new W3CTraceContextPropagator();

/** A carrier of string headers: NATS `MsgHdrs`, gRPC `Metadata` and plain records all fit with an adapter. */
export interface HeaderCarrier {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
}

const getter: TextMapGetter<HeaderCarrier> = {
  get: (c, k) => c.get(k),
  keys: () => ['traceparent', 'tracestate'],
};
const setter: TextMapSetter<HeaderCarrier> = { set: (c, k, v) => c.set(k, v) };

export function injectTrace(ctx: Context, carrier: HeaderCarrier): void {
  w3c.inject(ctx, carrier, setter);
}

export function extractTrace(carrier: HeaderCarrier, base: Context = ROOT_CONTEXT): Context {
  return w3c.extract(base, carrier, getter);
}

/** A plain record as a carrier. */
export function recordCarrier(r: Record<string, string>): HeaderCarrier {
  return { get: (k) => r[k], set: (k, v) => void (r[k] = v) };
}

/** `traceparent` of a context, if it holds a valid span context. */
export function traceparentOf(ctx: Context): string | undefined {
  const r: Record<string, string> = {};
  injectTrace(ctx, recordCarrier(r));
  return r.traceparent;
}

export function traceIdOf(ctx: Context): string | undefined {
  return trace.getSpanContext(ctx)?.traceId;
}
