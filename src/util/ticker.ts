/**
 * One drift-corrected 20 ms clock shared by every call in the process (jitter-buffer playout and egress pacing).
 * Each tick is scheduled for `startMs + n × periodMs`, never "20 ms after the last one", so lateness never
 * accumulates; a late tick reports how many periods elapsed and listeners catch up.
 * The timer runs only while some listener is registered.
 */
import type { Clock, TimerHandle } from './clock.js';

export interface TickListener {
  /**
   * Called once per tick. `periods` ≥ 1 is how many periods passed since this listener's previous tick (more than one
   * when the event loop was late). Must not throw; exceptions are caught and counted.
   */
  onTick(nowMs: number, periods: number): void;
}

export interface TickerStats {
  ticks: number;
  /** Ticks that fired more than half a period late. */
  lateTicks: number;
  /** Listener exceptions caught. */
  listenerErrors: number;
  /** Worst lateness seen, ms. */
  maxLatenessMs: number;
}

export class Ticker {
  readonly periodMs: number;
  private readonly clock: Clock;
  private readonly listeners = new Map<TickListener, number>();
  private timer: TimerHandle | undefined;
  private startMs = 0;
  private index = 0;
  readonly stats: TickerStats = { ticks: 0, lateTicks: 0, listenerErrors: 0, maxLatenessMs: 0 };
  /** Called with each exception a listener throws (after counting). */
  onListenerError: ((err: unknown) => void) | undefined;
  private readonly fireBound = () => this.fire();

  constructor(clock: Clock, periodMs = 20) {
    this.clock = clock;
    this.periodMs = periodMs;
  }

  get size(): number {
    return this.listeners.size;
  }

  /** Register a listener; its first tick comes at the next period boundary. Adding twice is harmless. */
  add(listener: TickListener): void {
    if (this.listeners.has(listener)) return;
    if (this.listeners.size === 0) {
      this.startMs = this.clock.now();
      this.index = 0;
      this.schedule();
    }
    this.listeners.set(listener, this.index);
  }

  delete(listener: TickListener): void {
    if (!this.listeners.delete(listener)) return;
    if (this.listeners.size === 0 && this.timer !== undefined) {
      this.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
  }

  has(listener: TickListener): boolean {
    return this.listeners.has(listener);
  }

  /** Stop the timer and forget every listener. */
  close(): void {
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
    for (const [listener, last] of this.listeners) {
      const periods = this.index - last;
      if (periods <= 0) continue;
      this.listeners.set(listener, this.index);
      try {
        listener.onTick(now, periods);
      } catch (err) {
        this.stats.listenerErrors++;
        this.onListenerError?.(err);
      }
    }
    if (this.listeners.size > 0 && this.timer === undefined) this.schedule();
  }
}
