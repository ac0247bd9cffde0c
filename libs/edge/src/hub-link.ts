/**
 * Whether the hub is reachable from this site. The site's own NATS connection stays up when the
 * uplink drops (the leaf link is between the two servers), so bus state says nothing about it;
 * instead a probe asks the hub's JetStream API (`$JS.<hubDomain>.API.INFO`) every interval. With the
 * leaf link down nothing at the site answers that subject, so the probe gets "no responders" at once:
 * the link is seen down within one interval (500 ms by default), inside the 2 s fail-fast budget.
 * A probe that only times out (a hub or a site box starved of CPU; seen at load 28 on 2 cores with a
 * 250 ms timeout) counts as down after two in a row, so one slow answer does not fail requests.
 * While the hub's answers are arriving (`reportAlive`, per chunk of a forwarded chat) they prove the
 * link, and the interval's probe is skipped: each probe is a request through both nats-servers, the
 * leaf's TLS and the hub's JetStream API (~1.6 ms of CPU over three processes on the bench host, a
 * 2-core box; docs/decisions.md "Issue 18 (site idle cost …)"). A link lost mid-answer is then seen
 * down within two intervals (the stream itself fails on its heartbeats, and a new chat's offer gets
 * "no responders" at once).
 */
import type { NatsConnection } from 'nats';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { Inbox, connectionInboxPrefix } from '@tessera/runtime';
import { jsApiPrefix } from './subjects.js';

export type LinkState = 'up' | 'down' | 'unknown';

export interface HubLinkOptions {
  hubDomain: string;
  /** Probe interval. */
  intervalMs: number;
  /** How long one probe waits for the hub. Default max(interval, 1 s). */
  timeoutMs?: number;
  /** Retry-After given to callers while the link is down. Default 2 s (the leaf reconnect interval is 1 s). */
  retryAfterMs?: number;
}

export class HubLink {
  private current: LinkState = 'unknown';
  private since = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(s: LinkState) => void>();
  private probing = false;
  private downs = 0;
  private timeouts = 0;
  private inbox: Inbox | undefined;
  /** Answers heard from the hub, and the count at the last interval's tick. */
  private heard = 0;
  private heardAtTick = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly o: HubLinkOptions,
  ) {}

  /** Probes once (so the state is known before serving) and then every interval. */
  async start(): Promise<this> {
    await this.probe();
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.inbox?.close();
    this.inbox = undefined;
  }

  get state(): LinkState {
    return this.current;
  }

  /** When the state last changed (epoch ms) and how many times the link went down. */
  get stats(): { state: LinkState; since: number; downs: number } {
    return { state: this.current, since: this.since, downs: this.downs };
  }

  onChange(fn: (s: LinkState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Throws UNAVAILABLE with a retry hint when the hub is known to be unreachable. */
  assertUp(what: string): void {
    if (this.current === 'down') throw hubDownError(what, this.o.retryAfterMs ?? 2_000);
  }

  /** A message from the hub just arrived over the link (a chunk of a forwarded chat's answer). */
  reportAlive(): void {
    this.heard++;
  }

  /** Marks the link down now (a call just failed with "no responders"); the next probe confirms or restores it. */
  reportFailure(): void {
    this.set('down');
  }

  private tick(): void {
    if (this.heard !== this.heardAtTick) {
      this.heardAtTick = this.heard;
      this.markUp();
      return;
    }
    void this.probe();
  }

  /** The hub answered (a probe, or chunks of an answer): up, and the run of timeouts ends. */
  private markUp(): void {
    this.timeouts = 0;
    this.set('up');
  }

  async probe(): Promise<LinkState> {
    if (this.probing) return this.current;
    this.probing = true;
    try {
      if (this.nc.isClosed()) this.set('down');
      else {
        // Through a runtime Inbox, not nats.js `request`: that builds three errors (stack captures) and
        // a timer per call for traces and cancellation nobody reads here; measured 0.18 → 0.14 ms of
        // CPU per probe, back to back.
        this.inbox ??= new Inbox(this.nc, connectionInboxPrefix(this.nc));
        await this.inbox.request(`${jsApiPrefix(this.o.hubDomain)}.INFO`, new Uint8Array(0), { timeoutMs: this.o.timeoutMs ?? Math.max(this.o.intervalMs, 1_000) });
        this.markUp();
      }
    } catch (err) {
      // "No responders" is definite: no interest in the hub's API means no leaf link.
      const noResponders = (err as { code?: string }).code === '503';
      if (noResponders || ++this.timeouts >= 2) this.set('down');
    } finally {
      this.probing = false;
    }
    return this.current;
  }

  private set(s: LinkState): void {
    if (s === this.current) return;
    if (s === 'down') this.downs++;
    this.current = s;
    this.since = Date.now();
    for (const fn of this.listeners) fn(s);
  }
}

export function hubDownError(what: string, retryAfterMs: number): TesseraError {
  return new TesseraError(ErrorCode.UNAVAILABLE, `${what}: the hub is unreachable from this site (uplink down); retry shortly`, { field: 'model', retryAfterMs });
}
