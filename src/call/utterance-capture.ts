/**
 * Keeps the caller's current utterance (with a short pre-roll, so the onset is not clipped) for bots that want the
 * audio. Bounded by `maxMs`.
 *
 * Frames are **copied** into storage owned by the capture (a pre-roll ring and a capture buffer that grows by doubling
 * and is reused across utterances), never kept by reference: holding hundreds of small per-message Buffers alive for
 * the length of an utterance made every young-generation GC copy them (measured: 10–15 ms scavenges at 400 legs,
 * which land directly in the egress pacing). A 640-byte copy per frame is far cheaper than that.
 */
const INITIAL_CAPTURE_MS = 2000;
const EMPTY = Buffer.alloc(0);

export class UtteranceCapture {
  private readonly frameBytes: number;
  private readonly preFrames: number;
  private readonly pre: Buffer;
  /** Next pre-roll slot to write; `preCount` slots are filled. */
  private preHead = 0;
  private preCount = 0;
  private buf: Buffer;
  private len = 0;
  private readonly maxBytes: number;
  private capturing = false;

  constructor(prerollMs: number, maxMs: number, frameBytes: number) {
    this.frameBytes = frameBytes;
    this.preFrames = Math.max(1, Math.round(prerollMs / 20));
    // Only the filled part of either buffer is ever read, so neither needs zeroing; the capture buffer is allocated
    // at the first utterance (a call in which the caller never speaks costs only the pre-roll).
    this.pre = Buffer.allocUnsafeSlow(this.preFrames * frameBytes);
    this.maxBytes = Math.round(maxMs / 20) * frameBytes;
    this.buf = EMPTY;
  }

  /** Every frame, in order (exact frames of `frameBytes`; a shorter one is zero-padded, a longer one cut). */
  push(frame: Buffer): void {
    const fb = this.frameBytes;
    if (this.capturing) {
      if (this.len + fb > this.maxBytes) return;
      if (this.len + fb > this.buf.length) this.grow();
      this.copyFrame(frame, this.buf, this.len);
      this.len += fb;
      return;
    }
    this.copyFrame(frame, this.pre, this.preHead * fb);
    this.preHead = (this.preHead + 1) % this.preFrames;
    if (this.preCount < this.preFrames) this.preCount++;
  }

  /** Speech started (the frames that triggered it are already in the pre-roll). */
  start(): void {
    this.capturing = true;
    this.len = 0;
    const fb = this.frameBytes;
    const first = (this.preHead - this.preCount + this.preFrames) % this.preFrames;
    const n = Math.min(this.preCount, this.maxBytes / fb);
    for (let i = 0; i < n; i++) {
      const slot = (first + i) % this.preFrames;
      if (this.len + fb > this.buf.length) this.grow();
      this.pre.copy(this.buf, this.len, slot * fb, slot * fb + fb);
      this.len += fb;
    }
    this.preCount = 0;
    this.preHead = 0;
  }

  /** Speech ended: the utterance as one PCM array (the caller's own copy), minus `trimTailMs` of trailing silence. */
  finish(trimTailMs: number): Int16Array {
    this.capturing = false;
    const keep = Math.max(0, this.len - Math.floor(trimTailMs / 20) * this.frameBytes);
    const out = new Int16Array(keep >> 1);
    this.buf.copy(Buffer.from(out.buffer), 0, 0, keep);
    this.len = 0;
    return out;
  }

  clear(): void {
    this.capturing = false;
    this.len = 0;
    this.preCount = 0;
    this.preHead = 0;
  }

  private copyFrame(frame: Buffer, into: Buffer, at: number): void {
    const n = frame.copy(into, at, 0, Math.min(frame.length, this.frameBytes));
    if (n < this.frameBytes) into.fill(0, at + n, at + this.frameBytes);
  }

  private grow(): void {
    const size = this.buf.length === 0 ? Math.round(INITIAL_CAPTURE_MS / 20) * this.frameBytes : this.buf.length * 2;
    const next = Buffer.allocUnsafeSlow(Math.min(this.maxBytes, size));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
}
