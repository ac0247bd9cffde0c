/**
 * Server side of a streamed reply over NATS:
 * - chunks go to the caller's inbox (`tessera-reply-to`) with `tessera-seq` 0, 1, 2, …
 * - the last message carries `tessera-end: 1`, `tessera-seq` = chunks sent, and error headers on failure
 * - flow control: at most `window` chunks beyond the last credit (`tessera-kind: credit`,
 *   `tessera-seq` = highest seq the client consumed) on the control subject (`tessera-control`)
 * - `tessera-kind: cancel` on the control subject aborts the handler's ctx.signal
 * - a client that grants no credit for `creditTimeoutMs` is treated as gone (CANCELLED)
 * - liveness: when the request carries `tessera-heartbeat: <ms>`, a `tessera-kind: heartbeat`
 *   message goes to the reply inbox whenever nothing else was sent for that long (also while the
 *   handler is still before its first chunk, e.g. in prefill), so the client can tell a slow stream
 *   from a dead process within two intervals instead of at its deadline.
 */
import { headers as natsHeaders, type NatsConnection, type Subscription } from 'nats';
import { abortReason } from '../context.js';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { Header } from '../wire-headers.js';
import { setErrorHeaders } from './status.js';
import { DEFAULT_THRESHOLD, outboundBody, type PayloadPolicy } from './payload.js';

export const DEFAULT_WINDOW = 64;
export const MAX_WINDOW = 4096;
/** Bounds on the heartbeat interval a client may ask for. */
export const MIN_HEARTBEAT_MS = 50;
export const MAX_HEARTBEAT_MS = 60_000;

export interface StreamSenderInit {
  nc: NatsConnection;
  replyTo: string;
  control: string | undefined;
  window: number;
  controller: AbortController;
  creditTimeoutMs: number;
  payload: PayloadPolicy;
  attempt: number;
  /** From `tessera-heartbeat`; 0 = the client asked for none. */
  heartbeatMs?: number;
}

export class StreamSender {
  private seq = 0;
  private acked = -1;
  private wake: (() => void) | undefined;
  private sub: Subscription | undefined;
  private beat: NodeJS.Timeout | undefined;
  private lastSentAt = Date.now();

  constructor(private readonly s: StreamSenderInit) {
    const hb = s.heartbeatMs ?? 0;
    if (hb > 0) {
      // A tick at half the interval keeps the gap between two messages <= 1.5 intervals.
      this.beat = setInterval(() => {
        if (Date.now() - this.lastSentAt < hb) return;
        const h = natsHeaders();
        h.set(Header.KIND, 'heartbeat');
        h.set(Header.ATTEMPT, String(s.attempt));
        try {
          this.publish(new Uint8Array(0), h);
        } catch {
          // Connection closed: nothing to keep alive; the handler fails on its next chunk.
        }
      }, Math.max(MIN_HEARTBEAT_MS / 2, Math.floor(hb / 2)));
      this.beat.unref();
    }
    if (s.control) {
      this.sub = s.nc.subscribe(s.control, {
        callback: (_err, m) => {
          const kind = m.headers?.get(Header.KIND);
          if (kind === 'ping') {
            // Liveness probe from a client that heard nothing for two heartbeats (see client.ts).
            if (m.reply) m.respond(new Uint8Array(0));
            return;
          }
          if (kind === 'cancel') {
            s.controller.abort(new TesseraError(ErrorCode.CANCELLED, 'call cancelled by the client'));
          } else if (kind === 'credit') {
            const seq = Number(m.headers?.get(Header.SEQ));
            if (Number.isFinite(seq) && seq > this.acked) this.acked = seq;
          }
          this.wake?.();
        },
      });
    }
  }

  /**
   * Sends one chunk, waiting for credit first when the window is full. Returns undefined (no
   * promise, no microtask) on the common path: window open and payload inline.
   */
  send(bytes: Uint8Array): Promise<void> | undefined {
    const signal = this.s.controller.signal;
    if (signal.aborted) throw abortReason(signal);
    if (this.sub && this.seq > this.acked + this.s.window) return this.waitCredit().then(() => this.send(bytes));
    const h = natsHeaders();
    h.set(Header.SEQ, String(this.seq));
    h.set(Header.ATTEMPT, String(this.s.attempt));
    this.seq++;
    if (bytes.length <= (this.s.payload.claimThresholdBytes ?? DEFAULT_THRESHOLD)) {
      this.publish(bytes, h);
      return undefined;
    }
    return outboundBody(this.s.nc, bytes, h, this.s.payload).then((body) => this.publish(body, h));
  }

  private publish(body: Uint8Array, h: ReturnType<typeof natsHeaders>): void {
    this.lastSentAt = Date.now();
    this.s.nc.publish(this.s.replyTo, body, { headers: h });
  }

  private waitCredit(): Promise<void> {
    const signal = this.s.controller.signal;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.s.controller.abort(new TesseraError(ErrorCode.CANCELLED, `client granted no stream credit for ${this.s.creditTimeoutMs} ms: treated as gone`));
        done();
      }, this.s.creditTimeoutMs);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** The end marker (with the error, if any). Always call once. */
  end(err?: unknown): void {
    const h = natsHeaders();
    h.set(Header.END, '1');
    h.set(Header.SEQ, String(this.seq));
    h.set(Header.ATTEMPT, String(this.s.attempt));
    if (err !== undefined) setErrorHeaders(h, err);
    this.publish(new Uint8Array(0), h);
    this.close();
  }

  close(): void {
    clearInterval(this.beat);
    this.beat = undefined;
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.wake?.();
  }

  get sent(): number {
    return this.seq;
  }
}

/** `tessera-heartbeat` → interval in ms (0 when absent or not a number), clamped to the bounds above. */
export function parseHeartbeat(raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || raw === '' || !Number.isFinite(n) || n <= 0) return 0;
  return Math.min(MAX_HEARTBEAT_MS, Math.max(MIN_HEARTBEAT_MS, Math.round(n)));
}

export function parseWindow(raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n < 1) return DEFAULT_WINDOW;
  return Math.min(n, MAX_WINDOW);
}
