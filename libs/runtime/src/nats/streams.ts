/**
 * Work-queue stream and consumer per stage: the ONE definition (issue 14). Workers create them
 * idempotently (clients lazily, stream only) and bring an older stream's limits in line;
 * deploy/nats/*.json and the chart's files/jetstream/*.json are generated from the same functions
 * (`node --import tsx scripts/gen-jetstream.ts`; libs/ctl/src/jetstream-files.test.ts fails when they
 * drift). Decision and numbers: docs/decisions.md "One JetStream stream definition".
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, ReplayPolicy, RetentionPolicy, StorageType, nanos, type ConsumerConfig, type JetStreamManager, type StreamConfig } from 'nats';
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

/**
 * Limits of every work stream. A work queue is back-pressure, not storage: when it is full, a new job
 * is refused at publish (`discard: new`) and the caller gets RESOURCE_EXHAUSTED naming the stream,
 * instead of the oldest queued job (whose caller is still waiting) being dropped silently.
 * - 100k jobs: ~10 min of work for 32 replicas at 5 jobs/s each, far past any caller's deadline;
 * - 1 GiB: jobs are small (images and tensors travel by reference; the claim-check threshold is 512 KiB);
 * - 1 MiB per job: NATS' default max_payload;
 * - 1 h max age: no caller waits that long (request deadlines are minutes), so an older job is dead.
 */
export const WORK_STREAM_LIMITS = Object.freeze({ maxJobs: 100_000, maxBytes: 1024 ** 3, maxJobBytes: 1024 ** 2, maxAgeMs: 3_600_000 });

/** Default consumer settings, the same as TESSERA_ACK_WAIT / TESSERA_MAX_DELIVER's defaults. */
export const DEFAULT_CONSUMER_SETTINGS: Readonly<ConsumerSettings> = Object.freeze({ ackWaitMs: 30_000, maxDeliver: 5, maxAckPending: 1000 });

/** The stream of one stage (`TESSERA_<STAGE>`, WorkQueue retention, file storage). */
export function workStreamConfig(stage: string, replicas = 1): StreamConfig {
  const l = WORK_STREAM_LIMITS;
  return {
    name: streamName(stage),
    description: `work queue of the ${stage} stage: one message per job, removed on ack`,
    subjects: [workSubjectFilter(stage)],
    retention: RetentionPolicy.Workqueue,
    max_consumers: -1,
    max_msgs_per_subject: -1,
    max_msgs: l.maxJobs,
    max_bytes: l.maxBytes,
    max_age: nanos(l.maxAgeMs),
    max_msg_size: l.maxJobBytes,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    // On a 3-node cluster, 3 replicas survive the loss of one node with no job lost.
    num_replicas: replicas,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    sealed: false,
    deny_delete: false,
    deny_purge: false,
    allow_rollup_hdrs: false,
    allow_direct: false,
    mirror_direct: false,
  } as StreamConfig;
}

/** The largest pull a worker makes (the consumer's `max_batch`: a bigger one is refused by the server). */
export const MAX_PULL_BATCH = 64;

/** The durable pull consumer `<stage>-workers` every replica of the stage shares. */
export function workConsumerConfig(stage: string, s: ConsumerSettings = DEFAULT_CONSUMER_SETTINGS): ConsumerConfig {
  return {
    durable_name: durableName(stage),
    description: `pull consumer shared by every ${stage} replica; KEDA scales on its num_pending + num_ack_pending`,
    deliver_policy: DeliverPolicy.All,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(s.ackWaitMs),
    max_deliver: s.maxDeliver,
    filter_subject: workSubjectFilter(stage),
    replay_policy: ReplayPolicy.Instant,
    // Workers pull as many jobs as they have free slots (at most MAX_PULL_BATCH) with 1 s expiries;
    // these only bound misbehaving clients.
    max_waiting: 512,
    max_ack_pending: s.maxAckPending,
    max_batch: MAX_PULL_BATCH,
    max_expires: nanos(30_000),
    num_replicas: s.replicas ?? 1,
  } as ConsumerConfig;
}

/** The limits this code owns on a work stream; an existing stream that differs is updated. */
const OWNED = ['max_msgs', 'max_bytes', 'max_age', 'max_msg_size', 'discard', 'duplicate_window'] as const;

export async function ensureWorkStream(jsm: JetStreamManager, stage: string, replicas = 1): Promise<string> {
  const want = workStreamConfig(stage, replicas);
  const name = want.name;
  const have = await jsm.streams.info(name).then(
    (i) => i.config,
    () => undefined, // not there yet
  );
  if (have) {
    // A stream made by an older version (1 day, discard old, no caps) is brought in line; replicas
    // and subjects stay as they are (changing them is an operator's decision).
    if (OWNED.some((k) => have[k] !== want[k])) await jsm.streams.update(name, { ...have, ...Object.fromEntries(OWNED.map((k) => [k, want[k]])) });
    return name;
  }
  try {
    await jsm.streams.add(want);
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
  const config = workConsumerConfig(stage, s);
  const durable = config.durable_name!;
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
