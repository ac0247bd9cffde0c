import { ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { ErrorCode, TesseraError } from '@tessera/errors';

/** What every handler receives next to its request. */
export interface CallContext {
  /** Tenant from `tessera-tenant` (empty string only where the binding does not require one). */
  readonly tenant: string;
  /** `tessera-request-id`; generated when the caller sent none. */
  readonly requestId: string;
  /** Absolute deadline, epoch ms. */
  readonly deadline: number;
  /** Aborted on client cancel, deadline, client gone, or shutdown past the grace time. */
  readonly signal: AbortSignal;
  /** OpenTelemetry context of the server span: pass it as `parent` to calls made from the handler. */
  readonly trace: Context;
  /** Request headers / metadata (lower-case names), including `tessera-*` and `x-*`. */
  readonly headers: Readonly<Record<string, string>>;
  /** `grpc`, `nats` (request/reply), `jetstream` (work queue) or `local`. */
  readonly transport: Transport;
  /** `/pkg.Service/Method` */
  readonly method: string;
  /** JetStream delivery attempt (1 = first); 1 on other transports. */
  readonly attempt: number;
  /** Milliseconds until the deadline (may be negative). */
  remainingMs(): number;
  /** Heartbeat for long jobs: extends the JetStream ack wait. No-op on other transports. */
  working(): void;
  /** Throws the reason (CANCELLED / DEADLINE_EXCEEDED) if the call was aborted; call between compute steps. */
  throwIfAborted(): void;
}

export type Transport = 'grpc' | 'nats' | 'jetstream' | 'local';

/** Options every client call accepts. */
export interface CallOptions {
  tenant?: string;
  requestId?: string;
  /** Absolute deadline, epoch ms. */
  deadline?: number;
  /** Relative timeout; used when no deadline is given. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Extra headers (`x-*`). */
  headers?: Record<string, string>;
  /**
   * The handler's ctx when calling from inside a service: tenant, request id, deadline, signal and
   * trace parent are inherited (explicit options win).
   */
  parent?: CallContext;
  /** Trace context to propagate (default: `parent.trace`, else the active context). */
  trace?: Context;
}

export interface ResolvedCall {
  tenant: string;
  requestId: string;
  deadline: number;
  signal: AbortSignal | undefined;
  headers: Record<string, string>;
  trace: Context | undefined;
}

export const DEFAULT_TIMEOUT_MS = 60_000;

export function resolveCallOptions(o: CallOptions = {}, defaultTimeoutMs = DEFAULT_TIMEOUT_MS): ResolvedCall {
  const p = o.parent;
  const deadline = o.deadline ?? (o.timeoutMs !== undefined ? Date.now() + o.timeoutMs : p?.deadline ?? Date.now() + defaultTimeoutMs);
  const signals = [o.signal, p?.signal].filter((s): s is AbortSignal => s !== undefined);
  return {
    tenant: o.tenant ?? p?.tenant ?? '',
    requestId: o.requestId ?? p?.requestId ?? randomUUID(),
    deadline,
    signal: signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals),
    headers: { ...o.headers },
    trace: o.trace ?? p?.trace,
  };
}

export interface ContextInit {
  tenant: string;
  requestId: string;
  deadline: number;
  headers: Record<string, string>;
  transport: Transport;
  method: string;
  trace?: Context;
  attempt?: number;
  working?: () => void;
  /** External aborts (client cancel, client gone, shutdown) feed this controller. */
  controller?: AbortController;
}

export interface ServerContext extends CallContext {
  readonly controller: AbortController;
  /** Clears the deadline timer; call when the call ends. */
  dispose(): void;
}

/** Builds a ctx whose signal aborts with DEADLINE_EXCEEDED at the deadline. */
export function createContext(init: ContextInit): ServerContext {
  const controller = init.controller ?? new AbortController();
  const remaining = init.deadline - Date.now();
  let timer: NodeJS.Timeout | undefined;
  const expire = () =>
    controller.abort(new TesseraError(ErrorCode.DEADLINE_EXCEEDED, `deadline exceeded: ${init.method} ran past tessera-deadline ${init.deadline}`, { field: 'tessera-deadline' }));
  if (remaining <= 0) expire();
  // setTimeout overflows above 2^31-1 ms (24.8 days): such deadlines are effectively "none".
  else if (remaining < 2_147_483_647) {
    timer = setTimeout(expire, remaining);
    timer.unref();
  }
  const ctx: ServerContext = {
    tenant: init.tenant,
    requestId: init.requestId,
    deadline: init.deadline,
    signal: controller.signal,
    trace: init.trace ?? ROOT_CONTEXT,
    headers: Object.freeze({ ...init.headers }),
    transport: init.transport,
    method: init.method,
    attempt: init.attempt ?? 1,
    controller,
    remainingMs: () => init.deadline - Date.now(),
    working: init.working ?? (() => {}),
    throwIfAborted() {
      if (controller.signal.aborted) throw abortReason(controller.signal);
    },
    dispose() {
      if (timer) clearTimeout(timer);
    },
  };
  return ctx;
}

/**
 * Resolves with `p`, or rejects with the abort reason as soon as `signal` aborts (`p` keeps running;
 * a handler should watch the signal itself). The one abort race of both transports, client and server.
 */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** The TesseraError an aborted signal stands for. */
export function abortReason(signal: AbortSignal): TesseraError {
  const r: unknown = signal.reason;
  if (r instanceof TesseraError) return r;
  return new TesseraError(ErrorCode.CANCELLED, 'call cancelled by the client', {}, { cause: r });
}

export function cancelledError(): TesseraError {
  return new TesseraError(ErrorCode.CANCELLED, 'call cancelled by the caller');
}

export function deadlineError(method: string, deadline: number): TesseraError {
  return new TesseraError(ErrorCode.DEADLINE_EXCEEDED, `deadline exceeded: ${method} had tessera-deadline ${new Date(deadline).toISOString()}`, {
    field: 'tessera-deadline',
  });
}
