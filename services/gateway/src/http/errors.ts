import { ErrorCode, TesseraError } from '@tessera/runtime';

/**
 * The gateway's one mapping from TesseraError to HTTP: status, OpenAI-style error body, headers.
 * OpenAI clients branch on `error.type` and on the status, so both follow OpenAI's conventions.
 */
const HTTP: Record<ErrorCode, { status: number; type: string }> = {
  INVALID_ARGUMENT: { status: 400, type: 'invalid_request_error' },
  FAILED_PRECONDITION: { status: 400, type: 'invalid_request_error' },
  UNAUTHENTICATED: { status: 401, type: 'authentication_error' },
  PERMISSION_DENIED: { status: 403, type: 'permission_error' },
  NOT_FOUND: { status: 404, type: 'not_found_error' },
  ALREADY_EXISTS: { status: 409, type: 'conflict_error' },
  ABORTED: { status: 409, type: 'conflict_error' },
  RESOURCE_EXHAUSTED: { status: 429, type: 'rate_limit_error' },
  CANCELLED: { status: 499, type: 'cancelled' },
  INTERNAL: { status: 500, type: 'server_error' },
  UNIMPLEMENTED: { status: 501, type: 'not_implemented_error' },
  UNAVAILABLE: { status: 503, type: 'service_unavailable_error' },
  DEADLINE_EXCEEDED: { status: 504, type: 'timeout_error' },
};

export interface HttpError {
  status: number;
  headers: Record<string, string>;
  body: { error: { message: string; type: string; param: string | null; code: string } };
}

export function toHttpError(err: unknown): HttpError {
  const e = TesseraError.from(err);
  const m = HTTP[e.code];
  // A request body over the size limit is RESOURCE_EXHAUSTED like a quota, but retrying cannot
  // help, so it is 413 without Retry-After.
  const status = e.code === ErrorCode.RESOURCE_EXHAUSTED && e.details.payloadTooLarge === true ? 413 : m.status;
  const headers: Record<string, string> = {};
  if (typeof e.details.retryAfterMs === 'number' && (status === 429 || status === 503)) headers['retry-after'] = String(Math.max(1, Math.ceil(e.details.retryAfterMs / 1000)));
  return {
    status,
    headers,
    body: {
      error: {
        message: e.code === ErrorCode.INTERNAL ? 'internal error' : withLimit(e),
        type: status === 413 ? 'invalid_request_error' : m.type,
        param: typeof e.details.field === 'string' ? e.details.field : null,
        code: e.code.toLowerCase(),
      },
    },
  };
}

/**
 * The message with the limit it broke (`too many stop sequences: 5 (limit: stop <= 4)`), as the gRPC
 * mapping puts it in BadRequest (runtime rpc-status.ts): a client of either edge learns the bound
 * from the error alone. A message that already names its limit — the limit itself, or every number
 * in it (`page_size must be an integer in 1..500`) — stays as it is.
 */
function withLimit(e: TesseraError): string {
  const limit = e.details.limit;
  if (typeof limit !== 'string' || e.message.includes(limit)) return e.message;
  const bounds = limit.match(/-?\d+(?:\.\d+)?/g) ?? [];
  return bounds.length > 0 && bounds.every((b) => mentionsNumber(e.message, b)) ? e.message : `${e.message} (limit: ${limit})`;
}

/** `n` stands in `text` as a number of its own (256 is not in "2560"). */
function mentionsNumber(text: string, n: string): boolean {
  return new RegExp(`(?<!\\d)(?<!\\d\\.)${n.replace('.', '\\.')}(?!\\d)(?!\\.\\d)`).test(text);
}
