import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { withNats } from '@tessera/testing/vitest';
import { deletePayload, getPayload, purgeTenantPayloads, putPayload, sha256Hex, statPayload } from './claim-check.js';

describe('claim checks', () => {
  const bus = withNats();

  it('stores by sha256 in the standard object-store layout, readable by the NATS ObjectStore API', async () => {
    const bytes = randomBytes(700_000);
    const ref = await putPayload(bus.nc, bytes, { bucket: 'cc-test' });
    expect(ref).toEqual({ bucket: 'cc-test', key: sha256Hex(bytes), size: 700_000 });
    const os = await bus.nc.jetstream().views.os('cc-test');
    const viaNats = await os.getBlob(ref.key); // verifies the digest we wrote
    expect(Buffer.from(viaNats!).equals(bytes)).toBe(true);
    expect(Buffer.from(await getPayload(bus.nc, ref)).equals(bytes)).toBe(true);
  });

  it('reads objects written by the NATS ObjectStore API', async () => {
    const bytes = randomBytes(300_000);
    const os = await bus.nc.jetstream().views.os('cc-test');
    await os.putBlob({ name: sha256Hex(bytes) }, bytes);
    expect(Buffer.from(await getPayload(bus.nc, { bucket: 'cc-test', key: sha256Hex(bytes), size: bytes.length })).equals(bytes)).toBe(true);
  });

  it('stores the same bytes once', async () => {
    const bytes = randomBytes(100_000);
    await putPayload(bus.nc, bytes, { bucket: 'cc-test' });
    const before = (await (await bus.nc.jetstreamManager()).streams.info('OBJ_cc-test')).state.messages;
    await putPayload(bus.nc, bytes, { bucket: 'cc-test' });
    expect((await (await bus.nc.jetstreamManager()).streams.info('OBJ_cc-test')).state.messages).toBe(before);
  });

  it('handles empty payloads and reports missing objects as NOT_FOUND', async () => {
    const ref = await putPayload(bus.nc, new Uint8Array(0), { bucket: 'cc-test' });
    expect((await getPayload(bus.nc, ref)).length).toBe(0);
    await expect(getPayload(bus.nc, { bucket: 'cc-test', key: 'a'.repeat(64), size: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND', details: { field: 'claim.key' } });
  });
});

describe('tenant-scoped objects', () => {
  const bus = withNats();

  it('the same reference reads for its tenant and is NOT_FOUND for another', async () => {
    const bytes = randomBytes(40_000);
    const ref = await putPayload(bus.nc, bytes, { bucket: 'scoped', tenant: 'a.b' });
    expect(ref.key).toBe(sha256Hex(bytes)); // the reference names content, the tenant scopes it
    expect(Buffer.from(await getPayload(bus.nc, ref, { tenant: 'a.b' })).equals(bytes)).toBe(true);
    await expect(getPayload(bus.nc, ref, { tenant: 'a' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(getPayload(bus.nc, ref)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await statPayload(bus.nc, ref, { tenant: 'a.b' }))?.size).toBe(40_000);
  });

  it('takes a precomputed sha256, refreshes old objects, deletes one and purges a tenant', async () => {
    const one = randomBytes(1000);
    const two = randomBytes(2000);
    const r1 = await putPayload(bus.nc, one, { bucket: 'scoped', tenant: 't1', sha256: sha256Hex(one) });
    await putPayload(bus.nc, two, { bucket: 'scoped', tenant: 't1' });
    await putPayload(bus.nc, two, { bucket: 'scoped', tenant: 't2' });
    const before = (await statPayload(bus.nc, r1, { tenant: 't1' }))!;
    await new Promise((r) => setTimeout(r, 5));
    await putPayload(bus.nc, one, { bucket: 'scoped', tenant: 't1', refreshAfterMs: 1 });
    const after = (await statPayload(bus.nc, r1, { tenant: 't1' }))!;
    expect(after.nuid).not.toBe(before.nuid); // rewritten: its max-age clock restarted
    expect(Buffer.from(await getPayload(bus.nc, r1, { tenant: 't1', verify: false })).equals(one)).toBe(true);
    expect(await deletePayload(bus.nc, r1, { tenant: 't1' })).toBe(true);
    expect(await deletePayload(bus.nc, r1, { tenant: 't1' })).toBe(false);
    await expect(getPayload(bus.nc, r1, { tenant: 't1' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await purgeTenantPayloads(bus.nc, 'scoped', 't1')).toBe(1);
    expect(await purgeTenantPayloads(bus.nc, 'scoped', 't1')).toBe(0);
    expect(await statPayload(bus.nc, { bucket: 'scoped', key: sha256Hex(two) }, { tenant: 't2' })).not.toBeNull();
    expect(await purgeTenantPayloads(bus.nc, 'no-such-bucket', 't1')).toBe(0);
  });
});

describe('claim-check reads when the streamed read stalls', () => {
  const bus = withNats();

  it('falls back to chunk-by-chunk reads and still returns the exact bytes', async () => {
    const bytes = randomBytes(1_200_000);
    const ref = await putPayload(bus.nc, bytes, { bucket: 'cc-stall' });
    // stallMs 0: the streamed read gives up before its first chunk, so every byte comes from the fallback.
    const started = performance.now();
    const out = await getPayload(bus.nc, ref, { stallMs: 0 });
    expect(Buffer.from(out).equals(bytes)).toBe(true);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
