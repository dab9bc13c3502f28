/**
 * Keeps the caller's current utterance (with a short pre-roll, so the onset is not clipped) for bots that want the
 * audio. Frames are kept by reference (they are the session's to keep); bounded by `maxMs`.
 */
export class UtteranceCapture {
  private readonly preroll: (Buffer | undefined)[];
  private preHead = 0;
  private frames: Buffer[] = [];
  private capturing = false;
  private readonly maxFrames: number;

  constructor(prerollMs: number, maxMs: number) {
    this.preroll = new Array(Math.max(1, Math.round(prerollMs / 20))).fill(undefined);
    this.maxFrames = Math.round(maxMs / 20);
  }

  /** Every frame, in order. */
  push(frame: Buffer): void {
    if (this.capturing) {
      if (this.frames.length < this.maxFrames) this.frames.push(frame);
      return;
    }
    this.preroll[this.preHead] = frame;
    this.preHead = (this.preHead + 1) % this.preroll.length;
  }

  /** Speech started (the frames that triggered it are already in the pre-roll). */
  start(): void {
    this.capturing = true;
    const n = this.preroll.length;
    for (let i = 0; i < n; i++) {
      const f = this.preroll[(this.preHead + i) % n];
      if (f) this.frames.push(f);
      this.preroll[(this.preHead + i) % n] = undefined;
    }
  }

  /** Speech ended: the utterance as one PCM array, minus `trimTailMs` of trailing silence. */
  finish(trimTailMs: number): Int16Array {
    this.capturing = false;
    const keep = Math.max(0, this.frames.length - Math.floor(trimTailMs / 20));
    let bytes = 0;
    for (let i = 0; i < keep; i++) bytes += this.frames[i].length;
    const out = new Int16Array(bytes >> 1);
    const view = Buffer.from(out.buffer);
    let off = 0;
    for (let i = 0; i < keep; i++) off += this.frames[i].copy(view, off);
    this.frames = [];
    return out;
  }

  clear(): void {
    this.capturing = false;
    this.frames = [];
    this.preroll.fill(undefined);
  }
}
