/**
 * NATS adapter: binds a ServiceImpl to
 * - request/reply on `tessera.<domain>.<version>.<Service>.<Method>` (queue group = service name),
 *   unary and server-streaming (chunks to the caller's inbox, see stream-sender.ts);
 * - the JetStream work queue for the methods listed in `workQueue.methods` (see work-queue.ts), and
 *   with `workQueue.direct` the same methods offered as request/reply streams on their own namespace,
 *   in the queue's slots (refused at once with `tessera-kind: busy` when they are all taken).
 * Bad input never crashes the service: every failure becomes an error reply.
 */
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { methodsOf, type MethodInfo, type ServiceDefinition, type ServiceImpl } from '../definition.js';
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { ActiveCall, ServerPolicy } from '../server-call.js';
import { Header } from '../wire-headers.js';
import { errorHeaders } from './status.js';
import type { PayloadPolicy } from './payload.js';
import { serveCall, type Handler } from './serve-call.js';
import { controlSubject, parseCallSubject, pkgVersion, serviceWildcard } from './subjects.js';
import { WorkQueueWorker, type WorkQueueOptions } from './work-queue.js';
import { Metric, metrics } from '@tessera/telemetry';
import { consoleLogger, type Logger } from '../logger.js';

export interface NatsBindingOptions extends ServerPolicy {
  /** Queue group and consumer identity, e.g. `slicer`. */
  serviceName: string;
  /** Methods (definition keys) served from the JetStream work queue instead of request/reply. */
  workQueue?: WorkQueueOptions;
  /**
   * Request/reply on `<namespace>.<version>.<Service>.<Method>` instead of the package's subjects
   * (runtime `controlSubject`): a second binding of the same service that callers reach only by
   * naming it (a hub decoder serving edge sites under its model's namespace).
   */
  namespace?: string;
  payload?: PayloadPolicy;
  /** A streaming caller that grants no credit for this long is treated as gone. Default 30 s. */
  streamCreditTimeoutMs?: number;
  logger?: Logger;
}

export class NatsBinding {
  private sub: Subscription | undefined;
  private directSub: Subscription | undefined;
  /** Direct calls (`workQueue.direct`) running now: they hold queue slots. */
  private directRunning = 0;
  private readonly direct = new Map<string, { info: MethodInfo; fn: Handler }>();
  private readonly worker: WorkQueueWorker | undefined;
  private readonly active = new Set<ActiveCall>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly byMethod = new Map<string, { info: MethodInfo; fn: Handler }>();
  private readonly infos: MethodInfo[];
  private readonly log: Logger;

  constructor(
    private readonly nc: NatsConnection,
    definition: ServiceDefinition,
    impl: object,
    private readonly opts: NatsBindingOptions,
  ) {
    this.log = opts.logger ?? consoleLogger(opts.serviceName);
    this.infos = methodsOf(definition);
    const queued = new Set(opts.workQueue?.methods ?? []);
    for (const k of queued) if (!this.infos.some((i) => i.key === k)) throw new Error(`workQueue.methods: ${k} is not a method of ${this.infos[0]!.fullService}`);
    const handlers = new Map<string, { info: MethodInfo; fn: Handler }>();
    for (const info of this.infos) {
      const fn = (impl as Record<string, Handler>)[info.key];
      if (typeof fn !== 'function') throw new Error(`${info.fullService}: implementation has no method ${info.key}`);
      handlers.set(info.key, { info, fn: fn.bind(impl) });
      if (!queued.has(info.key)) this.byMethod.set(info.method, { info, fn: fn.bind(impl) });
      // Direct offers are for server-streaming methods (the accept tells taken from not taken); a
      // queued unary method of the same binding comes through the queue only.
      else if (opts.workQueue?.direct && info.def.responseStream) this.direct.set(info.method, { info, fn: fn.bind(impl) });
    }
    if (opts.workQueue) {
      this.worker = new WorkQueueWorker(nc, opts.workQueue, [...queued].map((k) => handlers.get(k)!), {
        policy: opts,
        payload: opts.payload ?? {},
        creditTimeoutMs: opts.streamCreditTimeoutMs ?? 30_000,
        logger: this.log,
        takenElsewhere: () => this.directRunning,
      });
    }
  }

  /** Subscribes (request/reply) and starts pulling (work queue). */
  async start(): Promise<void> {
    const first = this.infos[0]!;
    const subject = serviceWildcard(first, this.opts.namespace);
    // Request/reply only for methods not served from the work queue (a binding of queued methods only
    // needs, and its credential may only have, the queue).
    if (this.byMethod.size > 0) this.sub = this.subscribe(subject, (msg) => this.onMessage(msg, this.byMethod));
    const ns = this.opts.workQueue?.direct?.namespace;
    if (ns !== undefined) this.directSub = this.subscribe(serviceWildcard(first, ns), (msg) => this.onDirect(msg));
    await this.nc.flush();
    await this.worker?.start();
  }

  private subscribe(subject: string, onMsg: (m: Msg) => void): Subscription {
    return this.nc.subscribe(subject, {
      queue: this.opts.serviceName,
      callback: (err, msg) => {
        // A subscription the credential may not hold (the server refuses it) reports here, with no message.
        if (err) this.log.error('nats subscription refused', { subject, err: String(err) });
        else onMsg(msg);
      },
    });
  }

  get inFlight(): number {
    return this.active.size + (this.worker?.inFlight ?? 0);
  }

