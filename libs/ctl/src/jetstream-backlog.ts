import { ErrorCode, TesseraError } from '@tessera/errors';

/** One durable consumer's backlog as KEDA's nats-jetstream scaler counts it. */
export interface ConsumerBacklog {
  stream: string;
  consumer: string;
  /** Messages not yet delivered to any worker. */
  pending: number;
  /** Delivered, not yet acked (in flight or awaiting redelivery). */
  ackPending: number;
  /** KEDA's lag: pending + ackPending. */
  lag: number;
  redelivered: number;
  /** Pull requests waiting: > 0 means idle workers. */
  waiting: number;
}

interface JszConsumer {
  stream_name?: string;
  name?: string;
  num_pending?: number;
  num_ack_pending?: number;
  num_redelivered?: number;
  num_waiting?: number;
}
interface JszStream {
  name?: string;
  consumer_detail?: JszConsumer[];
}
interface Jsz {
  account_details?: Array<{ name?: string; id?: string; stream_detail?: JszStream[] }>;
}

/**
 * Reads `/jsz?acc=<account>&consumers=true` from the NATS monitoring endpoint (the same call KEDA's
 * scaler makes) and returns every consumer's backlog keyed `stream/consumer`. Accepts
 * `http://host:8222` or bare `host:8222`.
 */
export async function readBacklog(monitorUrl: string, account: string, timeoutMs: number): Promise<Map<string, ConsumerBacklog>> {
  const base = /^https?:\/\//.test(monitorUrl) ? monitorUrl : `http://${monitorUrl}`;
  let url: URL;
  try {
    url = new URL('/jsz', base);
  } catch {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `--nats-monitor "${monitorUrl}" is not a URL (expected http://host:8222)`, { field: 'nats-monitor' });
  }
  url.searchParams.set('acc', account);
  url.searchParams.set('consumers', 'true');
  url.searchParams.set('config', 'true');
  let body: Jsz;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as Jsz;
  } catch (err) {
    throw new TesseraError(ErrorCode.UNAVAILABLE, `cannot read JetStream backlog from ${url.origin}/jsz: ${(err as Error).message}`, { field: 'nats-monitor' }, { cause: err });
  }
  const out = new Map<string, ConsumerBacklog>();
  for (const acc of body.account_details ?? []) {
    if (acc.name !== account && acc.id !== account) continue;
    for (const s of acc.stream_detail ?? []) {
      for (const c of s.consumer_detail ?? []) {
        const stream = c.stream_name ?? s.name ?? '';
        const pending = c.num_pending ?? 0;
        const ackPending = c.num_ack_pending ?? 0;
        out.set(`${stream}/${c.name}`, {
          stream,
          consumer: c.name ?? '',
          pending,
          ackPending,
          lag: pending + ackPending,
          redelivered: c.num_redelivered ?? 0,
          waiting: c.num_waiting ?? 0,
        });
      }
    }
  }
  return out;
}
