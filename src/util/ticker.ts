/**
 * One drift-corrected 20 ms clock shared by every call in the process (jitter-buffer playout and egress pacing).
 * Each tick is scheduled for `startMs + n × periodMs`, never "20 ms after the last one", so lateness never
 * accumulates; a late tick reports how many periods elapsed and listeners catch up.
 * The timer runs only while some listener is registered.
 *
 * A listener that throws is a bug, and it must not cost the ticker 50 log lines a second: errors are counted, a
 * listener that throws on `maxConsecutiveErrors` ticks in a row is removed (`onListenerRemoved`, once), and a listener
 * whose errors stop before that is reported once (`onListenerError`, with its first error) — one report per listener.
 */
import type { Clock, TimerHandle } from './clock.js';

export interface TickListener {
  /**
   * Called once per tick. `periods` ≥ 1 is how many periods passed since this listener's previous tick (more than one
   * when the event loop was late). Must not throw; exceptions are caught and counted, and a listener that keeps
   * throwing is removed.
   */
  onTick(nowMs: number, periods: number): void;
}

export interface TickerStats {
  ticks: number;
  /** Ticks that fired more than half a period late. */
  lateTicks: number;
  /** Listener exceptions caught. */
  listenerErrors: number;
  /** Listeners removed because they threw on `maxConsecutiveErrors` ticks in a row. */
  listenersRemoved: number;
  /** Worst lateness seen, ms. */
  maxLatenessMs: number;
}

/** Per-listener state, allocated once when it is added (mutated in place on each tick). */
interface Entry {
  /** Ticker index of this listener's previous tick. */
  last: number;
  /** Consecutive ticks that threw. */
  errors: number;
  /** The first error of the current run of errors. */
  firstError: unknown;
  /** This listener's errors were reported once already. */
  reported: boolean;
}

export class Ticker {
  readonly periodMs: number;
  /** A listener that throws on this many consecutive ticks is removed. */
  readonly maxConsecutiveErrors: number;
  private readonly clock: Clock;
  /** Listeners ticked first each tick ({@link add} with `first`), in the order added, then {@link listeners}. */
  private readonly firsts = new Map<TickListener, Entry>();
  private readonly listeners = new Map<TickListener, Entry>();
  private timer: TimerHandle | undefined;
  private startMs = 0;
  private index = 0;
  readonly stats: TickerStats = { ticks: 0, lateTicks: 0, listenerErrors: 0, listenersRemoved: 0, maxLatenessMs: 0 };
  /**
   * Called at most once per listener, with its first error, when a listener threw but was not removed (its errors
   * stopped, or it was deleted): for one log line. Every error is counted in `stats.listenerErrors`.
   */
  onListenerError: ((err: unknown, listener: TickListener) => void) | undefined;
  /**
   * Called once when a listener is removed for throwing on `maxConsecutiveErrors` ticks in a row, with its first error
   * of that run (the owner should end what the listener served, e.g. close the call). Not followed by `onListenerError`.
   */
  onListenerRemoved: ((listener: TickListener, err: unknown) => void) | undefined;
  private readonly fireBound = () => this.fire();
  private readonly tickOneBound = (entry: Entry, listener: TickListener) => this.tickOne(entry, listener);
  /** The clock reading of the tick being fired (for {@link tickOne}). */
  private tickNow = 0;

  constructor(clock: Clock, periodMs = 20, maxConsecutiveErrors = 3) {
    this.clock = clock;
    this.periodMs = periodMs;
    this.maxConsecutiveErrors = Math.max(1, maxConsecutiveErrors);
  }

  get size(): number {
    return this.firsts.size + this.listeners.size;
  }

  /**
   * Register a listener; its first tick comes at the next period boundary. Adding twice is harmless. `first`: tick it
   * before every listener added without (the pacers: each call's frame out at the start of the tick, not after a
   * varying amount of other calls' inbound work, which the caller would hear as jitter of up to that work's length).
   */
  add(listener: TickListener, first = false): void {
    if (this.has(listener)) return;
    if (this.size === 0) {
      this.startMs = this.clock.now();
      this.index = 0;
      this.schedule();
    }
    (first ? this.firsts : this.listeners).set(listener, { last: this.index, errors: 0, firstError: undefined, reported: false });
  }

  delete(listener: TickListener): void {
    const map = this.firsts.has(listener) ? this.firsts : this.listeners;
    const entry = map.get(listener);
    if (entry === undefined) return;
    map.delete(listener);
    this.stopIfIdle();
    if (entry.errors > 0) this.report(entry, listener);
  }

  has(listener: TickListener): boolean {
    return this.listeners.has(listener) || this.firsts.has(listener);
  }

  private stopIfIdle(): void {
    if (this.size === 0 && this.timer !== undefined) {
      this.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
  }

  /** Stop the timer and forget every listener. */
  close(): void {
    this.firsts.clear();
    this.listeners.clear();
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const due = this.startMs + (this.index + 1) * this.periodMs;
    this.timer = this.clock.setTimer(this.fireBound, due - this.clock.now());
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    const target = Math.floor((now - this.startMs) / this.periodMs);
    const scheduled = this.startMs + (this.index + 1) * this.periodMs;
    const lateness = now - scheduled;
    if (lateness > this.stats.maxLatenessMs) this.stats.maxLatenessMs = lateness;
    if (lateness > this.periodMs / 2) this.stats.lateTicks++;
    this.index = target > this.index ? target : this.index + 1;
    this.stats.ticks++;
    // forEach with one bound callback: `for (const [l, e] of map)` allocates an entry pair per listener per tick
    // (thousands a second at a few hundred calls), garbage that the young-generation pauses are made of.
    this.tickNow = now;
    if (this.firsts.size > 0) this.firsts.forEach(this.tickOneBound);
    this.listeners.forEach(this.tickOneBound);
    if (this.size > 0 && this.timer === undefined) this.schedule();
  }

  private tickOne(entry: Entry, listener: TickListener): void {
    const periods = this.index - entry.last;
    if (periods <= 0) return;
    entry.last = this.index;
    try {
      listener.onTick(this.tickNow, periods);
    } catch (err) {
      this.failed(listener, entry, err);
      return;
    }
    if (entry.errors > 0) this.report(entry, listener);
  }

  private failed(listener: TickListener, entry: Entry, err: unknown): void {
    this.stats.listenerErrors++;
    if (entry.errors++ === 0) entry.firstError = err;
    if (entry.errors < this.maxConsecutiveErrors) return;
    // Deleting the current entry during Map.forEach is safe: iteration goes on with the next one.
    if (!this.firsts.delete(listener)) this.listeners.delete(listener);
    this.stats.listenersRemoved++;
    this.stopIfIdle();
    try {
      this.onListenerRemoved?.(listener, entry.firstError);
    } catch {
      // the owner's handler failing must not stop the other listeners' ticks
    }
  }

  /** The listener's run of errors ended without removal: report it once per listener. */
  private report(entry: Entry, listener: TickListener): void {
    const err = entry.firstError;
    entry.errors = 0;
    entry.firstError = undefined;
    if (entry.reported) return;
    entry.reported = true;
    try {
      this.onListenerError?.(err, listener);
    } catch {
      // as above
    }
  }
}
