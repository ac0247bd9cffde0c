/**
 * The running batch's KV cache, kept in the graph's own layout so the `present` tensors of one
 * decode step are the `past` tensors of the next with no copy.
 *
 * Rows are left-padded: row r's cache occupies the last `len[r]` of the `P` past positions, and the
 * attention mask zeroes the padding. The tensors are only rebuilt when membership changes (a
 * sequence joins after its prefill, or leaves); a rebuild also drops padding columns that no row
 * needs any more, so padding never outlives the longest sequence.
 */
import { allocKv, type BackendInfo, type ForwardInput, type KvArray, type LayerKv } from './backend.js';

export interface SequenceKv {
  /** Tokens held. */
  len: number;
  /** Per layer, [1, kvHeads, len, headDim]. */
  layers: LayerKv[];
}

export class BatchKv<K> {
  private keys: K[] = [];
  private lens: number[] = [];
  private past = 0;
  private layers: LayerKv[] = [];
  /** Pending membership changes, applied by the next `prepare`. */
  private joins: { key: K; kv: SequenceKv }[] = [];
  private leaves = new Set<K>();

  constructor(private readonly info: BackendInfo) {}

  get size(): number {
    return this.keys.length + this.joins.length - [...this.leaves].filter((k) => this.keys.includes(k)).length;
  }
  get members(): readonly K[] {
    return this.keys;
  }
  /** Tokens held for a member. */
  lengthOf(key: K): number {
    const i = this.keys.indexOf(key);
    return i < 0 ? 0 : this.lens[i]!;
  }

  join(key: K, kv: SequenceKv): void {
    this.joins.push({ key, kv });
  }

  leave(key: K): void {
    const j = this.joins.findIndex((x) => x.key === key);
    if (j >= 0) this.joins.splice(j, 1);
    else this.leaves.add(key);
  }

  /**
   * Applies pending joins/leaves and returns the forward input for one decode step (T = 1) of every
   * member; `embeds` is [members, hidden] in member order.
   */
  decodeInput(embeds: Float32Array): ForwardInput {
    this.applyChanges();
    const B = this.keys.length;
    const P = this.past;
    const mask = new BigInt64Array(B * (P + 1));
    const pos = new BigInt64Array(B);
    for (let r = 0; r < B; r++) {
      const len = this.lens[r]!;
      mask.fill(1n, r * (P + 1) + (P - len), (r + 1) * (P + 1));
      pos[r] = BigInt(len);
    }
    return { batch: B, seqLen: 1, pastLen: P, inputsEmbeds: embeds, attentionMask: mask, positionIds: pos, past: this.layers };
  }

  /** Takes the step's `present` tensors as the new cache: every row grew by one token. */
  commitStep(present: LayerKv[]): void {
    this.layers = present;
    this.past += 1;
    for (let r = 0; r < this.lens.length; r++) this.lens[r]! += 1;
  }

  /** Pending membership (after changes), in the order the next step will use. */
  nextMembers(): K[] {
    return [...this.keys.filter((k) => !this.leaves.has(k)), ...this.joins.map((j) => j.key)];
  }

  /** Applies pending joins/leaves now, so a leaving sequence's KV is released before the next step. */
  flush(): void {
    this.applyChanges();
  }

  /** Bytes held by the batch tensors, padding included. */
  allocatedBytes(): number {
    let n = 0;
    for (const l of this.layers) n += l.key.byteLength + l.value.byteLength;
    return n;
  }

  private applyChanges(): void {
    if (this.joins.length === 0 && this.leaves.size === 0) return;
    const rows: { key: K; len: number; src: LayerKv[]; srcP: number; srcRow: number; srcB: number }[] = [];
    this.keys.forEach((key, r) => {
      if (!this.leaves.has(key)) rows.push({ key, len: this.lens[r]!, src: this.layers, srcP: this.past, srcRow: r, srcB: this.keys.length });
    });
    for (const j of this.joins) rows.push({ key: j.key, len: j.kv.len, src: j.kv.layers, srcP: j.kv.len, srcRow: 0, srcB: 1 });
    const { numKvHeads: H, headDim: D, numLayers } = this.info;
    const P = rows.reduce((m, r) => Math.max(m, r.len), 0);
    const B = rows.length;
    const layers: LayerKv[] = [];
    for (let l = 0; l < numLayers; l++) {
      const key = allocKv(this.info, B * H * P * D);
      const value = allocKv(this.info, B * H * P * D);
      rows.forEach((row, r) => {
        const s = row.src[l]!;
        copyRow(s.key, key, row, r, H, D, P);
        copyRow(s.value, value, row, r, H, D, P);
      });
      layers.push({ key, value });
    }
    this.keys = rows.map((r) => r.key);
    this.lens = rows.map((r) => r.len);
    this.past = P;
    this.layers = layers;
    this.joins = [];
    this.leaves.clear();
  }
}

/** Copies one row's last `len` positions (all heads) into row r of a [B,H,P,D] tensor, right-aligned. */
function copyRow(
  src: KvArray,
  dst: KvArray,
  row: { len: number; srcP: number; srcRow: number },
  r: number,
  H: number,
  D: number,
  P: number,
): void {
  const { len, srcP, srcRow } = row;
  for (let h = 0; h < H; h++) {
    const from = ((srcRow * H + h) * srcP + (srcP - len)) * D;
    const to = ((r * H + h) * P + (P - len)) * D;
    (dst as Float32Array).set((src as Float32Array).subarray(from, from + len * D), to);
  }
}
