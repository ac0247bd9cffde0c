/**
 * A site tells the hub which models it serves without any new endpoint: its edge gateway holds one
 * subscription per model on `tessera.site.<site>.model.<place>.<id token>`, nothing is ever
 * published there, and the interest crosses the leaf link, so the hub's monitoring endpoint
 * (`/leafz?subs=1`) lists it. `tessera ctl sites` reads it back with `parseLeafSubscriptions`.
 */
import type { NatsConnection, Subscription } from 'nats';
import type { ModelPlace, SiteConfig } from './site-config.js';
import { siteModelPrefix } from './subjects.js';

/** A model id as one subject token: as is when plain, else `=` + base64url (ids may hold dots). */
export function modelToken(id: string): string {
  return /^[A-Za-z0-9_-]{1,128}$/.test(id) ? id : `=${Buffer.from(id, 'utf8').toString('base64url')}`;
}

export function modelFromToken(t: string): string {
  return t.startsWith('=') ? Buffer.from(t.slice(1), 'base64url').toString('utf8') : t;
}

export function advertiseModels(nc: NatsConnection, c: SiteConfig): { close(): void } {
  const subs: Subscription[] = c.models.map((m) => nc.subscribe(`${siteModelPrefix(c.site)}.${m.place}.${modelToken(m.id)}`));
  return { close: () => subs.forEach((s) => s.unsubscribe()) };
}

export interface AdvertisedSite {
  site: string;
  /** JetStream domain(s) the leaf exports (`$JS.<domain>.API.INFO`). */
  domains: string[];
  models: Array<{ id: string; place: ModelPlace }>;
}

/** What one leaf connection's subscription list says about its site. */
export function parseLeafSubscriptions(subs: readonly string[]): AdvertisedSite {
  const out: AdvertisedSite = { site: '', domains: [], models: [] };
  for (const s of subs) {
    const js = /^\$JS\.([^.]+)\.API\.INFO$/.exec(s);
    if (js) out.domains.push(js[1]!);
    const m = /^tessera\.site\.([^.]+)\.model\.(site|hub)\.([^.]+)$/.exec(s);
    if (m) {
      out.site = m[1]!;
      out.models.push({ id: modelFromToken(m[3]!), place: m[2] as ModelPlace });
    }
  }
  return out;
}

