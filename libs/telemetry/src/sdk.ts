import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { DeferredSpanProcessor } from './deferred-processor.js';

export interface TelemetryOptions {
  serviceName: string;
  /** OTLP/HTTP base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`), e.g. `http://otel-collector:4318`; unset = no export. */
  otlpEndpoint?: string;
  /** Keep finished spans in memory (tests): read them with `telemetry.spans()`. */
  inMemory?: boolean;
  /** Fraction of new root traces sampled (children follow their parent). Default 1. */
  sampleRatio?: number;
  serviceVersion?: string;
  /** More exporters, each behind a SimpleSpanProcessor (e.g. a test sink in a child process). */
  exporters?: SpanExporter[];
}

export interface Telemetry {
  readonly serviceName: string;
  tracer(name?: string): Tracer;
  /** Finished spans (only with `inMemory`). */
  spans(): ReadableSpan[];
  resetSpans(): void;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

let active: Telemetry | undefined;

/**
 * Installs the process-wide OpenTelemetry SDK: AsyncLocalStorage context, W3C trace-context +
 * baggage propagation, a tracer provider with the OTLP and/or in-memory exporter.
 * Call once at process start, before the first span. Calling again returns the first instance.
 */
export function startTelemetry(opts: TelemetryOptions): Telemetry {
  if (active) return active;
  const memory = opts.inMemory ? new InMemorySpanExporter() : undefined;
  const processors: SpanProcessor[] = [];
  // sdk-trace 3.x takes `{ exporter }`; the old positional form records nothing, silently.
  if (memory) processors.push(new SimpleSpanProcessor({ exporter: memory }));
  for (const exporter of opts.exporters ?? []) processors.push(new SimpleSpanProcessor({ exporter }));
  if (opts.otlpEndpoint) {
    const url = `${opts.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`;
    processors.push(
      new DeferredSpanProcessor(async () => {
        const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
        return new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) });
      }),
    );
  }
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName, ...(opts.serviceVersion && { 'service.version': opts.serviceVersion }) }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(opts.sampleRatio ?? 1) }),
    spanProcessors: processors,
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(provider);
  const t: Telemetry = {
    serviceName: opts.serviceName,
    tracer: (name = opts.serviceName) => trace.getTracer(name),
    spans: () => memory?.getFinishedSpans() ?? [],
    resetSpans: () => memory?.reset(),
    flush: () => provider.forceFlush(),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      active = undefined;
    },
  };
  active = t;
  return t;
}

/** The telemetry started in this process, if any. */
export function activeTelemetry(): Telemetry | undefined {
  return active;
}
