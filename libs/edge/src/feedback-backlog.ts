/**
 * The site's feedback backlog: events in the site stream that the hub has not sourced yet, and
 * events the site stream discarded before the hub got them.
 *
 * The site stream has limits (maxMessages, maxBytes) with discard-old: during a long outage the
 * oldest events go first, so the newest feedback survives and the box's disk never fills. Such a
 * drop is never silent: JetStream removes in sequence order, so every sequence below the stream's
 * `first_seq` is gone, and a discarded sequence the hub had not received is a lost event.
 *
 * What the hub received is not visible at the site: nats-server 2.9 creates the sourcing consumer
 * as a direct consumer, which the site's consumer list and /jsz do not show, and the site credential
 * may not read the hub's stream. So this counts against the link state: while the uplink is up,
 * sourcing keeps pace (the hub's /jsz `lag` is the exact figure, shown by `tessera ctl sites`), and
 * everything up to the site's last sequence counts as delivered; while it is down, every discard
 * above that mark is a lost event. A handful of events in flight when the link drops may be counted
 * as delivered; nothing dropped during an outage goes uncounted.
 */
import type { JetStreamManager } from 'nats';
import { FEEDBACK_STREAM } from './subjects.js';

export interface BacklogSnapshot {
  /** Events recorded at the site during the current outage, not yet at the hub (0 while the link is up: see the hub's /jsz lag). */
  pending: number;
  /** Events discarded by the site stream's limits before the hub received them (since this process started). */
  dropped: number;
  /** Site stream sequence counted as delivered to the hub (its last sequence while the link was up). */
  delivered: number;
  lastSeq: number;
  firstSeq: number;
  /** The stream's limits, for the operator: oldest-first discard beyond these. */
  maxMessages: number;
  maxBytes: number;
}

export class FeedbackBacklog {
  /** Highest sequence known to be delivered to the hub or counted as dropped. */
  private accounted = -1;
  private droppedTotal = 0;
  private deliveredSeq = 0;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly stream = FEEDBACK_STREAM,
  ) {}

  /** `linkUp`: the hub link's state now (HubLink). */
  async poll(linkUp: boolean): Promise<BacklogSnapshot> {
    const info = await this.jsm.streams.info(this.stream);
    const { first_seq: firstSeq, last_seq: lastSeq } = info.state;
    const gone = firstSeq - 1;
    // The first poll starts the books: what was discarded before this process ran is not ours to judge.
    if (this.accounted < 0) this.accounted = gone;
    if (linkUp) this.deliveredSeq = Math.max(this.deliveredSeq, lastSeq);
    this.accounted = Math.max(this.accounted, this.deliveredSeq);
    if (gone > this.accounted) {
      this.droppedTotal += gone - this.accounted;
      this.accounted = gone;
    }
    return {
      pending: Math.max(0, lastSeq - Math.max(this.deliveredSeq, gone)),
      dropped: this.droppedTotal,
      delivered: this.deliveredSeq,
      lastSeq,
      firstSeq,
      maxMessages: info.config.max_msgs,
      maxBytes: info.config.max_bytes,
    };
  }
}
