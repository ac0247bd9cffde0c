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
 *
 * Placement (ours, not vLLM's): a sequence's blocks are kept consecutive when the pool allows, because
 * one row whose past blocks are consecutive is read by the decoder graph through zero-copy views of the
 * pool instead of a Gather (≈ 1.9 ms of a 10 ms int4 step at ctx 2048, bench preset; decisions.md). So
 * a sequence grows into the block after its last one when that block is free and holds no cached content
 * — or holds exactly the content the sequence is about to write there (a prompt whose blocks are all
 * cached recomputes its last token into a fresh block: that block's own cached copy is the one after
 * its predecessor). A new sequence starts in the largest run of free uncached blocks
 * (mid-run when the run follows a used block, leaving that sequence room to grow). Otherwise blocks come
 * in LRU order as before, and the graph gathers.
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

  /**
   * Takes n blocks, or undefined if fewer are free. `after`: the sequence's last block, so the new blocks
   * continue it in place when they can (`content`: the hash the first new block will have, when all its
   * tokens are known — a free block cached with that very content is reused); without `after` a new run
   * is placed in the largest free uncached stretch. The rest come least recently freed first, evicting
   * their cached content.
   */
  allocate(n: number, after?: number, content?: string): number[] | undefined {
    if (n > this.free.size) return undefined;
    const out: number[] = [];
    let next = after === undefined ? this.runStart(n) : after + 1;
    while (out.length < n && next >= 0 && next < this.numBlocks && this.free.has(next)) {
      const h = this.hashOf[next];
      // A cached block is taken only when the sequence writes the same content into it (nothing is lost).
      if (h !== undefined && !(out.length === 0 && h === content)) break;
      out.push(next);
      this.take(next);
      next++;
    }
    for (const b of this.free) {
      if (out.length === n) break;
      out.push(b);
    }
    for (let i = 0; i < out.length; i++) if (this.refs[out[i]!] === 0) this.take(out[i]!);
    return out;
  }

  /** First block of the largest run of free uncached blocks (mid-run after a block in use), −1 if none can hold n. */
  private runStart(n: number): number {
    let best = -1;
    let bestLen = 0;
    for (let b = 0; b < this.numBlocks; ) {
      if (!this.free.has(b) || this.hashOf[b] !== undefined) {
        b++;
        continue;
      }
      let e = b;
      while (e < this.numBlocks && this.free.has(e) && this.hashOf[e] === undefined) e++;
      if (e - b > bestLen) {
        best = b;
        bestLen = e - b;
      }
      b = e;
    }
    if (bestLen < n) return -1;
    return best > 0 && this.refs[best - 1]! > 0 ? best + ((bestLen - n) >> 1) : best;
  }

  private take(b: number): void {
    this.free.delete(b);
    const h = this.hashOf[b];
    if (h !== undefined) {
      this.cached.delete(h);
      this.hashOf[b] = undefined;
    }
    this.refs[b] = 1;
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
