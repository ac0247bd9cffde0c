/** A push → pull bridge: the engine pushes chunks, the transport iterates them. Unbounded, but a
 * sequence emits at most max_tokens + 1 small chunks. */
export class ChunkStream<T> implements AsyncIterable<T> {
  private readonly buffered: T[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;

  push(item: T): void {
    if (this.ended) return;
    this.buffered.push(item);
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      while (this.buffered.length > 0) yield this.buffered.shift()!;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}
