/**
 * `tessera ctl sites`: edge sites as the hub's NATS monitoring endpoint sees them, no cluster access
 * needed. A site is known from its leaf connection (`/leafz?subs=1`: the JetStream domain it exports
 * and the models its edge gateway advertises, libs/edge site-advert.ts) and from the hub feedback
 * stream's sources (`/jsz`: one per configured site, with the backlog the hub last saw). A configured
 * site without a leaf connection is listed with link `down` and the backlog at the time it was lost.
 */
import { ErrorCode, TesseraError } from '@tessera/errors';
import { domainOfApiPrefix, parseLeafSubscriptions, siteOfDeliverPrefix, type ModelPlace } from '@tessera/edge';
import { Metric, parseExposition } from '@tessera/telemetry';
import { renderTable } from './table.js';

export interface SiteStatus {
  site: string;
  domain: string;
  link: 'up' | 'down';
  /** Leaf connection round trip as the hub measured it (`rtt`). */
  rtt?: string;
  /** Feedback events at the site the hub has not sourced yet (hub feedback stream source `lag`). */
  feedbackBacklog?: number;
  /** Seconds since the hub last heard from the site's feedback stream. */
  feedbackLastHeardS?: number;
  /**
   * Feedback events the site's stream discarded (oldest first, its limits) before the hub had them:
   * exact, counted by the hub's feedback service from the sequence gaps it sees
   * (`tessera_feedback_site_events_dropped_total`, read with --feedback-metrics).
   */
  feedbackDropped?: number;
  models: Array<{ id: string; place: ModelPlace }>;
}

interface Leafz {
  leafs?: Array<{ account?: string; rtt?: string; subscriptions_list?: string[] }>;
}
interface JszSource {
  name?: string;
  external?: { api?: string; deliver?: string };
  lag?: number;
  /** Nanoseconds since last heard; -1 never. */
  active?: number;
}
interface Jsz {
  account_details?: Array<{ name?: string; id?: string; stream_detail?: Array<{ name?: string; sources?: JszSource[] }> }>;
}

async function getText(base: string, path: string, params: Record<string, string>, timeoutMs: number, field: string, example: string): Promise<string> {
  const root = /^https?:\/\//.test(base) ? base : `http://${base}`;
  let url: URL;
  try {
    url = new URL(path, root);
  } catch {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `--${field} "${base}" is not a URL (expected ${example})`, { field });
  }
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return await res.text();
  } catch (err) {
    throw new TesseraError(ErrorCode.UNAVAILABLE, `cannot read ${url.origin}${path}: ${(err as Error).message}`, { field }, { cause: err });
  }
}

async function getJson<T>(base: string, path: string, params: Record<string, string>, timeoutMs: number): Promise<T> {
  return JSON.parse(await getText(base, path, params, timeoutMs, 'nats-monitor', 'http://hub-nats:8222')) as T;
}

/** Per site, the hub feedback service's exact drop count, from its Prometheus endpoint (`host:port` → its /metrics). */
async function siteDrops(metricsUrl: string, timeoutMs: number): Promise<Map<string, number>> {
  const bare = /^(https?:\/\/)?[^/]+\/?$/.test(metricsUrl);
  const text = await getText(metricsUrl, bare ? '/metrics' : '', {}, timeoutMs, 'feedback-metrics', 'http://tessera-feedback:9470/metrics');
  const samples = [...parseExposition(text).values()].flatMap((f) => f.samples).filter((x) => x.name === Metric.feedbackSiteDropped.name && x.labels.site);
  return new Map(samples.map((x) => [x.labels.site!, x.value]));
}

export async function collectSites(o: { natsMonitor: string | undefined; account?: string; feedbackStream?: string; feedbackMetrics?: string; timeoutMs: number }): Promise<SiteStatus[]> {
  if (!o.natsMonitor) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'sites needs the hub NATS monitoring endpoint: --nats-monitor http://hub-nats:8222 (or TESSERA_NATS_MONITOR_URL)', { field: 'nats-monitor' });
  const stream = o.feedbackStream ?? 'TESSERA_FEEDBACK';
  const [leafz, jsz, drops] = await Promise.all([
    getJson<Leafz>(o.natsMonitor, '/leafz', { subs: '1' }, o.timeoutMs),
    getJson<Jsz>(o.natsMonitor, '/jsz', { ...(o.account ? { acc: o.account } : { accounts: 'true' }), streams: 'true', config: 'true' }, o.timeoutMs),
    o.feedbackMetrics ? siteDrops(o.feedbackMetrics, o.timeoutMs) : undefined,
  ]);
  const account = o.account ?? hubAccount(jsz, leafz, stream);
  const byDomain = new Map<string, SiteStatus>();
  for (const leaf of leafz.leafs ?? []) {
    if (leaf.account && leaf.account !== account) continue;
    const ad = parseLeafSubscriptions(leaf.subscriptions_list ?? []);
    const domain = ad.domains[0] ?? '';
    if (!ad.site && !domain) continue; // a leaf that is not an edge site (no JetStream domain, no advertisement)
    byDomain.set(domain || ad.site, { site: ad.site || domain, domain, link: 'up', ...(leaf.rtt && { rtt: leaf.rtt }), models: ad.models });
  }
  const acc = (jsz.account_details ?? []).find((a) => a.name === account || a.id === account);
  const feedback = acc?.stream_detail?.find((s) => s.name === stream);
  for (const src of feedback?.sources ?? []) {
    const domain = domainOfApiPrefix(src.external?.api);
    if (!domain) continue;
    const site = siteOfDeliverPrefix(src.external?.deliver) ?? domain;
    const s = byDomain.get(domain) ?? { site, domain, link: 'down' as const, models: [] };
    s.feedbackBacklog = src.lag ?? 0;
    if (src.active !== undefined && src.active >= 0) s.feedbackLastHeardS = Math.round(src.active / 1e8) / 10;
    if (drops) s.feedbackDropped = drops.get(s.site) ?? 0;
    byDomain.set(domain, s);
  }
  return [...byDomain.values()].sort((a, b) => a.site.localeCompare(b.site));
}

/**
 * Without --nats-account: the account whose feedback stream sources sites (the edge profile's
 * TESSERA, whatever it is named), else the account of the leaf connections, else nats-server's
 * default "$G". /jsz?accounts=true lists every account with JetStream, so no name is guessed.
 */
function hubAccount(jsz: Jsz, leafz: Leafz, stream: string): string {
  const sourcing = (jsz.account_details ?? []).find((a) => a.stream_detail?.some((s) => s.name === stream && (s.sources ?? []).some((src) => src.external?.api)));
  return sourcing?.name ?? sourcing?.id ?? leafz.leafs?.find((l) => l.account)?.account ?? '$G';
}

export function formatSites(sites: readonly SiteStatus[]): string {
  if (sites.length === 0) return 'no edge sites: no leaf connections with a JetStream domain, and the hub feedback stream sources none (TESSERA_FEEDBACK_SITES)';
  return renderTable(
    ['SITE', 'DOMAIN', 'LINK', 'RTT', 'FEEDBACK BACKLOG', 'DROPPED', 'LAST HEARD', 'MODELS'],
    sites.map((s) => [
      s.site,
      s.domain,
      s.link,
      s.rtt ?? '-',
      s.feedbackBacklog === undefined ? '-' : String(s.feedbackBacklog),
      s.feedbackDropped === undefined ? '-' : String(s.feedbackDropped),
      s.feedbackLastHeardS === undefined ? '-' : `${s.feedbackLastHeardS}s ago`,
      s.models.map((m) => `${m.id}@${m.place}`).join(',') || '-',
    ]),
  );
}
