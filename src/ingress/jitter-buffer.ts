/**
 * Ingress jitter buffer: absorbs bursty arrival of Vonage's 20 ms frames and hands them on at a steady cadence, one
 * per tick of the shared {@link Ticker}.
 *
 * - Bounded ring of `capacityFrames`; on overflow the **oldest** frame is dropped (inbound audio is never paused).
 * - Playout starts once `targetFrames` are queued (priming). An empty buffer at a playout tick is an **underrun**:
 *   the slot is reported as a gap (silence handed on when `fillSilence`), and the buffer re-primes to the target.
 * - When the depth stays above the target by more than two frames (the sender's clock runs fast, or a burst), one
 *   extra frame is handed on per tick until it is back, so latency does not creep up.
 * - A smaller standing excess is shed too: when the depth left after each tick's playout never fell below the target
 *   during a whole window of {@link STANDING_WINDOW_TICKS} ticks (steady playout leaves `target − 1`: one frame more
 *   stood in the buffer all along, not absorbing any jitter), one extra frame is handed on. Without it a burst of
 *   arrivals left the depth one or two frames over the target for the rest of the call (measured: ingress p50 73 ms at
 *   200 legs with a 60 ms target, `bench/README.md`). Arrival that really jitters dips the depth inside every window,
 *   so nothing is shed from it (a CoDel-style standing-queue test: the window's minimum, not its mean).
 * - Interarrival jitter per RFC 3550 §6.4.1 (J += (|D| − J)/16), in ms, with the frame index as the media clock.
 *
 * - `targetFrames: 0` is pass-through: a frame is handed on the moment it arrives (lowest latency, no smoothing); the
 *   ticks then only detect slots in which nothing arrived (gaps).
 *
 * No allocation per frame: frames are the buffers the socket delivered (or the reframer produced), passed by reference.
 */
export interface JitterSink {
  /** A frame for this 20 ms slot. `receivedAtMs` is when the socket delivered it (for ingress latency). */
  onFrame(frame: Buffer, receivedAtMs: number): void;
  /** No frame for this slot. `silence` is a zero frame when `fillSilence` is on, else undefined. */
  onGap(silence: Buffer | undefined): void;
}

export interface JitterBufferOptions {
  frameBytes: number;
  frameMs?: number;
  /** Depth to reach before playout starts (0 = play as soon as a frame is there). */
  targetFrames: number;
  capacityFrames: number;
  fillSilence: boolean;
}

export interface JitterStats {
  framesIn: number;
  framesOut: number;
  depth: number;
  maxDepth: number;
  /** Starvation episodes. */
  underruns: number;
  /** Slots with no frame while playing (each underrun tick). */
  gapFrames: number;
  /** Frames dropped because the buffer was full. */
  overruns: number;
  /** Frames that arrived after their playout slot had passed. */
  lateFrames: number;
  /** Extra frames handed on to shed excess depth. */
  drainedFrames: number;
  /** RFC 3550 interarrival jitter, ms. */
  jitterMs: number;
}

/** The window over which a standing excess of depth is judged (1 s of 20 ms ticks). */
export const STANDING_WINDOW_TICKS = 50;

export class JitterBuffer {
  private readonly ring: (Buffer | undefined)[];
  private readonly arrivals: Float64Array;
  private head = 0;
  private count = 0;
  private readonly cap: number;
  private readonly target: number;
  private readonly frameMs: number;
  private readonly silence: Buffer | undefined;
  private readonly sink: JitterSink;
  private playing = false;
  /** Pass-through mode: frames delivered since the last tick. */
  private passedSinceTick = 0;
  /** The previous slot was a gap (one underrun episode spans consecutive gap slots). */
  private inGap = false;
  private missedSlots = 0;
  private seq = -1;
  private lastTransit = 0;
  /** Ticks of the current standing-excess window, and the lowest depth left after playout in it. */
  private windowTicks = 0;
  private windowMin = Infinity;
  readonly stats: JitterStats = {
    framesIn: 0,
    framesOut: 0,
    depth: 0,
    maxDepth: 0,
    underruns: 0,
    gapFrames: 0,
    overruns: 0,
    lateFrames: 0,
    drainedFrames: 0,
    jitterMs: 0,
  };

