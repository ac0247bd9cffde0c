/**
 * RowLocator: rows by Lance row id once the id map of the current table version is loaded, never
 * a stale row after a replace, delete or compaction (the map is per version), the `IN` scan for
 * anything it lacks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { afterAll, describe, expect, it } from 'vitest';
import { RowLocator } from './row-locator.js';

const dir = mkdtempSync(join(tmpdir(), 'row-locator-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('RowLocator', () => {
  it('takes rows by row id for the current version and never returns a replaced, deleted or moved row', async () => {
    const db = await lancedb.connect(dir);
    const rows = (from: number, n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ id: `r${from + i}`, text: `${tag} ${from + i}` }));
    const table = await db.createTable('t', rows(0, 50, 'v1'));
    await table.add(rows(50, 50, 'v1'));
    let takes = 0;
    const counted = new Proxy(table, {
      get(t, p) {
        if (p === 'takeRowIds') return (...a: unknown[]) => (takes++, (t.takeRowIds as (...x: unknown[]) => unknown)(...a));
        const v = Reflect.get(t, p, t) as unknown;
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    const loc = new RowLocator((ids) => `id IN (${ids.map((i) => `'${i}'`).join(', ')})`);
    const texts = async (ids: string[]) => {
      const m = await loc.rows(counted, ids, ['id', 'text']);
      return ids.map((id) => (m.get(id)?.text as string | undefined) ?? null);
    };
    const ids = ['r3', 'r77', 'r50', 'nope'];
    expect(await texts(ids)).toEqual(['v1 3', 'v1 77', 'v1 50', null]); // map not loaded yet: scan
    await loc.idle(counted);
    expect(await texts(ids)).toEqual(['v1 3', 'v1 77', 'v1 50', null]);
    expect(takes).toBe(1);

    // A replace moves r3's row; a delete removes r77: the old version's map must not answer.
    await table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([{ id: 'r3', text: 'v2 3' }]);
    await table.delete("id = 'r77'");
    expect(await texts(ids)).toEqual(['v2 3', null, 'v1 50', null]);
    await loc.idle(counted);
    expect(await texts(ids)).toEqual(['v2 3', null, 'v1 50', null]);
    expect(takes).toBe(2);

    // Compaction rewrites fragments (every row id changes).
    await table.optimize({ cleanupOlderThan: new Date() });
    expect(await texts(['r3', 'r99', 'r0'])).toEqual(['v2 3', 'v1 99', 'v1 0']);
    await loc.idle(counted);
    expect(await texts(['r3', 'r99', 'r0'])).toEqual(['v2 3', 'v1 99', 'v1 0']);
    expect(takes).toBe(3);
    table.close();
    db.close();
  });
});
