/**
 * Egress pacer for one leg: exact 20 ms frames out at real-time pace from the shared {@link Ticker}, keeping only a
 * small lead queued at Vonage so that {@link Pacer.clear} silences the caller at once.
 *
 * Playout model: Vonage plays one frame per 20 ms from the moment the first frame of a run reaches it. The pacer keeps a
 * virtual playout position (`played`) that advances one frame per tick while frames are outstanding, and sends while
 * `sent − played < leadFrames`. Each reply is a **segment**; after a segment's last frame the pacer sends a Vonage
 * `notify` marker, and Vonage's `websocket:notify` echo says the caller heard all of it. On `clear()` the heard part of
 * an interrupted segment is estimated from the virtual position (at most `leadFrames` off, by construction).
 *
 * The pacer is registered on the ticker only while it has something to do, so idle legs cost nothing per tick.
 *
 * **Pause** (barge-in "pause, then decide"): {@link Pacer.pause} stops sending at once and silences the caller at
 * once too: Vonage is told to drop what it holds (`clear`), and the frames of the lead it dropped (≤ `leadFrames`, not
 * yet played by the model) go back to the front of the queue — their bytes are still in the ring, which keeps more
 * than the lead behind its head. {@link Pacer.resume} then sends from exactly the first frame the caller did not hear
 * (none lost, none repeated, to the model's accuracy) and refills the lead in the same call. A segment whose notify
 * marker was among the dropped frames is marked again after its last frame (a duplicate echo is ignored). With a lead
 * longer than the ring keeps (a tiny watermark), the pause is soft: the lead plays out. A paused pacer leaves the
 * ticker (nothing to do until resume); `clear()` while paused works as always and also ends the pause.
 *
 * Queued audio is **copied into one ring buffer** owned by the pacer (grown by doubling, never past the capacity), and
 * a frame is sent as a short-lived view of it. Keeping a reply's frames as separate Buffers kept thousands of objects
 * alive for a second or more across young-generation GCs at a few hundred legs (see bench/README.md). A view handed to
 * the socket stays valid until the socket has flushed it: a slot is reused only after more frames than the socket may
 * hold unsent (`watermarkBytes`) have been sent since.
 */
import type { TickListener, Ticker } from '../util/ticker.js';
import type { Clock } from '../util/clock.js';

/** Where frames go (the leg). */
export interface PacerSink {
  /** Send one binary frame. */
  sendFrame(frame: Buffer): void;
  /** Send one text message (JSON already serialised). */
  sendText(text: string): void;
  /** Bytes the socket has not yet flushed. */
  readonly bufferedAmount: number;
}

/** What the pacer tells its owner (the call session). Called synchronously; must not throw. */
export interface PacerEvents {
  /** The first frame of a segment went out at `atMs`. */
  onSegmentStart(segmentId: number, atMs: number): void;
  /** The caller heard the whole segment (Vonage echoed its notify). */
  onSegmentPlayed(segmentId: number, frames: number): void;
  /** The segment was cut by `clear()`; `heardFrames` of `frames` were (estimated to be) played. */
  onSegmentInterrupted(segmentId: number, heardFrames: number, frames: number): void;
}

export interface PacerOptions {
  frameBytes: number;
  /** Frames kept queued at Vonage ahead of playout (100 ms = 5). */
  leadFrames: number;
  /** Frames the pacer itself may hold (bounded; overflow rejects the newest frame). */
  capacityFrames: number;
  /** Socket `bufferedAmount` past which a frame is dropped instead of sent. */
  watermarkBytes: number;
}

export interface PacerStats {
  framesSent: number;
  /** Frames dropped because the socket's buffer was past the watermark. */
  framesDroppedBackpressure: number;
  /** Frames refused because the pacer queue was full. */
  framesRejectedFull: number;
  /** Frames dropped by clear(). */
  framesCleared: number;
  /** Ticks that had to send more than one frame to catch up (the loop was late). */
  lateSends: number;
  segmentsPlayed: number;
  segmentsInterrupted: number;
  clears: number;
  /** pause() calls that paused a running pacer, and resume() calls that resumed one. */
  pauses: number;
  resumes: number;
  /** Frames of the lead Vonage was told to drop at a pause, queued again to be sent on resume. */
  leadTakenBack: number;
  /** Segments confirmed by the playout model because Vonage never echoed their notify. */
  notifyTimeouts: number;
}

