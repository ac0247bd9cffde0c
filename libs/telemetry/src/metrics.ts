import { createServer, type Server } from 'node:http';
import client from 'prom-client';
import { Metric, type MetricSpec } from './names.js';

export type Labels = Readonly<Record<string, string | number>>;

export interface Counter {
  inc(labels?: Labels, value?: number): void;
}
export interface Gauge {
  set(labels: Labels, value: number): void;
  inc(labels?: Labels, value?: number): void;
  dec(labels?: Labels, value?: number): void;
}
export interface Histogram {
  observe(labels: Labels, value: number): void;
}

/**
 * A small facade over one prom-client registry per process. Services register metrics by their
 * spec from `names.ts` (or an ad-hoc spec), get-or-create so two modules can share a metric.
 */
export class MetricsRegistry {
  readonly registry = new client.Registry();
  private readonly metrics = new Map<string, client.Metric<string>>();

  constructor(readonly defaultLabels: Record<string, string> = {}) {
    this.registry.setDefaultLabels(defaultLabels);
  }

  counter(spec: MetricSpec): Counter {
    const m = this.getOrCreate(spec, () => new client.Counter({ name: spec.name, help: spec.help, labelNames: [...spec.labels], registers: [this.registry] })) as client.Counter<string>;
    return { inc: (labels = {}, value = 1) => m.inc(labels as client.LabelValues<string>, value) };
  }

  gauge(spec: MetricSpec): Gauge {
    const m = this.getOrCreate(spec, () => new client.Gauge({ name: spec.name, help: spec.help, labelNames: [...spec.labels], registers: [this.registry] })) as client.Gauge<string>;
    return {
      set: (labels, value) => m.set(labels as client.LabelValues<string>, value),
      inc: (labels = {}, value = 1) => m.inc(labels as client.LabelValues<string>, value),
      dec: (labels = {}, value = 1) => m.dec(labels as client.LabelValues<string>, value),
    };
  }

  histogram(spec: MetricSpec): Histogram {
    const m = this.getOrCreate(
      spec,
      () => new client.Histogram({ name: spec.name, help: spec.help, labelNames: [...spec.labels], buckets: spec.buckets ? [...spec.buckets] : undefined, registers: [this.registry] }),
    ) as client.Histogram<string>;
    return { observe: (labels, value) => m.observe(labels as client.LabelValues<string>, value) };
  }

  private processMetrics = false;

  /** Node process metrics (CPU, heap, event-loop lag) under the standard names. Idempotent. */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    client.collectDefaultMetrics({ register: this.registry });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  private getOrCreate(spec: MetricSpec, create: () => client.Metric<string>): client.Metric<string> {
    const existing = this.metrics.get(spec.name);
    if (existing) return existing;
    const m = create();
    this.metrics.set(spec.name, m);
    return m;
  }
}

let defaultRegistry: MetricsRegistry | undefined;

/** The process-wide registry the runtime and services share. */
export function metrics(): MetricsRegistry {
  defaultRegistry ??= new MetricsRegistry();
  return defaultRegistry;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` (Prometheus text format) on `port` (0 = a free one). */
export async function startMetricsServer(port: number, registry: MetricsRegistry = metrics(), host = '0.0.0.0'): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      registry.text().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: try GET /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export { Metric };
