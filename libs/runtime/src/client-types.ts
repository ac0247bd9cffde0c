import type { CallOptions } from './context.js';
import type { RequestOf, ResponseOf, ServiceDefinition } from './definition.js';

/** Unary methods return a promise; server-streaming methods an async iterable (break = cancel). */
export type ClientMethod<M> = M extends { responseStream: true }
  ? (request: RequestOf<M>, options?: CallOptions) => AsyncIterable<ResponseOf<M>>
  : (request: RequestOf<M>, options?: CallOptions) => Promise<ResponseOf<M>>;

/** A typed client for a generated service definition, the same shape for every transport. */
export type ServiceClient<D extends ServiceDefinition> = { [K in keyof D]: ClientMethod<D[K]> } & {
  /** Releases the transport (gRPC channel); a NATS client leaves the connection open (it is shared). */
  close(): void;
};
