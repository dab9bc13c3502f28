/**
 * Egress path for one reply: PCM chunks of any size and any rate → streaming resample to the leg rate → exact 20 ms
 * frames (the last one padded with silence) → the pacer, with back-pressure so a long reply never queues unbounded.
 */
import { StreamResampler } from '../audio/resampler.js';
import { Reframer, type FrameSink } from '../audio/reframer.js';
import type { Pacer } from './pacer.js';

/** Pacer queue depth (frames) above which the writer waits, and the depth it waits for. */
const HIGH_WATER_FRAMES = 250;
const LOW_WATER_FRAMES = 100;
/** Largest piece (samples at the input rate) resampled at once, so one huge chunk cannot block the loop. */
const PIECE_SAMPLES = 24000;

export class ReplyWriter implements FrameSink {
  private readonly pacer: Pacer;
  private readonly legRateHz: number;
  private readonly reframer: Reframer;
  private resampler: StreamResampler | undefined;
  private framesWritten = 0;
  private rejected = false;
  private done = false;

  constructor(pacer: Pacer, legRateHz: number, frameBytes: number, replyId: number) {
    this.pacer = pacer;
    this.legRateHz = legRateHz;
    // The pacer copies each frame into its ring, so the reframer may hand over views and allocate nothing per frame.
    this.reframer = new Reframer(frameBytes, this, true);
    pacer.beginSegment(replyId);
  }

  /** Frames handed to the pacer so far. */
  get frames(): number {
    return this.framesWritten;
  }

  onFrame(frame: Buffer): void {
    if (this.pacer.enqueue(frame)) this.framesWritten++;
    else this.rejected = true;
  }

  /** Write one chunk. Resolves when the pacer has room for more (or immediately). */
  async write(audio: Int16Array, sampleRateHz: number, signal: AbortSignal): Promise<void> {
    if (this.done || signal.aborted) return;
    if (!this.resampler || this.resampler.inRateHz !== sampleRateHz) {
      this.flushResampler();
      this.resampler = new StreamResampler(sampleRateHz, this.legRateHz);
    }
    for (let off = 0; off < audio.length && !signal.aborted; off += PIECE_SAMPLES) {
      const out = this.resampler.process(audio.subarray(off, off + PIECE_SAMPLES));
      if (out.length) this.reframer.push(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
      if (this.pacer.queuedFrames > HIGH_WATER_FRAMES) await this.pacer.waitForSpace(LOW_WATER_FRAMES);
    }
  }

  /** End the reply: flush the resampler tail and the padded last frame, then mark the segment. Idempotent. */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.flushResampler();
    this.reframer.flush();
    this.pacer.endSegment();
  }

  /** Abandon the reply (barge-in or call end): release native state; the pacer has already been cleared. */
  abort(): void {
    this.done = true;
    this.reframer.reset();
    this.resampler?.close();
    this.resampler = undefined;
  }

  /** True if the pacer refused a frame (its queue was full). */
  get overflowed(): boolean {
    return this.rejected;
  }

  private flushResampler(): void {
    if (!this.resampler) return;
    const tail = this.resampler.flush();
    if (tail.length) this.reframer.push(Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength));
    this.resampler.close();
    this.resampler = undefined;
  }
}
