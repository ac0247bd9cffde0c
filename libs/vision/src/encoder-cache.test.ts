import { describe, expect, it } from 'vitest';
import { statPayload } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import { EncoderCache, type EncoderCacheKey } from './encoder-cache.js';

const bus = withNats();

const key = (over: Partial<EncoderCacheKey> = {}): EncoderCacheKey => ({
  modelRevision: 'rev-1',
  tenant: 'acme',
  imageSha256: 'a'.repeat(64),
  maxSliceNums: 9,
  scaleResolution: 448,
  ...over,
});
const tokens = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

describe('EncoderCache (real nats-server)', () => {
  it('miss, then hit with the same bytes; every key component matters', async () => {
    const cache = await EncoderCache.open(bus.nc, { bucket: 'cache-basic' });
    expect(await cache.lookup(key())).toBeNull();
    const data = tokens(200_000, 1);
    await cache.store(key(), data, { dtype: 'float32', shape: [1, 64, 781], plan: { grid: null } });
    const hit = await cache.lookup(key());
    expect(hit).toMatchObject({ dtype: 'float32', shape: [1, 64, 781], plan: { grid: null }, modelRevision: 'rev-1' });
    expect(Buffer.from((await cache.read(hit!))!).equals(Buffer.from(data))).toBe(true);
    for (const other of [{ modelRevision: 'rev-2' }, { imageSha256: 'b'.repeat(64) }, { maxSliceNums: 4 }, { scaleResolution: 336 }]) {
      expect(await cache.lookup(key(other)), JSON.stringify(other)).toBeNull();
    }
  });

  it('is scoped by tenant, and purging one tenant leaves the others (even "a" vs "a.b")', async () => {
    const cache = await EncoderCache.open(bus.nc, { bucket: 'cache-tenants' });
    await cache.store(key({ tenant: 'a' }), tokens(1000, 2), { dtype: 'float32', shape: [1], plan: {} });
    await cache.store(key({ tenant: 'a.b' }), tokens(1000, 2), { dtype: 'float32', shape: [1], plan: {} });
    expect(await cache.lookup(key({ tenant: 'c' }))).toBeNull();
    const a = await cache.lookup(key({ tenant: 'a' }));
    const ab = await cache.lookup(key({ tenant: 'a.b' }));
    expect(a!.ref.key).toBe(ab!.ref.key); // same bytes: same content key …
    expect(await statPayload(bus.nc, a!.ref, { tenant: 'a' })).not.toBeNull(); // … in separate per-tenant objects
    expect(await statPayload(bus.nc, a!.ref, { tenant: 'c' })).toBeNull();
    expect(await cache.purgeTenant('a')).toBe(1);
    expect(await cache.lookup(key({ tenant: 'a' }))).toBeNull();
    expect(await cache.read(a!)).toBeNull();
    expect(await cache.lookup(key({ tenant: 'a.b' }))).not.toBeNull();
    expect(await cache.read(ab!)).not.toBeNull();
  });

  it('re-opening an existing bucket keeps its entries and applies a new TTL and cap', async () => {
    const first = await EncoderCache.open(bus.nc, { bucket: 'cache-reopen', ttlMs: 60_000, maxBytes: 8 * 1024 * 1024 });
    await first.store(key(), tokens(100, 4), { dtype: 'float32', shape: [1], plan: {} });
    const again = await EncoderCache.open(bus.nc, { bucket: 'cache-reopen', ttlMs: 120_000, maxBytes: 16 * 1024 * 1024 });
    expect(await again.lookup(key())).not.toBeNull();
    const jsm = await bus.nc.jetstreamManager();
    const info = await jsm.streams.info('OBJ_cache-reopen');
    expect(info.config).toMatchObject({ max_age: 120_000 * 1_000_000, max_bytes: 16 * 1024 * 1024, discard: 'old' });
  });

  it('entries expire after the TTL', async () => {
    const cache = await EncoderCache.open(bus.nc, { bucket: 'cache-ttl', ttlMs: 1000 });
    await cache.store(key(), tokens(100, 3), { dtype: 'float32', shape: [1], plan: {} });
    expect(await cache.lookup(key())).not.toBeNull();
    await new Promise((r) => setTimeout(r, 1200));
    expect(await cache.lookup(key())).toBeNull();
  });

  it('under eviction a hit is never handed out for tokens that can no longer be read', async () => {
    const cache = await EncoderCache.open(bus.nc, { bucket: 'cache-partial', maxBytes: 700_000 });
    let hits = 0;
    for (let i = 0; i < 8; i++) {
      // 300 kB = 2 chunks of 256 KiB: the oldest object loses chunks before its metadata.
      await cache.store(key({ imageSha256: String(i).repeat(64) }), tokens(300_000, 20 + i), { dtype: 'float32', shape: [1], plan: {} });
      for (let j = 0; j <= i; j++) {
        const e = await cache.lookup(key({ imageSha256: String(j).repeat(64) }));
        if (!e) continue;
        hits++;
        expect(await cache.read(e), `entry ${j} after ${i + 1} stores`).not.toBeNull();
      }
    }
    expect(hits).toBeGreaterThan(8);
  });

  it('the size cap evicts the oldest tokens instead of refusing new ones', async () => {
    const cache = await EncoderCache.open(bus.nc, { bucket: 'cache-cap', maxBytes: 600_000 });
    for (let i = 0; i < 5; i++) await cache.store(key({ imageSha256: String(i).repeat(64) }), tokens(200_000, 10 + i), { dtype: 'float32', shape: [1], plan: {} });
    expect(await cache.lookup(key({ imageSha256: '0'.repeat(64) }))).toBeNull();
    expect(await cache.lookup(key({ imageSha256: '4'.repeat(64) }))).not.toBeNull();
  });
});
