import { describe, expect, it } from 'vitest';
import { startNatsServer } from './nats-server.js';

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
