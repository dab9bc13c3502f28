/**
 * Time source injected into everything that schedules: the shared ticker, jitter buffer, pacer and turn logic.
 * Tests use {@link ManualClock} and never sleep.
 */
export interface Clock {
  /** Monotonic milliseconds (fractional allowed). */
  now(): number;
  /** Run `fn` once after `delayMs`. Returns a handle for {@link Clock.clearTimer}. */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export type TimerHandle = { readonly id: number } | NodeJS.Timeout;

/** The process clock: `performance.now()` and Node timers (unref'd, so they never hold the process open). */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, delayMs) {
    const t = setTimeout(fn, Math.max(0, delayMs));
    t.unref();
    return t;
  },
  clearTimer(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

interface ManualTimer {
  readonly id: number;
  at: number;
  fn: () => void;
}

/** A clock that only moves when told to. Timers fire in time order during {@link ManualClock.advance}. */
export class ManualClock implements Clock {
  private t: number;
  private nextId = 1;
  private timers: ManualTimer[] = [];

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const timer: ManualTimer = { id: this.nextId++, at: this.t + Math.max(0, delayMs), fn };
    this.timers.push(timer);
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    const id = (handle as ManualTimer).id;
    this.timers = this.timers.filter((x) => x.id !== id);
  }

  /** Number of timers pending. */
  get pending(): number {
    return this.timers.length;
  }

  /** Move time forward by `ms`, firing due timers in order (a timer may schedule more). */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const x of this.timers) if (x.at <= target && (!next || x.at < next.at || (x.at === next.at && x.id < next.id))) next = x;
      if (!next) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = target;
  }
}
