/**
 * The per-leg inbound limits, as plain counters driven by the caller's clock (no timers, nothing allocated per message):
 * a token bucket for the message rate (4008) and a sliding one-minute count for malformed text messages (4009).
 */

/** A token bucket refilled from the clock on each take: `ratePerS` sustained, `burst` at once. */
export class TokenBucket {
  readonly ratePerS: number;
  readonly burst: number;
  private readonly ratePerMs: number;
  private tokens: number;
  private atMs: number;

  /** @param ratePerS 0 = no limit. @param nowMs the clock at creation (the bucket starts full). */
  constructor(ratePerS: number, burst: number, nowMs: number) {
    this.ratePerS = ratePerS > 0 ? ratePerS : 0;
    this.ratePerMs = this.ratePerS / 1000;
    this.burst = Math.max(1, burst);
    this.tokens = this.burst;
    this.atMs = nowMs;
  }

  /** Take one token at `nowMs` (monotonic); false when the bucket is empty. A few number operations. */
  take(nowMs: number): boolean {
    if (this.ratePerMs === 0) return true;
    let tokens = this.tokens + (nowMs - this.atMs) * this.ratePerMs;
    if (tokens > this.burst) tokens = this.burst;
    this.atMs = nowMs;
    if (tokens < 1) {
      this.tokens = tokens;
      return false;
    }
    this.tokens = tokens - 1;
    return true;
  }
}

/**
 * Occurrences over the last minute, in 1 s slots: `add()` returns how many happened in the current second and the 59
 * before it. 60 counters, allocated on the first occurrence.
 */
export class MinuteCount {
  private slots: Uint32Array | undefined;
  private sec = 0;
  private sum = 0;

  /** Count one occurrence at `nowMs` (monotonic); returns the count over the last minute, this one included. */
  add(nowMs: number): number {
    const sec = Math.floor(nowMs / 1000);
    let slots = this.slots;
    if (slots === undefined) {
      slots = this.slots = new Uint32Array(60);
      this.sec = sec;
    } else if (sec !== this.sec) {
      if (sec - this.sec >= 60) {
        slots.fill(0);
        this.sum = 0;
      } else {
        for (let s = this.sec + 1; s <= sec; s++) {
          this.sum -= slots[s % 60]!;
          slots[s % 60] = 0;
        }
      }
      this.sec = sec;
    }
    slots[sec % 60]!++;
    return ++this.sum;
  }
}
