import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll } from 'vitest';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';

export interface NatsFixture {
  /** The nats-server (JetStream on, own store dir, free port) of this test file or describe block. */
  readonly server: NatsServerHandle;
  /** One client connection to it (object store, KV, streams, request/reply). */
  readonly nc: NatsConnection;
}

/**
 * A real nats-server with JetStream and one connection for the enclosing test file or `describe`,
 * started in beforeAll and stopped in afterAll: the setup the object-store, encoder-cache,
 * image-store and service-host tests used to repeat. Read `nc`/`server` inside tests and hooks.
 */
export function withObjectStore(): NatsFixture {
  let server: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`withObjectStore: ${what} is used before beforeAll ran`);
    return v;
  };
  return {
    get server() {
      return need(server, 'server');
    },
    get nc() {
      return need(nc, 'nc');
    },
  };
}
