/**
 * Micro-batching across concurrent requests for one model session. A request submits its group of
 * items (an image's slices); groups that arrive within `windowMs` of the first waiting one, up to
 * `maxBatch` items, run in ONE model call. One call runs at a time (a single ORT session gains
 * nothing from concurrent runs on shared cores); whatever queued meanwhile goes next, without
 * waiting for another window. A group bigger than maxBatch runs alone (the stage chunks it).
 */
export interface MicroBatcherOptions {
  /** How long the first waiting group waits for company (default 5 ms). 0 = flush on the next tick. */
  windowMs: number;
  /** Items per model call (default 16, the vision stage's batch size). */
  maxBatch: number;
}

interface Group<T, R> {
  items: T[];
  resolve(r: R[]): void;
  reject(e: unknown): void;
  signal?: AbortSignal;
}

export interface MicroBatchStats {
  calls: number;
  items: number;
  groups: number;
  /** Largest number of groups in one call. */
  maxGroupsPerCall: number;
}

export class MicroBatcher<T, R> {
  private queue: Group<T, R>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  readonly stats: MicroBatchStats = { calls: 0, items: 0, groups: 0, maxGroupsPerCall: 0 };

  constructor(
    private readonly run: (items: T[]) => Promise<R[]>,
    private readonly opts: MicroBatcherOptions = { windowMs: 5, maxBatch: 16 },
  ) {}

  /** Results in the order of `items`. Rejects with the signal's reason if aborted before its call starts. */
  submit(items: T[], signal?: AbortSignal): Promise<R[]> {
    if (items.length === 0) return Promise.resolve([]);
    signal?.throwIfAborted();
    return new Promise<R[]>((resolve, reject) => {
      this.queue.push({ items, resolve, reject, signal });
      this.schedule();
    });
  }

  private queued(): number {
    let n = 0;
    for (const g of this.queue) n += g.items.length;
    return n;
  }

  private schedule(): void {
    if (this.running) return; // the running call flushes when it ends
    if (this.queued() >= this.opts.maxBatch) {
      this.flushNow();
      return;
    }
    if (!this.timer) this.timer = setTimeout(() => this.flushNow(), this.opts.windowMs);
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) return;
    // Drop groups whose caller gave up while waiting.
    this.queue = this.queue.filter((g) => {
      if (g.signal?.aborted) {
        g.reject(g.signal.reason);
        return false;
      }
      return true;
    });
    if (this.queue.length === 0) return;
    const take: Group<T, R>[] = [];
    let n = 0;
    while (this.queue.length > 0 && (take.length === 0 || n + this.queue[0].items.length <= this.opts.maxBatch)) {
      const g = this.queue.shift()!;
      take.push(g);
      n += g.items.length;
    }
    this.running = true;
    void this.execute(take, n);
  }

  private async execute(groups: Group<T, R>[], n: number): Promise<void> {
    this.stats.calls++;
    this.stats.items += n;
    this.stats.groups += groups.length;
    this.stats.maxGroupsPerCall = Math.max(this.stats.maxGroupsPerCall, groups.length);
    try {
      const out = await this.run(groups.flatMap((g) => g.items));
      if (out.length !== n) throw new Error(`micro-batch run returned ${out.length} results for ${n} items`);
      let o = 0;
      for (const g of groups) {
        g.resolve(out.slice(o, o + g.items.length));
        o += g.items.length;
      }
    } catch (err) {
      for (const g of groups) g.reject(err);
    } finally {
      this.running = false;
      if (this.queue.length > 0) this.flushNow();
    }
  }
}
