/**
 * Typed NATS client from a service definition, the same shape as the gRPC client:
 *   const slicer = natsClient(nc, SlicerServiceService, { workQueue: { stage: 'slicer', methods: ['slice'] } });
 *   const res = await slicer.slice(req, { parent: ctx });
 * Request/reply methods use core NATS; work-queue methods publish a JetStream job (Nats-Msg-Id
 * de-duplication) and await the reply on the client's inbox until the deadline.
 */
import { createInbox, headers as natsHeaders, type JetStreamClient, type Msg, type MsgHdrs, type NatsConnection, type NatsError } from 'nats';
import { Attr, Metric, SpanName, metrics } from '@tessera/telemetry';
import { abortReason, deadlineError, raceAbort, resolveCallOptions, type CallOptions, type ResolvedCall } from '../context.js';
import { methodsOf, type MethodInfo, type ServiceDefinition } from '../definition.js';
import type { ServiceClient } from '../client-types.js';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { SpanKind, callerContext, endSpan, startSpan } from '../tracing.js';
import { Header } from '../wire-headers.js';
import { requestHeaders } from './headers.js';
import { errorFromHeaders } from './status.js';
import { Inbox, calleeInboxes, calleeToken, connectionInboxPrefix } from './inbox.js';
import { busDownError, busState, type BusState } from './bus-state.js';
import { decodeOrThrow, inboundBytes, outboundBody, type PayloadPolicy } from './payload.js';
import { DEFAULT_WINDOW } from './stream-sender.js';
import { ensureWorkStream, WORK_STREAM_LIMITS } from './streams.js';
import { controlSubject, streamName, workSubject } from './subjects.js';

export interface NatsClientOptions {
  /**
   * Methods that go through the stage's JetStream work queue (must match the server's binding).
   * `direct`: offer each call first to a server on `<namespace>.<version>.<Service>.<Method>` (the
   * binding's `workQueue.direct`, core request/reply); the job is queued only on "no responders" or a
   * `busy` refusal. The offer waits `acceptTimeoutMs` for the accept; past it the call fails
   * (UNAVAILABLE) instead of queueing, since the server may have the call. Server-streaming methods
   * only: a unary method in `methods` is always queued (no accept can tell taken from not taken).
   */
  workQueue?: { stage: string; methods: readonly string[]; direct?: { namespace: string } };
  /**
   * Request/reply methods go to `<namespace>.<version>.<Service>.<Method>` instead of the package's own
   * subjects (the binding's `namespace`): an edge site calls a hub decoder under its model's
   * namespace, which no decoder of its own captures (libs/edge `hubModelNamespace`).
   */
  namespace?: string;
  /**
   * JetStream domain of the work queue: an edge site reaches the hub's queues over its leaf link
   * through `$JS.<domain>.API` (libs/edge). Default: the connection's own domain.
   */
  jsDomain?: string;
  /**
   * Prefix of reply and control subjects: the connection's inbox prefix by default (`_INBOX.<bus user>`,
   * see connect.ts). Replies then arrive under `<prefix>.<callee>.r` and control subjects are named
   * `<prefix>.<callee>.c.<id>` (inbox.ts), the only parts of this caller's inboxes the callee's NATS
   * user may publish to and subscribe. An edge site uses `_INBOX_<site>`, the only inboxes its leaf
   * credential may receive on; the connection should use the same prefix.
   */
  inboxPrefix?: string;
  payload?: PayloadPolicy;
  /** Default timeout when a call gives no deadline. Default 60 s. */
  defaultTimeoutMs?: number;
  /** Stream window: chunks in flight before the client grants more credit. Default 64. */
  streamWindow?: number;
  /**
   * Liveness of server streams: the server sends a heartbeat when it sent nothing else for this
   * long, and two missed intervals end the stream (or resume it, below). Default 1000 ms; 0 = off
   * (the call then waits for its deadline when the server dies).
   */
  heartbeatMs?: number;
  /**
   * Server streams restarted on another replica when their server goes silent: the request is sent
   * again (a new work-queue job, or a new request/reply call that NATS routes to a live member of
   * the queue group) and the chunks already delivered are skipped. Only for methods that replay the
   * same chunks (the decoder's Generate with a fixed seed). Default 0.
   */
  resumeAttempts?: number;
  /** How long a request/reply stream waits for the server to accept the call. Default 10 s (bounded by the deadline). */
  acceptTimeoutMs?: number;
  /**
   * A server that misses heartbeats but still holds its NATS subscription (alive, event loop starved)
   * is given this long in all before the stream is declared lost. Default 15 s.
   */
  maxSilenceMs?: number;
  /**
   * A work-queue publish that finds its stream without a leader (a clustered JetStream electing one
   * after a node loss) is retried this long, bounded by the deadline. Default 10 s.
   */
  electionWaitMs?: number;
}

