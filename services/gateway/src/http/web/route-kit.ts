import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { toHttpError } from '../errors.js';

/**
 * The gateway's one JSON answer writer: OpenAI routes, errors, admin and web routes alike (SSE,
 * exports and static files are the only other bodies). Answers are per request and per tenant, so
 * no cache may keep them.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/** An error as its HTTP answer, through errors.ts's one mapping (status, OpenAI body, Retry-After). */
export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  const e = toHttpError(err);
  sendJson(res, e.status, e.body, { ...headers, ...e.headers });
}

/** Answers 405 (same body shape as the OpenAI routes) and returns false when the method is not allowed. */
export function allowMethod(req: IncomingMessage, res: ServerResponse, ...allowed: string[]): boolean {
  if (allowed.includes(req.method ?? 'GET')) return true;
  req.resume();
  sendJson(res, 405, { error: { message: `method not allowed; use ${allowed.join(' or ')}`, type: 'invalid_request_error', param: null, code: 'method_not_allowed' } }, { allow: allowed.join(', ') });
  return false;
}

/** An optional integer query parameter in [min, max]; INVALID_ARGUMENT names the parameter. */
export function intParam(url: URL, name: string, min: number, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${name} must be an integer in ${min}..${max}, got "${raw}"`, { field: name, limit: `${min} <= ${name} <= ${max}` });
  }
  return n;
}

/**
 * Aborts when the HTTP client goes away, so a cancelled browser request cancels the feedback call
 * downstream too (the runtime propagates the signal over NATS).
 */
export function clientGone(req: IncomingMessage, res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  req.on('aborted', () => ac.abort());
  return ac.signal;
}
