/**
 * An in-memory BM25 inverted index over analyzer terms (text/analyzer.ts), one per tenant
 * collection. It is derived state: the terms of every record are stored in the record's row
 * (`tokens` column, same Lance commit as the text and vector), and the index is rebuilt from those
 * rows when a collection is opened, then updated after each successful commit. So it is exactly as
 * durable and as atomic as the rows themselves — a failed write changes neither — and there is no
 * second file that could disagree with the table (docs/decisions.md, issue 15).
 *
 * Layout: records get dense ordinals; postings are per-term parallel arrays (ordinal, tf).
 * Deleting or replacing a record tombstones its ordinal (document frequencies are counted over
 * live postings); the postings are compacted once tombstones exceed the live records.
 */

export interface Bm25Params {
  /** [0.1] Term-frequency saturation. */
  k1: number;
  /** [0.15] Length normalisation (0 = none, 1 = full). */
  b: number;
}

/**
 * Chosen on the training half of bench/retrieval-quality's questions (split by entity pair) over
 * k1 0.1…2 × b 0…1: MRR@10 0.627 vs 0.609 for the textbook 1.2 / 0.75; on the held-out half
 * 0.715 vs 0.706 (R@5 0.711 vs 0.706). A low k1 makes a repeated term count little — the passages
 * are short and the hard negatives (twins) repeat the shared words. docs/decisions.md.
 */
export const DEFAULT_BM25: Bm25Params = Object.freeze({ k1: 0.1, b: 0.15 });

interface Posting {
  ords: number[];
  tfs: number[];
}

export interface LexicalHit {
  id: string;
  score: number;
}

export class LexicalIndex {
  private ids: (string | undefined)[] = [];
  private lengths: number[] = [];
  private readonly ordOf = new Map<string, number>();
  private postings = new Map<string, Posting>();
  private live = 0;
  private totalLength = 0;
  private dead = 0;

  constructor(readonly params: Bm25Params = DEFAULT_BM25) {}

  get size(): number {
    return this.live;
  }

  /**
   * Document frequency of a term: live records containing it. Counted from the postings (skipping
   * tombstones) rather than kept as a counter, so deletes cost O(1); a query scans these postings
   * for scoring anyway.
   */
  documentFrequency(term: string): number {
    const p = this.postings.get(term);
    if (!p) return 0;
    if (this.dead === 0) return p.ords.length;
    let n = 0;
    for (const o of p.ords) if (this.ids[o] !== undefined) n++;
    return n;
  }

  has(id: string): boolean {
    return this.ordOf.has(id);
  }

  /** Adds or replaces a record's terms. */
  put(id: string, terms: readonly string[]): void {
    this.remove(id);
    const ord = this.ids.length;
    this.ids.push(id);
    this.lengths.push(terms.length);
    this.ordOf.set(id, ord);
    this.live++;
    this.totalLength += terms.length;
    const tf = new Map<string, number>();
    for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
    for (const [t, n] of tf) {
      let p = this.postings.get(t);
      if (!p) this.postings.set(t, (p = { ords: [], tfs: [] }));
      p.ords.push(ord);
      p.tfs.push(n);
    }
  }

  remove(id: string): boolean {
    return this.removeMany([id]) > 0;
  }

  removeMany(ids: Iterable<string>): number {
    let n = 0;
    for (const id of ids) {
      const ord = this.ordOf.get(id);
      if (ord === undefined) continue;
      this.ordOf.delete(id);
      this.ids[ord] = undefined;
      this.live--;
      this.dead++;
      this.totalLength -= this.lengths[ord]!;
      n++;
    }
    if (this.dead > Math.max(1024, this.live)) this.compact();
    return n;
  }

  /**
   * BM25 top-k. `allow` (optional) restricts the candidates (pre-filtered ids): scoring is exact
   * over the allowed records, never an over-fetch that could come up short.
   */
  search(queryTerms: readonly string[], k: number, allow?: ReadonlySet<string>): LexicalHit[] {
    if (this.live === 0 || queryTerms.length === 0) return [];
    const { k1, b } = this.params;
    const avg = this.totalLength / this.live || 1;
    const qtf = new Map<string, number>();
    for (const t of queryTerms) qtf.set(t, (qtf.get(t) ?? 0) + 1);
    const scores = new Float64Array(this.ids.length);
    const touched: number[] = [];
    for (const [t, q] of qtf) {
      const p = this.postings.get(t);
      const df = this.documentFrequency(t);
      if (!p || df === 0) continue;
      const idf = Math.log(1 + (this.live - df + 0.5) / (df + 0.5));
      for (let i = 0; i < p.ords.length; i++) {
        const ord = p.ords[i]!;
        if (this.ids[ord] === undefined) continue;
        const tf = p.tfs[i]!;
        const s = (q * idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * this.lengths[ord]!) / avg));
        if (scores[ord] === 0) touched.push(ord);
        scores[ord] += s;
      }
    }
    let cands = touched;
    if (allow) cands = cands.filter((o) => allow.has(this.ids[o]!));
    cands.sort((x, y) => scores[y]! - scores[x]! || (this.ids[x]! < this.ids[y]! ? -1 : 1));
    return cands.slice(0, k).map((o) => ({ id: this.ids[o]!, score: scores[o]! }));
  }

  /** Drops tombstoned ordinals and renumbers the live records. */
  private compact(): void {
    const remap = new Int32Array(this.ids.length).fill(-1);
    const ids: string[] = [];
    const lengths: number[] = [];
    this.ids.forEach((id, o) => {
      if (id === undefined) return;
      remap[o] = ids.length;
      this.ordOf.set(id, ids.length);
      ids.push(id);
      lengths.push(this.lengths[o]!);
    });
    const postings = new Map<string, Posting>();
    for (const [t, p] of this.postings) {
      const q: Posting = { ords: [], tfs: [] };
      p.ords.forEach((o, i) => {
        if (remap[o]! >= 0) {
          q.ords.push(remap[o]!);
          q.tfs.push(p.tfs[i]!);
        }
      });
      if (q.ords.length > 0) postings.set(t, q);
    }
    this.ids = ids;
    this.lengths = lengths;
    this.postings = postings;
    this.dead = 0;
  }
}
