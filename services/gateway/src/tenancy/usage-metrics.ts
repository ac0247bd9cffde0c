import { metrics } from '@tessera/telemetry';
import type { QuotaLedger } from './quota-ledger.js';

// Gauges mirroring the ledger's monotonic totals (counters cannot be set to a value through prom-client).
const LABELS = ['tenant'] as const;

/**
 * Per-tenant usage as Prometheus series (read at scrape time from the ledger, so the hot path only
 * touches a Map): requests, prompt and completion tokens, rejections, streams in flight.
 */
export function tenantUsageMetrics(ledger: QuotaLedger): void {
  const reg = metrics();
  const requests = reg.gauge({ name: 'tessera_tenant_requests', kind: 'gauge', help: 'Completed chat requests per tenant', labels: LABELS });
  const prompt = reg.gauge({ name: 'tessera_tenant_prompt_tokens', kind: 'gauge', help: 'Prompt tokens (text + visual) per tenant', labels: LABELS });
  const completion = reg.gauge({ name: 'tessera_tenant_completion_tokens', kind: 'gauge', help: 'Completion tokens per tenant', labels: LABELS });
  const rejected = reg.gauge({ name: 'tessera_tenant_rejected_requests', kind: 'gauge', help: 'Requests rejected by a quota per tenant', labels: LABELS });
  const streams = reg.gauge({ name: 'tessera_tenant_concurrent_streams', kind: 'gauge', help: 'Requests in flight per tenant', labels: LABELS });
  const refresh = () => {
    for (const [tenant, u] of ledger.usageSnapshot()) {
      requests.set({ tenant }, u.requests);
      prompt.set({ tenant }, u.promptTokens);
      completion.set({ tenant }, u.completionTokens);
      rejected.set({ tenant }, u.rejected);
      streams.set({ tenant }, ledger.concurrent(tenant));
    }
  };
  // prom-client gauges have no collect hook through our facade; a 1 s refresh is plenty for scrapes every 15 s.
  setInterval(refresh, 1000).unref();
}
