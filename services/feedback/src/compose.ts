/**
 * Wiring: config → JetStream log + store + projector (adapters/) → FeedbackCore (domain/) →
 * FeedbackService on gRPC (:50056) and NATS request/reply (tessera.feedback.v1.FeedbackService.<Method>).
 * The one place feedback connects to NATS; main.ts hands the result to startService.
 */
import type { JsMsg, NatsConnection } from 'nats';
import { PROTO_FILES, PROTO_ROOT, feedbackV1 } from '@tessera/contracts';
import { connectNats, consoleLogger, hosted, type Logger, type ServiceComposition } from '@tessera/runtime';
import { natsObjects } from './adapters/objects.js';
import { feedbackSettings, type FeedbackConfig } from './config.js';
import { feedbackService } from './service.js';
import { FeedbackCore, type CoreOptions } from './domain/feedback-core.js';
import { FeedbackLog, type FeedbackLogOptions } from './adapters/log/feedback-log.js';
import { Projector } from './adapters/log/projector.js';
import { openSiteDrops, type SiteDrops } from './adapters/log/site-drops.js';
import { FileStore } from './adapters/store/file-store.js';
import { PgStore } from './adapters/store/pg-store.js';
import type { FeedbackStore } from './domain/store.js';

export type StoreSettings =
  | { kind: 'file'; dir: string; snapshotEvery: number; fsync: boolean }
  | { kind: 'postgres'; url: string; schema: string; poolSize: number };

export interface FeedbackSettings {
  log: FeedbackLogOptions;
  projector: { durable: string; batch: number; ackWaitMs: number };
  store: StoreSettings;
  core: CoreOptions;
}

export interface FeedbackStack {
  core: FeedbackCore;
  store: FeedbackStore;
  log: FeedbackLog;
  projector: Projector;
  /** Hub with edge sites: events each site dropped before the hub had them (site-drops.ts). */
  siteDrops?: SiteDrops;
  /** Stops the projector and closes the store (the NATS connection is the caller's). */
  close(): Promise<void>;
}

export async function openStore(s: StoreSettings): Promise<FeedbackStore> {
  return s.kind === 'file' ? FileStore.open({ dir: s.dir, snapshotEvery: s.snapshotEvery, fsync: s.fsync }) : PgStore.open({ url: s.url, schema: s.schema, poolSize: s.poolSize });
}

/** Stream → store → projector → core, in the order a restart needs them. */
export async function openFeedback(nc: NatsConnection, s: FeedbackSettings, onError: (err: unknown) => void = () => undefined, logger?: Logger): Promise<FeedbackStack> {
  const log = await FeedbackLog.open(nc, s.log);
  const store = await openStore(s.store);
  // Hub: count what each site dropped before it got here (the projector reads every sourced event anyway).
  const sources = s.log.sources ?? [];
  const drops = sources.length > 0 ? await openSiteDrops(nc, { stream: s.log.stream, sources, appliedSeq: await store.lastSeq(), ...(logger && { log: logger }) }) : undefined;
  const projector = new Projector(nc, store, { stream: s.log.stream, ...s.projector, now: s.core.now, onError, ...(drops && { observe: (m: JsMsg) => drops.observe(m) }) });
  await projector.start();
  const core = new FeedbackCore(log, projector, store, s.core);
  return {
    core,
    store,
    log,
    projector,
    ...(drops && { siteDrops: drops }),
    async close() {
      await projector.stop();
      await store.close();
    },
  };
}

export async function composeFeedback(config: FeedbackConfig): Promise<ServiceComposition & { stack: FeedbackStack }> {
  const log = consoleLogger(config.serviceName, config.logLevel);
  const settings = feedbackSettings(config);
  // One connection for the log, the projector and the bindings; this process closes it last.
  // noAsyncTraces: nats.js otherwise captures a stack (new Error) per request: ~7% of CPU at thousands of acks/s.
  const nc = await connectNats(config, { noAsyncTraces: true });
  settings.core.objects = natsObjects(nc);
  const stack = await openFeedback(nc, settings, (err) => log.error('projector', { err: String(err) }), log);
  const sweep = setInterval(() => {
    stack.store.sweepExpired(Date.now()).then(
      (n) => n > 0 && log.info('expired responses deleted', { count: n }),
      (err: unknown) => log.error('retention sweep failed', { err: String(err) }),
    );
  }, config.sweepInterval);
  sweep.unref();
  return {
    stack,
    nc,
    services: [hosted({ definition: feedbackV1.FeedbackServiceService, impl: feedbackService(stack.core) })],
    reflection: { protoFiles: [PROTO_FILES.feedback, PROTO_FILES.common], includeDirs: [PROTO_ROOT] },
    logger: log,
    onShutdown: async () => {
      clearInterval(sweep);
      await stack.close();
      await nc.drain();
    },
  };
}
