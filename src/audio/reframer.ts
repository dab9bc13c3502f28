/**
 * Cuts a byte stream of 16-bit PCM into exact frames (320/640/960 bytes for 20 ms at 8/16/24 kHz).
 * Frames handed to the sink are owned by the sink (never reused by the reframer), unless the sink declares that it
 * copies them (`sinkCopies`): then frames are views valid only during `onFrame`, and nothing is allocated per frame.
 * Input chunks that are exactly one frame and arrive on a frame boundary are passed through without copying.
 */
export interface FrameSink {
  onFrame(frame: Buffer): void;
}

export class Reframer {
  readonly frameBytes: number;
  private readonly sink: FrameSink;
  private pending: Buffer | undefined;
  private readonly sinkCopies: boolean;
  /** With `sinkCopies`, the one buffer partial frames are assembled in. */
  private spare: Buffer | undefined;
  private pendingLen = 0;
  /** Chunks that were not exactly one frame on a boundary (had to be re-assembled). */
  reassembled = 0;

  /** @param sinkCopies the sink copies each frame before `onFrame` returns (e.g. the pacer's ring). */
  constructor(frameBytes: number, sink: FrameSink, sinkCopies = false) {
    this.sinkCopies = sinkCopies;
    if (!Number.isInteger(frameBytes) || frameBytes <= 0 || frameBytes % 2) throw new RangeError('frameBytes must be a positive even integer');
    this.frameBytes = frameBytes;
    this.sink = sink;
  }

  /** Bytes held until the next frame completes. */
  get pendingBytes(): number {
    return this.pendingLen;
  }

  /** Feed a chunk of any length. Returns the number of frames emitted. */
  push(chunk: Buffer): number {
    const fb = this.frameBytes;
    if (this.pendingLen === 0 && chunk.length === fb) {
      this.sink.onFrame(chunk);
      return 1;
    }
    this.reassembled++;
    let emitted = 0;
    let off = 0;
    if (this.pendingLen > 0) {
      const take = Math.min(fb - this.pendingLen, chunk.length);
      chunk.copy(this.pending as Buffer, this.pendingLen, 0, take);
      this.pendingLen += take;
      off = take;
      if (this.pendingLen < fb) return 0;
      const frame = this.pending as Buffer;
      this.pending = undefined;
      this.pendingLen = 0;
      this.sink.onFrame(frame);
      if (this.sinkCopies) this.spare = frame;
      emitted++;
    }
    while (chunk.length - off >= fb) {
      // Copy, so the sink never holds a view that pins a large input chunk in memory.
      const view = chunk.subarray(off, off + fb);
      this.sink.onFrame(this.sinkCopies ? view : Buffer.from(view));
      off += fb;
      emitted++;
    }
    if (off < chunk.length) {
      this.pending = this.spare ?? Buffer.alloc(fb);
      this.spare = undefined;
      this.pending.fill(0);
      chunk.copy(this.pending, 0, off);
      this.pendingLen = chunk.length - off;
    }
    return emitted;
  }

  /** Emit the partial frame padded with silence (if any). Returns 1 if a frame was emitted. */
  flush(): number {
    if (this.pendingLen === 0) return 0;
    const frame = this.pending as Buffer; // already zero-filled past pendingLen
    this.pending = undefined;
    this.pendingLen = 0;
    this.sink.onFrame(frame);
    if (this.sinkCopies) this.spare = frame;
    return 1;
  }

  /** Drop any partial frame. */
  reset(): void {
    this.pending = undefined;
    this.pendingLen = 0;
  }
}