export const DEFAULT_HEARTBEAT_MS = 1_000;
// Raft elections of a 3-node cluster take 2–6 s (election timeout ~2–4 s, plus catch-up under load).
const DEFAULT_ELECTION_WAIT_MS = 10_000;
const ELECTION_RETRY_MS = 250;
// A PubAck comes in ~1 ms on loopback and tens of ms across zones; 3 s means it is not coming.
const PUBLISH_ACK_MS = 3_000;
const DEFAULT_ACCEPT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_SILENCE_MS = 15_000;

/** Per-call extras over CallOptions for NATS. */
export interface NatsCallOptions extends CallOptions {
  /** Nats-Msg-Id for a work-queue publish: a retry with the same key within 2 min is stored once. Default: unique per call. */
  idempotencyKey?: string;
}

/** `workQueue.methods` checked against the definition's method keys. */
export type TypedNatsClientOptions<D extends ServiceDefinition> = Omit<NatsClientOptions, 'workQueue'> & {
  workQueue?: { stage: string; methods: readonly (keyof D & string)[]; direct?: { namespace: string } };
};

export function natsClient<D extends ServiceDefinition>(nc: NatsConnection, definition: D, opts: TypedNatsClientOptions<D> = {}): ServiceClient<D> {
  const c = new NatsClientCore(nc, opts, calleeToken(methodsOf(definition)[0] ?? { service: 'unknown' }));
  const queued = new Set(opts.workQueue?.methods ?? []);
  const out: Record<string, unknown> = { close: () => c.close() };
  for (const info of methodsOf(definition)) {
    const q = queued.has(info.key);
    out[info.key] = info.def.responseStream
      ? (req: unknown, o?: NatsCallOptions) => c.stream(info, req, o, q)
      : (req: unknown, o?: NatsCallOptions) => c.unary(info, req, o, q);
  }
  return out as ServiceClient<D>;
}

class NatsClientCore {
  private inboxInstance: Inbox | undefined;
  private js: JetStreamClient | undefined;
  private readonly streamsEnsured = new Map<string, Promise<unknown>>();
  private callSeq = 0;
  private readonly bus: BusState;
  private readonly inboxes: { replies: string; control: string };

  constructor(
    private readonly nc: NatsConnection,
    private readonly o: NatsClientOptions,
    callee: string,
  ) {
    this.bus = busState(nc);
    this.inboxes = calleeInboxes(o.inboxPrefix ?? connectionInboxPrefix(nc), callee);
  }

  close(): void {
    this.inboxInstance?.close();
    this.inboxInstance = undefined;
  }

  private get jsOpts(): { domain?: string } {
    return this.o.jsDomain ? { domain: this.o.jsDomain } : {};
  }

  private get inbox(): Inbox {
    this.inboxInstance ??= new Inbox(this.nc, this.inboxes.replies);
    return this.inboxInstance;
  }

