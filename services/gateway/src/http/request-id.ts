import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The request id every response carries in `x-request-id`. A caller's own id is honoured (proxies and
 * SDK users correlate logs by it) when it is a plausible id: 1–128 visible ASCII characters without
 * spaces or quotes, because it travels on as a NATS/gRPC header and into logs. Anything else gets a
 * fresh UUID rather than an error, as nginx and Envoy do.
 */
const SAFE_ID = /^[A-Za-z0-9._:\-/+=@]{1,128}$/;

export function requestIdOf(req: IncomingMessage): string {
  const raw = req.headers['x-request-id'];
  const id = Array.isArray(raw) ? raw[0] : raw;
  return id !== undefined && SAFE_ID.test(id) ? id : randomUUID();
}
