/**
 * An HNSW graph (usearch 2.26, C++ core) over one collection's vectors, keyed by record id. Like
 * the keyword index it is derived state: the vectors live in the Lance rows; this graph is built
 * from them, kept current after each committed write (add / remove; usearch removes in place), and
 * saved as a snapshot tagged with the Lance table version it reflects. A snapshot whose tag differs
 * from the table's version (a crash after a write, another writer) is ignored and the graph rebuilt
 * from the rows — so a stale graph can never answer.
 *
 * Keys are never reused (a replaced record gets a fresh key), so a removal can't hit a newer vector.
 * Distances are the store's: usearch `cos` = 1 − cos, `l2sq` = squared L2, `ip` = 1 − a·b.
 */
import { createRequire } from 'node:module';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Distance } from '../../domain/vector-store.js';

type USearch = typeof import('usearch');
// usearch's ESM entry resolves its native addon relative to the CJS build; require it.
const usearch = createRequire(import.meta.url)('usearch') as USearch;

export interface HnswParams {
  /** [16] Links per node (M). */
  connectivity: number;
  /** [128] Candidate list while inserting (efConstruction). */
  expansionAdd: number;
  /** [64] Candidate list while searching (ef). */
  expansionSearch: number;
}

export const DEFAULT_HNSW: HnswParams = Object.freeze({ connectivity: 16, expansionAdd: 128, expansionSearch: 64 });

const METRIC: Record<Distance, unknown> = { cosine: usearch.MetricKind.Cos, l2: usearch.MetricKind.L2sq, ip: usearch.MetricKind.IP };

/** Vectors per native add call while building: keeps the event loop answering between batches. */
const BUILD_BATCH = 2048;

interface SnapshotMeta {
  /** Lance table version the graph reflects. */
  version: number;
  dimension: number;
  distance: Distance;
  params: HnswParams;
  /** [id, key] pairs. */
  keys: Array<[string, number]>;
  nextKey: number;
}

export class HnswIndex {
  /** The native index; benchmarks query it directly as the raw-usearch baseline. */
  readonly native: InstanceType<USearch['Index']>;
  private readonly keyOf = new Map<string, number>();
  /**
   * Record id by native key. Keys are dense and never reused (0, 1, 2, … in insertion order), so a
   * plain array indexed by key replaces a Map<number, string>: the per-hit lookup is one indexed
   * load. A removed key's slot is set to undefined (one pointer per key ever inserted).
   */
  private readonly idOf: Array<string | undefined> = [];
  private nextKey = 0;

  constructor(
    readonly dimension: number,
    readonly distance: Distance,
    readonly params: HnswParams = DEFAULT_HNSW,
  ) {
    this.native = new usearch.Index({
      dimensions: dimension,
      metric: METRIC[distance],
      quantization: usearch.ScalarKind.F32,
      connectivity: params.connectivity,
      expansion_add: params.expansionAdd,
      expansion_search: params.expansionSearch,
      multi: false,
    } as never);
  }

  get size(): number {
    return this.keyOf.size;
  }

  /** The record id of a native key (benchmarks read raw usearch results through it). */
  idOfKey(key: bigint | number): string | undefined {
    return this.idOf[Number(key)];
  }

  has(id: string): boolean {
    return this.keyOf.has(id);
  }

  /** Adds or replaces records. `threads` 0 = all cores. */
  put(ids: readonly string[], vectors: readonly Float32Array[], threads = 0): void {
    if (ids.length === 0) return;
    this.remove(ids);
    const keys = new BigUint64Array(ids.length);
    const flat = new Float32Array(ids.length * this.dimension);
    ids.forEach((id, i) => {
      const key = this.nextKey++;
      this.keyOf.set(id, key);
      this.idOf[key] = id;
      keys[i] = BigInt(key);
      flat.set(vectors[i]!, i * this.dimension);
    });
    this.native.add(keys, flat, threads);
  }

  /** Bulk build from rows, yielding to the event loop between batches. */
  async build(ids: readonly string[], vectors: readonly Float32Array[], threads = 0): Promise<void> {
    for (let b = 0; b < ids.length; b += BUILD_BATCH) {
      this.put(ids.slice(b, b + BUILD_BATCH), vectors.slice(b, b + BUILD_BATCH), threads);
      await new Promise((r) => setImmediate(r));
    }
  }

  remove(ids: Iterable<string>): void {
    const keys: bigint[] = [];
    for (const id of ids) {
      const key = this.keyOf.get(id);
      if (key === undefined) continue;
      this.keyOf.delete(id);
      this.idOf[key] = undefined;
      keys.push(BigInt(key));
    }
    if (keys.length > 0) this.native.remove(BigUint64Array.from(keys));
  }

  /**
   * Nearest first. With `allow`, over-fetches (k · N / |allow| · 2, doubling while short) and keeps
   * allowed ids only; the caller handles very selective filters exactly (see LanceStore).
   */
  search(vector: Float32Array, k: number, allow?: ReadonlySet<string>): Array<{ id: string; distance: number }> {
    const n = this.size;
    if (n === 0) return [];
    let want = allow ? Math.min(n, Math.ceil((k * n * 2) / Math.max(1, allow.size))) : Math.min(n, k);
    for (;;) {
      const m = this.native.search(vector, Math.max(1, want), 1);
      // Keys are < 2³², so the low 32-bit word of each little-endian u64 is the key: reading it
      // through a Uint32Array view avoids materialising one heap BigInt per hit.
      const words = new Uint32Array(m.keys.buffer, m.keys.byteOffset, m.keys.length * 2);
      const out: Array<{ id: string; distance: number }> = [];
      for (let i = 0; i < m.keys.length && out.length < k; i++) {
        const id = this.idOf[words[2 * i]!];
        if (id !== undefined && (!allow || allow.has(id))) out.push({ id, distance: m.distances[i]! });
      }
      if (out.length >= k || want >= n) return out;
      want = Math.min(n, want * 2);
    }
  }

  /** Writes `<base>.usearch` + `<base>.json` (meta last, each via rename: the pair is complete or absent). */
  async save(base: string, version: number): Promise<void> {
    await rm(`${base}.json`, { force: true });
    this.native.save(`${base}.usearch.tmp`);
    await rename(`${base}.usearch.tmp`, `${base}.usearch`);
    const meta: SnapshotMeta = { version, dimension: this.dimension, distance: this.distance, params: this.params, keys: [...this.keyOf], nextKey: this.nextKey };
    await writeFile(`${base}.json.tmp`, JSON.stringify(meta));
    await rename(`${base}.json.tmp`, `${base}.json`);
  }

  /** The snapshot if it reflects exactly `version` with the same shape; undefined otherwise. */
  static async load(base: string, version: number, dimension: number, distance: Distance, params: HnswParams): Promise<HnswIndex | undefined> {
    let meta: SnapshotMeta;
    try {
      meta = JSON.parse(await readFile(`${base}.json`, 'utf8')) as SnapshotMeta;
    } catch {
      return undefined;
    }
    if (meta.version !== version || meta.dimension !== dimension || meta.distance !== distance || JSON.stringify(meta.params) !== JSON.stringify(params)) return undefined;
    const ix = new HnswIndex(dimension, distance, params);
    try {
      ix.native.load(`${base}.usearch`);
    } catch {
      return undefined;
    }
    for (const [id, key] of meta.keys) {
      ix.keyOf.set(id, key);
      ix.idOf[key] = id;
    }
    ix.nextKey = meta.nextKey;
    if (ix.native.size() !== ix.keyOf.size) return undefined;
    return ix;
  }
}
