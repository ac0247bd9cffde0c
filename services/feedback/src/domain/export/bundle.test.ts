import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IMG_A_BYTES, IMG_B_BYTES } from '../../test/fixtures.js';
import { directorySink, readBundle, tarSink, writeBundle, type BundleItem } from './bundle.js';

const dir = mkdtempSync(join(tmpdir(), 'bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const url = (b: Uint8Array, type = 'image/png') => `data:${type};base64,${Buffer.from(b).toString('base64')}`;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
async function* items(rows: object[], summary = { rows: rows.length }): AsyncIterable<BundleItem> {
  for (const r of rows) yield { row: JSON.stringify(r) };
  yield { summary };
}

describe('export bundles', () => {
  it('TRL rows get image paths that exist in the bundle (directory), each image stored once', async () => {
    const out = join(dir, 'trl');
    const rows = [
      { id: 'a', prompt: [], chosen: [], rejected: [], images: [url(IMG_A_BYTES), url(IMG_B_BYTES, 'image/jpeg')] },
      { id: 'b', prompt: [], chosen: [], rejected: [], images: [url(IMG_A_BYTES)] },
    ];
    await writeBundle('trl-dpo', items(rows, { rows: 2, rowsMissingImages: 1, missingImageRows: ['c'] } as never), directorySink(out));
    const b = await readBundle(out);
    expect(b.rows.map((r) => r.images)).toEqual([[`images/${sha(IMG_A_BYTES)}.png`, `images/${sha(IMG_B_BYTES)}.jpg`], [`images/${sha(IMG_A_BYTES)}.png`]]);
    expect([...b.images.keys()].sort()).toEqual([`images/${sha(IMG_A_BYTES)}.png`, `images/${sha(IMG_B_BYTES)}.jpg`].sort());
    expect(Buffer.from(b.images.get(`images/${sha(IMG_B_BYTES)}.jpg`)!)).toEqual(Buffer.from(IMG_B_BYTES));
    expect(b.summary).toMatchObject({ format: 'trl-dpo', rows: 2, rowsMissingImages: 1, missingImageRows: ['c'] });
  });

  it('RLAIF-V rows become parquet with image.bytes filled (tar bundle), read back with a parquet reader', async () => {
    const file = join(dir, 'rlaif.tar');
    const row = (id: string, idx: number, img: Uint8Array | null) => ({
      ds_name: 'tessera/t1', image: img ? { bytes: Buffer.from(img).toString('base64'), path: `tessera://tessera-images/${sha(img)}` } : null,
      question: '图里有什么？', chosen: '两个苹果', rejected: '𠀀三个', origin_dataset: 'tessera', origin_split: '{}', idx, image_path: img ? `tessera://tessera-images/${sha(img)}` : '', id,
    });
    await writeBundle('rlaif-v', items([row('x', 0, IMG_A_BYTES), row('y', 1, null)]), tarSink(createWriteStream(file)));
    const b = await readBundle(file);
    expect(b.rows).toHaveLength(2);
    const [x, y] = b.rows as { image: { bytes: Uint8Array; path: string } | null; question: string; rejected: string; idx: number; image_path: string }[];
    expect(sha(x!.image!.bytes)).toBe(sha(IMG_A_BYTES));
    expect(x!.image!.path).toBe(`images/${sha(IMG_A_BYTES)}.png`);
    expect(x).toMatchObject({ question: '图里有什么？', rejected: '𠀀三个', idx: 0, image_path: `images/${sha(IMG_A_BYTES)}.png` });
    expect(y!.image ?? null).toBeNull();
    expect(b.images.has(`images/${sha(IMG_A_BYTES)}.png`)).toBe(true);
  });

  it('refuses rows whose images are references instead of data URLs', async () => {
    await expect(writeBundle('sft', items([{ id: 'r', messages: [], images: ['tessera://tessera-images/abc'] }]), directorySink(join(dir, 'bad')))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
