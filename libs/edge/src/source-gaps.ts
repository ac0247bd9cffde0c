/**
 * Exact count, at the hub, of the feedback events a site's stream discarded before the hub had them.
 *
 * Every message the hub's feedback stream sources from a site carries a `Nats-Stream-Source` header
 * that nats-server writes: `<stream>:<hash of the external API prefix> <site stream sequence>`
 * (seen on 2.9.10: `TESSERA_FEEDBACK:7GOAUEZh 3`; 2.10 appends more fields after the sequence).
 * Sourcing delivers a site's messages in sequence order and resumes after the last one stored, and a
 * site stream removes only from its head (discard-old limits), so every site sequence the hub never
 * stored is one the site discarded first: the gaps between consecutive sequences of one site, and
 * below its first one, are the dropped events — exactly, unlike a count taken at the site, which
 * cannot see what the hub has stored (docs/decisions.md, "Feedback drop counting").
 *
 * One caveat: a sequence the hub's own duplicate window refused (the same Nats-Msg-Id stored twice
 * at the site, more than the site's window apart, and sourced within the hub's) would count too; the
 * site's writer retries within seconds, inside its 2 min window, so the site never stores one twice.
 */
import { createHash } from 'node:crypto';
import { domainOfApiPrefix, siteOfDeliverPrefix, type siteFeedbackSource } from './subjects.js';

type SiteSource = ReturnType<typeof siteFeedbackSource>;

/** The header nats-server puts on every sourced message. */
export const SOURCE_HEADER = 'Nats-Stream-Source';

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** nats-server's `getHash` (server/util.go): sha256, the first 8 bytes mapped onto base-62 digits. */
function natsHash(s: string): string {
  const b = createHash('sha256').update(s).digest();
  let out = '';
  for (let i = 0; i < 8; i++) out += DIGITS[b[i]! % DIGITS.length];
  return out;
}

/** The first field of `Nats-Stream-Source` on messages from this source (nats-server's `iname`). */
export function sourceKey(src: SiteSource): string {
  return `${src.name}:${natsHash(src.external.api)}`;
}

/** The site a source belongs to: its delivery prefix names it (`tessera.site.<site>.deliver`). */
function sourceSite(src: SiteSource): string {
  return siteOfDeliverPrefix(src.external.deliver) ?? domainOfApiPrefix(src.external.api) ?? src.external.api;
}

/** `TESSERA_FEEDBACK:7GOAUEZh 3` → { key, seq: 3 }; undefined for anything else. */
export function parseSourceHeader(value: string | undefined): { key: string; seq: number } | undefined {
  if (!value) return undefined;
  const [key, seqText] = value.split(' ');
  const seq = Number(seqText);
  return key && Number.isSafeInteger(seq) && seq > 0 ? { key, seq } : undefined;
}

export interface SourceGap {
  site: string;
  /** Site sequences skipped before this one: events the site discarded before the hub stored them. */
  dropped: number;
}

/**
 * Per site: the last site sequence the hub stored. `observe` is fed the hub stream's messages in
 * hub order; a sequence at or below the last one (a redelivery) changes nothing, so feeding a
 * message twice is harmless.
 */
export class SourceGaps {
  private readonly siteByKey = new Map<string, string>();
  private readonly last = new Map<string, number>();
  private readonly totals = new Map<string, number>();

  /**
   * `sources`: the hub stream's site sources (`siteFeedbackSource`). `fromStart`: the hub stream is
   * read from its first message and nothing was ever removed from it, so a site's first sequence
   * above 1 is a drop too; otherwise a site's first message (unless `seed`ed) only sets where its
   * count starts.
   */
  constructor(
    sources: readonly SiteSource[],
    private readonly fromStart: boolean,
  ) {
    for (const src of sources) this.siteByKey.set(sourceKey(src), sourceSite(src));
  }

  /** A message's `Nats-Stream-Source` header value (undefined: written at the hub, not sourced). */
  observe(header: string | undefined): SourceGap | undefined {
    const h = parseSourceHeader(header);
    const site = h && this.siteByKey.get(h.key);
    if (!h || !site) return undefined;
    const prev = this.last.get(site) ?? (this.fromStart ? 0 : undefined);
    if (prev !== undefined && h.seq <= prev) return undefined;
    this.last.set(site, h.seq);
    const dropped = prev === undefined ? 0 : h.seq - prev - 1;
    if (dropped > 0) this.totals.set(site, (this.totals.get(site) ?? 0) + dropped);
    return { site, dropped };
  }

  /** Sets a site's last stored sequence without counting (what the hub held before this process). */
  seed(header: string | undefined): void {
    const h = parseSourceHeader(header);
    const site = h && this.siteByKey.get(h.key);
    if (h && site && h.seq > (this.last.get(site) ?? 0)) this.last.set(site, h.seq);
  }

  /** Sites whose count has a starting point. */
  known(): string[] {
    return [...this.last.keys()];
  }

  sites(): string[] {
    return [...this.siteByKey.values()];
  }

  dropped(site: string): number {
    return this.totals.get(site) ?? 0;
  }
}
