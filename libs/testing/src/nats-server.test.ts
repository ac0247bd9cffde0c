import { describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { startNatsCluster, startNatsServer } from './nats-server.js';

describe('startNatsServer', () => {
  it('starts a JetStream-enabled server on a free port and stops it', async () => {
    const server = await startNatsServer();
    const jsz = (await (await fetch(`http://127.0.0.1:${server.monitorPort}/jsz`)).json()) as { config?: { store_dir?: string }; store_dir?: string };
    expect(jsz.config?.store_dir ?? jsz.store_dir ?? server.storeDir).toBeTruthy();
    expect(server.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    await server.stop();
    expect(server.process.exitCode !== null || server.process.signalCode !== null).toBe(true);
  });
});

describe('startNatsCluster', () => {
  it('boots 3 routed JetStream nodes; a replicas-3 stream keeps every acknowledged message when a node is killed', { timeout: 120_000 }, async () => {
    const cluster = await startNatsCluster();
    try {
      const nc = await connect({ servers: cluster.url.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'R3', subjects: ['r3.>'], num_replicas: 3 });
      const js = nc.jetstream();
      const acked = new Set<number>();
      // Deadline, not an attempt count: after the kill, stream-leader election on a loaded 2-core CI
      // machine took > 5 s once (21 quick 503 "no responders" retries ran out, CI red).
      const publish = async (i: number) => {
        const deadline = Date.now() + 45_000;
        for (;;) {
          try {
            await js.publish(`r3.${i}`, new Uint8Array([i & 0xff]), { msgID: `m-${i}`, timeout: 2_000 });
            acked.add(i);
            return;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 250)); // leader election after the kill: retry with the same msg id
          }
        }
      };
      for (let i = 0; i < 50; i++) await publish(i);
      cluster.nodes[0]!.process.kill('SIGKILL');
      for (let i = 50; i < 100; i++) await publish(i);
      const info = await jsm.streams.info('R3');
      expect(info.config.num_replicas).toBe(3);
      expect(info.state.messages).toBe(100); // de-duplicated retries, nothing lost
      expect(acked.size).toBe(100);
      await nc.close();
    } finally {
      await cluster.stop();
    }
  });
});
