/**
 * Work-queue stream and consumer per stage, created idempotently by workers (and lazily by
 * clients, stream only). deploy/ may define them first; then these calls only read them.
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, nanos, type JetStreamManager } from 'nats';
import { durableName, streamName, workSubjectFilter } from './subjects.js';

export interface ConsumerSettings {
  /** Redelivery after this long without ack or `working()`. */
  ackWaitMs: number;
  maxDeliver: number;
  /** Unacked jobs across all workers of the stage. */
  maxAckPending: number;
  /** JetStream replicas of the stream and consumer (3 on a clustered JetStream). Default 1. */
  replicas?: number;
}

/** Dedup window for `Nats-Msg-Id`: publishes retried within it are stored once. */
export const DUPLICATE_WINDOW_MS = 120_000;

export async function ensureWorkStream(jsm: JetStreamManager, stage: string, replicas = 1): Promise<string> {
  const name = streamName(stage);
  try {
    await jsm.streams.info(name);
    return name;
  } catch {
    /* not there yet */
  }
  try {
    await jsm.streams.add({
      name,
      subjects: [workSubjectFilter(stage)],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      // Jobs older than a day have no caller left waiting.
      max_age: nanos(86_400_000),
      // On a 3-node cluster, 3 replicas survive the loss of one node with no job lost.
      num_replicas: replicas,
    });
  } catch (err) {
    // Another process created it between our info and add.
    await jsm.streams.info(name).catch(() => {
      throw err;
    });
  }
  return name;
}

export async function ensureWorkConsumer(jsm: JetStreamManager, stage: string, s: ConsumerSettings): Promise<string> {
  const stream = await ensureWorkStream(jsm, stage, s.replicas ?? 1);
  const durable = durableName(stage);
  const config = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(s.ackWaitMs),
    max_deliver: s.maxDeliver,
    max_ack_pending: s.maxAckPending,
    num_replicas: s.replicas ?? 1,
  };
  try {
    const info = await jsm.consumers.info(stream, durable);
    const c = info.config;
    if (c.ack_wait !== config.ack_wait || c.max_deliver !== config.max_deliver || c.max_ack_pending !== config.max_ack_pending) {
      await jsm.consumers.update(stream, durable, { ack_wait: config.ack_wait, max_deliver: config.max_deliver, max_ack_pending: config.max_ack_pending });
    }
  } catch {
    try {
      await jsm.consumers.add(stream, config);
    } catch (err) {
      await jsm.consumers.info(stream, durable).catch(() => {
        throw err;
      });
    }
  }
  return stream;
}