  /** Stops taking work: unsubscribes, stops pulling. In-flight calls continue. */
  async stopTaking(): Promise<void> {
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.directSub?.unsubscribe();
    this.directSub = undefined;
    await this.worker?.stopPulling();
  }

  /**
   * Waits for in-flight calls up to `graceMs`; past it, aborts request/reply calls (UNAVAILABLE)
   * and naks in-flight jobs back to the work queue for another worker.
   */
  async drainInFlight(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    const waitAll = async () => {
      while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    };
    const grace = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Math.max(0, deadline - Date.now())).unref());
    const [coreResult] = await Promise.all([Promise.race([waitAll(), grace]), this.worker?.finish(Math.max(0, deadline - Date.now()))]);
    if (coreResult === 'timeout') {
      for (const c of this.active) c.ctx.controller.abort(new TesseraError(ErrorCode.UNAVAILABLE, 'server shutting down: call aborted after the shutdown grace period', { retryAfterMs: 0 }));
      await Promise.race([waitAll(), new Promise((r) => setTimeout(r, 1_000).unref())]);
    }
  }

  async stop(graceMs: number): Promise<void> {
    await this.stopTaking();
    await this.drainInFlight(graceMs);
  }

  private onMessage(msg: Msg, methods: Map<string, { info: MethodInfo; fn: Handler }>): Promise<void> {
    const p = this.handle(msg, methods).catch((err: unknown) => this.log.error('nats call failed outside the handler', { err: String(err), subject: msg.subject }));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }

  /**
   * A work-queue call offered directly: taken into a free queue slot, or refused at once as `busy`
   * (the caller then queues the job, which waits for a slot here or anywhere else).
   */
  private onDirect(msg: Msg): void {
    const worker = this.worker!;
    if (worker.inFlight + this.directRunning >= worker.capacity) {
      const h = errorHeaders(new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, `${msg.subject}: all ${worker.capacity} slots of this server are taken; the call belongs in the ${this.opts.workQueue!.stage} work queue`, { field: 'concurrency', limit: `<= ${worker.capacity}`, retryAfterMs: 0 }));
      h.set(Header.KIND, 'busy');
      if (msg.reply) msg.respond(new Uint8Array(0), { headers: withEnd(h) });
      return;
    }
    this.directRunning++;
    void this.onMessage(msg, this.direct).finally(() => {
      this.directRunning--;
      worker.slotFreed();
    });
  }

  private async handle(msg: Msg, methods: Map<string, { info: MethodInfo; fn: Handler }>): Promise<void> {
    const reply = (body: Uint8Array, h: MsgHdrs) => {
      if (msg.reply) msg.respond(body, { headers: h });
    };
    const { version, method } = parseCallSubject(msg.subject);
    const entry = methods.get(method);
    if (!entry || (version !== undefined && version !== pkgVersion(entry.info))) {
      const queued = methods === this.byMethod && this.opts.workQueue?.methods.some((k) => this.infos.find((i) => i.key === k)?.method === method);
      const known = [...methods.values()].map((e) => controlSubject(e.info, methods === this.direct ? this.opts.workQueue?.direct?.namespace : this.opts.namespace)).join(', ');
      const err = new TesseraError(
        ErrorCode.UNIMPLEMENTED,
        queued
          ? `${msg.subject}: method ${method} is served from the work queue (tessera.work.${this.opts.workQueue!.stage}.>), not request/reply`
          : `${msg.subject}: unknown method or version; this service serves ${known}`,
        { field: 'subject' },
      );
      metrics().counter(Metric.badInput).inc({ method: `${this.infos[0]!.service}/${method}`, transport: 'nats', code: err.code });
      reply(new Uint8Array(0), withEnd(errorHeaders(err)));
      return;
    }
    const controller = new AbortController();
    const out = await serveCall({
      nc: this.nc,
      info: entry.info,
      fn: entry.fn,
      subject: msg.subject,
      data: msg.data,
      headers: msg.headers,
      transport: 'nats',
      policy: this.opts,
      payload: this.opts.payload ?? {},
      creditTimeoutMs: this.opts.streamCreditTimeoutMs ?? 30_000,
      attempt: 1,
      controller,
      reply,
      accepted: () => {
        const h = natsHeaders();
        h.set(Header.KIND, 'accepted');
        reply(new Uint8Array(0), h);
      },
      consumerGroup: this.opts.serviceName,
      track: (a) => {
        if (a) this.active.add(a);
        else for (const c of this.active) if (c.ctx.controller === controller) this.active.delete(c);
      },
    });
    if (!out.ok) {
      if (out.phase === 'handler' && out.error.code === ErrorCode.INTERNAL) this.log.error('handler failed', { method: entry.info.path, err: String(out.error.cause ?? out.error) });
      out.replyError();
    }
  }
}

function withEnd(h: MsgHdrs): MsgHdrs {
  h.set(Header.END, '1');
  return h;
}

/** Binds `impl` to NATS and starts serving. */
export async function bindNats<D extends ServiceDefinition>(
  nc: NatsConnection,
  definition: D,
  impl: ServiceImpl<D>,
  opts: Omit<NatsBindingOptions, 'workQueue'> & { workQueue?: Omit<WorkQueueOptions, 'methods'> & { methods: readonly (keyof D & string)[] } },
): Promise<NatsBinding> {
  const b = new NatsBinding(nc, definition, impl, opts);
  await b.start();
  return b;
}
