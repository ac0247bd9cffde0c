/**
 * Header and metadata names used on every hop (NATS headers and gRPC metadata alike).
 * CONTRIBUTING.md "Shared names" lists the first six; the rest belong to the runtime's protocol.
 */
export const Header = {
  TRACEPARENT: 'traceparent',
  TRACESTATE: 'tracestate',
  TENANT: 'tessera-tenant',
  REQUEST_ID: 'tessera-request-id',
  /** Absolute deadline, epoch milliseconds. */
  DEADLINE: 'tessera-deadline',
  /** JetStream de-duplication id (= request id) on work-queue publishes. */
  MSG_ID: 'Nats-Msg-Id',
  ERROR_CODE: 'tessera-error-code',
  ERROR_MESSAGE: 'tessera-error-message',
  /** JSON of TesseraError.details. */
  ERROR_DETAILS: 'tessera-error-details',
  /** Inbox for replies of work-queue jobs and streamed chunks. */
  REPLY_TO: 'tessera-reply-to',
  /** Subject the server listens on for credits and cancel of one streaming call. */
  CONTROL: 'tessera-control',
  /** Client window for server streaming (messages in flight before a credit). */
  WINDOW: 'tessera-window',
  /** Chunk sequence number (0-based); on the end marker: number of chunks sent. */
  SEQ: 'tessera-seq',
  /** `1` on the last message of a reply (unary reply to an inbox, or the stream end marker). */
  END: 'tessera-end',
  /** Control message kind from client to server: `credit` | `cancel`; server to client: `heartbeat`. */
  KIND: 'tessera-kind',
  /** Streaming request: send a `heartbeat` to the reply inbox when nothing else went out for this many ms. */
  HEARTBEAT: 'tessera-heartbeat',
  /** Body is not the payload but a JSON ObjectRef of it in the object store. */
  CLAIM: 'tessera-claim',
  /** gRPC metadata: the internal service credential (TESSERA_SERVICE_TOKEN) a caller of an internal port presents. */
  SERVICE_TOKEN: 'tessera-service-token',
  /** JetStream delivery attempt that produced a reply (1 = first). */
  ATTEMPT: 'tessera-attempt',
} as const;

/** Headers callers may set that the runtime carries into ctx.headers (everything else `tessera-*`/`x-*`). */
export function isForwardedHeader(name: string): boolean {
  const n = name.toLowerCase();
  return n.startsWith('x-') || n === 'authorization';
}
