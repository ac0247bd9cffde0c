import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { Metric, MetricsRegistry, extractTrace, injectTrace, recordCarrier, startMetricsServer, startTelemetry, traceparentOf } from './index.js';

describe('telemetry', () => {
  it('records spans in memory with parent links, and propagates W3C trace context through a header carrier', async () => {
    const t = startTelemetry({ serviceName: 'unit', inMemory: true });
    const tracer = t.tracer();
    const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER });
    const headers: Record<string, string> = {};
    injectTrace(trace.setSpan(context.active(), parent), recordCarrier(headers));
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // The "other side": extract and start a child.
    const remote = extractTrace(recordCarrier({ ...headers }));
    const child = tracer.startSpan('child', { kind: SpanKind.CONSUMER }, remote);
    child.end();
    parent.end();
    const spans = t.spans();
    const c = spans.find((s) => s.name === 'child')!;
    expect(c.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(c.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(c.resource.attributes['service.name']).toBe('unit');
    expect(traceparentOf(remote)).toBe(headers.traceparent);
    await t.shutdown();
  });

  it('exports spans over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces', async () => {
    const received: { path: string; type: string; bytes: number }[] = [];
    const collector = createServer((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => {
        received.push({ path: req.url ?? '', type: String(req.headers['content-type']), bytes: n });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        res.end();
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', () => r()));
    const port = (collector.address() as { port: number }).port;
    const t = startTelemetry({ serviceName: 'otlp-unit', otlpEndpoint: `http://127.0.0.1:${port}/` });
    t.tracer().startSpan('exported').end();
    await t.flush();
    await t.shutdown();
    collector.close();
    expect(received.length).toBeGreaterThan(0);
    expect(received[0]).toMatchObject({ path: '/v1/traces' });
    expect(received[0]!.bytes).toBeGreaterThan(20);
  });

  it('serves registered metrics on /metrics in Prometheus text format', async () => {
    const reg = new MetricsRegistry({ service: 'unit' });
    reg.counter(Metric.deadlineDropped).inc({ method: 'S/M', transport: 'nats' }, 2);
    reg.histogram(Metric.rpcServerDuration).observe({ method: 'S/M', transport: 'grpc', code: 'OK' }, 0.004);
    reg.gauge(Metric.vllmRequestsWaiting).set({ model_name: 'tiny' }, 3);
    // get-or-create: the same spec twice is one metric.
    reg.counter(Metric.deadlineDropped).inc({ method: 'S/M', transport: 'nats' });
    reg.collectProcessMetrics();
    reg.collectProcessMetrics(); // a second service host in the same process must not throw
    const srv = await startMetricsServer(0, reg, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${srv.port}/metrics`);
      expect(res.status).toBe(200);
      const body = await res.text();
      expect(body).toContain('tessera_deadline_dropped_total{method="S/M",transport="nats",service="unit"} 3');
      const bucket = body.split('\n').find((l) => l.startsWith('tessera_rpc_server_duration_seconds_bucket{') && l.includes('le="0.005"'));
      expect(bucket).toMatch(/method="S\/M".*code="OK".* 1$/);
      expect(body.split('\n').find((l) => l.startsWith('tessera_rpc_server_duration_seconds_bucket{') && l.includes('le="0.0025"'))).toMatch(/ 0$/);
      expect(body).toContain('vllm:num_requests_waiting{model_name="tiny",service="unit"} 3');
      expect(body).toContain('process_cpu_user_seconds_total');
      expect((await fetch(`http://127.0.0.1:${srv.port}/other`)).status).toBe(404);
    } finally {
      await srv.close();
    }
  });
});