  private begin(info: MethodInfo, o: NatsCallOptions | undefined, queued: boolean) {
    const call = resolveCallOptions(o, this.o.defaultTimeoutMs);
    const subject = queued ? workSubject(this.o.workQueue!.stage, info) : controlSubject(info, this.o.namespace);
    const { span, ctx } = startSpan({
      name: SpanName.natsSend(subject),
      kind: SpanKind.PRODUCER,
      parent: callerContext(call.trace),
      attributes: {
        [Attr.messagingSystem]: 'nats',
        [Attr.messagingOperation]: 'send',
        [Attr.messagingDestination]: subject,
        [Attr.rpcService]: info.fullService,
        [Attr.rpcMethod]: info.method,
        [Attr.requestId]: call.requestId,
        ...(call.tenant && { [Attr.tenant]: call.tenant }),
      },
    });
    const h = requestHeaders(call, ctx);
    const started = performance.now();
    const labels = { method: `${info.service}/${info.method}`, transport: queued ? 'jetstream' : 'nats' };
    const finish = (err?: unknown) => {
      metrics().histogram(Metric.rpcClientDuration).observe({ ...labels, code: err === undefined ? 'OK' : TesseraError.from(err).code }, (performance.now() - started) / 1000);
      endSpan(span, err);
    };
    /** A queued call a server took directly (`workQueue.direct`): it ran over core NATS. */
    const tookDirect = (direct: string) => {
      labels.transport = 'nats';
      span.setAttribute(Attr.messagingDestination, direct);
    };
    return { call, subject, h, finish, tookDirect };
  }

  private async encode(info: MethodInfo, req: unknown, h: MsgHdrs): Promise<Uint8Array> {
    return outboundBody(this.nc, info.def.requestSerialize(req), h, this.o.payload ?? {});
  }

