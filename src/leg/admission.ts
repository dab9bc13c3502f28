/**
 * Admitting a burst of new legs in slices, so the calls already live keep their 20 ms.
 *
 * Node runs every socket event that is ready in one poll phase before it looks at a timer again. When a hundred calls
 * are answered together, their hundred WebSocket upgrades (≈ 0.4 ms each: the checks, `ws`'s handshake, the leg)
 * arrive in one poll phase and run back to back, and the shared pacer's tick, a timer, waits for all of them: every
 * live call's audio is late by the whole burst (measured: 200 legs answered at once, frames 65–117 ms apart in the
 * burst's first second against ≤ 35 ms for a bare `ws` server, bench/README.md).
 *
 * {@link AdmissionQueue} runs admission work at once while the current slice of the event loop has spent less than
 * its budget on it, and queues the rest; the queue is worked through in later turns of the loop (`setImmediate`, one
 * slice per turn), so the timers phase, and with it the pacer's tick, runs between two slices. Order is kept (first
 * come, first admitted). A budget of 0 turns it off: every job runs at once, as before.
 */
import { performance } from 'node:perf_hooks';

interface Waiting {
  job: () => void;
  drop: (() => void) | undefined;
}

export class AdmissionQueue {
  private readonly jobs: Waiting[] = [];
  private head = 0;
  /** Start (performance.now()) of the slice being spent, or -1 when none is open. */
  private sliceStart = -1;
  /** The open slice was started by a job run at once (in a poll phase), not by {@link turn}. */
  private sliceFromPoll = false;
  private scheduled = false;
  private closed = false;

  /**
   * @param budgetMs admission work per turn of the event loop (0: no slicing)
   * @param onError a job that throws (the job is expected to catch its own errors; this is the last guard)
   */
  constructor(
    private readonly budgetMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Jobs waiting for a later slice. */
  get queued(): number {
    return this.jobs.length - this.head;
  }

  /**
   * Run `job` now if the slice has budget left and nothing is waiting; otherwise after those already waiting.
   * Returns true when the job was queued. `drop` is called instead of `job` for a job still waiting at {@link close}.
   */
  run(job: () => void, drop?: () => void): boolean {
    if (this.closed) {
      drop?.();
      return false;
    }
    if (this.budgetMs <= 0) return (this.exec(job), false);
    if (this.queued === 0) {
      const now = performance.now();
      if (this.sliceStart < 0) {
        this.sliceStart = now;
        this.sliceFromPoll = true;
        this.schedule(); // the slice ends at this turn's check phase
      }
      if (now - this.sliceStart < this.budgetMs) return (this.exec(job), false);
    }
    this.jobs.push({ job, drop });
    this.schedule();
    return true;
  }

  /** Drop every waiting job (its `drop` is called, it is never run); later jobs are dropped at once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const waiting = this.jobs.slice(this.head);
    this.jobs.length = 0;
    this.head = 0;
    for (const w of waiting) if (w.drop) this.exec(w.drop);
  }

  private exec(job: () => void): void {
    try {
      job();
    } catch (err) {
      this.onError(err);
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.turn);
  }

  /** The check phase of a turn of the loop: close a slice spent in the poll phase, or spend one on waiting jobs. */
  private readonly turn = (): void => {
    this.scheduled = false;
    if (this.closed) return;
    if (this.sliceFromPoll) {
      // This turn's poll phase spent its slice: let the timers run before the next one.
      this.sliceFromPoll = false;
      this.sliceStart = -1;
      if (this.queued > 0) this.schedule();
      return;
    }
    const start = performance.now();
    this.sliceStart = start;
    while (this.queued > 0) {
      const w = this.jobs[this.head] as Waiting;
      this.jobs[this.head++] = DONE; // let it be collected
      this.exec(w.job);
      if (performance.now() - start >= this.budgetMs) break;
    }
    if (this.head > 1024 && this.head * 2 > this.jobs.length) {
      this.jobs.splice(0, this.head);
      this.head = 0;
    }
    if (this.queued > 0) this.schedule();
    else {
      this.jobs.length = 0;
      this.head = 0;
    }
    this.sliceStart = -1;
  };
}

const DONE: Waiting = { job: () => {}, drop: undefined };
