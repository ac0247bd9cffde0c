/**
 * JetStream work-queue worker for model stages.
 * - stream `TESSERA_<STAGE>` (WorkQueue retention, subjects `tessera.work.<stage>.>`), durable pull
 *   consumer `<stage>-workers`, explicit ack; a worker pulls only when it has a free slot
 *   (`concurrency`), so unstarted jobs stay in the stream for other workers (and KEDA sees the lag);
 * - `working()` every ackWait/3 while a job runs, so long jobs are not redelivered;
 * - a crashed worker's job is redelivered after ackWait to another worker;
 * - retryable failures (UNAVAILABLE, INTERNAL, ABORTED, and RESOURCE_EXHAUSTED with a retryAfterMs hint)
 *   are naked with backoff
 *   until MaxDeliver; then, and for bad input (malformed protobuf, unknown method, missing tenant,
 *   oversized payload), the job is terminated (`term()`), the caller gets the error on its inbox, and
 *   an advisory goes to `tessera.advisory.poison.<stage>`;
 * - a job past its deadline is acked and answered DEADLINE_EXCEEDED before any compute;
 * - replies go to the inbox in `tessera-reply-to`.
 */
import type { JsMsg, NatsConnection, Consumer, MsgHdrs } from 'nats';
import { Metric, metrics } from '@tessera/telemetry';
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { MethodInfo } from '../definition.js';
import type { ServerPolicy } from '../server-call.js';
import type { Logger } from '../logger.js';
import { Header } from '../wire-headers.js';
import { errorHeaders } from './status.js';
import type { PayloadPolicy } from './payload.js';
import { serveCall, type Handler } from './serve-call.js';
import { ensureWorkConsumer, MAX_PULL_BATCH } from './streams.js';
import { durableName, parseCallSubject, pkgVersion, poisonAdvisorySubject, streamName } from './subjects.js';

export interface WorkQueueOptions {
  /** Stage name: `slicer`, `resampler`, `decoder`. */
  stage: string;
  /** Definition keys of the methods served from the queue. */
  methods: readonly string[];
  /** Jobs processed at once by this process. Default 1 (one model session). */
  concurrency?: number;
  /** Default 30 s. Heartbeats go every ackWait/3. */
  ackWaitMs?: number;
  /** Default 5. */
  maxDeliver?: number;
  /** Nak delay per retry (index = delivery count - 1, last value repeats). Default [1 s, 5 s, 15 s]. */
  backoffMs?: readonly number[];
  /** Unacked jobs across all workers of the stage (consumer setting). Default 1000. */
  maxAckPending?: number;
  /** JetStream replicas of the stage's stream and consumer. Default 1. */
  replicas?: number;
  /** How long one pull waits for a job before pulling again; bounds how fast pulling stops. Default 1 s. */
  pullExpiresMs?: number;
  /**
   * Also take these methods' calls offered directly, as core request/reply streams on
   * `<namespace>.<version>.<Service>.<Method>` (queue group = service name), in the same
   * `concurrency` slots as jobs: a caller whose client has the same `workQueue.direct` tries there
   * first and queues the job only on "no responders" or when every server there is full (refused at
   * once with `tessera-kind: busy`). Skips the queue's store, PubAck and pull where a server is idle
   * (edge uplink: 4–5 ms per forwarded chat at load 5–8, docs/decisions.md), and loses nothing:
   * what no server can take now still waits in the stream. Server-streaming methods only: a unary
   * method in `methods` is served from the queue alone (the edge uplink's SubmitFeedback).
   */
  direct?: { namespace: string };
}

const RETRYABLE = new Set<string>([ErrorCode.UNAVAILABLE, ErrorCode.INTERNAL, ErrorCode.ABORTED, ErrorCode.RESOURCE_EXHAUSTED]);
/** RESOURCE_EXHAUSTED is transient only with a retry hint (quota, back-pressure); an input over a size limit is not. */
const isRetryable = (e: TesseraError): boolean => RETRYABLE.has(e.code) && !(e.code === ErrorCode.RESOURCE_EXHAUSTED && e.details.retryAfterMs === undefined);

interface Job {
  msg: JsMsg;
  controller: AbortController;
  /** Set when shutdown naked the job back: no reply, no ack. */
  released: boolean;
  done: Promise<void>;
}