  private decodeReply(info: MethodInfo, m: Msg): unknown {
    const err = errorFromHeaders(m.headers);
    if (err) throw err;
    const what = `${info.service}/${info.method} reply`;
    // Inline fast path (every token chunk): no promise per message.
    if (!m.headers?.get(Header.CLAIM)) return decodeOrThrow((b) => info.def.responseDeserialize(b), Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), what);
    return this.decodeClaimed(info, m, what);
  }

  private async decodeClaimed(info: MethodInfo, m: Msg, what: string): Promise<unknown> {
    // Replies are produced by our own servers, which claim-check above the threshold; accept up to NATS max_payload inline.
    const bytes = await inboundBytes(this.nc, m.data, m.headers, { ...this.o.payload, maxInlineBytes: Number.MAX_SAFE_INTEGER }, what);
    return decodeOrThrow((b) => info.def.responseDeserialize(b), bytes, what);
  }

  /** Publishes a job; returns a function that withdraws it from the stream if no worker has taken it yet. */
  private async publishJob(subject: string, body: Uint8Array, h: MsgHdrs, call: ResolvedCall, o: NatsCallOptions | undefined, info: MethodInfo, resume = 0): Promise<() => void> {
    const stage = this.o.workQueue!.stage;
    this.js ??= this.nc.jetstream(this.jsOpts);
    let ensured = this.streamsEnsured.get(stage);
    if (!ensured) {
      ensured = this.nc.jetstreamManager(this.jsOpts).then((jsm) => ensureWorkStream(jsm, stage));
      this.streamsEnsured.set(stage, ensured);
      ensured.catch(() => this.streamsEnsured.delete(stage));
    }
    // With `workQueue.direct` the first job may come only once no server answers directly (an edge site
    // whose link to the hub just went down): the stream check then gets "no responders" from the
    // unreachable JetStream domain, which is UNAVAILABLE like a failed publish, not an internal error.
    await ensured.catch((err: unknown) => Promise.reject(natsError(err, subject, call)));
    const base = o?.idempotencyKey ?? `${call.requestId}:${info.method}:${process.pid}:${++this.callSeq}`;
    // A resumed stream is a new job: the same id would be dropped as a duplicate within 2 min.
    const msgID = resume > 0 ? `${base}:resume-${resume}` : base;
    let seq: number;
    // Two ways a publish can vanish on a clustered JetStream losing a node, both retried with the same
    // msg id (the stream de-duplicates): the stream has no leader for a moment (an election takes 2-6 s)
    // and answers "no responders" (503); or the message was routed to the node as it died and no ack
    // ever comes. So each attempt waits PUBLISH_ACK_MS for its ack, not the whole deadline.
    const electionBy = Math.min(call.deadline, Date.now() + (this.o.electionWaitMs ?? DEFAULT_ELECTION_WAIT_MS));
    for (;;) {
      try {
        seq = (await this.js.publish(subject, body, { msgID, headers: h, timeout: clampTimeout(Math.min(call.deadline - Date.now(), PUBLISH_ACK_MS)) })).seq;
        break;
      } catch (err) {
        const code = (err as NatsError).code;
        const full = streamFullError(err, stage);
        if (full) throw full;
        const again = (code === '503' && Date.now() + ELECTION_RETRY_MS < electionBy) || (code === 'TIMEOUT' && call.deadline - Date.now() > ELECTION_RETRY_MS);
        if (!again || !this.bus.connected) throw natsError(err, subject, call);
        if (code === '503') await new Promise((r) => setTimeout(r, ELECTION_RETRY_MS));
      }
    }
    // A job still waiting in the stream is deleted (a running one gets the cancel message);
    // deleting one that was already acked or taken fails harmlessly.
    return () => {
      void this.nc
        .jetstreamManager(this.jsOpts)
        .then((jsm) => jsm.streams.deleteMessage(streamName(stage), seq, false))
        .catch(() => {});
    };
  }

  async unary(info: MethodInfo, req: unknown, o: NatsCallOptions | undefined, queued: boolean): Promise<unknown> {
    const { call, subject, h, finish } = this.begin(info, o, queued);
    try {
      const res = await this.unaryInner(info, req, o, queued, call, subject, h);
      finish();
      return res;
    } catch (err) {
      const e = TesseraError.from(err);
      finish(e);
      throw e;
    }
  }

  private async unaryInner(info: MethodInfo, req: unknown, o: NatsCallOptions | undefined, queued: boolean, call: ResolvedCall, subject: string, h: MsgHdrs): Promise<unknown> {
    if (call.signal?.aborted) throw abortReason(call.signal);
    if (call.deadline <= Date.now()) throw deadlineError(info.path, call.deadline);
    this.bus.assertUp(info.path);
    // Cancellable call: the server listens on a control subject and aborts ctx.signal on `cancel`
    // (one SUB/UNSUB on the server per call, so only when the caller can cancel).
    const signal = call.signal;
    let onAbort: (() => void) | undefined;
    if (signal) {
      const control = createInbox(this.inboxes.control);
      h.set(Header.CONTROL, control);
      onAbort = () => {
        const ch = natsHeaders();
        ch.set(Header.KIND, 'cancel');
        this.nc.publish(control, new Uint8Array(0), { headers: ch });
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
    try {
      // A call in flight when the connection drops fails now, not at its deadline (its reply is lost).
      return await this.bus.race(this.unarySend(info, req, o, queued, call, subject, h), info.path);
    } finally {
      if (onAbort) signal!.removeEventListener('abort', onAbort);
    }
  }

  private async unarySend(info: MethodInfo, req: unknown, o: NatsCallOptions | undefined, queued: boolean, call: ResolvedCall, subject: string, h: MsgHdrs): Promise<unknown> {
    const body = await this.encode(info, req, h);
    if (!queued) {
      const reply = this.inbox.request(subject, body, { headers: h, timeoutMs: clampTimeout(call.deadline - Date.now()) });
      const m = await raceAbort(reply.catch((err: unknown) => Promise.reject(natsError(err, subject, call))), call.signal);
      return this.decodeReply(info, m);
    }
    // Work queue: subscribe first, then publish the job with our inbox in tessera-reply-to.
    let resolveReply!: (m: Msg) => void;
    const got = new Promise<Msg>((r) => (resolveReply = r));
    const route = this.inbox.open((m) => resolveReply(m));
    try {
      h.set(Header.REPLY_TO, route.subject);
      const withdraw = await this.publishJob(subject, body, h, call, o, info);
      const signal = call.signal;
      signal?.addEventListener('abort', withdraw, { once: true });
      try {
        const m = await raceAbort(withDeadline(got, call.deadline, info.path), signal);
        return await this.decodeReply(info, m);
      } finally {
        signal?.removeEventListener('abort', withdraw);
      }
    } finally {
      route.close();
    }
  }

  /**
   * Sends a request/reply stream call and waits up to `acceptTimeoutMs` for the server's accept.
   * true: accepted (chunks follow on the reply route). `orQueue` (a direct offer of a queued call):
   * false when nobody took it — no responders, or a server refused it as `busy` — so the caller
   * queues it; an accept timeout still fails, since a server may have the call.
   */
  private async offer(subject: string, body: Uint8Array, h: MsgHdrs, call: ResolvedCall, info: MethodInfo, orQueue: boolean): Promise<boolean> {
    const acceptBy = Math.min(call.deadline, Date.now() + (this.o.acceptTimeoutMs ?? DEFAULT_ACCEPT_TIMEOUT_MS));
    const ack = await raceAbort(
      this.bus.race(
        this.inbox.request(subject, body, { headers: h, timeoutMs: clampTimeout(acceptBy - Date.now()) }).catch((err: unknown) => {
          if (orQueue && (err as NatsError)?.code === '503') return undefined;
          return Promise.reject(natsError(err, subject, call, acceptBy < call.deadline));
        }),
        info.path,
      ),
      call.signal,
    );
    if (!ack || (orQueue && ack.headers?.get(Header.KIND) === 'busy')) return false;
    const err = errorFromHeaders(ack.headers);
    if (err) throw err;
    return true;
  }

  /** `gone`: NATS says nobody holds the stream's control subject; `alive`: the server answered; `silent`: neither in time. */
  private async probe(control: string, timeoutMs: number): Promise<'gone' | 'alive' | 'silent'> {
    const h = natsHeaders();
    h.set(Header.KIND, 'ping');
    try {
      await this.inbox.request(control, new Uint8Array(0), { headers: h, timeoutMs: Math.max(100, timeoutMs) });
      return 'alive';
    } catch (err) {
      return (err as NatsError)?.code === '503' ? 'gone' : 'silent';
    }
  }

  async *stream(info: MethodInfo, req: unknown, o: NatsCallOptions | undefined, queued: boolean): AsyncGenerator<unknown> {
    const { call, subject, h, finish, tookDirect } = this.begin(info, o, queued);
    const direct = queued && this.o.workQueue?.direct ? controlSubject(info, this.o.workQueue.direct.namespace) : undefined;
    const window = this.o.streamWindow ?? DEFAULT_WINDOW;
    const heartbeatMs = this.o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    // Two missed heartbeats: the server process (or the bus between us) is gone.
    const silenceMs = 2 * heartbeatMs;
    const maxResumes = heartbeatMs > 0 ? (this.o.resumeAttempts ?? 0) : 0;
    let queue: Msg[] = [];
    let wake: (() => void) | undefined;
    let route: { subject: string; close(): void } | undefined;
    let control = '';
    let serverDone = false;
    let withdraw: (() => void) | undefined;
    let failed: unknown;
    let body: Uint8Array | undefined;
    let resumes = 0;
    /** Liveness clock: when the server was last heard from; undefined = not running yet (a queued job may wait). */
    let heardAt: number | undefined;
    const maxSilenceMs = Math.max(silenceMs, this.o.maxSilenceMs ?? DEFAULT_MAX_SILENCE_MS);
    let busDown = false;
    const offBus = this.bus.onDown(() => {
      busDown = true;
      wake?.();
    });
    // One timer and one abort listener per stream, not per wait: each chunk used to cost a setTimeout,
    // a clearTimeout and an add/removeEventListener pair, ~6 % of a gateway's main thread while it
    // streams (cpu profile, bench/edge, docs/decisions.md "Issue 18 (hop micro-levers …)"). The timer
    // fires no later than the current wait needs; one armed for an earlier wait just wakes the loop to
    // re-check and is armed again.
    let timer: NodeJS.Timeout | undefined;
    let timerAt = 0;
    const onTimer = () => {
      timer = undefined;
      wake?.();
    };
    const onAbort = () => wake?.();
    call.signal?.addEventListener('abort', onAbort, { once: true });
    const sendControl = (kind: 'credit' | 'cancel', seq?: number) => {
      const ch = natsHeaders();
      ch.set(Header.KIND, kind);
      if (seq !== undefined) ch.set(Header.SEQ, String(seq));
      this.nc.publish(control, new Uint8Array(0), { headers: ch });
    };
    /** Sends the call (again, on resume) on a fresh reply route, so a late message of an abandoned attempt is dropped. */
    const open = async () => {
      route?.close();
      queue = [];
      const mine = this.inbox.open((m) => {
        if (route !== mine) return;
        heardAt = Date.now();
        queue.push(m);
        wake?.();
      });
      route = mine;
      control = createInbox(this.inboxes.control);
      h.set(Header.REPLY_TO, mine.subject);
      h.set(Header.CONTROL, control);
      h.set(Header.WINDOW, String(window));
      if (heartbeatMs > 0) h.set(Header.HEARTBEAT, String(heartbeatMs));
      body ??= await this.encode(info, req, h);
      if (direct && (await this.offer(direct, body, h, call, info, true))) {
        tookDirect(direct);
        heardAt = Date.now();
      } else if (queued) {
        withdraw = await this.publishJob(subject, body, h, call, o, info, resumes);
        // A first job may legitimately wait in the stream for a free worker; a resumed one is
        // expected to be picked up by an idle replica within one more interval.
        heardAt = resumes > 0 ? Date.now() + heartbeatMs : undefined;
      } else {
        await this.offer(subject, body, h, call, info, false);
        heardAt = Date.now();
      }
    };
    const lost = () =>
      new TesseraError(
        ErrorCode.UNAVAILABLE,
        `${info.path}: no message from the server for ${silenceMs} ms (heartbeats every ${heartbeatMs} ms)${resumes > 0 ? ` after ${resumes} resume(s)` : ''}: the serving process or its bus connection is gone`,
        { field: 'stream', retryAfterMs: 1_000 },
      );
    try {
      if (call.signal?.aborted) throw abortReason(call.signal);
      if (call.deadline <= Date.now()) throw deadlineError(info.path, call.deadline);
      this.bus.assertUp(info.path);
      await open();
      // Chunks: seq 0,1,2,… (a redelivered or resumed call restarts at 0: already-seen seqs are skipped).
      let next = 0;
      const ackEvery = Math.max(1, Math.floor(window / 2));
      for (;;) {
        while (queue.length === 0) {
          if (call.signal?.aborted) throw abortReason(call.signal);
          if (busDown) throw busDownError(info.path);
          const remaining = call.deadline - Date.now();
          if (remaining <= 0) throw deadlineError(info.path, call.deadline);
          let wait = remaining;
          if (heartbeatMs > 0 && heardAt !== undefined) {
            const quietFor = Date.now() - heardAt;
            if (quietFor >= silenceMs) {
              // Two heartbeats missed. A process killed with -9 loses its connection and with it the
              // control-subject subscription, so a probe there gets "no responders" from NATS at once;
              // a live process whose event loop is starved (a loaded node) still holds it: keep waiting,
              // up to `maxSilenceMs` in all.
              const verdict = quietFor >= maxSilenceMs ? 'gone' : await this.probe(control, heartbeatMs);
              if (verdict === 'alive') heardAt = Date.now();
              // A message that arrived while the probe was out settles it: a stream that just ended has
              // dropped its control subscription, so the probe says "gone" with the end marker queued.
              if (verdict !== 'gone' || queue.length > 0) continue;
              if (resumes >= maxResumes) throw lost();
              // Abandon the silent attempt (cancel reaches it if only slow; a queued job is withdrawn) and send again.
              sendControl('cancel');
              withdraw?.();
              withdraw = undefined;
              resumes++;
              metrics().counter(Metric.streamResumes).inc({ method: `${info.service}/${info.method}` });
              await open();
              continue;
            }
            wait = Math.min(wait, silenceMs - quietFor);
          }
          const sleptAt = Date.now();
          if (timer === undefined || timerAt > sleptAt + wait) {
            clearTimeout(timer);
            timerAt = sleptAt + wait;
            timer = setTimeout(onTimer, wait);
          }
          await new Promise<void>((resolve) => {
            wake = () => {
              wake = undefined;
              resolve();
            };
          });
          // Our own event loop ran late (a starved process): that time says nothing about the server.
          const late = timer === undefined ? Date.now() - Math.max(timerAt, sleptAt) : 0;
          if (late > 0 && heardAt !== undefined && queue.length === 0) heardAt += late;
        }
        const m = queue.shift()!;
        if (m.headers?.get(Header.KIND) === 'heartbeat') continue;
        const seq = Number(m.headers?.get(Header.SEQ));
        if (m.headers?.get(Header.END) === '1') {
          serverDone = true;
          const err = errorFromHeaders(m.headers);
          if (err) throw err;
          if (seq !== next) throw new TesseraError(ErrorCode.ABORTED, `${info.path}: stream ended after ${seq} chunks but ${next} arrived (lost chunks)`, { field: 'stream' });
          return;
        }
        if (!Number.isInteger(seq)) throw new TesseraError(ErrorCode.INTERNAL, `${info.path}: stream chunk without tessera-seq`);
        if (seq % ackEvery === ackEvery - 1) sendControl('credit', seq);
        if (seq < next) continue;
        if (seq > next) throw new TesseraError(ErrorCode.ABORTED, `${info.path}: stream chunk ${seq} arrived, expected ${next} (lost chunks)`, { field: 'stream' });
        next++;
        yield await this.decodeReply(info, m);
      }
    } catch (err) {
      failed = TesseraError.from(err);
      throw failed;
    } finally {
      offBus();
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onAbort);
      route?.close();
      // Consumer broke out, aborted, or the deadline passed: tell the server to stop.
      if (!serverDone && control) {
        sendControl('cancel');
        withdraw?.();
      }
      finish(failed);
    }
  }
}

