/**
 * Prompt-prefix KV reuse for text-only prompts: after a prefill the prompt's KV is kept (LRU,
 * `entries` of them); a later prompt of the same tenant and cache salt that shares at least
 * MIN_SHARED leading tokens prefills only its remainder. Isolation per tenant + salt follows
 * vLLM's `cache_salt`: KV is never shared across trust boundaries.
 */
import type { KvArray, LayerKv } from './backend.js';
import type { EngineRequest } from './types.js';

/** Below this many shared tokens a copy of the cached KV costs about as much as recomputing it. */
const MIN_SHARED = 16;

interface Entry {
  scope: string;
  ids: Int32Array;
  layers: LayerKv[];
  bytes: number;
}

export class PrefixCache {
  private entries: Entry[] = [];
  hits = 0;
  queries = 0;
  bytes = 0;

  constructor(
    private readonly capacity: number,
    private readonly kvHeads: number,
  ) {}

  /** Longest shared prefix (at most prompt − 1 tokens, so one token is left to produce logits). */
  lookup(req: EngineRequest, ids: Int32Array): { len: number; layers: LayerKv[] } | undefined {
    if (this.capacity === 0) return undefined;
    this.queries++;
    const scope = scopeOf(req);
    let best: Entry | undefined;
    let bestLen = 0;
    for (const e of this.entries) {
      if (e.scope !== scope) continue;
      const n = Math.min(e.ids.length, ids.length - 1);
      let m = 0;
      while (m < n && e.ids[m] === ids[m]) m++;
      if (m > bestLen) { best = e; bestLen = m; }
    }
    if (!best || bestLen < MIN_SHARED) return undefined;
    this.hits++;
    this.entries = [best, ...this.entries.filter((e) => e !== best)];
    return { len: bestLen, layers: best.layers.map((l) => ({ key: slice(l.key, this.kvHeads, best!.ids.length, bestLen), value: slice(l.value, this.kvHeads, best!.ids.length, bestLen) })) };
  }

  store(req: EngineRequest, ids: Int32Array, layers: LayerKv[]): void {
    if (this.capacity === 0 || req.visual || ids.length < MIN_SHARED) return;
    const scope = scopeOf(req);
    if (this.entries.some((e) => e.scope === scope && e.ids.length === ids.length && e.ids.every((t, i) => t === ids[i]))) return;
    const bytes = layers.reduce((n, l) => n + l.key.byteLength + l.value.byteLength, 0);
    this.entries.unshift({ scope, ids: ids.slice(), layers, bytes });
    this.bytes += bytes;
    while (this.entries.length > this.capacity) this.bytes -= this.entries.pop()!.bytes;
  }
}

function scopeOf(req: EngineRequest): string {
  return `${req.tenant}\u0000${req.cacheSalt ?? ''}`;
}

/** [1, H, len, D] → [1, H, keep, D] (the first `keep` positions of every head). */
function slice(a: KvArray, H: number, len: number, keep: number): KvArray {
  if (keep === len) return a;
  const d = a.length / (H * len);
  const out = new (a.constructor as new (n: number) => KvArray)(H * keep * d);
  for (let h = 0; h < H; h++) (out as Float32Array).set((a as Float32Array).subarray(h * len * d, h * len * d + keep * d), h * keep * d);
  return out;
}