export class WorkQueueWorker {
  private consumer: Consumer | undefined;
  private pulling = false;
  private loop: Promise<void> | undefined;
  private readonly jobs = new Set<Job>();
  private freed: (() => void) | undefined;
  private readonly byMethod = new Map<string, { info: MethodInfo; fn: Handler }>();
  private readonly stream: string;
  private readonly concurrency: number;
  private readonly ackWaitMs: number;
  private readonly maxDeliver: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly o: WorkQueueOptions,
    handlers: { info: MethodInfo; fn: Handler }[],
    private readonly env: {
      policy: ServerPolicy;
      payload: PayloadPolicy;
      creditTimeoutMs: number;
      logger: Logger;
      /** Slots taken outside the queue (direct calls, `WorkQueueOptions.direct`). */
      takenElsewhere?: () => number;
    },
  ) {
    for (const h of handlers) this.byMethod.set(h.info.method, h);
    this.stream = streamName(o.stage);
    this.concurrency = o.concurrency ?? 1;
    this.ackWaitMs = o.ackWaitMs ?? 30_000;
    this.maxDeliver = o.maxDeliver ?? 5;
  }

  get inFlight(): number {
    return this.jobs.size;
  }

  /** Jobs (and direct calls) this process runs at once. */
  get capacity(): number {
    return this.concurrency;
  }

  /** A slot taken elsewhere was freed: pull again if the loop waits for one. */
  slotFreed(): void {
    this.freed?.();
  }

  async start(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    await ensureWorkConsumer(jsm, this.o.stage, { ackWaitMs: this.ackWaitMs, maxDeliver: this.maxDeliver, maxAckPending: this.o.maxAckPending ?? 1000, replicas: this.o.replicas ?? 1 });
    this.consumer = await this.nc.jetstream().consumers.get(this.stream, durableName(this.o.stage));
    this.pulling = true;
    this.loop = this.pullLoop();
  }

  /** Stop pulling new jobs (a pull in progress ends within pullExpiresMs). */
  async stopPulling(): Promise<void> {
    this.pulling = false;
    this.freed?.();
    await this.loop;
  }

  /** Waits up to `graceMs` for running jobs, then naks the rest back to the stream for another worker. */
  async finish(graceMs: number): Promise<void> {
    await this.stopPulling();
    const all = Promise.allSettled([...this.jobs].map((j) => j.done));
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([all, timeout])) !== 'timeout') return;
    for (const j of this.jobs) {
      j.released = true;
      j.msg.nak();
      metrics().counter(Metric.jobsNaked).inc({ stage: this.o.stage, reason: 'shutdown' });
      j.controller.abort(new TesseraError(ErrorCode.UNAVAILABLE, 'worker shutting down: job naked back to the queue'));
    }
    await Promise.race([all, new Promise((r) => setTimeout(r, 1_000).unref())]);
  }

  /**
   * One pull asks for every free slot (`fetch` of concurrency − running jobs, at most MAX_PULL_BATCH), and each job
   * starts as it arrives. Pulling one job per pull (`next()`: a pull request and its own inbox
   * subscription per job) started a burst of N jobs one pull round trip apart: 8 chats forwarded at
   * once to a hub gateway waited ~180 ms more for their first token at load 16 (bench/edge 1b).
   * Still only free slots are asked for, so unstarted jobs stay in the stream for other workers.
   */
  private async pullLoop(): Promise<void> {
    const expires = this.o.pullExpiresMs ?? 1_000;
    while (this.pulling) {
      const free = this.concurrency - this.jobs.size - (this.env.takenElsewhere?.() ?? 0);
      if (free <= 0) {
        await new Promise<void>((r) => (this.freed = r));
        this.freed = undefined;
        continue;
      }
      try {
        const batch = await this.consumer!.fetch({ max_messages: Math.min(free, MAX_PULL_BATCH), expires });
        for await (const m of batch) {
          // Pulled while stopping: hand it straight back.
          if (!this.pulling) m.nak();
          else this.run(m);
        }
      } catch (err) {
        if (!this.pulling || this.nc.isClosed()) break;
        this.env.logger.warn('work-queue pull failed; retrying', { stage: this.o.stage, err: String(err) });
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private run(msg: JsMsg): void {
    const job: Job = { msg, controller: new AbortController(), released: false, done: Promise.resolve() };
    this.jobs.add(job);
    job.done = this.process(job)
      .catch((err: unknown) => this.env.logger.error('work-queue job failed outside the handler', { stage: this.o.stage, err: String(err) }))
      .finally(() => {
        this.jobs.delete(job);
        this.freed?.();
      });
  }

  private async process(job: Job): Promise<void> {
    const { msg } = job;
    const attempt = msg.info.deliveryCount;
    if (attempt > 1) metrics().counter(Metric.jobsRedelivered).inc({ stage: this.o.stage });
    const replyTo = msg.headers?.get(Header.REPLY_TO) || undefined;
    const reply = (body: Uint8Array, h: MsgHdrs) => {
      if (replyTo) this.nc.publish(replyTo, body, { headers: h });
    };

    const { version, method } = parseCallSubject(msg.subject);
    const entry = this.byMethod.get(method);
    if (!entry || (version !== undefined && version !== pkgVersion(entry.info))) {
      const err = new TesseraError(ErrorCode.UNIMPLEMENTED, `${msg.subject}: unknown method or version for stage ${this.o.stage}`, { field: 'subject' });
      const h = errorHeaders(err);
      h.set(Header.END, '1');
      reply(new Uint8Array(0), h);
      this.poison(msg, err, 'unknown_method');
      return;
    }

    // Heartbeat so ack_wait only fires when this process is gone, not when the job is long.
    const beat = setInterval(() => msg.working(), Math.max(250, Math.floor(this.ackWaitMs / 3)));
    let out;
    try {
      out = await serveCall({
        nc: this.nc,
        info: entry.info,
        fn: entry.fn,
        subject: msg.subject,
        data: msg.data,
        headers: msg.headers,
        transport: 'jetstream',
        policy: this.env.policy,
        payload: this.env.payload,
        creditTimeoutMs: this.env.creditTimeoutMs,
        attempt,
        working: () => msg.working(),
        controller: job.controller,
        reply,
        consumerGroup: durableName(this.o.stage),
        track: () => {},
      });
    } finally {
      clearInterval(beat);
    }
    if (job.released) {
      if (!out.ok) out.discard();
      return;
    }
    if (out.ok) {
      msg.ack();
      return;
    }
    const e = out.error;
    if (out.phase === 'before') {
      out.replyError();
      if (e.code === ErrorCode.DEADLINE_EXCEEDED) msg.ack();
      else if (e.code === ErrorCode.UNAVAILABLE) this.retryOrTerm(msg, attempt, out);
      else this.poison(msg, e, 'bad_input');
      return;
    }
    if (isRetryable(e)) {
      this.retryOrTerm(msg, attempt, out);
      return;
    }
    out.replyError();
    msg.ack();
  }

  private retryOrTerm(msg: JsMsg, attempt: number, out: { error: TesseraError; replyError(): void; discard(): void }): void {
    if (attempt < this.maxDeliver) {
      const backoff = this.o.backoffMs ?? [1_000, 5_000, 15_000];
      const delay = backoff[Math.min(attempt - 1, backoff.length - 1)] ?? 0;
      out.discard();
      msg.nak(delay);
      metrics().counter(Metric.jobsNaked).inc({ stage: this.o.stage, reason: out.error.code });
      this.env.logger.warn('job failed, naked for retry', { stage: this.o.stage, attempt, delayMs: delay, code: out.error.code, message: out.error.message });
      return;
    }
    out.replyError();
    this.poison(msg, out.error, 'max_deliver');
  }

  private poison(msg: JsMsg, err: TesseraError, reason: string): void {
    // No reason text: nats-server 2.9 ignores `+TERM <reason>` and would redeliver the job.
    msg.term();
    metrics().counter(Metric.jobsPoison).inc({ stage: this.o.stage, reason });
    const advisory = {
      stage: this.o.stage,
      stream: this.stream,
      streamSeq: msg.info.streamSequence,
      subject: msg.subject,
      deliveries: msg.info.deliveryCount,
      reason,
      code: err.code,
      message: err.message,
      requestId: msg.headers?.get(Header.REQUEST_ID) ?? '',
      tenant: msg.headers?.get(Header.TENANT) ?? '',
    };
    this.nc.publish(poisonAdvisorySubject(this.o.stage), JSON.stringify(advisory));
    this.env.logger.warn('poison job terminated', advisory);
  }
}
