import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { startNatsServer, type NatsServerHandle } from '@tessera/testing';
import { getPayload, putPayload, sha256Hex } from './claim-check.js';

describe('claim checks', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc.close();
    await server.stop();
  });

  it('stores by sha256 in the standard object-store layout, readable by the NATS ObjectStore API', async () => {
    const bytes = randomBytes(700_000);
    const ref = await putPayload(nc, bytes, { bucket: 'cc-test' });
    expect(ref).toEqual({ bucket: 'cc-test', key: sha256Hex(bytes), size: 700_000 });
    const os = await nc.jetstream().views.os('cc-test');
    const viaNats = await os.getBlob(ref.key); // verifies the digest we wrote
    expect(Buffer.from(viaNats!).equals(bytes)).toBe(true);
    expect(Buffer.from(await getPayload(nc, ref)).equals(bytes)).toBe(true);
  });

  it('reads objects written by the NATS ObjectStore API', async () => {
    const bytes = randomBytes(300_000);
    const os = await nc.jetstream().views.os('cc-test');
    await os.putBlob({ name: sha256Hex(bytes) }, bytes);
    expect(Buffer.from(await getPayload(nc, { bucket: 'cc-test', key: sha256Hex(bytes), size: bytes.length })).equals(bytes)).toBe(true);
  });

  it('stores the same bytes once', async () => {
    const bytes = randomBytes(100_000);
    await putPayload(nc, bytes, { bucket: 'cc-test' });
    const before = (await (await nc.jetstreamManager()).streams.info('OBJ_cc-test')).state.messages;
    await putPayload(nc, bytes, { bucket: 'cc-test' });
    expect((await (await nc.jetstreamManager()).streams.info('OBJ_cc-test')).state.messages).toBe(before);
  });

  it('handles empty payloads and reports missing objects as NOT_FOUND', async () => {
    const ref = await putPayload(nc, new Uint8Array(0), { bucket: 'cc-test' });
    expect((await getPayload(nc, ref)).length).toBe(0);
    await expect(getPayload(nc, { bucket: 'cc-test', key: 'a'.repeat(64), size: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND', details: { field: 'claim.key' } });
  });
});

describe('claim-check reads when the streamed read stalls', () => {
  it('falls back to chunk-by-chunk reads and still returns the exact bytes', async () => {
    const server = await startNatsServer();
    const nc = await connect({ servers: server.url });
    try {
      const bytes = randomBytes(1_200_000);
      const ref = await putPayload(nc, bytes, { bucket: 'cc-stall' });
      // stallMs 0: the streamed read gives up before its first chunk, so every byte comes from the fallback.
      const started = performance.now();
      const out = await getPayload(nc, ref, { stallMs: 0 });
      expect(Buffer.from(out).equals(bytes)).toBe(true);
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      await nc.close();
      await server.stop();
    }
  });
});
