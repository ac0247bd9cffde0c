import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { ErrorCode, TesseraError } from '@tessera/runtime';

/** Reads a JSON body up to `maxBytes`; 413 beyond it (checked on Content-Length and while streaming). */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const tooLarge = (n: number) =>
    new TesseraError(ErrorCode.RESOURCE_EXHAUSTED, `request body is ${n} bytes; the limit is ${maxBytes} bytes`, {
      field: 'body',
      limit: `body bytes <= ${maxBytes}`,
      payloadTooLarge: true,
    });
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume(); // drain so the connection can answer
    throw tooLarge(declared);
  }
  const type = String(req.headers['content-type'] ?? '');
  if (type && !/^application\/json\b/i.test(type)) {
    req.resume();
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `Content-Type must be application/json, got ${type}`, { field: 'content-type' });
  }
  const raw = await readBodyBytes(req, maxBytes, tooLarge);
  // toString('utf8') would silently turn invalid bytes into U+FFFD and the model would see text the
  // client never sent; JSON must be UTF-8 (RFC 8259), so refuse it instead.
  if (!isUtf8(raw)) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'request body is not valid UTF-8', { field: 'body' });
  const text = raw.toString('utf8');
  if (text.trim() === '') throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'request body is empty; expected a JSON object', { field: 'body' });
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `request body is not valid JSON: ${(err as Error).message}`, { field: 'body' });
  }
}

/**
 * The request body's bytes, at most `maxBytes`: `tooLarge(n)` is thrown as soon as the declared
 * Content-Length or the bytes streamed so far pass the limit (the rest is drained so the connection
 * can still answer). Shared by the JSON routes and the raw-image slice-plan route.
 */
export async function readBodyBytes(req: IncomingMessage, maxBytes: number, tooLarge: (bytes: number) => Error): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw tooLarge(declared);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      req.resume();
      throw tooLarge(size);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A percent-encoded path segment (`/v1/models/{id}`, a tenant, a response id); a malformed escape is the caller's 400, naming the field. */
export function decodePathParam(raw: string, field: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${field} in the path is not valid percent-encoding: ${raw}`, { field });
  }
}
