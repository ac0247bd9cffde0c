import { AckPolicy, DeliverPolicy, nanos, type ConsumerConfig, type ConsumerMessages, type JsMsg, type NatsConnection } from 'nats';
import { parseEvent, type SequencedEvent } from '../../domain/events.js';
import type { FeedbackStore } from '../../domain/store.js';
import { isNotFound } from './feedback-log.js';

/** Longest wait to coalesce arriving events into one store write + one ack. */
const FLUSH_DELAY_MS = 2;

export interface ProjectorOptions {
  stream: string;
  /** Durable consumer name; one per store (each embedded store has its own). */
  durable: string;
  /** Messages pulled per batch (also the store's write batch). */
  batch: number;
  ackWaitMs: number;
  now?: () => number;
  onError?: (err: unknown) => void;
  /** Shown each message once the store holds it, in log order (the hub's site drop count, site-drops.ts). */
  observe?: (m: JsMsg) => void;
}

/**
 * Reads the log through a durable pull consumer and applies it to the store in batches.
 * Order per batch: store.apply (written) → ack the batch's last message (AckPolicy.All acks
 * everything before it). The consumer always starts at store.lastSeq + 1 (see subscribe), so a
 * kill anywhere between write and ack only replays events the store skips: nothing lost, nothing
 * applied twice; a fresh or lost store directory is rebuilt from the stream, the source of truth.
 */
export class Projector {
  private applied = 0;
  private msgs: ConsumerMessages | undefined;
  private pending: JsMsg[] = [];
  private flushing: Promise<void> | undefined;
  /** Starts the pending flush now (a full batch is waiting). */
  private kick: (() => void) | undefined;
  private kickTimer: NodeJS.Timeout | undefined;
  private waiters: { seq: number; done: (ok: boolean) => void }[] = [];
  /** The sequence after a gap already re-read once: arriving first again, the gap is a real hole in the log. */
  private holeAt: number | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private readonly now: () => number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly store: FeedbackStore,
    private readonly opts: ProjectorOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Highest stream sequence the store holds. */
  get appliedSeq(): number {
    return this.applied;
  }

  async start(): Promise<void> {
    this.applied = await this.store.lastSeq();
    await this.subscribe();
  }

