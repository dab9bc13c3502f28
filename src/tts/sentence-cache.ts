/**
 * The offline TTS's cache of synthesised sentences, shared by every call of the process. Voice bots repeat themselves
 * across calls (the greeting, a menu, "sorry, I didn't catch that"): when a campaign answers a hundred calls at once,
 * the hundred greetings are one synthesis. Two parts:
 * - **In flight**: a sentence asked for while the same one is being synthesised joins that job instead of queueing a
 *   second. The job is aborted (and leaves the pool's queue) only when every call waiting for it has aborted, so one
 *   caller's barge-in never takes the audio from another.
 * - **Done**: results kept least recently used first out, bounded in bytes (`maxBytes`); an entry larger than a quarter
 *   of the bound is not kept (one long monologue must not flush the prompts).
 * Values are shared: the caller must not modify them (the gateway only reads TTS audio, see `TtsChunk.audio`).
 */

export interface SentenceCacheStats {
  /** Answered from a finished entry. */
  hits: number;
  /** Joined a synthesis already under way. */
  joined: number;
  /** Synthesised. */
  misses: number;
  /** Syntheses aborted because every waiter left. */
  abandoned: number;
  /** Entries and bytes held now. */
  entries: number;
  bytes: number;
}

interface InFlight<V> {
  promise: Promise<V>;
  ctl: AbortController;
  waiters: number;
}

/** The reason a waiter's promise rejects when its own signal aborts. */
export class CacheWaitAborted extends Error {
  readonly code = 'ABORTED';
  constructor() {
    super('aborted');
    this.name = 'CacheWaitAborted';
  }
}

export class SentenceCache<V> {
  private readonly done = new Map<string, { value: V; bytes: number }>();
  private readonly inflight = new Map<string, InFlight<V>>();
  private bytes = 0;
  private hits = 0;
  private joined = 0;
  private misses = 0;
  private abandoned = 0;

  /** `sizeOf` gives an entry's bytes. */
  constructor(
    private readonly maxBytes: number,
    private readonly sizeOf: (v: V) => number,
  ) {}

  /**
   * The value for `key`: kept, joined, or made by `make(signal)` (whose signal aborts when every waiter has left).
   * Rejects with {@link CacheWaitAborted} when `signal` aborts first, or with `make`'s error.
   */
  get(key: string, make: (signal: AbortSignal) => Promise<V>, signal: AbortSignal): Promise<V> {
    if (signal.aborted) return Promise.reject(new CacheWaitAborted());
    const kept = this.done.get(key);
    if (kept) {
      this.hits++;
      this.done.delete(key); // most recently used: to the end
      this.done.set(key, kept);
      return Promise.resolve(kept.value);
    }
    let job = this.inflight.get(key);
    if (job) this.joined++;
    else {
      this.misses++;
      const ctl = new AbortController();
      const made: InFlight<V> = { promise: make(ctl.signal), ctl, waiters: 0 };
      job = made;
      this.inflight.set(key, made);
      made.promise.then(
        (v) => {
          if (this.inflight.get(key) === made) this.inflight.delete(key);
          if (!made.ctl.signal.aborted) this.keep(key, v);
        },
        () => {
          if (this.inflight.get(key) === made) this.inflight.delete(key);
        },
      );
    }
    return this.wait(key, job, signal);
  }

  stats(): SentenceCacheStats {
    return { hits: this.hits, joined: this.joined, misses: this.misses, abandoned: this.abandoned, entries: this.done.size, bytes: this.bytes };
  }

  private wait(key: string, job: InFlight<V>, signal: AbortSignal): Promise<V> {
    job.waiters++;
    return new Promise<V>((resolve, reject) => {
      const onAbort = () => {
        reject(new CacheWaitAborted());
        if (--job.waiters === 0) {
          // Nobody wants it any more: free the pool (a queued job leaves the queue).
          this.abandoned++;
          if (this.inflight.get(key) === job) this.inflight.delete(key);
          job.ctl.abort();
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
      job.promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  private keep(key: string, value: V): void {
    const bytes = this.sizeOf(value);
    if (bytes > this.maxBytes / 4 || this.done.has(key)) return;
    this.done.set(key, { value, bytes });
    this.bytes += bytes;
    for (const [k, e] of this.done) {
      if (this.bytes <= this.maxBytes) break;
      this.done.delete(k);
      this.bytes -= e.bytes;
    }
  }
}
