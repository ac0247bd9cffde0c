/**
 * Counts what crosses the bus: a wildcard subscriber sees every message published on the account,
 * JetStream deliveries included (a pull consumer's message arrives with a `$JS.ACK.<stream>.…`
 * reply subject). Object-store chunks are attributed to their bucket as writes (published by a
 * client) or reads (delivered to a reader), so a test can say "the visual tokens crossed twice".
 * Reads that fall back to per-chunk `STREAM.MSG.GET` requests (the claim-check reader does after a
 * stalled stream) are attributed too, by the decoded chunk size in the JSON reply.
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
const MSG_GET = /^\$JS\.API\.STREAM\.MSG\.GET\.OBJ_(.+)$/;

export async function meterBus(nc: NatsConnection): Promise<BusMeter> {
  let total = 0;
  let buckets = new Map<string, BucketTraffic>();
  const traffic = (bucket: string): BucketTraffic => {
    let t = buckets.get(bucket);
    if (!t) buckets.set(bucket, (t = { writtenBytes: 0, readBytes: 0 }));
    return t;
  };
  /** reply inbox of a chunk MSG.GET → its bucket */
  const gets = new Map<string, string>();
  const sub: Subscription = nc.subscribe('>', {
    callback: (_err, m) => {
      total += m.data.length;
      const chunk = CHUNK.exec(m.subject);
      if (chunk) {
        const t = traffic(chunk[1]!);
        if (m.reply?.startsWith('$JS.ACK.')) t.readBytes += m.data.length;
        else t.writtenBytes += m.data.length;
        return;
      }
      const get = MSG_GET.exec(m.subject);
      if (get && m.reply && m.data.length && /\$O\.[^.]+\.C\./.test(Buffer.from(m.data).toString('utf8'))) {
        gets.set(m.reply, get[1]!);
        return;
      }
      const bucket = gets.get(m.subject);
      if (bucket === undefined) return;
      gets.delete(m.subject);
      try {
        const data = (JSON.parse(Buffer.from(m.data).toString('utf8')) as { message?: { data?: string } }).message?.data;
        if (data) traffic(bucket).readBytes += Buffer.from(data, 'base64').length;
      } catch {
        /* not a stream message reply */
      }
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
