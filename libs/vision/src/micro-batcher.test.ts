import { describe, expect, it } from 'vitest';
import { MicroBatcher } from './micro-batcher.js';

describe('MicroBatcher', () => {
  it('concurrent groups within the window share one call; results go back in order', async () => {
    const calls: number[][] = [];
    const b = new MicroBatcher<number, number>(async (xs) => {
      calls.push(xs);
      return xs.map((x) => x * 10);
    }, { windowMs: 20, maxBatch: 100 });
    const [a, c, d] = await Promise.all([b.submit([1, 2]), b.submit([3]), b.submit([4, 5, 6])]);
    expect(a).toEqual([10, 20]);
    expect(c).toEqual([30]);
    expect(d).toEqual([40, 50, 60]);
    expect(calls).toEqual([[1, 2, 3, 4, 5, 6]]);
    expect(b.stats).toMatchObject({ calls: 1, groups: 3, maxGroupsPerCall: 3 });
  });

  it('flushes at maxBatch without waiting, never splits a group, and runs one call at a time', async () => {
    const calls: number[][] = [];
    let active = 0;
    let maxActive = 0;
    const b = new MicroBatcher<number, number>(async (xs) => {
      active++;
      maxActive = Math.max(maxActive, active);
      calls.push(xs);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      return xs;
    }, { windowMs: 10_000, maxBatch: 3 });
    const out = await Promise.all([b.submit([1, 2]), b.submit([3]), b.submit([4, 5, 6, 7]), b.submit([8])]);
    expect(out).toEqual([[1, 2], [3], [4, 5, 6, 7], [8]]);
    expect(calls).toEqual([[1, 2, 3], [4, 5, 6, 7], [8]]);
    expect(maxActive).toBe(1);
  });

  it('a failed call rejects every group in it; the batcher keeps serving', async () => {
    let fail = true;
    const b = new MicroBatcher<number, number>(async (xs) => {
      if (fail) throw new Error('boom');
      return xs;
    }, { windowMs: 1, maxBatch: 8 });
    await expect(Promise.all([b.submit([1]), b.submit([2])])).rejects.toThrow('boom');
    fail = false;
    expect(await b.submit([3])).toEqual([3]);
  });

  it('drops a group whose signal aborted while it waited', async () => {
    const seen: number[] = [];
    const b = new MicroBatcher<number, number>(async (xs) => (seen.push(...xs), xs), { windowMs: 20, maxBatch: 8 });
    const ac = new AbortController();
    const p = b.submit([1], ac.signal);
    const q = b.submit([2]);
    ac.abort(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
    expect(await q).toEqual([2]);
    expect(seen).toEqual([2]);
  });
});
