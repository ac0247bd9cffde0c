import { ErrorCode, TesseraError } from '@tessera/runtime';
import { DiscardPolicy, RetentionPolicy, StorageType, nanos, type JetStreamClient, type JetStreamManager, type NatsConnection, type StreamConfig } from 'nats';
import { STREAM_SUBJECTS, dedupeId, encodeEvent, eventSubject, tenantLogFilter, type LogEvent } from '../../domain/events.js';

const ELECTION_RETRY_MS = 250;

export interface FeedbackLogOptions {
  /** `TESSERA_FEEDBACK` */
  stream: string;
  replicas: number;
  /** Server-side Nats-Msg-Id dedupe window; retries inside it are answered `duplicate`. */
  duplicateWindowMs: number;
  /** Stream max age: the longest retention any record may have. */
  maxAgeMs: number;
  /** Largest event the stream accepts (NATS max_payload is 1 MiB by default). */
  maxEventBytes: number;
  /** How long one publish waits for the stream's acknowledgement. */
  ackTimeoutMs: number;
  /**
   * Edge site: events the stream keeps (-1 = no limit). Beyond it the oldest are discarded first,
   * so a long outage keeps the newest feedback and never fills the box's disk; the edge gateway
   * counts discards the hub never received (tessera_edge_feedback_dropped_total).
   */
  maxMessages?: number;
  /** Edge site: bytes the stream keeps (-1 = no limit), same policy. */
  maxBytes?: number;
  /** Hub: edge sites whose own TESSERA_FEEDBACK (in their JetStream domain) this stream sources. */
  sources?: Array<{ name: string; external: { api: string; deliver: string } }>;
}

/**
 * The feedback stream's one definition (issue 14): this service creates it from here, and
 * deploy/nats/stream-feedback.json and the chart's copy are generated from it with the default
 * config (scripts/gen-jetstream.ts). Feedback must never be lost on the hub: no message or byte cap,
 * and `discard: new`, so were a cap ever reached a write is refused (the caller retries with the same
 * id) rather than an old record deleted; records leave only by age (the longest retention + 1 day).
 * An edge site sets caps (TESSERA_FEEDBACK_STREAM_MAX_*) and then discards the oldest first, counted
 * by the edge gateway: a long outage keeps the newest feedback and never fills the box's disk.
 */
export function feedbackStreamConfig(o: Pick<FeedbackLogOptions, 'stream' | 'replicas' | 'duplicateWindowMs' | 'maxAgeMs' | 'maxEventBytes' | 'maxMessages' | 'maxBytes' | 'sources'>): StreamConfig {
  const capped = (o.maxMessages ?? -1) > 0 || (o.maxBytes ?? -1) > 0;
  return {
    name: o.stream,
    description: 'durable feedback log (ratings, corrected spans, preferences); the projector replays it',
    subjects: [...STREAM_SUBJECTS],
    retention: RetentionPolicy.Limits,
    max_consumers: -1,
    max_msgs_per_subject: -1,
    max_msgs: o.maxMessages ?? -1,
    max_bytes: o.maxBytes ?? -1,
    max_age: nanos(o.maxAgeMs),
    max_msg_size: o.maxEventBytes,
    storage: StorageType.File,
    discard: capped ? DiscardPolicy.Old : DiscardPolicy.New,
    num_replicas: o.replicas,
    duplicate_window: nanos(o.duplicateWindowMs),
    sealed: false,
    deny_delete: false,
    deny_purge: false,
    allow_rollup_hdrs: false,
    allow_direct: false,
    mirror_direct: false,
    ...(o.sources?.length && { sources: o.sources }),
  } as StreamConfig;
}

export interface Appended {
  seq: number;
  duplicate: boolean;
}

/**
 * The durable event log: JetStream stream `TESSERA_FEEDBACK`, file storage, limits retention.
 * `append` resolves only after the stream acknowledged the write (PubAck), so an acknowledged
 * write survives a crash of this process; concurrent appends are pipelined on one connection
 * (async acks), which is what makes ingest reach thousands of events per second.
 */
export class FeedbackLog {
  private readonly js: JetStreamClient;

