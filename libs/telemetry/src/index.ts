/**
 * @tessera/telemetry — OpenTelemetry bootstrap, W3C propagation helpers, the span/metric name
 * registry, and the per-service Prometheus `/metrics` endpoint.
 */
export { startTelemetry, activeTelemetry, type Telemetry, type TelemetryOptions } from './sdk.js';
export { injectTrace, extractTrace, recordCarrier, traceparentOf, traceIdOf, type HeaderCarrier } from './propagation.js';
export { SpanName, Attr, Metric, type MetricSpec, type MetricKind } from './names.js';
export { MetricsRegistry, metrics, startMetricsServer, type MetricsServer, type Counter, type Gauge, type Histogram, type Labels } from './metrics.js';
export type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
export { parseExposition, type Family, type Sample } from './exposition.js';
