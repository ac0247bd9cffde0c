/**
 * Hub: the exact count of feedback events each edge site's stream discarded (oldest first, its
 * limits) before this stream sourced them. The projector shows every message it applies to
 * `observe`; libs/edge SourceGaps finds the gaps in the site sequences of the `Nats-Stream-Source`
 * headers. Counted as `tessera_feedback_site_events_dropped_total{site}` and logged once per gap.
 *
 * A restarted process picks up where the store is: it reads the headers of the last SEED_WINDOW
 * events before the store's position (one headers-only pass, ~1 s per 100k) for each site's last
 * sequence. A site with nothing in that window starts its count at its next event (logged).
 */
import { DeliverPolicy, type JsMsg, type NatsConnection } from 'nats';
import { SOURCE_HEADER, SourceGaps, type siteFeedbackSource } from '@tessera/edge';
import type { Logger } from '@tessera/runtime';
import { Metric, metrics } from '@tessera/telemetry';

/** Hub events read back at start to find each site's last sequence (a site quieter than this starts afresh). */
const SEED_WINDOW = 100_000;

export interface SiteDrops {
  observe(m: JsMsg): void;
  /** Events dropped at `site` seen by this process. */
  dropped(site: string): number;
}

export async function openSiteDrops(nc: NatsConnection, o: { stream: string; sources: ReadonlyArray<ReturnType<typeof siteFeedbackSource>>; appliedSeq: number; log?: Logger }): Promise<SiteDrops> {
  const { state } = await (await nc.jetstreamManager()).streams.info(o.stream);
  // Read from the very first event with nothing ever removed: a site's first sequence above 1 is a drop too.
  const gaps = new SourceGaps(o.sources, o.appliedSeq === 0 && state.first_seq <= 1 && !(state.num_deleted > 0));
  const start = Math.max(state.first_seq, o.appliedSeq - SEED_WINDOW + 1);
  if (o.appliedSeq > 0 && start <= Math.min(o.appliedSeq, state.last_seq)) {
    const consumer = await nc.jetstream().consumers.get(o.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start, headers_only: true });
    const msgs = await consumer.consume({ max_messages: 1_000 });
    for await (const m of msgs) {
      if (m.seq > o.appliedSeq) break;
      gaps.seed(m.headers?.get(SOURCE_HEADER));
      if (m.seq === o.appliedSeq || m.info.pending === 0) break;
    }
    msgs.stop();
    const unknown = gaps.sites().filter((s) => !gaps.known().includes(s));
    if (unknown.length > 0) o.log?.warn('feedback.site_drops_start', { sites: unknown.join(','), why: `no event of theirs in the last ${SEED_WINDOW} before the store's position ${o.appliedSeq}: their drop count starts at their next event` });
  }
  const counter = metrics().counter(Metric.feedbackSiteDropped);
  for (const site of gaps.sites()) counter.inc({ site }, 0);
  return {
    observe(m) {
      const gap = gaps.observe(m.headers?.get(SOURCE_HEADER));
      if (!gap || gap.dropped === 0) return;
      counter.inc({ site: gap.site }, gap.dropped);
      o.log?.warn('feedback.site_dropped', { site: gap.site, dropped: gap.dropped, total: gaps.dropped(gap.site), why: "the site's stream limits discarded its oldest events before the hub sourced them" });
    },
    dropped: (site) => gaps.dropped(site),
  };
}