  private constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly opts: FeedbackLogOptions,
  ) {
    this.js = nc.jetstream();
  }

  static async open(nc: NatsConnection, opts: FeedbackLogOptions): Promise<FeedbackLog> {
    const log = new FeedbackLog(nc, await nc.jetstreamManager(), opts);
    await log.ensureStream();
    return log;
  }

  private async ensureStream(): Promise<void> {
    const cfg = feedbackStreamConfig(this.opts);
    try {
      const info = await this.jsm.streams.info(this.opts.stream);
      const c = info.config;
      // The service owns this stream's settings (a deploy hook may have created it first).
      const subjects = [...new Set([...(c.subjects ?? []), ...STREAM_SUBJECTS])];
      // Sites are added, never removed here: a source dropped from the config keeps what it sent.
      const sources = [...(c.sources ?? [])];
      for (const src of this.opts.sources ?? []) if (!sources.some((x) => x.external?.api === src.external.api && x.name === src.name)) sources.push(src);
      if (subjects.length !== (c.subjects ?? []).length || c.num_replicas !== cfg.num_replicas || c.duplicate_window !== cfg.duplicate_window || c.max_age !== cfg.max_age || c.max_msg_size !== cfg.max_msg_size || c.max_msgs !== cfg.max_msgs || c.max_bytes !== cfg.max_bytes || c.discard !== cfg.discard || sources.length !== (c.sources ?? []).length) {
        await this.jsm.streams.update(this.opts.stream, { ...c, ...cfg, subjects, ...(sources.length && { sources }) });
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.jsm.streams.add(cfg);
    }
  }

  async append(e: LogEvent): Promise<Appended> {
    const data = encodeEvent(e);
    if (data.length > this.opts.maxEventBytes) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `the ${e.type} event is ${data.length} bytes: the limit is ${this.opts.maxEventBytes} (TESSERA_FEEDBACK_MAX_EVENT_BYTES)`, { field: e.type, limit: `<= ${this.opts.maxEventBytes} bytes` });
    }
    // "No responders" (503) = the stream has no leader for a moment (a clustered JetStream electing one
    // after a node loss), or no ack (the publish went to a node as it died): publish again with the
    // same msg id (de-duplicated) within ackTimeoutMs.
    const until = Date.now() + this.opts.ackTimeoutMs;
    for (;;) {
      try {
        // Each attempt waits at most 2 s: a publish routed to a node as it died gets no ack at all.
        const ack = await this.js.publish(eventSubject(e), data, { msgID: dedupeId(e), expect: { streamName: this.opts.stream }, timeout: Math.max(100, Math.min(until - Date.now(), 2_000)) });
        return { seq: ack.seq, duplicate: ack.duplicate };
      } catch (err) {
        const code = (err as { code?: string }).code;
        if ((code === '503' || code === 'TIMEOUT') && Date.now() + ELECTION_RETRY_MS < until) {
          if (code === '503') await new Promise((r) => setTimeout(r, ELECTION_RETRY_MS));
          continue;
        }
        throw new TesseraError(ErrorCode.UNAVAILABLE, `the feedback log (stream ${this.opts.stream}) did not acknowledge the write within ${this.opts.ackTimeoutMs} ms; retry with the same id`, { retryAfterMs: 1000 }, { cause: err });
      }
    }
  }

  async lastSeq(): Promise<number> {
    const info = await this.jsm.streams.info(this.opts.stream);
    return info.state.last_seq;
  }

  /** Removes a tenant's events below `beforeSeq` (the erase marker's sequence) from the stream. */
  async purgeTenant(tenant: string, beforeSeq: number): Promise<number> {
    const r = await this.jsm.streams.purge(this.opts.stream, { filter: tenantLogFilter(tenant), seq: beforeSeq });
    return r.purged;
  }

  /** Events of a tenant still in the stream (tests and the erase report). */
  async tenantMessages(tenant: string): Promise<number> {
    const info = await this.jsm.streams.info(this.opts.stream, { subjects_filter: tenantLogFilter(tenant) });
    return Object.values(info.state.subjects ?? {}).reduce((s, n) => s + n, 0);
  }
}

export function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10059 || e?.api_error?.err_code === 10014 || e?.code === '404' || /not found/i.test(e?.message ?? '');
}

