import { SpanKind, SpanStatusCode, context, trace, type Context, type Span } from '@opentelemetry/api';
import { Attr } from '@tessera/telemetry';
import { TesseraError } from '@tessera/errors';

const tracer = () => trace.getTracer('@tessera/runtime');

export interface SpanInit {
  name: string;
  kind: SpanKind;
  parent: Context;
  attributes: Record<string, string | number | boolean>;
}

/** Starts a span and returns the context that carries it (for propagation and child calls). */
export function startSpan(init: SpanInit): { span: Span; ctx: Context } {
  const span = tracer().startSpan(init.name, { kind: init.kind, attributes: init.attributes }, init.parent);
  return { span, ctx: trace.setSpan(init.parent, span) };
}

export function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) {
    const e = TesseraError.from(err);
    span.setAttribute(Attr.errorType, e.code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
  }
  span.end();
}

/** The caller's trace context: explicit, else the active one. */
export function callerContext(explicit: Context | undefined): Context {
  return explicit ?? context.active();
}

export { SpanKind };
