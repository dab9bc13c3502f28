/**
 * Upgrade rate limit per source address: a token bucket per source (`ratePerS` tokens a second, up to `burst`),
 * in a map bounded to `maxSources` entries that evicts the least recently seen source (a full bucket is what an
 * evicted source gets back, so eviction can only be lenient, never lock anyone out).
 */
import type { IncomingMessage } from 'node:http';

export interface RateDecision {
  allowed: boolean;
  /** Seconds until one token is back (for `Retry-After`), when refused. */
  retryAfterS: number;
  /** True for the first refusal since this source was last allowed: log that one, not the flood after it. */
  firstRefusal: boolean;
}

interface Bucket {
  tokens: number;
  atMs: number;
  refusing: boolean;
}

export class SourceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /**
   * @param ratePerS tokens added per second (0 turns the limiter off)
   * @param burst bucket capacity (requests allowed at once after a quiet spell)
   * @param maxSources most sources remembered; the least recently seen is forgotten past it
   * @param nowMs clock in milliseconds (tests)
   */
  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    private readonly maxSources = 10000,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  /** Take one token for `source`. */
  take(source: string): RateDecision {
    if (this.ratePerS <= 0) return { allowed: true, retryAfterS: 0, firstRefusal: false };
    const now = this.nowMs();
    let b = this.buckets.get(source);
    if (b) {
      this.buckets.delete(source); // re-inserted below: Map order is recency order
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.atMs) / 1000) * this.ratePerS);
      b.atMs = now;
    } else {
      b = { tokens: this.burst, atMs: now, refusing: false };
      if (this.buckets.size >= this.maxSources) {
        const oldest = this.buckets.keys().next().value as string;
        this.buckets.delete(oldest);
      }
    }
    this.buckets.set(source, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      b.refusing = false;
      return { allowed: true, retryAfterS: 0, firstRefusal: false };
    }
    const first = !b.refusing;
    b.refusing = true;
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / this.ratePerS)), firstRefusal: first };
  }
}

/**
 * The address a request comes from: the socket's peer, or with `trustProxy` the last (right-most) address of
 * `X-Forwarded-For`, the one our own proxy appended. Never trusts the header otherwise: any client can send it.
 */
export function sourceAddress(req: IncomingMessage, trustProxy: boolean): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (!trustProxy) return peer;
  const xff = req.headers['x-forwarded-for'];
  const value = Array.isArray(xff) ? xff[xff.length - 1] : xff;
  if (!value) return peer;
  const last = value.slice(-200).split(',').pop()?.trim();
  return last && /^[0-9A-Fa-f.:]{2,64}$/.test(last) ? last : peer;
}