interface Segment {
  id: number;
  /** Index (in the sent sequence) of its first frame; −1 until sent. */
  firstIdx: number;
  frames: number;
  /** Frames of this segment still in our queue. */
  queued: number;
  /** Its notify marker has been sent. */
  marked: boolean;
  /** No more frames will be added. */
  ended: boolean;
  /** Frames of audio its writer holds and has not queued yet (see {@link Pacer.setHeld}). */
  held: number;
}

/**
 * The lead at Vonage grows by at most this many frames a tick: a reply's first tick sends 1 + this, then the lead
 * fills over the next ticks (5 frames: in 60 ms). Sending the whole lead at once made every reply start a burst of
 * sends (and of echo-guard reference work) five times a steady tick's, in the one tick where a hundred replies that
 * start together (answered together, or answering callers who speak in step) already meet.
 */
const LEAD_STEP = 1;
/** Idle ticks to wait for a notify echo before trusting the playout model (1 s). */
const NOTIFY_GRACE_TICKS = 50;
const NOTIFY_PREFIX = '{"action":"notify","payload":{"gw":"seg","id":';
/** Vonage's `clear` action, as sent (a sink tap compares against it). */
export const CLEAR_MESSAGE = '{"action":"clear"}';

export class Pacer implements TickListener {
  private readonly opts: PacerOptions;
  private readonly sink: PacerSink;
  private readonly ticker: Ticker;
  private readonly clock: Clock;
  private readonly events: PacerEvents;
  /** Queued frames' audio, `ringSlots` frames; allocated at the first frame, grown by doubling. */
  private ring: Buffer | undefined;
  private ringSlots = 0;
  /**
   * One view of the ring per slot, made when the slot is first sent and reused after: a `subarray` per frame sent was
   * an object per 20 ms per call for the young-generation GC (bench:alloc). Dropped with the ring it views.
   */
  private views: (Buffer | undefined)[] = [];
  /** Segment id of the frame in each slot. */
  private frameSeg = new Int32Array(0);
  /** Slots kept free ahead of the queue for frames the socket may still hold unsent (see the class comment). */
  private readonly reserveSlots: number;
  private head = 0;
  private count = 0;
  private sent = 0;
  private played = 0;
  /** Segments not yet played or interrupted, oldest first (small: a handful per call). */
  private segments: Segment[] = [];
  private waiters: Array<{ below: number; resolve: () => void }> = [];
  private closedFlag = false;
  /** Sending is paused (see the class comment): the lead drains, the queue waits. */
  private pausedFlag = false;
  readonly stats: PacerStats = {
    framesSent: 0,
    framesDroppedBackpressure: 0,
    framesRejectedFull: 0,
    framesCleared: 0,
    lateSends: 0,
    segmentsPlayed: 0,
    segmentsInterrupted: 0,
    clears: 0,
    pauses: 0,
    resumes: 0,
    leadTakenBack: 0,
    notifyTimeouts: 0,
  };
  /** Ticks spent idle while ended segments await Vonage's notify echo. */
  private idleTicks = 0;
  /** Frames this pacer may still send before its next tick ({@link LEAD_STEP}). */
  private sendBudget = 1 + LEAD_STEP;

  constructor(opts: PacerOptions, sink: PacerSink, ticker: Ticker, clock: Clock, events: PacerEvents) {
    this.opts = opts;
    this.sink = sink;
    this.ticker = ticker;
    this.clock = clock;
    this.events = events;
    this.reserveSlots = Math.ceil(opts.watermarkBytes / opts.frameBytes) + 2;
  }

  /** Frames waiting in our queue (not yet sent). */
  get queuedFrames(): number {
    return this.count;
  }

  /** Frames sent but (by the playout model) not yet played at Vonage. */
  get leadFrames(): number {
    return this.sent - this.played;
  }

