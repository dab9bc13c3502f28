/**
 * One call's stereo recording: caller on the left channel, bot on the right, 16-bit at the leg rate, both sides on
 * the gateway's shared 20 ms clock.
 *
 * Time model: the session calls {@link CallRecorder.tick} on every tick of the shared clock, which advances the
 * current slot (`nowSlot`, one per 20 ms). Each side has a cursor: a frame goes into the slot after the side's
 * previous frame while the side keeps streaming; a side that gave nothing for more than `slackFrames` slots (or fell
 * that far behind the clock) starts again at the current slot, and the slots it skipped stay silent. So a caller whose
 * frames arrive a little early or late is recorded contiguously (byte-exact), a bot reply the pacer sends ahead of
 * playout (its lead) is laid out one frame per slot as Vonage plays it, and the two sides are aligned to within
 * `slackFrames` × 20 ms (60 ms by default).
 *
 * Memory: the slots are accumulated in 1 s blocks (reused buffers, a small bounded pool); a block whose slots are all
 * in the past is handed to the {@link BlockWriter} (async positional writes). Per frame the work is one interleaving
 * copy into the current block: no allocation, no closures, no I/O.
 *
 * Bounds and drops (all counted in {@link RecorderStats}): a frame more than `windowBlocks` blocks ahead of the
 * current one (a sender far faster than real time) is dropped; when the write queue is full (the disk is behind) a
 * whole block is dropped and its range in the file reads back as silence.
 */
import { BlockWriter, type RecordingIo } from './block-writer.js';

export interface RecorderOptions {
  sampleRateHz: number;
  /** Bytes of one 20 ms mono frame at the leg rate. */
  frameBytes: number;
  /** Slots per block (50 = 1 s); the header is patched after each block. */
  blockFrames?: number;
  /** Blocks that may be accumulating at once (the current one and those ahead of it). */
  windowBlocks?: number;
  /** Blocks that may wait for the disk before new ones are dropped. */
  queueBlocks?: number;
  /** How far (slots) a side may lag the clock and still be recorded contiguously. */
  slackFrames?: number;
  io?: RecordingIo;
}

export interface RecorderStats {
  /** Caller frames placed in the recording. */
  framesIn: number;
  /** Bot frames placed in the recording. */
  framesOut: number;
  /** Frames dropped: too far ahead of the clock, or no block buffer free. */
  framesDropped: number;
  /** Blocks the disk could not take in time (the queue was full) or that failed to write. */
  blocksDropped: number;
  /** Bytes of audio dropped (blocks dropped × block size, plus dropped frames). */
  bytesDropped: number;
}

/** Shared, never-written zero blocks (a block in which neither side spoke), by size. */
const zeroBlocks = new Map<number, Buffer>();
function zeroBlock(bytes: number): Buffer {
  let b = zeroBlocks.get(bytes);
  if (!b) zeroBlocks.set(bytes, (b = Buffer.alloc(bytes)));
  return b;
}

export class CallRecorder {
  readonly stats: RecorderStats = { framesIn: 0, framesOut: 0, framesDropped: 0, blocksDropped: 0, bytesDropped: 0 };
  readonly writer: BlockWriter;
  private readonly frameBytes: number;
  private readonly blockFrames: number;
  private readonly blockBytes: number;
  private readonly window: number;
  private readonly slack: number;
  private readonly maxBuffers: number;
  private readonly ring: (Buffer | undefined)[];
  private readonly pool: Buffer[] = [];
  private allocated = 0;
  /** The current 20 ms slot of the shared clock, counted from the start of the recording. */
  private nowSlot = 0;
  /** Index of the oldest block not yet handed to the writer. */
  private blockBase = 0;
  private inCursor = 0;
  private outCursor = 0;
  /** The slot (of the clock) in which each side last gave a frame. */
  private inSeen = -1e9;
  private outSeen = -1e9;
  private ended = false;
  private readonly releaseBound = (buf: Buffer) => this.release(buf);

  constructor(o: RecorderOptions) {
    this.frameBytes = o.frameBytes;
    this.blockFrames = o.blockFrames ?? 50;
    this.blockBytes = this.blockFrames * o.frameBytes * 2;
    this.window = o.windowBlocks ?? 3;
    this.slack = o.slackFrames ?? 3;
    const queue = o.queueBlocks ?? 4;
    this.maxBuffers = this.window + queue;
    this.ring = new Array<Buffer | undefined>(this.window).fill(undefined);
    this.writer = new BlockWriter(o.sampleRateHz, 2, queue, o.io);
  }

