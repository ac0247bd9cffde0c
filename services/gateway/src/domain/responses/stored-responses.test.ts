import { describe, expect, it } from 'vitest';
import { withNats } from '@tessera/testing/vitest';
import { ImageStore } from '@tessera/vision';
import { KvResponseStore } from '../../adapters/responses/kv-response-store.js';
import { StoredResponses } from './stored-responses.js';

/** Stored responses over a real nats-server: the KV adapter and the image store, as compose.ts wires them. */
const bus = withNats();

async function open(bucket: string, o: { ttlMs?: number; maxBytes?: number } = {}) {
  const ttlMs = o.ttlMs ?? 60_000;
  const maxBytes = o.maxBytes ?? 64 * 1024;
  const images = await ImageStore.open(bus.nc, { bucket: `${bucket}-img` });
  const kv = await KvResponseStore.open(bus.nc, { bucket, ttlMs, maxValueBytes: maxBytes });
  return { images, kv, stored: new StoredResponses(kv, images, { ttlMs, maxBytes }) };
}

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');
const dataUrl = `data:image/png;base64,${PNG.toString('base64')}`;
const answer = (id: string, text: string) => ({ id, object: 'response', status: 'completed', output: [{ id: 'msg_1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [], logprobs: [{ token: text, logprob: -1 }] }] }] });

describe('StoredResponses over JetStream KV', () => {
  it('stores a response, and a continuation reads its input then its output, images read back from the image store', async () => {
    const { stored, kv, images } = await open('resp-chain');
    const input = [{ role: 'user', content: [{ type: 'input_text', text: 'what is this?' }, { type: 'input_image', image_url: dataUrl }] }];
    expect(await stored.keep('t1', 'resp_a1', undefined, input, answer('resp_a1', 'a pixel'))).toBe(true);
    // The record keeps a reference, never the bytes; the image is in the image store by its sha256.
    const record = (await kv.get('t1', 'resp_a1'))!;
    expect(JSON.stringify(record)).not.toContain(PNG.toString('base64'));
    const part = (record.input[0] as any).content[1];
    expect(part).toMatchObject({ type: 'input_image', tessera_image: { bucket: 'resp-chain-img', size: PNG.length, content_type: 'image/png' } });
    expect(Buffer.from(await images.get('t1', part.tessera_image))).toEqual(PNG);
    expect(record.response.store).toBe(true);

    const prior = await stored.prior('t1', 'resp_a1');
    expect(prior.items).toEqual([
      { role: 'user', content: [{ type: 'input_text', text: 'what is this?' }, { type: 'input_image', image_url: dataUrl }] },
      // Output items as history, without their logprobs.
      { id: 'msg_1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'a pixel', annotations: [] }] },
    ]);
    // A second turn stores the whole conversation (one record per turn: a continuation reads one).
    expect(await stored.keep('t1', 'resp_a2', prior, [{ type: 'message', role: 'user', content: 'and now?' }], answer('resp_a2', 'still'))).toBe(true);
    const second = await stored.prior('t1', 'resp_a2');
    expect(second.items.map((x: any) => x.content[0]?.text ?? x.content)).toEqual(['what is this?', 'a pixel', 'and now?', 'still']);
  });

  it('another tenant, an unknown or malformed id, and a deleted one are 404s naming the field', async () => {
    const { stored } = await open('resp-404');
    await stored.keep('t1', 'resp_b1', undefined, [{ role: 'user', content: 'hi' }], answer('resp_b1', 'hello'));
    await expect(stored.prior('t2', 'resp_b1')).rejects.toMatchObject({ code: 'NOT_FOUND', details: { field: 'previous_response_id' } });
    await expect(stored.find('t1', 'resp_nope', 'response_id')).rejects.toMatchObject({ code: 'NOT_FOUND', details: { field: 'response_id' } });
    await expect(stored.find('t1', 'resp_b1.>', 'response_id')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(stored.delete('t2', 'resp_b1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await stored.delete('t1', 'resp_b1');
    await expect(stored.find('t1', 'resp_b1', 'response_id')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(stored.delete('t1', 'resp_b1')).rejects.toMatchObject({ code: 'NOT_FOUND', details: { field: 'response_id' } });
  });

  it('a response past its TTL is gone', async () => {
    const { stored } = await open('resp-ttl', { ttlMs: 300 });
    await stored.keep('t1', 'resp_c1', undefined, [{ role: 'user', content: 'hi' }], answer('resp_c1', 'hello'));
    await stored.find('t1', 'resp_c1', 'response_id');
    await new Promise((r) => setTimeout(r, 400));
    await expect(stored.find('t1', 'resp_c1', 'response_id')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('size: a conversation over the limit is a 400 naming input before generating; an answer that pushes it over is not stored', async () => {
    const { stored } = await open('resp-size', { maxBytes: 16 * 1024 });
    await expect(stored.checkSize(undefined, [{ role: 'user', content: 'x'.repeat(20_000) }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'input', limit: 'stored response bytes <= 16384' } });
    // Images count as their reference, not their bytes.
    await stored.checkSize(undefined, [{ role: 'user', content: [{ type: 'input_image', image_url: `data:image/png;base64,${Buffer.alloc(30_000).toString('base64')}` }] }]);
    expect(await stored.keep('t1', 'resp_d1', undefined, [{ role: 'user', content: 'hi' }], answer('resp_d1', 'y'.repeat(20_000)))).toBe(false);
    await expect(stored.find('t1', 'resp_d1', 'response_id')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('an image gone from the image store makes the continuation a 404 naming previous_response_id', async () => {
    const { stored, images } = await open('resp-img');
    await stored.keep('t1', 'resp_e1', undefined, [{ role: 'user', content: [{ type: 'input_image', image_url: dataUrl }] }], answer('resp_e1', 'ok'));
    await images.purgeTenant('t1');
    await expect(stored.prior('t1', 'resp_e1')).rejects.toMatchObject({ code: 'NOT_FOUND', details: { field: 'previous_response_id' }, message: expect.stringContaining('image that is no longer stored') });
  });

  it("purgeTenant erases one tenant's responses and no other's", async () => {
    const { stored } = await open('resp-purge');
    for (const [t, id] of [['t1', 'resp_f1'], ['t1', 'resp_f2'], ['t2', 'resp_f3']] as const) await stored.keep(t, id, undefined, [{ role: 'user', content: 'hi' }], answer(id, 'x'));
    expect(await stored.purgeTenant('t1')).toBe(2);
    expect(await stored.purgeTenant('t1')).toBe(0);
    await expect(stored.find('t1', 'resp_f1', 'response_id')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await stored.find('t2', 'resp_f3', 'response_id')).response.id).toBe('resp_f3');
  });
});
