import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import { expect, it } from 'vitest';
import { getPayload, putPayload } from '@tessera/runtime';
import { meterBus } from './bus-meter.js';
import { startNatsServer } from './nats-server.js';

it('attributes object-store chunk bytes to their bucket: writes, streamed reads and fallback reads', async () => {
  const server = await startNatsServer();
  const nc = await connect({ servers: server.url });
  try {
    const meter = await meterBus(nc);
    const bytes = randomBytes(600_000);
    const ref = await putPayload(nc, bytes, { bucket: 'metered' });
    await getPayload(nc, ref);
    await nc.flush();
    expect(meter.bucket('metered')).toEqual({ writtenBytes: 600_000, readBytes: 600_000 });
    // stallMs 0: every chunk comes again through STREAM.MSG.GET (plus whatever the abandoned
    // streamed read had already been sent: those bytes crossed the bus too).
    await getPayload(nc, ref, { stallMs: 0 });
    await nc.flush();
    expect(meter.bucket('metered').readBytes).toBeGreaterThanOrEqual(1_200_000);
    expect(meter.bucket('other')).toEqual({ writtenBytes: 0, readBytes: 0 });
    expect(meter.totalBytes()).toBeGreaterThan(1_800_000);
    await meter.stop();
  } finally {
    await nc.close();
    await server.stop();
  }
});
