import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '@tessera/runtime';
import { withNats } from '@tessera/testing/vitest';
import { ImageStore } from './image-store.js';

const bus = withNats();

describe('ImageStore (real nats-server)', () => {
  it('stores once per tenant, reads back for the owner only, deletes and purges', async () => {
    const store = await ImageStore.open(bus.nc, { bucket: 'images-test', retentionMs: 60_000 });
    const img = randomBytes(600_000);
    const sha = sha256Hex(img);
    const ref = await store.put('acme', img, sha, 'image/png');
    expect(ref).toEqual({ bucket: 'images-test', key: sha, size: 600_000, contentType: 'image/png' });
    const jsm = await bus.nc.jetstreamManager();
    const before = (await jsm.streams.info('OBJ_images-test')).state.messages;
    await store.put('acme', img, sha, 'image/png');
    expect((await jsm.streams.info('OBJ_images-test')).state.messages).toBe(before); // stored once
    expect(Buffer.from(await store.get('acme', ref)).equals(img)).toBe(true);
    await expect(store.get('globex', ref)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // The bucket keeps an image for the retention plus the refresh margin (a tenth).
    expect((await jsm.streams.info('OBJ_images-test')).config.max_age).toBe(66_000 * 1_000_000);
    const other = randomBytes(10);
    await store.put('acme', other, sha256Hex(other), 'image/png');
    expect(await store.delete('acme', sha)).toBe(true);
    await expect(store.get('acme', ref)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await store.purgeTenant('acme')).toBe(1);
  });
});
