import { describe, expect, it } from 'vitest';
import { withNats } from '@tessera/testing/vitest';
import { EncoderCache, ImageStore } from '@tessera/vision';
import { KvResponseStore } from '../../adapters/responses/kv-response-store.js';
import { StoredResponses } from '../responses/stored-responses.js';
import { TenantErasure, type TenantErasureDeps } from './tenant-erasure.js';

/** Erasure over real buckets (encoder cache, image store, stored responses); feedback and retrieval answer as empty services. */
const bus = withNats();

describe('TenantErasure', () => {
  it("erases the tenant's stored /v1/responses (and their images), no other tenant's", async () => {
    const images = await ImageStore.open(bus.nc, { bucket: 'erase-images' });
    const responses = new StoredResponses(await KvResponseStore.open(bus.nc, { bucket: 'erase-responses', ttlMs: 60_000, maxValueBytes: 64 * 1024 }), images, { ttlMs: 60_000, maxBytes: 64 * 1024 });
    const png = `data:image/png;base64,${Buffer.from('not really a png').toString('base64')}`;
    const turn = (text: string) => [{ role: 'user', content: [{ type: 'input_text', text }, { type: 'input_image', image_url: png }] }];
    for (const [tenant, id] of [['acme', 'resp_1'], ['acme', 'resp_2'], ['other', 'resp_3']] as const) expect(await responses.keep(tenant, id, undefined, turn(id), { id, output: [] })).toBe(true);
    const erasure = new TenantErasure({
      cache: await EncoderCache.open(bus.nc, { bucket: 'erase-cache' }),
      images,
      responses,
      feedback: { eraseTenant: async () => ({ responsesDeleted: 0, feedbackDeleted: 0, imagesDeleted: 0 }) },
      retrieval: { listCollections: async () => ({ collections: [], nextPageToken: '' }), deleteCollection: async () => ({}) },
    } as unknown as TenantErasureDeps);
    const report = await erasure.erase('acme');
    expect(report).toMatchObject({ tenant: 'acme', storedResponsesDeleted: 2, imagesDeleted: 1 });
    await expect(responses.find('acme', 'resp_1', 'response_id')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await responses.prior('other', 'resp_3')).items).toHaveLength(1);
  });
});
