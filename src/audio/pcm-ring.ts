/**
 * A fixed-capacity ring of the newest PCM bytes of one call, addressed by **absolute** byte position (0 = the first
 * byte ever appended). Used to replay audio a recogniser has not yet finalised into a replacement stream.
 *
 * One buffer, allocated at the first append and never reallocated: appending a frame is a copy, never an allocation,
 * so keeping seconds of audio creates no garbage for the young-generation GC (the benchmark showed that thousands of
 * small retained Buffers cost 10–15 ms scavenges at a few hundred legs).
 */
export class PcmRing {
  readonly capacityBytes: number;
  private buf: Buffer | undefined;
  /** Absolute position just past the newest byte. */
  private endPos = 0;
  /** Absolute position of the oldest byte still wanted (acknowledged audio before it may be overwritten). */
  private ackPos = 0;

  constructor(capacityBytes: number) {
    this.capacityBytes = Math.max(2, capacityBytes & ~1);
  }

  /** Absolute position just past the newest byte. */
  get end(): number {
    return this.endPos;
  }

  /** Oldest absolute position still held and not acknowledged. */
  get start(): number {
    return Math.max(this.ackPos, this.endPos - this.capacityBytes);
  }

  /** Bytes between {@link start} and {@link end}. */
  get pendingBytes(): number {
    return this.endPos - this.start;
  }

  /** Copy `chunk` in (the caller may reuse it afterwards). The oldest bytes are overwritten past the capacity. */
  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const cap = this.capacityBytes;
    const buf = (this.buf ??= Buffer.allocUnsafeSlow(cap));
    // Only the newest `cap` bytes of an oversized chunk can be kept.
    let src = chunk.length > cap ? chunk.length - cap : 0;
    let at = (this.endPos + src) % cap;
    while (src < chunk.length) {
      const k = Math.min(chunk.length - src, cap - at);
      chunk.copy(buf, at, src, src + k);
      src += k;
      at = 0;
    }
    this.endPos += chunk.length;
  }

  /** Everything before absolute position `pos` is no longer needed. */
  ack(pos: number): void {
    if (pos > this.ackPos) this.ackPos = Math.min(pos, this.endPos);
  }

  /** A copy of the bytes from {@link start} to {@link end}, oldest first. */
  pending(): Buffer {
    const from = this.start;
    const n = this.endPos - from;
    const out = Buffer.allocUnsafe(n);
    if (n === 0 || !this.buf) return out;
    const cap = this.capacityBytes;
    const at = from % cap;
    const first = Math.min(n, cap - at);
    this.buf.copy(out, 0, at, at + first);
    if (first < n) this.buf.copy(out, first, 0, n - first);
    return out;
  }

  /** Forget everything (keeps the absolute position counter). */
  clear(): void {
    this.ackPos = this.endPos;
  }
}
