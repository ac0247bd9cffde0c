/**
 * The HNSW graphs of a LanceStore, one per tenant collection past `threshold` records: when each is
 * loaded (snapshot whose version tag matches the table) or built (from the rows, in the background,
 * in event-loop-friendly batches), how committed writes reach it (applied at once when it is ready,
 * queued while it builds), and when it is saved (after a build and on close, tagged with the table
 * version). Until a graph is ready, queries run on Lance's exact scan — correct, only slower.
 */
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HnswIndex, type HnswParams } from './hnsw-index.js';
import type { Distance } from '../../domain/vector-store.js';

export interface GraphSource {
  /** Snapshot path without extension. */
  base: string;
  dimension: number;
  distance: Distance;
  /** The table's current version. */
  version(): Promise<number>;
  /** All rows' ids and vectors (called under the collection's write lock). */
  rows(): Promise<{ ids: string[]; vectors: Float32Array[] }>;
}

type Op = { kind: 'put'; ids: string[]; vectors: Float32Array[] } | { kind: 'remove'; ids: string[] };

interface State {
  index?: HnswIndex;
  building?: Promise<void>;
  pending: Op[];
  dirty: boolean;
  source: GraphSource;
}

export class HnswCollections {
  private readonly states = new Map<string, State>();

  constructor(
    private readonly params: HnswParams,
    /** Runs `fn` under the collection's write lock (LanceStore.locked). */
    private readonly locked: <T>(key: string, fn: () => Promise<T>) => Promise<T>,
    private readonly onError: (key: string, err: unknown) => void = (key, err) => console.error(`retrieval: HNSW build for ${key} failed: ${String(err)}`),
  ) {}

  /** The ready graph, or undefined (not built yet, or building). */
  ready(key: string): HnswIndex | undefined {
    return this.states.get(key)?.index;
  }

  has(key: string): boolean {
    return this.states.has(key);
  }

  /**
   * Starts loading or building the graph unless it exists. Must be called under the collection's
   * write lock: the rows are read before any later write, and later writes queue behind the build.
   */
  async start(key: string, source: GraphSource): Promise<void> {
    if (this.states.has(key)) return;
    const state: State = { pending: [], dirty: false, source };
    this.states.set(key, state);
    const version = await source.version();
    const snap = await HnswIndex.load(source.base, version, source.dimension, source.distance, this.params);
    if (snap) {
      state.index = snap;
      return;
    }
    const { ids, vectors } = await source.rows();
    const index = new HnswIndex(source.dimension, source.distance, this.params);
    state.building = (async () => {
      try {
        await index.build(ids, vectors);
        await this.locked(key, async () => {
          if (this.states.get(key) !== state) return; // dropped meanwhile
          for (const op of state.pending) apply(index, op);
          state.pending = [];
          state.index = index;
          await this.save(state);
        });
      } catch (err) {
        this.states.delete(key);
        this.onError(key, err);
      } finally {
        state.building = undefined;
      }
    })();
  }

  /** A committed write (called under the collection's lock, after the commit). */
  write(key: string, op: Op): void {
    const state = this.states.get(key);
    if (!state) return;
    if (state.index) {
      apply(state.index, op);
      state.dirty = true;
    } else state.pending.push(op);
  }

  /** Forgets a collection's graph and its snapshot (collection deleted or recreated). */
  async drop(key: string, base: string): Promise<void> {
    this.states.delete(key);
    await Promise.all([rm(`${base}.usearch`, { force: true }), rm(`${base}.json`, { force: true })]);
  }

  /** Resolves when no build is running. */
  async idle(): Promise<void> {
    await Promise.all([...this.states.values()].map((s) => s.building));
  }

  /** Saves every graph changed since its snapshot (close). */
  async flush(): Promise<void> {
    await this.idle();
    for (const [key, state] of this.states) {
      if (state.index && state.dirty) await this.locked(key, () => this.save(state));
    }
    this.states.clear();
  }

  private async save(state: State): Promise<void> {
    await mkdir(dirname(state.source.base), { recursive: true });
    await state.index!.save(state.source.base, await state.source.version());
    state.dirty = false;
  }
}

function apply(index: HnswIndex, op: Op): void {
  if (op.kind === 'put') index.put(op.ids, op.vectors);
  else index.remove(op.ids);
}