  /** Sending is paused (see {@link Pacer.pause}). */
  get paused(): boolean {
    return this.pausedFlag;
  }

  /** True while audio is queued here or (by the model) still playing at Vonage. */
  get active(): boolean {
    return this.count > 0 || this.sent > this.played;
  }

  /** Open a new segment (one reply). Returns its id. */
  beginSegment(id: number): void {
    this.segments.push({ id, firstIdx: -1, frames: 0, queued: 0, marked: false, ended: false, held: 0 });
  }

  /**
   * The open segment's writer holds `frames` more frames of audio it has not queued yet (it hands audio over as the
   * pacer needs it): an interrupted segment reports them in its length, so `heard / frames` is the share of the reply
   * that was heard, not of the part queued so far.
   */
  setHeld(frames: number): void {
    const seg = this.segments[this.segments.length - 1];
    if (seg && !seg.ended) seg.held = Math.max(0, frames);
  }

  /**
   * Queue one exact frame of the newest open segment (copied: the caller keeps `frame`). Returns false if the queue is
   * full (frame rejected and counted). Sends at once when the lead at Vonage is below target, so the first frame of a
   * reply never waits for a tick.
   */
  enqueue(frame: Buffer): boolean {
    if (this.closedFlag) return false;
    const seg = this.segments[this.segments.length - 1];
    if (!seg || seg.ended) throw new Error('enqueue without an open segment');
    if (this.count === this.opts.capacityFrames) {
      this.stats.framesRejectedFull++;
      return false;
    }
    if (this.count + this.reserveSlots >= this.ringSlots) this.grow();
    const fb = this.opts.frameBytes;
    const tail = (this.head + this.count) % this.ringSlots;
    const n = frame.copy(this.ring as Buffer, tail * fb, 0, fb);
    if (n < fb) (this.ring as Buffer).fill(0, tail * fb + n, tail * fb + fb);
    this.frameSeg[tail] = seg.id;
    this.count++;
    seg.frames++;
    seg.queued++;
    if (this.pausedFlag) {
      // Nothing to send while paused: tick only while a lead (soft pause) drains (the model's position must keep moving).
      if (this.sent > this.played) this.join();
      return true;
    }
    const ticking = this.ticker.has(this);
    if (!ticking) this.sendBudget = 1 + LEAD_STEP;
    if (this.sent - this.played < this.opts.leadFrames) this.pump();
    if (!ticking) this.join();
    return true;
  }

  /** Be ticked (in the ticker's first lane: this call's frame goes out before any call's inbound work). */
  private join(): void {
    if (!this.ticker.has(this)) this.ticker.add(this, true);
  }

  /** No more frames for the current segment: its notify marker follows its last frame. */
  endSegment(): void {
    const seg = this.segments[this.segments.length - 1];
    if (!seg || seg.ended) return;
    seg.ended = true;
    seg.held = 0;
    if (seg.frames === 0) {
      this.segments.pop();
      return;
    }
    this.maybeMark(seg);
    if (!this.pausedFlag || this.sent > this.played) this.join();
  }

  /**
   * Stop sending new frames now. What is already at Vonage (≤ the lead) plays out; queued frames wait for
   * {@link Pacer.resume}. Idempotent; a no-op once closed.
   */
  pause(): void {
    if (this.closedFlag || this.pausedFlag) return;
    this.pausedFlag = true;
    this.stats.pauses++;
    const unplayed = this.sent - this.played;
    if (unplayed > 0 && unplayed < this.reserveSlots && this.ring) this.takeBackLead(unplayed);
    if (this.sent === this.played) this.ticker.delete(this);
  }

  /**
   * Hard pause: Vonage drops the `n` frames it holds, and they return to the front of the queue (their slots, just
   * behind the head, have not been reused: see the class comment), to be sent again on resume.
   */
  private takeBackLead(n: number): void {
    this.sink.sendText(CLEAR_MESSAGE);
    this.stats.leadTakenBack += n;
    this.head = (this.head - n + this.ringSlots) % this.ringSlots;
    this.count += n;
    this.sent -= n;
    for (let k = 0; k < n; k++) {
      const seg = this.segmentById(this.frameSeg[(this.head + k) % this.ringSlots]!);
      if (!seg) continue;
      seg.queued++;
      seg.marked = false;
    }
  }

