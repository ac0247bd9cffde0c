import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll } from 'vitest';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { fixtureValue } from './fixture.js';

export interface NatsFixture {
  /** The nats-server (JetStream on, own store dir, free port) of this test file or describe block. */
  readonly server: NatsServerHandle;
  /** One client connection to it (object store, KV, streams, request/reply). */
  readonly nc: NatsConnection;
}

/**
 * A real nats-server with JetStream and one connection for the enclosing test file or `describe`,
 * started in beforeAll and stopped in afterAll: the setup ~20 service, runtime and CLI tests used to
 * repeat. Read `nc`/`server` inside tests and hooks. Call it before the file's own hooks: vitest
 * runs beforeAll hooks in order and afterAll hooks in reverse (sequence.hooks 'stack'), so the
 * file's own setup finds the server up and its teardown (bindings, hosts) runs before the
 * connection closes and the server stops.
 */
export function withNats(): NatsFixture {
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
  return {
    get server() {
      return fixtureValue('withNats', 'server', server);
    },
    get nc() {
      return fixtureValue('withNats', 'nc', nc);
    },
  };
}