const clampTimeout = (ms: number) => Math.max(1, Math.min(ms, 2_147_483_647));

/**
 * A work stream at its limits refuses new jobs (`discard: new`, streams.ts) with a 503 whose JetStream
 * error code says why; that is back-pressure for the caller to act on, not a leader election to wait
 * out, so it is RESOURCE_EXHAUSTED naming the stream and the limit, with a retry hint.
 */
function streamFullError(err: unknown, stage: string): TesseraError | undefined {
  const api = (err as { api_error?: { err_code?: number; description?: string } }).api_error;
  const limit = api?.err_code === 10077 ? `jobs <= ${WORK_STREAM_LIMITS.maxJobs}` : api?.err_code === 10047 ? `bytes <= ${WORK_STREAM_LIMITS.maxBytes}` : api?.err_code === 10054 ? `job bytes <= ${WORK_STREAM_LIMITS.maxJobBytes}` : undefined;
  if (!limit) return undefined;
  const stream = streamName(stage);
  return new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, `the ${stage} work queue (stream ${stream}) refused the job: ${api!.description} (${limit}); retry later`, { field: stream, limit, retryAfterMs: 1_000 }, { cause: err });
}

function natsError(err: unknown, subject: string, call: ResolvedCall, acceptTimeout = false): TesseraError {
  const code = (err as NatsError)?.code;
  if (code === '503') return new TesseraError(ErrorCode.UNAVAILABLE, `no responders on ${subject}: the service is not running or not subscribed`, { field: 'subject' }, { cause: err });
  if ((code === 'TIMEOUT' || code === '408') && acceptTimeout) {
    return new TesseraError(ErrorCode.UNAVAILABLE, `${subject}: the server did not accept the stream in time (its process may be gone)`, { field: 'subject', retryAfterMs: 1_000 }, { cause: err });
  }
  if (code === 'TIMEOUT' || code === '408') return new TesseraError(ErrorCode.DEADLINE_EXCEEDED, `deadline exceeded waiting for ${subject} (tessera-deadline ${new Date(call.deadline).toISOString()})`, { field: 'tessera-deadline' }, { cause: err });
  return TesseraError.from(err);
}

function withDeadline<T>(p: Promise<T>, deadline: number, method: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(deadlineError(method, deadline)), clampTimeout(deadline - Date.now()));
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

