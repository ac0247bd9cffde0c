/**
 * Whether this process's NATS connection is up, shared by every client and server on it. While it is
 * down, calls fail at once with UNAVAILABLE + a retry hint instead of waiting for their deadline,
 * calls in flight fail when the disconnect is seen, and readiness reports NOT_SERVING. nats.js
 * reconnects by itself (maxReconnectAttempts -1 in every service); `reconnect` flips it back.
 */
import type { NatsConnection } from 'nats';
import { ErrorCode, TesseraError } from '@tessera/errors';

/** Retry-After for callers while the bus is down: nats.js retries the server every 2 s by default. */
export const BUS_RETRY_AFTER_MS = 2_000;

export class BusState {
  private up = true;
  private readonly downListeners = new Set<() => void>();
  private readonly changeListeners = new Set<(up: boolean) => void>();

  constructor(private readonly nc: NatsConnection) {
    void this.watch();
  }

  private async watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect' || s.type === 'staleConnection') this.set(false);
      else if (s.type === 'reconnect') this.set(true);
    }
    this.set(false); // closed
  }

  private set(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    for (const fn of this.changeListeners) fn(up);
    if (!up) for (const fn of [...this.downListeners]) fn();
  }

  get connected(): boolean {
    return this.up && !this.nc.isClosed();
  }

  /** Throws UNAVAILABLE (with retryAfterMs) when the connection is down. */
  assertUp(what: string): void {
    if (!this.connected) throw busDownError(what);
  }

  /** Calls `fn` once when the connection drops; returns the unsubscribe. */
  onDown(fn: () => void): () => void {
    const once = () => {
      this.downListeners.delete(once);
      fn();
    };
    this.downListeners.add(once);
    return () => this.downListeners.delete(once);
  }

  /** Every change (readiness probes). */
  onChange(fn: (up: boolean) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  /** Resolves with `p`, or rejects with UNAVAILABLE as soon as the connection drops. */
  race<T>(p: Promise<T>, what: string): Promise<T> {
    if (!this.connected) {
      p.catch(() => {});
      return Promise.reject(busDownError(what));
    }
    return new Promise<T>((resolve, reject) => {
      const off = this.onDown(() => reject(busDownError(what)));
      p.then(
        (v) => {
          off();
          resolve(v);
        },
        (e: unknown) => {
          off();
          reject(e);
        },
      );
    });
  }
}

export function busDownError(what: string): TesseraError {
  return new TesseraError(ErrorCode.UNAVAILABLE, `${what}: the NATS connection is down (reconnecting); retry shortly`, { field: 'nats', retryAfterMs: BUS_RETRY_AFTER_MS });
}

const states = new WeakMap<NatsConnection, BusState>();

/** The one BusState of a connection. */
export function busState(nc: NatsConnection): BusState {
  let s = states.get(nc);
  if (!s) states.set(nc, (s = new BusState(nc)));
  return s;
}
