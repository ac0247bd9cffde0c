/**
 * Stream liveness over a real nats-server: a server process that dies mid-stream (simulated by
 * closing its own NATS connection, which is what the server sees of a kill -9) is noticed within two
 * heartbeats; the stream resumes on a second replica (chunks already delivered are skipped) or
 * fails with UNAVAILABLE. Both the request/reply and the work-queue paths.
 */
import { describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { withNats } from '@tessera/testing/vitest';
import { bindNats } from './server.js';
import { natsClient } from './client.js';
import { TesseraError } from '@tessera/errors';
import { ECHO_WORK_QUEUE, EchoServiceService, echoService } from '../test/proof/echo-service.js';

const HEARTBEAT_MS = 200;

describe('server stream liveness', () => {
  const bus = withNats();

  /** `n` replicas, each on its own connection; `served[i]` counts the calls replica i started. */
  async function replicas(n: number, queued: boolean) {
    const conns: NatsConnection[] = [];
    const served: number[] = [];
    for (let i = 0; i < n; i++) {
      const nc = await connect({ servers: bus.server.url });
      conns.push(nc);
      served.push(0);
      await bindNats(nc, EchoServiceService, echoService({ onStart: () => served[i]!++ }), {
        serviceName: 'echo',
        ...(queued && { workQueue: { ...ECHO_WORK_QUEUE, concurrency: 1, ackWaitMs: 30_000 } }),
      });
    }
    return { conns, served };
  }

  for (const queued of [false, true]) {
    const mode = queued ? 'work queue' : 'request/reply';
    const call = (c: ReturnType<typeof natsClient<typeof EchoServiceService>>, count: number) =>
      (queued ? c.countWork : c.count)({ count, delayMs: 40, failAfter: 0 }, { tenant: 't', timeoutMs: 60_000 });

    it(`${mode}: resumes on the second replica and delivers every chunk once, in order`, async () => {
      const { conns, served } = await replicas(2, queued);
      const client = natsClient(bus.nc, EchoServiceService, { heartbeatMs: HEARTBEAT_MS, resumeAttempts: 1, ...(queued && { workQueue: ECHO_WORK_QUEUE }) });
      const got: number[] = [];
      let killedAt = 0;
      for await (const m of call(client, 20)) {
        got.push(m.n);
        if (got.length === 5) {
          const serving = served.findIndex((s) => s > 0);
          killedAt = Date.now();
          await conns[serving]!.close();
        }
      }
      expect(got).toEqual([...Array(20).keys()]);
      expect(served).toEqual([1, 1]);
      client.close();
      await Promise.all(conns.map((c) => c.close().catch(() => {})));
      expect(killedAt).toBeGreaterThan(0);
    });

    it(`${mode}: with no other replica, fails with UNAVAILABLE after two missed heartbeats, not at the deadline`, async () => {
      const { conns } = await replicas(1, queued);
      const client = natsClient(bus.nc, EchoServiceService, { heartbeatMs: HEARTBEAT_MS, resumeAttempts: 1, ...(queued && { workQueue: ECHO_WORK_QUEUE }) });
      let killedAt = 0;
      let n = 0;
      const err = await (async () => {
        try {
          for await (const _ of call(client, 200)) {
            if (++n === 3) {
              killedAt = Date.now();
              await conns[0]!.close();
            }
          }
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(TesseraError);
      expect((err as TesseraError).code).toBe('UNAVAILABLE');
      // Detection (2 heartbeats) + one resume attempt's wait: a few hundred ms against a 60 s deadline.
      expect(Date.now() - killedAt).toBeLessThan(5_000);
      client.close();
    });
  }

  it('heartbeats keep a slow but alive stream open (no false resume)', async () => {
    const { conns, served } = await replicas(2, false);
    const client = natsClient(bus.nc, EchoServiceService, { heartbeatMs: 100, resumeAttempts: 1 });
    const got: number[] = [];
    // 300 ms between chunks: three heartbeat intervals of silence in the data, none on the wire.
    for await (const m of client.count({ count: 3, delayMs: 300, failAfter: 0 }, { tenant: 't' })) got.push(m.n);
    expect(got).toEqual([0, 1, 2]);
    expect(served[0]! + served[1]!).toBe(1);
    client.close();
    await Promise.all(conns.map((c) => c.close()));
  });
});
