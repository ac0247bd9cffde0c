/**
 * Fail fast on bus loss, against a real nats-server killed with SIGKILL and restarted on the same
 * port and store: calls in flight fail when the disconnect is seen, new calls get UNAVAILABLE with a
 * retry hint at once (not at their deadline), and calls succeed again once the client reconnected.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { startNatsServer, waitFor, type NatsServerHandle } from '@tessera/testing';
import { bindNats } from './server.js';
import { natsClient } from './client.js';
import { busState } from './bus-state.js';
import { TesseraError } from '@tessera/errors';
import { EchoServiceService, echoService } from '../test/proof/echo-service.js';

const req = { text: 'hi', delayMs: 0, blob: Buffer.alloc(0), failCode: '' };

describe('bus loss', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bus-'));
  let server: NatsServerHandle | undefined;
  const conns: NatsConnection[] = [];
  afterAll(async () => {
    for (const c of conns) await c.close().catch(() => {});
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails in-flight and new calls at once while NATS is down, and recovers after it restarts', async () => {
    server = await startNatsServer({ storeDir: dir });
    const port = server.port;
    const opts = { servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 };
    const serverNc = await connect(opts);
    const clientNc = await connect(opts);
    conns.push(serverNc, clientNc);
    await bindNats(serverNc, EchoServiceService, echoService(), { serviceName: 'echo' });
    const client = natsClient(clientNc, EchoServiceService, { heartbeatMs: 1_000 });
    expect((await client.echo(req, { tenant: 't' })).text).toBe('hi');

    const stream = (async () => {
      let n = 0;
      for await (const _ of client.count({ count: 1000, delayMs: 20, failAfter: 0 }, { tenant: 't', timeoutMs: 60_000 })) n++;
      return n;
    })();
    const slowUnary = client.echo({ ...req, delayMs: 30_000 }, { tenant: 't', timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 300));

    server.process.kill('SIGKILL');
    const killedAt = Date.now();
    const streamErr = await stream.then(() => undefined, (e: unknown) => e);
    const unaryErr = await slowUnary.then(() => undefined, (e: unknown) => e);
    expect(streamErr).toBeInstanceOf(TesseraError);
    expect((streamErr as TesseraError).code).toBe('UNAVAILABLE');
    expect((unaryErr as TesseraError).code).toBe('UNAVAILABLE');
    expect(Date.now() - killedAt).toBeLessThan(5_000);

    const askedAt = Date.now();
    const downErr = await client.echo(req, { tenant: 't', timeoutMs: 60_000 }).then(() => undefined, (e: unknown) => e);
    expect(downErr).toMatchObject({ code: 'UNAVAILABLE', details: { retryAfterMs: expect.any(Number) } });
    expect(Date.now() - askedAt).toBeLessThan(1_000);
    expect(busState(clientNc).connected).toBe(false);

    server = await startNatsServer({ storeDir: dir, port });
    const backAt = Date.now();
    await waitFor(() => busState(clientNc).connected && busState(serverNc).connected, 10_000, 25, 'both connections back');
    // The server side re-subscribes on reconnect; the first call that reaches it counts as recovered.
    let res;
    while (!res) res = await client.echo(req, { tenant: 't', timeoutMs: 2_000 }).catch(() => undefined);
    expect(res.text).toBe('hi');
    expect(Date.now() - backAt).toBeLessThan(3_000);
    client.close();
  });
});
