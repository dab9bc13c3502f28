/**
 * The audio a recogniser has been sent but has not yet acknowledged with a final result, kept so that a restarted,
 * reconnected or replacement stream can be fed it again: nothing the caller said is lost, and nothing already
 * transcribed is transcribed twice. Positions are absolute byte offsets in the call's audio (0 = first byte the
 * adapter received), so transcript offsets stay continuous across streams.
 *
 * Bounded by `maxMs`: past it the oldest audio is dropped (and counted), which only matters if a restart then needs it.
 */
export class ReplayBuffer {
  readonly bytesPerMs: number;
  private readonly maxBytes: number;
  private chunks: Buffer[] = [];
  /** Absolute offset of the first kept byte. */
  private startByte = 0;
  /** Absolute offset one past the last byte appended. */
  private endByte = 0;
  /** Bytes dropped because the bound was exceeded. */
  droppedBytes = 0;

  constructor(sampleRateHz: number, maxMs: number) {
    this.bytesPerMs = (sampleRateHz * 2) / 1000;
    this.maxBytes = Math.max(2, Math.round(maxMs * this.bytesPerMs) & ~1);
  }

  /** Absolute byte offset of the first unacknowledged byte. */
  get start(): number {
    return this.startByte;
  }

  /** Absolute byte offset just past the newest byte. */
  get end(): number {
    return this.endByte;
  }

  /** Convert an absolute position in ms to a byte offset on a sample boundary. */
  msToByte(ms: number): number {
    return Math.round((ms * this.bytesPerMs) / 2) * 2;
  }

  byteToMs(byte: number): number {
    return byte / this.bytesPerMs;
  }

  /** Keep `chunk` (taken as is: the caller must not reuse it). */
  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.endByte += chunk.length;
    while (this.endByte - this.startByte > this.maxBytes) {
      const over = this.endByte - this.startByte - this.maxBytes;
      this.dropFront(over);
      this.droppedBytes += over;
    }
  }

  /** The recogniser has finalised everything before absolute byte `byte`: forget it. */
  ack(byte: number): void {
    const b = Math.min(byte, this.endByte);
    if (b > this.startByte) this.dropFront(b - this.startByte);
  }

  /** The unacknowledged audio, oldest first (views; valid until the next append/ack). */
  pending(): Buffer[] {
    return this.chunks.slice();
  }

  private dropFront(n: number): void {
    let left = n;
    while (left > 0 && this.chunks.length) {
      const c = this.chunks[0];
      if (c.length <= left) {
        this.chunks.shift();
        left -= c.length;
        this.startByte += c.length;
      } else {
        this.chunks[0] = c.subarray(left);
        this.startByte += left;
        left = 0;
      }
    }
  }
}
