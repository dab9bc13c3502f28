/**
 * The audio a recogniser has been sent but has not yet acknowledged with a final result, kept so that a restarted,
 * reconnected or replacement stream can be fed it again: nothing the caller said is lost, and nothing already
 * transcribed is transcribed twice. Positions are absolute byte offsets in the call's audio (0 = first byte the
 * adapter received), so transcript offsets stay continuous across streams.
 *
 * Bounded by `maxMs`: past it the oldest audio is dropped (and counted in {@link ReplayBuffer.droppedBytes}), which
 * only matters if a restart then needs it. Drops and acknowledgements always cut on a sample (2-byte) boundary.
 *
 * Hot-path friendly: `append` and `ack` allocate nothing but the occasional array compaction; chunks are kept as given
 * (the caller hands over ownership and must not reuse them).
 */
export class ReplayBuffer {
  readonly bytesPerMs: number;
  /** Capacity in bytes (even). */
  readonly maxBytes: number;
  private chunks: Buffer[] = [];
  /** Index of the first live chunk in `chunks` (the array is compacted now and then, not shifted per drop). */
  private head = 0;
  /** Absolute offset of the first kept byte. */
  private startByte = 0;
  /** Absolute offset one past the last byte appended. */
  private endByte = 0;
  /** Bytes dropped because the bound was exceeded (never counted for acknowledged audio). */
  droppedBytes = 0;

  constructor(sampleRateHz: number, maxMs: number) {
    if (!(sampleRateHz > 0)) throw new RangeError(`sampleRateHz must be positive, got ${sampleRateHz}`);
    this.bytesPerMs = (sampleRateHz * 2) / 1000;
    this.maxBytes = Math.max(2, Math.round(maxMs * this.bytesPerMs) & ~1);
  }

  /** Absolute byte offset of the first unacknowledged (still kept) byte. */
  get start(): number {
    return this.startByte;
  }

  /** Absolute byte offset just past the newest byte. */
  get end(): number {
    return this.endByte;
  }

  /** Bytes kept (`end - start`). */
  get size(): number {
    return this.endByte - this.startByte;
  }

  /** Convert a duration or position in ms to bytes, on a sample boundary. */
  msToByte(ms: number): number {
    return Math.round((ms * this.bytesPerMs) / 2) * 2;
  }

  /** Convert bytes to ms. */
  byteToMs(byte: number): number {
    return byte / this.bytesPerMs;
  }

  /**
   * Keep `chunk` (taken as is: the caller must not reuse it). An odd-length chunk is accepted; positions then stop
   * being sample-aligned, so callers should append whole samples.
   */
  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.endByte += chunk.length;
    const over = this.endByte - this.startByte - this.maxBytes;
    if (over > 0) {
      this.dropFront(over);
      this.droppedBytes += over;
    }
  }

  /**
   * The recogniser has finalised everything before absolute byte `byte`: forget it. Positions beyond `end` are clamped
   * to `end`; positions before `start` (already forgotten) change nothing. Odd positions are rounded down to a sample.
   */
  ack(byte: number): void {
    const b = Math.min(byte - (byte & 1), this.endByte);
    if (b > this.startByte) this.dropFront(b - this.startByte);
  }

  /** The kept audio, oldest first (views of the kept chunks; do not modify them). */
  pending(): Buffer[] {
    return this.chunks.slice(this.head);
  }

  /**
   * The kept audio from absolute byte `from` (clamped to `start`) to `end`, oldest first, as views. Used to resume
   * sending where a stream left off.
   */
  from(from: number): Buffer[] {
    if (from <= this.startByte) return this.pending();
    if (from >= this.endByte) return [];
    const out: Buffer[] = [];
    let pos = this.startByte;
    for (let i = this.head; i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      const next = pos + c.length;
      if (next > from) out.push(pos >= from ? c : c.subarray(from - pos));
      pos = next;
    }
    return out;
  }

  /** One contiguous copy of the kept audio between absolute `from` and `to` (clamped to what is kept). */
  copy(from = this.startByte, to = this.endByte): Buffer {
    const a = Math.max(from, this.startByte);
    const b = Math.min(to, this.endByte);
    if (b <= a) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(b - a);
    let pos = this.startByte;
    let w = 0;
    for (let i = this.head; i < this.chunks.length && pos < b; i++) {
      const c = this.chunks[i]!;
      const next = pos + c.length;
      if (next > a) w += c.copy(out, w, Math.max(0, a - pos), Math.min(c.length, b - pos));
      pos = next;
    }
    return out;
  }

  private dropFront(n: number): void {
    let left = n;
    while (left > 0 && this.head < this.chunks.length) {
      const c = this.chunks[this.head]!;
      if (c.length <= left) {
        this.chunks[this.head++] = EMPTY;
        left -= c.length;
        this.startByte += c.length;
      } else {
        this.chunks[this.head] = c.subarray(left);
        this.startByte += left;
        left = 0;
      }
    }
    // Compact once the dead prefix dominates, so the array neither grows without bound nor is shifted per drop.
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);
