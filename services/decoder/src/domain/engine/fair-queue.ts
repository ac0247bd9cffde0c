/**
 * Bounded waiting queue, FIFO within a tenant and round-robin across tenants, so one tenant's
 * burst of 100 requests cannot push another tenant's single request behind all of them.
 */
export class FairQueue<T extends { tenant: string }> {
  private readonly byTenant = new Map<string, T[]>();
  /** Tenants with waiting items, in service order; the head is served next. */
  private ring: string[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  sizeOf(tenant: string): number {
    return this.byTenant.get(tenant)?.length ?? 0;
  }

  push(item: T): void {
    let q = this.byTenant.get(item.tenant);
    if (!q) {
      q = [];
      this.byTenant.set(item.tenant, q);
      this.ring.push(item.tenant);
    }
    q.push(item);
    this.count++;
  }

  /** Puts an item back at the head of its tenant's queue, and that tenant first (a preempted sequence). */
  pushFront(item: T): void {
    let q = this.byTenant.get(item.tenant);
    if (!q) {
      q = [];
      this.byTenant.set(item.tenant, q);
    } else {
      this.ring = this.ring.filter((x) => x !== item.tenant);
    }
    this.ring.unshift(item.tenant);
    q.unshift(item);
    this.count++;
  }

  /** The item `shift()` would return. */
  peek(): T | undefined {
    const t = this.ring[0];
    return t === undefined ? undefined : this.byTenant.get(t)![0];
  }

  /** Takes the head tenant's oldest item and moves that tenant to the back of the ring. */
  shift(): T | undefined {
    const t = this.ring.shift();
    if (t === undefined) return undefined;
    const q = this.byTenant.get(t)!;
    const item = q.shift()!;
    this.count--;
    if (q.length > 0) this.ring.push(t);
    else this.byTenant.delete(t);
    return item;
  }

  /** Removes one item wherever it is (cancel, expired deadline). */
  remove(item: T): boolean {
    const q = this.byTenant.get(item.tenant);
    if (!q) return false;
    const i = q.indexOf(item);
    if (i < 0) return false;
    q.splice(i, 1);
    this.count--;
    if (q.length === 0) {
      this.byTenant.delete(item.tenant);
      this.ring = this.ring.filter((x) => x !== item.tenant);
    }
    return true;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (const q of this.byTenant.values()) yield* q;
  }
}
