/**
 * Gaps between the frames one caller receives, split at the target's **reply boundaries** as the caller sees them.
 *
 * The gateway's pacer sends a Vonage `notify` (`{"action":"notify",…}`) right after the last frame of each reply, on
 * the same socket, so at the caller it arrives after that frame and before the next reply's first frame; a barge-in
 * sends `{"action":"clear"}` instead. The interval from a reply's last frame to the next reply's first frame is the
 * bot's turn-taking (the caller spoke, the echo bot waited for the end of speech), not a stutter: it is kept apart
 * ({@link ReplyGaps.maxBetweenMs}). Every other interval is inside one reply, where a gap is something the caller
 * hears. A bare echo server sends no such messages: every interval of its stream counts as inside.
 *
 * One per leg; no allocation per frame.
 */
export class ReplyGaps {
  /** Intervals longer than this are not taken as a gap inside a reply (a stream that stopped without a boundary). */
  private readonly windowMs: number;
  /** A reply is being received: its previous frame came at {@link lastMs}. */
  private inReply = false;
  private lastMs = 0;
  /** A reply ended (boundary) at its last frame, {@link endedMs}, and no frame has come since. */
  private ended = false;
  private endedMs = 0;
  /** Largest interval between consecutive frames of one reply (≤ the window), since the last {@link reset}. */
  maxGapMs = 0;
  /** Largest interval from the last frame of a reply to the first frame of the next, since the last {@link reset}. */
  maxBetweenMs = 0;
  /** Reply boundaries seen since the last {@link reset}. */
  boundaries = 0;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  /**
   * A binary frame arrived at `nowMs`. Returns the interval since the previous frame **of the same reply**, or −1 for
   * the first frame of a stream or of a reply (no interval a caller would hear as pacing).
   */
  frame(nowMs: number): number {
    if (!this.inReply) {
      this.inReply = true;
      this.lastMs = nowMs;
      if (this.ended) {
        this.ended = false;
        const between = nowMs - this.endedMs;
        if (between > this.maxBetweenMs) this.maxBetweenMs = between;
      }
      return -1;
    }
    const d = nowMs - this.lastMs;
    this.lastMs = nowMs;
    if (d <= this.windowMs && d > this.maxGapMs) this.maxGapMs = d;
    return d;
  }

  /** The target ended the current reply (its `notify` after the last frame, or a `clear`). Idempotent. */
  boundary(): void {
    if (!this.inReply) return;
    this.inReply = false;
    this.ended = true;
    this.endedMs = this.lastMs;
    this.boundaries++;
  }

  /** Start a new measurement window (the reply in progress goes on). */
  reset(): void {
    this.maxGapMs = 0;
    this.maxBetweenMs = 0;
    this.boundaries = 0;
  }
}

/** The reply boundary a text message from the target marks, if any: Vonage's `notify` and `clear` actions. */
export function isReplyBoundary(action: unknown): boolean {
  return action === 'notify' || action === 'clear';
}
