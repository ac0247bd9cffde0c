import { describe, expect, it } from 'vitest';
import { BlockPool } from './block-pool.js';

describe('BlockPool placement (consecutive blocks per sequence, so the graph can read them as views)', () => {
  it('a sequence grows into the block after its last one; a second one starts mid-way through the free stretch', () => {
    const pool = new BlockPool(16, 4);
    const a = pool.allocate(3)!;
    expect(a).toEqual([0, 1, 2]);
    // The largest free stretch is 3..15 and follows a used block: start mid-way, leaving a room to grow.
    const b = pool.allocate(2)!;
    expect(b).toEqual([8, 9]);
    expect(pool.allocate(2, 2)).toEqual([3, 4]);
    expect(pool.allocate(1, 9)).toEqual([10]);
  });

  it('falls back to any free block when the next one is taken', () => {
    const pool = new BlockPool(6, 4);
    const a = pool.allocate(2)!;
    const b = pool.allocate(1, a[1]!)!;
    expect(b).toEqual([2]);
    const c = pool.allocate(1)!; // largest stretch 3..5 after a used block → mid-way
    expect(c).toEqual([4]);
    expect(pool.allocate(2, a[0]!)).toEqual([3, 5]); // block 1 is taken: block 3 then 5 via the free list
  });

  it('takes a cached block next in line only when the sequence writes that same content; other cached blocks stay', () => {
    const pool = new BlockPool(8, 4);
    const [x0, x1] = pool.allocate(2)!;
    pool.register(x0!, 'h0');
    pool.register(x1!, 'h1');
    pool.release([x0!, x1!]);
    // A repeated prompt hits block 0 and recomputes its last block: h1's own block is reused.
    pool.touch(x0!);
    expect(pool.allocate(1, x0!, 'h1')).toEqual([x1]);
    expect(pool.lookup('h1')).toBeUndefined(); // registered again once the recompute fills it
    pool.release([x0!, x1!]);
    pool.register(x1!, 'h1');
    // Another continuation of block 0 (different content, or not yet known) gets a fresh block; h1 stays cached.
    pool.touch(x0!);
    expect(pool.allocate(1, x0!, 'other')).not.toContain(x1);
    expect(pool.allocate(1, x0!)).not.toContain(x1);
    expect(pool.lookup('h1')).toBe(x1);
  });

  it('a new run prefers free uncached blocks over evicting cached ones', () => {
    const pool = new BlockPool(4, 4);
    const all = pool.allocate(4)!;
    pool.register(all[0]!, 'h0');
    pool.release([all[0]!]);
    pool.release(all.slice(1)); // free, least recently freed first: 0 (cached), 3, 2, 1
    // LRU order alone would evict h0; the run 1..3 follows no block in use, so it starts at 1.
    expect(pool.allocate(2)).toEqual([1, 2]);
    expect(pool.lookup('h0')).toBe(0);
  });
});
