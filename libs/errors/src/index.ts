/**
 * @tessera/errors — the error vocabulary every Tessera package shares: one `TesseraError` class, a
 * closed `ErrorCode` set and the shorthands that name a field and a limit. A leaf: it imports
 * nothing, so domain libraries (model, vision, structured) throw typed errors without importing the
 * transport runtime. Each transport maps `code` to its wire status in exactly one place (gRPC:
 * `@tessera/runtime` grpc/status.ts, NATS: nats/status.ts, HTTP: the gateway's http/errors.ts).
 * Also the one shared id helper that must stay cheap to load: `sha256Hex` (content addresses).
 */
export * from './errors.js';
export { sha256Hex } from './sha256.js';
