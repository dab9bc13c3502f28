/**
 * A small pool of worker threads for CPU-bound jobs (speech synthesis), so they never block the event loop that paces
 * audio. The queue has a capacity (overflow rejects the new job) and is ordered **earliest due first**: a job says when
 * its result is needed (`dueMs`, on `performance.now()`; default: now), so under a burst of calls every reply's first
 * sentence (needed now) goes before the next sentences of replies already playing (needed when the current sentence
 * ends), and those in the order their audio runs out. Plain FIFO made a call whose first sentence was done early wait
 * behind every other call's first sentence for its second: a gap of up to a second in the middle of its reply. Jobs
 * due at the same time keep their order. Abortable while queued; a crashed worker's job rejects and the worker is
 * replaced. Workers start on the first job or on `warm()`, never in the constructor.
 *
 * Bounded respawning: a worker that dies {@link MAX_DEATHS_IN_A_ROW} times without answering a job in between (its
 * module fails to load, every job crashes it) is not replaced at once again: for a back-off (1 s, doubling up to 60 s)
 * the pool rejects new jobs with `WORKER_FAILED` (callers fall back), then tries one worker again. Without it a worker
 * that fails at start was replaced in a tight loop, for ever.
 */
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { getPriority, platform, setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';

interface Pending<I, O> {
  id: number;
  /** When the result is needed (performance.now() ms): the queue is kept in this order. */
  dueMs: number;
  input: I;
  transfer: ArrayBuffer[];
  resolve: (o: O) => void;
  reject: (e: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Slot<I, O> {
  worker: Worker;
  busy: Pending<I, O> | undefined;
}

/** What every pool worker receives as `workerData`. */
export interface PoolWorkerData {
  nice: number;
}

/**
 * Called by a pool worker at start: lowers this thread's scheduling priority to `workerData.nice`. On Linux the nice
 * value is per thread, so the event loop (which paces every call's audio) keeps its own; elsewhere `setPriority(0, …)`
 * may apply to the process, so it is only done on Linux. Returns the niceness now in effect for the thread (0 when
 * unchanged or refused).
 */
export function applyWorkerNice(): number {
  const want = (workerData as Partial<PoolWorkerData> | undefined)?.nice ?? 0;
  if (isMainThread || want <= 0 || platform() !== 'linux') return 0;
  try {
    setPriority(0, want);
    return getPriority(0);
  } catch {
    return 0;
  }
}

/** Deaths without a job answered in between, after which respawning backs off. */
export const MAX_DEATHS_IN_A_ROW = 5;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 60000;

export class PoolError extends Error {
  constructor(
    readonly code: 'POOL_FULL' | 'POOL_CLOSED' | 'ABORTED' | 'WORKER_FAILED' | 'JOB_FAILED',
    message: string,
  ) {
    super(message);
    this.name = 'PoolError';
  }
}

export class WorkerPool<I extends object, O> {
  private readonly file: URL;
  private readonly size: number;
  private readonly capacity: number;
  private slots: Slot<I, O>[] = [];
  private queue: Pending<I, O>[] = [];
  private nextId = 1;
  private closedFlag = false;
  /** Jobs refused because the queue was full. */
  rejectedFull = 0;
  /** Workers that crashed and were replaced. */
  respawns = 0;
  /** Worker deaths since a worker last answered a job. */
  private deathsInARow = 0;
  /** While workers keep dying: no worker is started before this (performance.now() ms); 0 = not backing off. */
  private retryAtMs = 0;
  private backoffMs = 0;

  private readonly nice: number;

  private readonly backoffFirstMs: number;

  /**
   * `nice`: the workers lower their own thread's priority to it ({@link applyWorkerNice}), 0 = unchanged.
   * `backoffFirstMs`: the first back-off when workers keep dying (default 1 s; doubles, up to 60 s).
   */
  constructor(file: URL, size: number, capacity: number, opts: { nice?: number; backoffFirstMs?: number } = {}) {
    this.file = file;
    this.size = Math.max(1, size);
    this.capacity = capacity;
    this.nice = opts.nice ?? 0;
    this.backoffFirstMs = opts.backoffFirstMs ?? BACKOFF_FIRST_MS;
  }

  /** Workers kept dying: no worker is started, and jobs are refused, until the back-off ends. */
  get backingOff(): boolean {
    return this.retryAtMs > 0 && performance.now() < this.retryAtMs;
  }

  get queued(): number {
    return this.queue.length;
  }

  get busyWorkers(): number {
    return this.slots.filter((s) => s.busy).length;
  }

  /** Start the workers now. */
  warm(): void {
    while (!this.closedFlag && this.retryAtMs === 0 && this.slots.length < this.size) this.spawn();
  }

  /**
   * Run one job. The worker answers `{ id, ...output }` or `{ id, error }`. `dueMs` (performance.now() ms, default now):
   * when the result is needed; queued jobs start earliest due first.
   */
  run(input: I, signal?: AbortSignal, transfer: ArrayBuffer[] = [], dueMs = performance.now()): Promise<O> {
    if (this.closedFlag) return Promise.reject(new PoolError('POOL_CLOSED', 'worker pool closed'));
    if (signal?.aborted) return Promise.reject(new PoolError('ABORTED', 'aborted'));
    if (this.backingOff) return Promise.reject(new PoolError('WORKER_FAILED', `workers keep failing (${this.deathsInARow} in a row): retrying later`));
    this.retryAtMs = 0; // the back-off (if any) is over: try again; one more death backs off longer
    if (this.queue.length >= this.capacity) {
      this.rejectedFull++;
      return Promise.reject(new PoolError('POOL_FULL', `worker pool queue full (${this.capacity})`));
    }
    this.warm();
    return new Promise<O>((resolve, reject) => {
      const job: Pending<I, O> = { id: this.nextId++, dueMs, input, transfer, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        job.onAbort = () => {
          const i = this.queue.indexOf(job);
          if (i >= 0) {
            this.queue.splice(i, 1);
            reject(new PoolError('ABORTED', 'aborted'));
          }
          // A running job cannot be interrupted mid-WASM; its result is simply dropped by the caller.
        };
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.enqueue(job);
      this.dispatch();
    });
  }

  /** Terminate the workers; queued and running jobs reject. Idempotent. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const j of this.queue) this.finish(j, undefined, new PoolError('POOL_CLOSED', 'worker pool closed'));
    this.queue = [];
    const slots = this.slots;
    this.slots = [];
    await Promise.all(
      slots.map((s) => {
        if (s.busy) this.finish(s.busy, undefined, new PoolError('POOL_CLOSED', 'worker pool closed'));
        return s.worker.terminate();
      }),
    );
  }

  private spawn(): void {
    const worker = new Worker(this.file, { workerData: { nice: this.nice } satisfies PoolWorkerData });
    worker.unref();
    const slot: Slot<I, O> = { worker, busy: undefined };
    worker.on('message', (msg: { id: number; error?: string } & O) => {
      const job = slot.busy;
      if (!job || job.id !== msg.id) return;
      slot.busy = undefined;
      this.deathsInARow = 0;
      this.backoffMs = 0;
      if (msg.error !== undefined) this.finish(job, undefined, new PoolError('JOB_FAILED', msg.error));
      else this.finish(job, msg, undefined);
      this.dispatch();
    });
    const onDeath = (why: string) => {
      if (!this.slots.includes(slot)) return;
      this.slots.splice(this.slots.indexOf(slot), 1);
      if (slot.busy) this.finish(slot.busy, undefined, new PoolError('WORKER_FAILED', why));
      slot.busy = undefined;
      if (this.closedFlag) return;
      if (++this.deathsInARow >= MAX_DEATHS_IN_A_ROW) {
        // Back off: the queued jobs fail now (their callers fall back), new ones until the retry.
        this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs ? this.backoffMs * 2 : this.backoffFirstMs);
        this.retryAtMs = performance.now() + this.backoffMs;
        if (this.slots.length === 0) {
          const queued = this.queue;
          this.queue = [];
          for (const j of queued) this.finish(j, undefined, new PoolError('WORKER_FAILED', `workers keep failing: ${why}`));
        }
        return;
      }
      this.respawns++;
      this.spawn();
      this.dispatch();
    };
    worker.on('error', (err) => onDeath(`worker error: ${err.message}`));
    worker.on('exit', (code) => onDeath(`worker exited with ${code}`));
    this.slots.push(slot);
  }

  /** Insert after every job due no later (stable for equal due times); the queue is bounded, so the scan is too. */
  private enqueue(job: Pending<I, O>): void {
    const q = this.queue;
    let i = q.length;
    while (i > 0 && q[i - 1]!.dueMs > job.dueMs) i--;
    q.splice(i, 0, job);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy) continue;
      const job = this.queue.shift();
      if (!job) return;
      slot.busy = job;
      slot.worker.ref(); // keep the process alive while a job runs
      slot.worker.postMessage({ id: job.id, ...job.input }, job.transfer);
    }
  }

  private finish(job: Pending<I, O>, out: O | undefined, err: Error | undefined): void {
    if (job.signal && job.onAbort) job.signal.removeEventListener('abort', job.onAbort);
    for (const s of this.slots) if (!s.busy) s.worker.unref();
    if (err) job.reject(err);
    else job.resolve(out as O);
  }
}
