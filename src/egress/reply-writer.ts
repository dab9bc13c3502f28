/**
 * Egress path for one reply: PCM chunks of any size and any rate → streaming resample to the leg rate → exact 20 ms
 * frames (the last one padded with silence) → the pacer, **as the pacer needs them**: at most {@link AHEAD_FRAMES}
 * queued ahead of what it has sent (less at a reply's start, {@link START_AHEAD_FRAMES}), refilled when about
 * {@link REFILL_FRAMES} are left. A chunk of many seconds (a cached greeting comes whole) is resampled and cut piece
 * by piece while it plays, not at once: when a hundred calls are answered together, their greetings' work is spread
 * over the greetings' duration instead of landing in the one 20 ms period they started in (bench/README.md, in-phase
 * burst). What the writer holds is told to the pacer ({@link Pacer.setHeld}), so an interrupted reply still reports
 * its whole length.
 */
import { StreamResampler } from '../audio/resampler.js';
import { Reframer, type FrameSink } from '../audio/reframer.js';
import type { Pacer } from './pacer.js';

/** Pacer queue depth (frames) above which the writer waits (1 s), and the depth it waits for (0.5 s on average). */
export const AHEAD_FRAMES = 50;
export const REFILL_FRAMES = 25;
/**
 * Each writer waits for a depth drawn from `REFILL_FRAMES ± REFILL_SPREAD`: calls answered together (in phase) would
 * otherwise all refill in the same 20 ms period every half second, a small burst each time (bench:burst).
 */
const REFILL_SPREAD = 12;
/** Audio resampled and cut at once (ms at the input rate): half the refill, so one wake-up does a bounded amount. */
const PIECE_MS = 250;
/**
 * A reply that comes in a long chunk (a cached greeting comes whole) starts with one piece queued (~12 frames, 240 ms:
 * the pacer sends 2 frames in its first tick and grows the lead a frame a tick), not the whole {@link AHEAD_FRAMES}:
 * the rest follows over the next ticks, the cap doubling per wait (5, 10, 20, 40, then {@link AHEAD_FRAMES}; 5 is
 * under what a piece makes, even the first one, which the resampler's delay shortens), each wait for a depth drawn at
 * random between 2 and half the cap. A hundred greetings started in one 20 ms period (calls answered together) then
 * cut and queue a fifth of what they did in that period, and their next pieces land in different periods
 * (bench/README.md, in-phase burst).
 */
export const START_AHEAD_FRAMES = 5;

export class ReplyWriter implements FrameSink {
  private readonly pacer: Pacer;
  private readonly legRateHz: number;
  private readonly reframer: Reframer;
  private resampler: StreamResampler | undefined;
  private framesWritten = 0;
  private rejected = false;
  private done = false;
  private readonly refillFrames = REFILL_FRAMES - REFILL_SPREAD + Math.floor(Math.random() * (2 * REFILL_SPREAD + 1));
  /** Queue depth above which the writer waits within a chunk: {@link START_AHEAD_FRAMES} at first, doubled per wait. */
  private ahead = START_AHEAD_FRAMES;

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
    const piece = Math.max(1, Math.round((sampleRateHz * PIECE_MS) / 1000));
    /** Input samples per leg frame: what the rest of the chunk will make, for {@link Pacer.setHeld}. */
    const perFrame = (sampleRateHz * 20) / 1000;
    for (let off = 0; off < audio.length && !signal.aborted; off += piece) {
      const out = this.resampler.process(audio.subarray(off, off + piece));
      if (out.length) this.reframer.push(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
      const rest = audio.length - off - piece;
      this.pacer.setHeld(rest > 0 ? Math.ceil(rest / perFrame) : 0);
      const queued = this.pacer.queuedFrames;
      if (queued > AHEAD_FRAMES) await this.pacer.waitForSpace(this.refillFrames);
      // The start's smaller cap holds back only what is left of a long chunk (a cached greeting): a reply streamed in
      // short chunks is handed over as each comes, as before.
      else if (rest > 0 && queued > this.ahead) await this.startWait();
    }
  }

  /** At a reply's start: wait for a depth drawn below the current cap, and double the cap. */
  private startWait(): Promise<void> {
    const below = 2 + Math.floor(Math.random() * ((this.ahead >> 1) - 1));
    this.ahead = Math.min(AHEAD_FRAMES, this.ahead * 2);
    return this.pacer.waitForSpace(below);
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
