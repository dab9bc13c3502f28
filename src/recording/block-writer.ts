/**
 * Writes one recording's audio blocks to an open file descriptor, off the 20 ms loop: positional `fs.write`s, one at a
 * time, from a bounded FIFO queue. After every block the WAV header's RIFF and data sizes are patched, so the file on
 * disk is a complete, playable WAV after each block (about once a second) — a process killed with SIGKILL loses at
 * most the block being accumulated (≤ 1 s) plus any blocks still queued, never the header.
 *
 * Overflow policy: when the queue is full (the disk is behind), the new block is refused and counted by the caller;
 * its file range stays a hole, which reads back as silence once a later block is written (the timeline is kept).
 */
import { close as fsClose, write as fsWrite } from 'node:fs';
import { encodeWav } from '../audio/wav.js';

export const WAV_HEADER_BYTES = 44;
const SILENT_SAMPLE = Buffer.alloc(4);

/** The file operations the writer uses (node:fs by default; tests inject a slow or failing disk). */
export interface RecordingIo {
  write(fd: number, buf: Buffer, offset: number, length: number, position: number, cb: (err: Error | null) => void): void;
  close(fd: number, cb: (err: Error | null) => void): void;
}

export const fsIo: RecordingIo = {
  write: (fd, buf, offset, length, position, cb) => fsWrite(fd, buf, offset, length, position, (err) => cb(err)),
  close: (fd, cb) => fsClose(fd, (err) => cb(err)),
};

interface Job {
  buf: Buffer;
  length: number;
  /** Byte offset of the block in the data chunk. */
  dataOffset: number;
  /** Called once the buffer is no longer in use (written or failed). */
  release: ((buf: Buffer) => void) | undefined;
}

export class BlockWriter {
  private readonly io: RecordingIo;
  private readonly capacity: number;
  private readonly header: Buffer;
  private fd = -1;
  private queue: Job[] = [];
  private busy = false;
  private ending = false;
  private closedFlag = false;
  private failed: Error | undefined;
  /** Data bytes the finished recording must span (its duration), set by finish(). */
  private totalBytes = 0;
  private finishWaiters: Array<() => void> = [];
  /** Bytes of the data chunk covered by completed writes (the header's data size). */
  dataBytes = 0;
  blocksWritten = 0;
  /** Writes that failed (disk full, I/O error); the first error is kept in {@link error}. */
  writeErrors = 0;

  /** @param capacityBlocks queued blocks allowed before new ones are refused. */
  constructor(sampleRateHz: number, channels: number, capacityBlocks: number, io: RecordingIo = fsIo) {
    this.io = io;
    this.capacity = capacityBlocks;
    this.header = encodeWav(new Int16Array(0), sampleRateHz, channels);
  }

  get error(): Error | undefined {
    return this.failed;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** The file is open: write the header, then whatever was queued meanwhile. */
  attach(fd: number): void {
    this.fd = fd;
    this.busy = true;
    this.patchHeader(); // a valid (empty) WAV from the first moment
  }

  /**
   * Queue a block. Returns false (block refused, nothing kept) when the queue is full or the writer has failed or
   * ended; `force` ignores the capacity (the last blocks at close, bounded by the caller's window).
   */
  enqueue(buf: Buffer, length: number, dataOffset: number, release: ((buf: Buffer) => void) | undefined, force = false): boolean {
    if (this.closedFlag || this.failed || (!force && this.queue.length >= this.capacity)) return false;
    this.queue.push({ buf, length, dataOffset, release });
    this.pump();
    return true;
  }

  /**
   * No more blocks: resolves once everything queued is written, the header patched and the fd closed. If the last
   * blocks were dropped, the file is still extended to `totalDataBytes` (the gap reads back as silence).
   */
  finish(totalDataBytes = 0): Promise<void> {
    this.ending = true;
    if (totalDataBytes > this.totalBytes) this.totalBytes = totalDataBytes;
    return new Promise((resolve) => {
      this.finishWaiters.push(resolve);
      this.pump();
    });
  }

  /** Give up on an fd that never opened: release queued buffers and resolve finish(). */
  abandon(err: Error): void {
    if (!this.failed) this.failed = err;
    this.ending = true;
    this.pump();
  }

  private pump(): void {
    if (this.busy || this.closedFlag) return;
    if (this.fd < 0 && !this.failed) return; // not open yet
    const job = this.queue.shift();
    if (job) {
      if (this.failed) {
        job.release?.(job.buf);
        return this.pump();
      }
      this.busy = true;
      this.io.write(this.fd, job.buf, 0, job.length, WAV_HEADER_BYTES + job.dataOffset, (err) => {
        job.release?.(job.buf);
        if (err) return this.onError(err);
        this.blocksWritten++;
        const end = job.dataOffset + job.length;
        if (end > this.dataBytes) this.dataBytes = end;
        this.patchHeader();
      });
      return;
    }
    if (!this.ending) return;
    if (!this.failed && this.fd >= 0 && this.totalBytes > this.dataBytes) {
      // The tail was dropped (the disk was behind): one silent sample at the very end makes the file span the call.
      this.queue.push({ buf: SILENT_SAMPLE, length: 4, dataOffset: this.totalBytes - 4, release: undefined });
      return this.pump();
    }
    // Queue empty and no more coming: final header, then close.
    this.closedFlag = true;
    const done = () => {
      const w = this.finishWaiters;
      this.finishWaiters = [];
      for (const f of w) f();
    };
    if (this.fd < 0) return done();
    const fd = this.fd;
    this.fd = -1;
    this.io.close(fd, () => done());
  }

  /** Rewrite the 44-byte header with the current sizes (serialised with the block writes, so never torn). */
  private patchHeader(): void {
    const h = this.header;
    h.writeUInt32LE(36 + this.dataBytes, 4);
    h.writeUInt32LE(this.dataBytes, 40);
    this.io.write(this.fd, h, 0, WAV_HEADER_BYTES, 0, (err) => {
      this.busy = false;
      if (err) return this.onError(err);
      this.pump();
    });
  }

  private onError(err: Error): void {
    this.busy = false;
    this.writeErrors++;
    if (!this.failed) this.failed = err;
    this.pump();
  }
}