  /** Continue from exactly the frame where the pause stopped, refilling the lead at once. Idempotent. */
  resume(): void {
    if (this.closedFlag || !this.pausedFlag) return;
    this.pausedFlag = false;
    this.stats.resumes++;
    if (!this.ticker.has(this)) this.sendBudget = 1 + LEAD_STEP;
    if (this.count > 0) this.pump();
    if (this.count > 0 || this.sent > this.played || this.segments.length > 0) {
      this.join();
    }
  }

  /**
   * Barge-in: drop everything queued here, tell Vonage to drop what it holds (`{"action":"clear"}`), and report the
   * heard part of each cut segment. Returns the number of frames dropped here.
   */
  clear(): number {
    if (this.closedFlag) return 0;
    const dropped = this.count;
    // The next frame goes right after the last one sent: the cleared slots are reused, the sent ones keep their bytes.
    this.count = 0;
    this.stats.framesCleared += dropped;
    const hadAudio = this.sent > this.played || dropped > 0;
    if (hadAudio) {
      this.stats.clears++;
      this.sink.sendText(CLEAR_MESSAGE);
    }
    const segs = this.segments;
    this.segments = [];
    for (const seg of segs) {
      const heard = this.heardFrames(seg);
      if (heard >= seg.frames && seg.ended) {
        this.stats.segmentsPlayed++;
        this.events.onSegmentPlayed(seg.id, seg.frames);
      } else {
        this.stats.segmentsInterrupted++;
        this.events.onSegmentInterrupted(seg.id, heard, seg.frames + seg.held);
      }
    }
    this.played = this.sent;
    this.pausedFlag = false;
    this.ticker.delete(this);
    this.releaseWaiters();
    return dropped;
  }

  /** Vonage echoed a notify payload. Returns true if it was one of ours. */
  onNotify(payload: unknown): boolean {
    if (!payload || typeof payload !== 'object') return false;
    const p = payload as { gw?: unknown; id?: unknown };
    if (p.gw !== 'seg' || typeof p.id !== 'number') return false;
    const idx = this.segments.findIndex((s) => s.id === p.id);
    if (idx < 0) return true; // already accounted for (cleared)
    // Everything up to and including this segment has played: resync the model to Vonage's truth.
    const done = this.segments.splice(0, idx + 1);
    for (const seg of done) {
      const end = seg.firstIdx + seg.frames;
      if (this.played < end) this.played = Math.min(end, this.sent);
      this.stats.segmentsPlayed++;
      this.events.onSegmentPlayed(seg.id, seg.frames);
    }
    return true;
  }

