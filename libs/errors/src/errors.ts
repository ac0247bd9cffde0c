/**
 * The one error type every Tessera package throws across a boundary.
 *
 * A closed set of codes (the gRPC canonical codes we use), a message that names the field and
 * the limit, optional structured details, and the original `cause` kept for logs but never sent
 * over the wire. Each transport maps `code` to its wire status in exactly one place:
 * gRPC in `grpc/status.ts`, NATS in `nats/status.ts`, HTTP in the gateway's `http/errors.ts`.
 */
export const ErrorCode = {
  CANCELLED: 'CANCELLED',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  FAILED_PRECONDITION: 'FAILED_PRECONDITION',
  ABORTED: 'ABORTED',
  UNIMPLEMENTED: 'UNIMPLEMENTED',
  INTERNAL: 'INTERNAL',
  UNAVAILABLE: 'UNAVAILABLE',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** gRPC canonical numeric status for each code (grpc/status.h). */
export const GRPC_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
});

export interface ErrorDetails {
  /** The request field at fault, as a dotted path (`messages[0].content[1].image_url`). */
  field?: string;
  /** The limit that was exceeded, with its unit (`max_tokens <= 4096`). */
  limit?: string;
  /** Milliseconds after which a retry may succeed (quotas, back-pressure). */
  retryAfterMs?: number;
  /** Anything else worth a machine-readable key. */
  [key: string]: unknown;
}

export class TesseraError extends Error {
  override readonly name = 'TesseraError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Normalises anything thrown into a TesseraError; unknown errors become INTERNAL (cause kept). */
  static from(err: unknown): TesseraError {
    if (err instanceof TesseraError) return err;
    if (err instanceof Error && err.name === 'AbortError') {
      return new TesseraError(ErrorCode.CANCELLED, 'operation cancelled', {}, { cause: err });
    }
    return new TesseraError(ErrorCode.INTERNAL, 'internal error', {}, { cause: err });
  }

  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && value in ErrorCode;
}

/** Shorthands for the common cases; each message must name the field and, where one applies, the limit. */
export const invalidArgument = (field: string, message: string, limit?: string): TesseraError =>
  new TesseraError(ErrorCode.INVALID_ARGUMENT, message, limit === undefined ? { field } : { field, limit });
export const resourceExhausted = (field: string, message: string, limit?: string, retryAfterMs?: number): TesseraError =>
  new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, message, { field, ...(limit !== undefined && { limit }), ...(retryAfterMs !== undefined && { retryAfterMs }) });
export const notFound = (field: string, message: string): TesseraError => new TesseraError(ErrorCode.NOT_FOUND, message, { field });

/**
 * Every model stage checks a request's `model_revision` the same way: empty = any, otherwise it must
 * be the revision this process loaded (a stage restarted on a new model must not serve a request
 * planned for the old one). `stage` names what was loaded ("vision encoder", "resampler", "decoder").
 */
export function checkModelRevision(requested: string, loaded: string, stage: string): void {
  if (requested && requested !== loaded) {
    throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `model_revision ${requested} is not the loaded ${stage} (${loaded})`, { field: 'model_revision', limit: `model_revision = ${loaded}` });
  }
}
