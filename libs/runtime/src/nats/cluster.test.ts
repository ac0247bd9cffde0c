/**
 * Work queue on a 3-node JetStream cluster (replicas 3): the node leading the stream dies while the
 * worker is connected to it and a job is being published. The publish can vanish with the node (no ack)
 * or meet the election (no responders); the client publishes again with the same msg id, so the job is
 * stored once and answered — before, the call waited for its deadline (found by bench/e2e/faults.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { startNatsCluster, type NatsClusterHandle } from '@tessera/testing';
import { EchoServiceService, echoService, ECHO_WORK_QUEUE } from '../test/proof/echo-service.js';
import { bindNats, type NatsBinding } from './server.js';
import { natsClient } from './client.js';
import { ensureWorkStream } from './streams.js';

describe('work queue on a clustered JetStream', () => {
  let cluster: NatsClusterHandle;
  let worker: NatsConnection;
  let caller: NatsConnection;
  let binding: NatsBinding;
  let leader: number;
  beforeAll(async () => {
    cluster = await startNatsCluster();
    const urls = cluster.url.split(',');
    const admin = await connect({ servers: urls });
    await ensureWorkStream(await admin.jetstreamManager(), 'echo', 3);
    const name = (await (await admin.jetstreamManager()).streams.info('TESSERA_ECHO')).cluster?.leader;
    leader = urls.findIndex((_, i) => name === `tessera-${i}`);
    await admin.close();
    // The worker sits on the leader's node; the caller on another one.
    worker = await connect({ servers: [urls[leader]!, ...urls.filter((_, i) => i !== leader)], noRandomize: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    caller = await connect({ servers: urls.filter((_, i) => i !== leader), maxReconnectAttempts: -1 });
    binding = await bindNats(worker, EchoServiceService, echoService(), { serviceName: 'echo', workQueue: { ...ECHO_WORK_QUEUE, concurrency: 2, replicas: 3 } });
  }, 60_000);
  afterAll(async () => {
    await binding?.stop(500);
    await worker?.close();
    await caller?.close();
    await cluster?.stop();
  });

  it('a job published as the stream-leading node dies is answered, once', { timeout: 90_000 }, async () => {
    expect(leader).toBeGreaterThanOrEqual(0);
    const client = natsClient(caller, EchoServiceService, { workQueue: ECHO_WORK_QUEUE });
    const req = { text: 'x', delayMs: 0, blob: Buffer.alloc(0), failCode: '' };
    await client.work(req, { tenant: 't', timeoutMs: 20_000 });
    cluster.nodes[leader]!.process.kill('SIGKILL');
    const res = await client.work({ ...req, text: 'after the loss' }, { tenant: 't', timeoutMs: 40_000 });
    expect(res.text).toBe('after the loss');
    expect(res.attempt).toBe(1);
    client.close();
  });
});
