// A single-consumer async queue: the receiver pushes data frames in arrival order, a writer consumes them.

/** Push items, then end() or fail(); iterate once with for-await. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | undefined;
  private spaceWaiter: { max: number; wake: () => void } | undefined;
  private ended = false;
  private error: unknown = undefined;

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  fail(err: unknown): void {
    this.error = err ?? new Error('queue failed');
    this.wake();
  }

  /** Resolves once at most `max` items are waiting (or the queue ended or failed): producer backpressure. */
  async space(max: number): Promise<void> {
    if (this.items.length <= max || this.ended || this.error !== undefined) return;
    await new Promise<void>((resolve) => {
      this.spaceWaiter = { max, wake: resolve };
    });
  }

  private wakeProducer(): void {
    const s = this.spaceWaiter;
    if (s && (this.items.length <= s.max || this.error !== undefined)) {
      this.spaceWaiter = undefined;
      s.wake();
    }
  }

  private wake(): void {
    this.wakeProducer();
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.error !== undefined) throw this.error instanceof Error ? this.error : new Error('queue failed');
      const item = this.items.shift();
      if (item !== undefined) {
        this.wakeProducer();
        yield item;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }
}
