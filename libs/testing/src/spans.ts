import { startTelemetry, type ReadableSpan, type Telemetry } from '@tessera/telemetry';

/**
 * In-memory span collection for a test process: starts the OTel SDK with the in-memory exporter
 * (once per process) and gives the finished spans back.
 */
export interface SpanCollector {
  readonly telemetry: Telemetry;
  spans(): ReadableSpan[];
  /** Finished spans of one trace. */
  trace(traceId: string): ReadableSpan[];
  reset(): void;
}

export function collectSpans(serviceName = 'test'): SpanCollector {
  const telemetry = startTelemetry({ serviceName, inMemory: true });
  return {
    telemetry,
    spans: () => telemetry.spans(),
    trace: (id) => telemetry.spans().filter((s) => s.spanContext().traceId === id),
    reset: () => telemetry.resetSpans(),
  };
}

/** Spans written as JSON lines by a child process (see `spanLine`), parsed. */
export interface SpanRecord {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  service: string;
}

export function toSpanRecord(s: ReadableSpan): SpanRecord {
  return {
    name: s.name,
    kind: s.kind,
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext?.spanId,
    service: String(s.resource.attributes['service.name'] ?? ''),
  };
}