  /** Slots of audio in the recording so far (its duration / 20 ms). */
  get slots(): number {
    return Math.max(this.nowSlot, this.inCursor, this.outCursor);
  }

  /** Block buffers currently allocated (memory: `buffers × blockBytes`). */
  get buffers(): number {
    return this.allocated;
  }

  /** One caller frame, as the jitter buffer hands it on. */
  pushIn(frame: Buffer): void {
    this.inCursor = this.place(frame, 0, this.inCursor, this.inSeen);
    this.inSeen = this.nowSlot;
  }

  /** One bot frame, as the pacer sends it. */
  pushOut(frame: Buffer): void {
    this.outCursor = this.place(frame, 2, this.outCursor, this.outSeen);
    this.outSeen = this.nowSlot;
  }

  /** The shared clock ticked (`periods` slots passed): hand finished blocks to the writer. */
  tick(periods: number): void {
    if (this.ended) return;
    this.nowSlot += periods;
    const bf = this.blockFrames;
    while ((this.blockBase + 1) * bf + this.slack <= this.nowSlot) this.flush(this.blockBase++, bf, false);
  }

  /** Flush everything up to the last slot and close the file. Resolves when the file is complete. Idempotent. */
  end(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      const last = this.slots;
      const bf = this.blockFrames;
      while (this.blockBase * bf < last) {
        const b = this.blockBase++;
        this.flush(b, Math.min(bf, last - b * bf), true);
      }
      for (let i = 0; i < this.ring.length; i++) {
        const buf = this.ring[i];
        this.ring[i] = undefined;
        if (buf) this.release(buf);
      }
    }
    return this.writer.finish(this.slots * this.frameBytes * 2);
  }

  /** Copy one mono frame into its slot's channel (`chanByte` 0 = left, 2 = right). Returns the new cursor. */
  private place(frame: Buffer, chanByte: number, cursor: number, seen: number): number {
    if (this.ended) return cursor;
    let slot = cursor;
    // A side that was silent for longer than the slack (or fell that far behind) rejoins the clock's current slot;
    // one that keeps streaming continues contiguously (its frames arrive a little early or late, never lost).
    const now = this.nowSlot;
    // Never backwards: a side still ahead of the clock (a burst, the pacer's lead) keeps its place.
    if (slot < now && (seen + this.slack < now || slot + this.slack < now)) slot = now;
    const block = Math.floor(slot / this.blockFrames);
    if (block >= this.blockBase + this.window || frame.length !== this.frameBytes) {
      this.dropFrame();
      return cursor;
    }
    const ri = block % this.window;
    let buf = this.ring[ri];
    if (!buf) {
      buf = this.take();
      if (!buf) {
        this.dropFrame();
        return slot + 1;
      }
      this.ring[ri] = buf;
    }
    // Interleave: sample i of the frame → bytes (i * 4 + chanByte, +1) of the slot.
    let o = (slot - block * this.blockFrames) * this.frameBytes * 2 + chanByte;
    const n = this.frameBytes;
    for (let i = 0; i < n; i += 2) {
      buf[o] = frame[i]!;
      buf[o + 1] = frame[i + 1]!;
      o += 4;
    }
    if (chanByte === 0) this.stats.framesIn++;
    else this.stats.framesOut++;
    return slot + 1;
  }

  private dropFrame(): void {
    this.stats.framesDropped++;
    this.stats.bytesDropped += this.frameBytes;
  }

  /** Hand block `b` (its first `frames` slots) to the writer. */
  private flush(b: number, frames: number, force: boolean): void {
    const ri = b % this.window;
    const buf = this.ring[ri];
    this.ring[ri] = undefined;
    const length = frames * this.frameBytes * 2;
    const data = buf ?? zeroBlock(this.blockBytes);
    const ok = this.writer.enqueue(data, length, b * this.blockBytes, buf ? this.releaseBound : undefined, force);
    if (!ok) {
      this.stats.blocksDropped++;
      this.stats.bytesDropped += length;
      if (buf) this.release(buf);
    }
  }

  private take(): Buffer | undefined {
    const b = this.pool.pop();
    if (b) return b;
    if (this.allocated >= this.maxBuffers) return undefined;
    this.allocated++;
    return Buffer.alloc(this.blockBytes);
  }

  private release(buf: Buffer): void {
    buf.fill(0);
    if (!this.ended) this.pool.push(buf);
  }
}
