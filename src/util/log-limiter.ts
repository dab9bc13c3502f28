/**
 * A rate limit for one source of repeated log lines (one leg's malformed messages, its socket errors, …): at most one
 * line per interval, the occurrences in between counted instead of written. No timer: the decision is made when the
 * next occurrence comes, and the owner writes a last summary (`takeHeld()`) when the source closes.
 *
 * ```ts
 * const held = limiter.admit(performance.now());
 * if (held >= 0) log.warn({ reason, suppressed: held }, 'malformed text message ignored');
 * ```
 * Cheap enough for a flood: a comparison and two increments per suppressed occurrence, nothing allocated.
 */
export class LogLimiter {
  readonly intervalMs: number;
  private lastMs = Number.NEGATIVE_INFINITY;
  private held = 0;
  private readonly onSuppressed: (() => void) | undefined;

  /**
   * @param intervalMs at most one line per this many ms.
   * @param onSuppressed called once per suppressed occurrence (e.g. to count it in a metric).
   */
  constructor(intervalMs: number, onSuppressed?: () => void) {
    if (!(intervalMs >= 0)) throw new RangeError('intervalMs must be ≥ 0');
    this.intervalMs = intervalMs;
    this.onSuppressed = onSuppressed;
  }

  /**
   * One occurrence at `nowMs` (a monotonic clock, e.g. `performance.now()`). Returns -1 when it must not be logged (it is
   * counted as suppressed); otherwise log it now: the value is how many occurrences were suppressed since the
   * previous logged one (0 for the first), for the line to say so.
   */
  admit(nowMs: number): number {
    if (nowMs - this.lastMs < this.intervalMs) {
      this.held++;
      this.onSuppressed?.();
      return -1;
    }
    this.lastMs = nowMs;
    const held = this.held;
    this.held = 0;
    return held;
  }

  /** Occurrences suppressed since the last logged one, not yet reported. */
  get pending(): number {
    return this.held;
  }

  /** Returns the occurrences suppressed since the last logged one and forgets them (for a closing summary line). */
  takeHeld(): number {
    const held = this.held;
    this.held = 0;
    return held;
  }
}
