/**
 * KV blocks: a fixed pool of `numBlocks` blocks of `blockSize` tokens (allocated once by the
 * backend), reference-counted, with a free queue that doubles as the prefix cache's LRU.
 *
 * As vLLM v1's BlockPool: a full block may carry a content hash (chained over every token before it,
 * plus the cache scope and any visual content), registered in `cached`. When its last user frees
 * it, it goes to the TAIL of the free queue but stays findable by hash; allocation takes blocks
 * from the HEAD (least recently freed) and only then forgets their hash. So cached prefixes are
 * evicted LRU, and only when the memory is needed. A sequence frees its blocks last-first, so the
 * tail of a prompt is evicted before its (more shareable) head.
 */
export class BlockPool {
  private readonly refs: Int32Array;
  private readonly hashOf: (string | undefined)[];
  private readonly cached = new Map<string, number>();
  /** Free blocks in eviction order (a Set keeps insertion order and removes in O(1)). */
  private readonly free = new Set<number>();

  constructor(
    readonly numBlocks: number,
    readonly blockSize: number,
  ) {
    this.refs = new Int32Array(numBlocks);
    this.hashOf = new Array(numBlocks).fill(undefined);
    for (let b = 0; b < numBlocks; b++) this.free.add(b);
  }

  get numFree(): number {
    return this.free.size;
  }

  /** Blocks held by at least one sequence (cached-but-free blocks do not count). */
  get numUsed(): number {
    return this.numBlocks - this.free.size;
  }

  get numCached(): number {
    return this.cached.size;
  }

  /** Takes n blocks (evicting the least recently freed cached ones), or undefined if fewer are free. */
  allocate(n: number): number[] | undefined {
    if (n > this.free.size) return undefined;
    const out: number[] = [];
    for (const b of this.free) {
      if (out.length === n) break;
      out.push(b);
    }
    for (const b of out) {
      this.free.delete(b);
      const h = this.hashOf[b];
      if (h !== undefined) {
        this.cached.delete(h);
        this.hashOf[b] = undefined;
      }
      this.refs[b] = 1;
    }
    return out;
  }

  /** The cached block with this content hash, if any (does not take it). */
  lookup(hash: string): number | undefined {
    return this.cached.get(hash);
  }

  /** Takes a reference on a cached block (a prefix-cache hit). */
  touch(block: number): void {
    if (this.refs[block] === 0) this.free.delete(block);
    this.refs[block]! += 1;
  }

  /** Marks a full block's content; a block with the same content already cached keeps its place. */
  register(block: number, hash: string): void {
    if (this.hashOf[block] !== undefined || this.cached.has(hash)) return;
    this.hashOf[block] = hash;
    this.cached.set(hash, block);
  }

  /** Drops one reference per block, last block first. */
  release(blocks: readonly number[]): void {
    for (let i = blocks.length - 1; i >= 0; i--) {
      const b = blocks[i]!;
      if (this.refs[b]! <= 0) throw new Error(`block ${b} released twice`);
      this.refs[b]! -= 1;
      if (this.refs[b] === 0) this.free.add(b);
    }
  }

  refCount(block: number): number {
    return this.refs[block]!;
  }
}
