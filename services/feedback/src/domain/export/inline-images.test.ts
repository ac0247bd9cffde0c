import { describe, expect, it } from 'vitest';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { InlineImages } from './exporter.js';

const ref = (key: string) => ({ bucket: 'tessera-images', key, size: 3, contentType: 'image/png' });

describe('inline export images', () => {
  it('reads an image once while it is cached, per tenant; evicts least recently used past the bound; a missing image fails its row only', async () => {
    const reads: string[] = [];
    const cache = new InlineImages(2 * 'data:image/png;base64,AAAA'.length, {
      readImage: async (r, tenant) => {
        reads.push(`${tenant}:${r.key}`);
        if (r.key === 'gone') throw new TesseraError(ErrorCode.NOT_FOUND, 'no such image');
        return Uint8Array.of(0, 0, 0);
      },
    });
    const a = await cache.load([ref('a')], 't1');
    expect(a?.get('tessera-images/a')).toBe('data:image/png;base64,AAAA');
    await cache.load([ref('a')], 't1');
    expect(reads).toEqual(['t1:a']);
    await cache.load([ref('a')], 't2'); // object names are per tenant: another tenant's read is its own
    expect(reads).toEqual(['t1:a', 't2:a']);
    await cache.load([ref('b')], 't1'); // over the bound of two: t1:a, the least recently used, goes
    await cache.load([ref('a')], 't2');
    await cache.load([ref('a')], 't1');
    expect(reads).toEqual(['t1:a', 't2:a', 't1:b', 't1:a']);
    expect(cache.size).toBeLessThanOrEqual(2 * 'data:image/png;base64,AAAA'.length);
    expect(await cache.load([ref('a'), ref('gone')], 't1')).toBeUndefined();
  });

  it('a bound of 0 (TESSERA_FEEDBACK_EXPORT_IMAGE_CACHE=0) keeps nothing between rows: every row reads its images again', async () => {
    let reads = 0;
    const cache = new InlineImages(0, { readImage: async () => (reads++, Uint8Array.of(1)) });
    for (let i = 0; i < 3; i++) expect((await cache.load([ref('a'), ref('b')], 't1'))?.size).toBe(2);
    expect(reads).toBe(6);
    expect(cache.size).toBe(0);
  });
});