  /** Resolve once fewer than `belowFrames` frames are queued here (TTS back-pressure), or at clear/close. */
  waitForSpace(belowFrames: number): Promise<void> {
    if (this.count < belowFrames || this.closedFlag) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ below: belowFrames, resolve }));
  }

  onTick(_nowMs: number, periods: number): void {
    if (periods > 1) this.stats.lateSends++;
    const outstanding = this.sent - this.played;
    this.played += periods < outstanding ? periods : outstanding;
    if (this.pausedFlag) {
      // The lead plays out; once it has, there is nothing to do until resume() (which re-registers).
      if (this.sent === this.played) this.ticker.delete(this);
      return;
    }
    // Keep the lead (one frame per period that passed) and grow it by LEAD_STEP.
    this.sendBudget = periods + LEAD_STEP;
    this.pump();
    if (this.waiters.length) this.releaseWaiters();
    if (this.count === 0 && this.sent === this.played) {
      // Idle. Ended segments wait for Vonage's notify echo; if it never comes (a notify can be lost, e.g. cancelled
      // by a clear), the playout model's word is taken after a grace period so the session is never left waiting.
      const awaiting = this.segments.length > 0 && this.segments[0]!.marked;
      if (awaiting && ++this.idleTicks < NOTIFY_GRACE_TICKS) return;
      this.idleTicks = 0;
      if (awaiting) {
        const done = this.segments.filter((x) => x.marked);
        this.segments = this.segments.filter((x) => !x.marked);
        for (const seg of done) {
          this.stats.notifyTimeouts++;
          this.stats.segmentsPlayed++;
          this.events.onSegmentPlayed(seg.id, seg.frames);
        }
      }
      this.ticker.delete(this);
    } else this.idleTicks = 0;
  }

  /** Stop: drop the queue and unregister. Segments still open are reported as interrupted. Idempotent. */
  close(): void {
    if (this.closedFlag) return;
    const segs = this.segments;
    this.segments = [];
    for (const seg of segs) {
      const heard = this.heardFrames(seg);
      this.events.onSegmentInterrupted(seg.id, heard, seg.frames + seg.held);
    }
    this.closedFlag = true;
    this.ring = undefined;
    this.views = [];
    this.count = 0;
    this.ticker.delete(this);
    this.releaseWaiters();
  }

  private pump(): void {
    const o = this.opts;
    const fb = o.frameBytes;
    while (!this.pausedFlag && this.count > 0 && this.sent - this.played < o.leadFrames && this.sendBudget > 0) {
      this.sendBudget--;
      const i = this.head;
      const segId = this.frameSeg[i]!;
      this.head = (i + 1) % this.ringSlots;
      this.count--;
      const seg = this.segmentById(segId);
      if (seg && seg.firstIdx < 0) {
        seg.firstIdx = this.sent;
        this.events.onSegmentStart(seg.id, this.clock.now());
      }
      if (this.sink.bufferedAmount > o.watermarkBytes) {
        this.stats.framesDroppedBackpressure++;
      } else {
        this.sink.sendFrame(this.views[i] ?? (this.views[i] = (this.ring as Buffer).subarray(i * fb, i * fb + fb)));
        this.stats.framesSent++;
      }
      this.sent++;
      if (seg) {
        seg.queued--;
        this.maybeMark(seg);
      }
    }
  }

  /**
   * Make room for `count + reserveSlots + 1` slots at least: a bigger ring, the queue copied to its start — preceded by
   * the frames sent but not yet played by the model (the lead a pause may take back: they must survive the move).
   */
  private grow(): void {
    const o = this.opts;
    const fb = o.frameBytes;
    const max = o.capacityFrames + this.reserveSlots + 1;
    const slots = Math.min(max, Math.max(this.ringSlots * 2, this.count + this.reserveSlots + 32, 64));
    const ring = Buffer.allocUnsafeSlow(slots * fb);
    const seg = new Int32Array(slots);
    const back = this.ring ? Math.min(this.sent - this.played, this.reserveSlots - 1, this.ringSlots - this.count) : 0;
    const start = this.head - back + this.ringSlots;
    for (let k = 0; k < back + this.count; k++) {
      const from = (start + k) % this.ringSlots;
      (this.ring as Buffer).copy(ring, k * fb, from * fb, from * fb + fb);
      seg[k] = this.frameSeg[from]!;
    }
    // The old ring is dropped here; views of it the socket still holds keep it alive until flushed.
    this.ring = ring;
    this.views = new Array<Buffer | undefined>(slots);
    this.frameSeg = seg;
    this.ringSlots = slots;
    this.head = back;
  }

  private maybeMark(seg: Segment): void {
    if (seg.ended && !seg.marked && seg.queued === 0 && seg.frames > 0) {
      seg.marked = true;
      this.sink.sendText(NOTIFY_PREFIX + seg.id + '}}');
    }
  }

  /** Frames of `seg` the playout model says the caller has heard. */
  private heardFrames(seg: Segment): number {
    return seg.firstIdx < 0 ? 0 : Math.max(0, Math.min(seg.frames, this.played - seg.firstIdx));
  }

  private segmentById(id: number): Segment | undefined {
    const segs = this.segments;
    for (let i = 0; i < segs.length; i++) if (segs[i]!.id === id) return segs[i];
    return undefined;
  }

  private releaseWaiters(): void {
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.closedFlag || this.count < w.below) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }
}
