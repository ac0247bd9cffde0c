/**
 * Counts what crosses the bus: a wildcard subscriber sees every message published on the account,
 * JetStream deliveries included (a pull consumer's message arrives with a `$JS.ACK.<stream>.…`
 * reply subject). Object-store chunks are attributed to their bucket as writes (published by a
 * client) or reads (delivered to a reader), so a test can say "the visual tokens crossed twice".
 */
import type { NatsConnection, Subscription } from 'nats';

export interface BucketTraffic {
  writtenBytes: number;
  readBytes: number;
}

export interface BusMeter {
  /** Every payload byte seen since the last reset. */
  totalBytes(): number;
  /** Object-store chunk bytes of one bucket since the last reset. */
  bucket(name: string): BucketTraffic;
  reset(): void;
  /** Waits until everything published so far has reached the meter, then stops it. */
  stop(): Promise<void>;
}

const CHUNK = /^\$O\.([^.]+)\.C\./;

export async function meterBus(nc: NatsConnection): Promise<BusMeter> {
  let total = 0;
  let buckets = new Map<string, BucketTraffic>();
  const sub: Subscription = nc.subscribe('>', {
    callback: (_err, m) => {
      total += m.data.length;
      const chunk = CHUNK.exec(m.subject);
      if (!chunk) return;
      let t = buckets.get(chunk[1]!);
      if (!t) buckets.set(chunk[1]!, (t = { writtenBytes: 0, readBytes: 0 }));
      if (m.reply?.startsWith('$JS.ACK.')) t.readBytes += m.data.length;
      else t.writtenBytes += m.data.length;
    },
  });
  await nc.flush();
  return {
    totalBytes: () => total,
    bucket: (name) => ({ ...(buckets.get(name) ?? { writtenBytes: 0, readBytes: 0 }) }),
    reset() {
      total = 0;
      buckets = new Map();
    },
    async stop() {
      await nc.flush();
      sub.unsubscribe();
    },
  };
}