  constructor(opts: JitterBufferOptions, sink: JitterSink) {
    if (opts.capacityFrames < opts.targetFrames + 2) throw new RangeError('capacityFrames must exceed targetFrames + 1');
    this.cap = opts.capacityFrames;
    this.target = opts.targetFrames;
    this.frameMs = opts.frameMs ?? 20;
    this.ring = new Array<Buffer | undefined>(this.cap).fill(undefined);
    this.arrivals = new Float64Array(this.cap);
    this.silence = opts.fillSilence ? Buffer.alloc(opts.frameBytes) : undefined;
    this.sink = sink;
  }

  get depth(): number {
    return this.count;
  }

  /** Queue one exact frame that arrived at `arrivalMs`. */
  push(frame: Buffer, arrivalMs: number): void {
    const s = this.stats;
    s.framesIn++;
    // RFC 3550 jitter: transit = arrival − media time; D = difference of successive transits.
    this.seq++;
    const transit = arrivalMs - this.seq * this.frameMs;
    if (this.seq > 0) {
      const d = transit - this.lastTransit;
      s.jitterMs += ((d < 0 ? -d : d) - s.jitterMs) / 16;
    }
    this.lastTransit = transit;
    if (this.missedSlots > 0) {
      this.missedSlots--;
      s.lateFrames++;
    }
    if (this.target === 0 && this.count === 0) {
      this.passedSinceTick++;
      this.inGap = false;
      s.framesOut++;
      this.sink.onFrame(frame, arrivalMs);
      return;
    }
    if (this.count === this.cap) {
      // Drop oldest: the freshest audio matters most to a live conversation.
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.cap;
      this.count--;
      s.overruns++;
    }
    const tail = (this.head + this.count) % this.cap;
    this.ring[tail] = frame;
    this.arrivals[tail] = arrivalMs;
    this.count++;
    s.depth = this.count;
    if (this.count > s.maxDepth) s.maxDepth = this.count;
  }

  /** One (or `periods`) playout slot(s) of the shared clock. */
  tick(periods = 1): void {
    if (this.target === 0) {
      // Pass-through: a slot with no arrival since the last tick is a gap (bounded by the periods elapsed).
      const missing = periods - this.passedSinceTick;
      this.passedSinceTick = 0;
      if (this.stats.framesOut > 0) for (let p = 0; p < missing; p++) this.gapSlot();
      this.stats.depth = this.count;
      return;
    }
    for (let p = 0; p < periods; p++) this.slot();
    // Shed excess depth one frame per tick.
    if (this.playing && this.count > this.target + 2) {
      this.stats.drainedFrames++;
      this.deliver();
    }
    this.standing();
    this.stats.depth = this.count;
  }

  /** The standing-excess test (see the class comment), once per tick after playout. */
  private standing(): void {
    if (!this.playing) {
      this.windowTicks = 0;
      this.windowMin = Infinity;
      return;
    }
    if (this.count < this.windowMin) this.windowMin = this.count;
    if (++this.windowTicks < STANDING_WINDOW_TICKS) return;
    if (this.windowMin >= this.target && this.count > 0) {
      this.stats.drainedFrames++;
      this.deliver();
    }
    this.windowTicks = 0;
    this.windowMin = Infinity;
  }

  /** Forget everything queued (call end). */
  clear(): void {
    for (let i = 0; i < this.cap; i++) this.ring[i] = undefined;
    this.head = 0;
    this.count = 0;
    this.playing = false;
    this.stats.depth = 0;
  }

  private slot(): void {
    if (!this.playing) {
      if (this.count === 0 || this.count < this.target) {
        if (this.stats.framesOut > 0 && this.silence) this.sink.onGap(this.silence);
        return;
      }
      this.playing = true;
    }
    if (this.count === 0) {
      this.gapSlot();
      this.playing = false;
      return;
    }
    this.deliver();
  }

  private gapSlot(): void {
    const s = this.stats;
    if (s.gapFrames === 0 || !this.inGap) s.underruns++;
    this.inGap = true;
    s.gapFrames++;
    if (this.missedSlots < this.cap) this.missedSlots++;
    this.sink.onGap(this.silence);
  }

  private deliver(): void {
    this.inGap = false;
    const i = this.head;
    const frame = this.ring[i] as Buffer;
    this.ring[i] = undefined;
    this.head = (i + 1) % this.cap;
    this.count--;
    this.stats.framesOut++;
    this.sink.onFrame(frame, this.arrivals[i]!);
  }
}
