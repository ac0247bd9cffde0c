import { Metric, metrics, type MetricsRegistry } from '@tessera/telemetry';
import type { QuotaLedger } from './quota-ledger.js';

type Totals = { requests: number; promptTokens: number; completionTokens: number; rejected: number };

/**
 * Per-tenant usage as Prometheus series: requests, prompt and completion tokens and rejections as
 * **counters** (`*_total`, so `rate()` and `increase()` work and resets are detected), streams in
 * flight as a gauge. The hot path only touches the ledger's Map; a refresh moves the growth since the
 * last refresh into the counters. Returns the refresh so tests (and a scrape hook) can call it.
 */
export function tenantUsageMetrics(ledger: QuotaLedger, reg: MetricsRegistry = metrics(), intervalMs = 1000): () => void {
  const requests = reg.counter(Metric.tenantRequests);
  const prompt = reg.counter(Metric.tenantPromptTokens);
  const completion = reg.counter(Metric.tenantCompletionTokens);
  const rejected = reg.counter(Metric.tenantRejected);
  const streams = reg.gauge(Metric.tenantConcurrentStreams);
  const exported = new Map<string, Totals>();
  const refresh = () => {
    for (const [tenant, u] of ledger.usageSnapshot()) {
      const last = exported.get(tenant) ?? { requests: 0, promptTokens: 0, completionTokens: 0, rejected: 0 };
      const labels = { tenant };
      if (u.requests > last.requests) requests.inc(labels, u.requests - last.requests);
      if (u.promptTokens > last.promptTokens) prompt.inc(labels, u.promptTokens - last.promptTokens);
      if (u.completionTokens > last.completionTokens) completion.inc(labels, u.completionTokens - last.completionTokens);
      if (u.rejected > last.rejected) rejected.inc(labels, u.rejected - last.rejected);
      exported.set(tenant, { ...u });
      streams.set(labels, ledger.concurrent(tenant));
    }
  };
  // A 1 s refresh is plenty for scrapes every 15 s.
  if (intervalMs > 0) setInterval(refresh, intervalMs).unref();
  return refresh;
}
