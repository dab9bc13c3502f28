/**
 * A bounded, single-consumer async queue: producers `push` synchronously, one consumer iterates with `for await`.
 * Overflow policy is explicit; every drop is counted in {@link Channel.dropped}.
 */
export type OverflowPolicy = 'drop-oldest' | 'drop-newest';

export class Channel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private ended = false;
  /** Items discarded by the overflow policy. */
  dropped = 0;

  constructor(
    readonly capacity: number,
    readonly policy: OverflowPolicy = 'drop-oldest',
  ) {}

  get closed(): boolean {
    return this.ended;
  }

  get size(): number {
    return this.items.length;
  }

  /** Queue an item. Returns false if it (or an older item) was dropped, or the channel is closed. */
  push(item: T): boolean {
    if (this.ended) return false;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w({ value: item, done: false });
      return true;
    }
    if (this.items.length >= this.capacity) {
      this.dropped++;
      if (this.policy === 'drop-newest') return false;
      this.items.shift();
      this.items.push(item);
      return false;
    }
    this.items.push(item);
    return true;
  }

  /** No more items: the consumer drains what is queued, then its loop ends. Idempotent. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter) return Promise.reject(new Error('Channel supports one consumer'));
    return new Promise((resolve) => (this.waiter = resolve));
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        this.items.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
