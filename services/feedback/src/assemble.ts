import type { NatsConnection } from 'nats';
import { FeedbackCore, type CoreOptions } from './feedback-core.js';
import { FeedbackLog, type FeedbackLogOptions } from './log/feedback-log.js';
import { Projector } from './log/projector.js';
import { FileStore } from './store/file-store.js';
import { PgStore } from './store/pg-store.js';
import type { FeedbackStore } from './store/store.js';

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
  /** Stops the projector and closes the store (the NATS connection is the caller's). */
  close(): Promise<void>;
}

export async function openStore(s: StoreSettings): Promise<FeedbackStore> {
  return s.kind === 'file' ? FileStore.open({ dir: s.dir, snapshotEvery: s.snapshotEvery, fsync: s.fsync }) : PgStore.open({ url: s.url, schema: s.schema, poolSize: s.poolSize });
}

/** Stream → store → projector → core, in the order a restart needs them. */
export async function openFeedback(nc: NatsConnection, s: FeedbackSettings, onError: (err: unknown) => void = () => undefined): Promise<FeedbackStack> {
  const log = await FeedbackLog.open(nc, s.log);
  const store = await openStore(s.store);
  const projector = new Projector(nc, store, { stream: s.log.stream, ...s.projector, now: s.core.now, onError });
  await projector.start();
  const core = new FeedbackCore(log, projector, store, s.core);
  return {
    core,
    store,
    log,
    projector,
    async close() {
      await projector.stop();
      await store.close();
    },
  };
}