  /**
   * (Re)creates the durable consumer at store.lastSeq + 1 and consumes from there. Recreating it
   * on every start matters: messages a killed predecessor had pulled but not acked would only
   * come back after ack_wait, *after* newer ones, and the store — which skips seq <= lastSeq —
   * would then drop them. Starting exactly after what the store holds keeps the log applied in
   * order with no gap, whatever the consumer's previous state.
   */
  private async subscribe(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    const cfg: Partial<ConsumerConfig> = {
      durable_name: this.opts.durable,
      ack_policy: AckPolicy.All,
      ack_wait: nanos(this.opts.ackWaitMs),
      max_ack_pending: Math.max(10_000, this.opts.batch * 4),
      ...(this.applied > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.applied + 1 } : { deliver_policy: DeliverPolicy.All }),
    };
    await jsm.consumers.delete(this.opts.stream, this.opts.durable).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
    await jsm.consumers.add(this.opts.stream, cfg);
    const consumer = await this.nc.jetstream().consumers.get(this.opts.stream, this.opts.durable);
    this.pending = [];
    this.msgs = await consumer.consume({ max_messages: this.opts.batch });
    this.loop = this.run(this.msgs);
  }

  private async run(msgs: ConsumerMessages): Promise<void> {
    try {
      for await (const m of msgs) {
        this.pending.push(m);
        // Coalesce: wait up to FLUSH_DELAY_MS (or a full batch) and write everything as one batch.
        // Flushing every I/O turn wrote 1–5 events per write+ack under load and capped ingest at
        // ~2.5k events/s; coalescing brings it to the JetStream publish rate (bench/feedback).
        if (!this.flushing) {
          this.flushing = new Promise<void>((r) => {
            this.kick = r;
            this.kickTimer = setTimeout(r, FLUSH_DELAY_MS);
          }).then(() => this.flush());
        } else if (this.pending.length >= this.opts.batch) this.kick?.();
      }
    } catch (err) {
      this.opts.onError?.(err);
    }
    await this.flushing;
    // The iterator ended without stop(): a failed write stopped it, or the consumer went away
    // (deleted, server restarted). Resume right after what the store holds.
    if (!this.stopped) setTimeout(() => void this.restart(), 500).unref();
  }

  private async restart(): Promise<void> {
    if (this.stopped) return;
    try {
      this.applied = await this.store.lastSeq();
      await this.subscribe();
    } catch (err) {
      this.opts.onError?.(err);
      setTimeout(() => void this.restart(), 1_000).unref();
    }
  }

  private async flush(): Promise<void> {
    clearTimeout(this.kickTimer);
    this.kick = undefined;
    let failed = false;
    let gap = false;
    try {
      while (this.pending.length > 0 && !this.stopped && !gap) {
        const batch = this.pending;
        this.pending = [];
        const { taken, gapAt } = contiguousRun(batch, this.applied, this.holeAt);
        const events: SequencedEvent[] = [];
        for (const m of taken) {
          try {
            const json = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength).toString('utf8');
            events.push({ seq: m.seq, event: parseEvent(json), json });
          } catch (err) {
            // A malformed message can never apply; it is skipped (and acked) rather than blocking the log.
            this.opts.onError?.(err);
          }
        }
        if (gapAt !== undefined) {
          // A sequence is missing before gapAt. Either the log has a hole there (a purge, an expiry) or a
          // message was delivered where this process never saw it — a consumer leader that died with it in
          // flight counts it delivered — and acking a later one (AckPolicy.All) would ack it too: lost for
          // the store. Re-read from the first missing sequence; a hole still there then is real.
          this.holeAt = gapAt;
          gap = true;
        }
        const last = taken.at(-1);
        if (!last) {
          // Only redeliveries of what the store holds: ack them (AckPolicy.All: up to the last) so they stop coming.
          if (gapAt === undefined) batch.filter((m) => m.seq <= this.applied).at(-1)?.ack();
          continue;
        }
        if (gapAt === undefined && this.holeAt !== undefined && last.seq >= this.holeAt) this.holeAt = undefined;
        await this.store.apply(events, this.now());
        if (this.opts.observe) for (const m of taken) this.opts.observe(m);
        last.ack();
        this.applied = Math.max(this.applied, last.seq);
        this.wake();
      }
    } catch (err) {
      failed = true;
      this.opts.onError?.(err);
    } finally {
      this.flushing = undefined;
    }
    // Drop what was pulled: run() ends and restarts the consumer at store.lastSeq + 1.
    if (failed || gap) {
      this.pending = [];
      this.msgs?.stop();
    }
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (w.seq <= this.applied ? w.done(true) : still.push(w));
    this.waiters = still;
  }

  /** Resolves true once the store holds `seq`, false after `timeoutMs`. */
  waitFor(seq: number, timeoutMs: number): Promise<boolean> {
    if (seq <= this.applied) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = { seq, done: (ok: boolean) => (clearTimeout(timer), resolve(ok)) };
      this.waiters.push(waiter);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.msgs?.stop();
    await this.loop?.catch(() => undefined);
    await this.flushing;
    for (const w of this.waiters) w.done(false);
    this.waiters = [];
  }
}

/**
 * The messages of `batch` that continue the store's log without a gap: after `applied`, each the
 * next sequence (redeliveries of what the store holds are dropped). `gapAt`: the first sequence past a
 * missing one, unless it is `acceptedHole` (re-read once and still first: a real hole, taken).
 */
export function contiguousRun<M extends { seq: number }>(batch: readonly M[], applied: number, acceptedHole?: number): { taken: M[]; gapAt?: number } {
  const taken: M[] = [];
  let last = applied;
  for (const m of batch) {
    if (m.seq <= last) continue;
    if (m.seq > last + 1 && m.seq !== acceptedHole) return { taken, gapAt: m.seq };
    taken.push(m);
    last = m.seq;
  }
  return { taken };
}
