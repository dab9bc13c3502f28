/**
 * Echo guard: the caller's line echoes the bot's own audio back (a PSTN hybrid, a speakerphone), and the WebRTC VAD calls
 * that echo speech, so the bot would barge in on itself and then answer its own words. The gateway knows exactly what it
 * sent, so it can tell: a caller frame no louder than the echo the bot's recent output would make is **echo-only**, and
 * counts as unvoiced for barge-in and utterance start.
 *
 * Design (chosen over a sample-level adaptive filter, NLMS, because we only need a yes/no per 20 ms frame, not a
 * cleaned signal; an energy comparison costs one pass over the frame and tolerates the codecs, band-limiting and
 * resampling of a phone path that make a sample-level model diverge):
 * - **Reference timeline.** {@link EchoReferenceSink} hands every frame the pacer sends to {@link reference}, which
 *   keeps only its four 5 ms block energies in a pending queue: the frames sent ahead of playout (the pacer's lead at
 *   Vonage). Each caller frame pops one, as Vonage plays one frame per 20 ms from arrival; a `clear` empties the queue
 *   (Vonage dropped them). Reference and caller energies thus sit on one 5 ms block clock, and the echo delay is
 *   whatever the line, the network and our jitter buffer add; the pacer's lead is already taken out.
 * - **Energies** are mean squares per sample of a 300 Hz high-passed signal, on both sides, so the telephone band-limit
 *   of the return path (nothing below 300 Hz) does not make the echo look quieter than it is.
 * - **Delay and echo return loss (ERL)**: every 500 ms while the bot talks and the caller has not spoken in the last
 *   1.5 s (every 2 s once locked), {@link estimateEcho} correlates the two envelopes over 1.5 s (lags up to `maxDelayMs`) and fits the gain at
 *   the peak. A strong peak (ρ ≥ 0.5) **locks** delay and gain (kept across replies; a later strong peak replaces them).
 *   A weak peak means no coherent echo: the gain is bounded by caller/bot energy over the window (noise included).
 *   Unlocked, a window that holds the caller's voice is estimated too, and locks on a strong peak (ρ ≥ 0.6, gain
 *   ≤ −6 dB) found twice in a row at the same delay: once the VAD is trusted (below), an echoing line's echo passes
 *   for voice in every window, and waiting for a quiet one left the bot pausing on its own echo all call long.
 * - **Decision per frame** (echo-only ⇔ caller energy ≤ expected echo × margin):
 *   locked: expected = gain × the reference energy at the delay (each block's max over −10…+20 ms, for dispersion);
 *   before the first estimate (the first ½ s of bot speech): expected = the loudest reference frame within
 *   `maxDelayMs` × −10 dB (hybrids return echo ≥ 10 dB down in practice; G.168's least ERL, 6 dB, is what a fitted
 *   gain may reach once locked), no margin: echo of anything just sent is suspect unless the caller is louder (a caller
 *   talking over the bot at its own level is not, and barges in at once); an utterance that starts anyway is real speech (an echo
 *   cannot pass that rule), so its frames count as they are until it ends; and if 1 s passes with no estimate (the
 *   caller talking all along, where an echo-only line gives one at ½ s) the VAD is trusted until one can be made;
 *   no coherent echo found: expected = that bound on the gain × the loudest reference frame within `maxDelayMs`.
 *   Caller speech at a normal level over the bot is ≥ 20 dB above an echo that comes back ≥ 20 dB down, so it still
 *   barges in.
 * - **Transcripts of echo** (before the lock the echo reaches the ASR as it is, and a recogniser may transcribe it:
 *   "five", "but"). The guard follows what the ASR has been fed since its last final: nothing it suspects, an
 *   utterance of the caller's (the VAD started one: the next final is theirs, whatever came before), or frames it
 *   suspected of echo or voiced while it had no echo path (sent as they are). When a path locks, those suspects
 *   still in its rings are judged again with the fitted delay and gain (the per-frame rule, margin included): if
 *   (almost) no voiced one is louder than the echo, what the ASR heard was echo only, and {@link heardOnlyEcho} says so for the
 *   transcripts that come before the caller's next utterance; the turn state drops them (counted in
 *   `transcriptsDropped`). Voiced frames above the echo ({@link REJUDGE_VOICE_FRAMES}), an utterance of the caller's,
 *   suspects older than the rings, or no lock before the final: the transcript is kept (a caller's words are never
 *   dropped on a guess).
 * - **Cost**: nothing at all while the bot has been silent for longer than `maxDelayMs` (the guard sleeps; it wakes on
 *   the next frame sent). Awake: one pass over the caller frame (energies) plus ~30 ring reads; an estimation is
 *   O(window × lags / 4) ≈ 7 k multiply-adds at 400 ms (coarse to fine, one multiply-add per pair), every 25th frame
 *   (100th once locked; none over a silent return path). No allocation after construction but a 16-bit view per frame.
 */
import { echoScratch, estimateEcho, type EchoEstimate, type EchoScratch } from './echo-estimate.js';

export interface EchoGuardOptions {
  sampleRateHz: number;
  /** Longest echo delay searched, ms: from a frame's playout at Vonage to its echo leaving our jitter buffer. */
  maxDelayMs: number;
  /** A caller frame up to this much louder than the expected echo still counts as echo, dB. */
  marginDb: number;
}

/** Per-call figures, for the call summary. */
export interface EchoGuardStats {
  /** Caller frames the raw VAD called voiced that were judged echo-only (not counted as speech). */
  framesEcho: number;
  /** Caller frames handed to the ASR as silence (echo-only while the caller was not speaking). */
  framesMuted: number;
  /** Estimated echo delay, ms (bot frame played at Vonage → its echo out of our jitter buffer); −1 = none found. */
  delayMs: number;
  /** Estimated echo return loss (how far below the bot's audio the echo comes back), dB; −1 = none found. */
  erlDb: number;
  /** Correlation at the locked delay (0 = none). */
  rho: number;
  /** Delay estimations run. */
  estimates: number;
  /** Reference frames dropped because the caller's stream stalled while the bot kept sending (bounded queue). */
  referenceDropped: number;
  /** Final transcripts of audio that was only the bot's echo (before the lock), kept from the bot. */
  transcriptsDropped: number;
}

/** Where {@link EchoGuard} counts suppressed frames for the process metrics (the metrics' hot counters). */
export interface EchoCounters {
  echoFrames: number;
  echoTranscriptsDropped: number;
}

/** What tells the turn state that a transcript came from the bot's own echo (implemented by {@link EchoGuard}). */
export interface EchoTranscripts {
  /**
   * A transcript came from the ASR (`final`: a final, which closes what the ASR heard so far). True when all it can
   * have heard since its previous final is the bot's echo, confirmed by a locked echo path.
   */
  heardOnlyEcho(final: boolean): boolean;
}

const BLOCKS = 4;
const BLOCK_MS = 5;
const WINDOW_BLOCKS = 300;
const MIN_WINDOW_BLOCKS = 100;
const EST_EVERY_FRAMES = 25;
/** Once locked the path rarely changes (a handset moved, a call transferred): re-estimate every 2 s, not every ½ s. */
const LOCKED_EST_EVERY_FRAMES = 100;
/** Bot frames (of the window) with audio before an estimate means anything. */
const MIN_ACTIVE_FRAMES = 15;
const LOCK_RHO = 0.5;
/** A window that holds the caller's "voice" locks only on a peak this strong, found twice in a row (see maybeEstimate). */
const VOICE_LOCK_RHO = 0.6;
/** The two peaks of a lock over voice agree within this many 5 ms blocks. */
const VOICE_LOCK_LAG_BLOCKS = 2;
/** Awake frames the conservative first phase may last without an estimate (the caller talking all along): 1 s. */
const INITIAL_MAX_FRAMES = 50;
const INITIAL_GAIN = 10 ** (-6 / 10);
/**
 * Before the first estimate, caller audio within this much of the loudest frame just played is suspect: a caller who
 * talks over the bot at its own level is speech, not echo (lines return ≥ 10 dB down in practice).
 */
const INITIAL_SUSPECT_GAIN = 10 ** (-10 / 10);
/** Reference energy (mean square per sample) below which a frame is silence: −60 dBFS. */
const ACTIVE_FLOOR = 32768 * 32768 * 1e-6;
/** Frames sent but not yet played: bounded, drop oldest (the pacer's lead is 5 by default). */
const PENDING_FRAMES = 64;
/**
 * Voiced suspects louder than the fitted echo that make what the ASR heard before the lock the caller's. More than one:
 * a locked path still lets the odd voiced frame of pure echo through (≤ 5 % of them, test/vad/echo-guard.test.ts), and
 * a caller's word is several frames (the VAD's own onset needs 120 ms).
 */
const REJUDGE_VOICE_FRAMES = 3;
const LOCK_LO_BLOCKS = 2;
const LOCK_HI_BLOCKS = 4;
/**
 * The line's noise floor: the quietest caller frame of the last {@link FLOOR_CHUNKS} × {@link FLOOR_CHUNK_FRAMES} awake
 * frames (3 s, kept as the minimum of each ½ s). A frame within {@link FLOOR_MARGIN} of it is the line, never the
 * caller's voice: the WebRTC VAD goes on calling frames voiced for a while after a word ends (its hangover), and after
 * a word of the bot's echo those frames are the line's noise, louder than the faded echo the path predicts (a −40 dB
 * echo over −80 dBFS line noise: 3 to 5 such frames per greeting became "the caller's voice", and the ASR's
 * transcript of the echo was answered; test/vad/echo-guard-call.test.ts).
 */
const FLOOR_CHUNK_FRAMES = 25;
const FLOOR_CHUNKS = 6;
/** +3 dB: a stationary line's frame energies spread by about ±1 dB. */
const FLOOR_MARGIN = 2;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Estimation scratch, shared by every guard with the same longest lag: an estimation runs synchronously from start to
 * end, so one set per process is enough (about 11 KB that each call would otherwise hold).
 */
const scratches = new Map<number, EchoScratch>();
function sharedScratch(maxLagBlocks: number): EchoScratch {
  let s = scratches.get(maxLagBlocks);
  if (!s) scratches.set(maxLagBlocks, (s = echoScratch(WINDOW_BLOCKS, maxLagBlocks)));
  return s;
}

const enum Mode {
  Initial = 0,
  Locked = 1,
  Unlocked = 2,
}

/** What the ASR has been fed since its last final, as far as the guard can tell. */
const enum Heard {
  /** Nothing the guard suspected or let through as voice. */
  Nothing = 0,
  /** Frames the ASR got as they are before any lock (suspected of echo, or voiced): judged again when one locks. */
  Suspect = 1,
  /** Only echo: suspects confirmed by a locked path. */
  Echo = 2,
  /** A caller's utterance, or suspects that could not be confirmed: the next final is the caller's. */
  Caller = 3,
}

function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

/** One-pole high-pass state (300 Hz) and the sum of block mean squares it writes. */
class HighPass {
  private readonly alpha: number;
  private x = 0;
  private y = 0;
  /**
   * The frame's samples, copied (the platform is little-endian, checked once at load): a copy into one buffer per
   * filter, not a 16-bit view per frame (an object per frame per call for the young generation; bench:alloc).
   */
  private s16 = new Int16Array(0);
  private s16Bytes = new Uint8Array(0);

  constructor(rateHz: number) {
    const rc = 1 / (2 * Math.PI * 300);
    this.alpha = rc / (rc + 1 / rateHz);
  }

  /** High-pass 16-bit LE `frame` and write its BLOCKS block mean squares to `out[(at + k) & mask]`; returns their sum. */
  blocks(frame: Uint8Array, out: Float32Array, at: number, mask: number): number {
    const n = frame.length >> 1;
    let s16: Int16Array | undefined;
    if (LITTLE_ENDIAN) {
      if (this.s16Bytes.length < frame.length) {
        this.s16 = new Int16Array((frame.length + 1) >> 1);
        this.s16Bytes = new Uint8Array(this.s16.buffer);
      }
      this.s16Bytes.set(frame);
      s16 = this.s16;
    }
    const per = (n / BLOCKS) | 0;
    const alpha = this.alpha;
    let x0 = this.x;
    let y = this.y;
    let total = 0;
    let i = 0;
    for (let k = 0; k < BLOCKS; k++) {
      let s = 0;
      const stop = k === BLOCKS - 1 ? n : i + per;
      const count = stop - i;
      if (s16) {
        for (; i < stop; i++) {
          const x = s16[i]!;
          y = alpha * (y + x - x0);
          x0 = x;
          s += y * y;
        }
      } else {
        for (; i < stop; i++) {
          const x = ((frame[2 * i]! | (frame[2 * i + 1]! << 8)) << 16) >> 16;
          y = alpha * (y + x - x0);
          x0 = x;
          s += y * y;
        }
      }
      const e = count > 0 ? s / count : 0;
      out[(at + k) & mask] = e;
      total += e;
    }
    this.x = x0;
    this.y = y;
    return total;
  }
}

export class EchoGuard implements EchoTranscripts {
  readonly stats: EchoGuardStats = { framesEcho: 0, framesMuted: 0, delayMs: -1, erlDb: -1, rho: 0, estimates: 0, referenceDropped: 0, transcriptsDropped: 0 };
  private readonly counters: EchoCounters | undefined;
  private readonly maxLagBlocks: number;
  private readonly maxDelayFrames: number;
  private readonly margin: number;
  private readonly mask: number;
  private readonly refE: Float32Array;
  private readonly calE: Float32Array;
  private readonly frameMask: number;
  private readonly refFrameE: Float32Array;
  /** Per frame (same ring as refFrameE): 1 when the raw VAD called it voiced. */
  private readonly voiced: Uint8Array;
  private heard = Heard.Nothing;
  /** First frame of the suspects (while {@link heard} is Suspect). */
  private suspectFrom = 0;
  /** Voiced frames louder than a locked path's echo since the ASR's last final (see {@link REJUDGE_VOICE_FRAMES}). */
  private louder = 0;
  /** The last caller frame was judged (the guard was awake). */
  private judged = false;
  private readonly pending = new Float32Array(PENDING_FRAMES * BLOCKS);
  private pendingHead = 0;
  private pendingCount = 0;
  private readonly hpRef: HighPass;
  private readonly hpCal: HighPass;
  private readonly scratch: EchoScratch;
  private readonly est: EchoEstimate = { lagBlocks: 0, rho: 0, gain: 0, gainUpper: 0 };
  private awake = false;
  /** Caller frames seen while awake (the block clock is 4 × this). */
  private frame = 0;
  /** First block of the current awake spell: caller history before it was not recorded. */
  private validFromBlock = 0;
  private activeUntilFrame = 0;
  private lastVoiceFrame = -1_000_000;
  private mode = Mode.Initial;
  private lagBlocks = 0;
  /** The delay of the last strong peak over a window with voice (−1: none): a lock over voice needs two in a row. */
  private voiceLagBlocks = -1;
  private gain = INITIAL_GAIN;
  /** Quietest frame energy of each of the last chunks (see {@link FLOOR_CHUNK_FRAMES}); +∞ = not seen yet. */
  private readonly floorChunks = new Float64Array(FLOOR_CHUNKS).fill(Infinity);
  private floorChunk = 0;
  private floorChunkFrames = 0;
  /** The line's noise floor (frame energy), from completed chunks only; 0 until one completes. */
  private floorE = 0;

  constructor(o: EchoGuardOptions, counters?: EchoCounters) {
    this.counters = counters;
    this.maxLagBlocks = Math.ceil(o.maxDelayMs / BLOCK_MS);
    this.maxDelayFrames = Math.ceil(o.maxDelayMs / 20);
    this.margin = 10 ** (o.marginDb / 10);
    const ring = pow2AtLeast(WINDOW_BLOCKS + this.maxLagBlocks + LOCK_HI_BLOCKS + BLOCKS * 2);
    this.mask = ring - 1;
    this.refE = new Float32Array(ring);
    this.calE = new Float32Array(ring);
    const frames = pow2AtLeast(WINDOW_BLOCKS / BLOCKS + this.maxDelayFrames + 2);
    this.frameMask = frames - 1;
    this.refFrameE = new Float32Array(frames);
    this.voiced = new Uint8Array(frames);
    this.hpRef = new HighPass(o.sampleRateHz);
    this.hpCal = new HighPass(o.sampleRateHz);
    this.scratch = sharedScratch(this.maxLagBlocks);
  }

  /** True while the bot's audio (or its echo) may be on the line; asleep, {@link onCallerFrame} returns at once. */
  /**
   * A coherent echo path was found (delay and loss estimated): only then is an echo-only frame safe to hide from the
   * ASR. Before (or without) one, the frames the guard suspects are kept from the turn decisions only: a caller who
   * speaks at once over the greeting must not lose words to a guess.
   */
  get locked(): boolean {
    return this.mode === Mode.Locked;
  }

  get active(): boolean {
    return this.awake;
  }

  /** A frame the pacer has just sent to Vonage (16-bit LE at the leg rate). Keeps its energies, not the audio. */
  reference(frame: Uint8Array): void {
    if (!this.awake) this.wake();
    if (this.pendingCount === PENDING_FRAMES) {
      this.pendingHead = (this.pendingHead + 1) % PENDING_FRAMES;
      this.pendingCount--;
      this.stats.referenceDropped++;
    }
    const slot = (this.pendingHead + this.pendingCount) % PENDING_FRAMES;
    this.hpRef.blocks(frame, this.pending, slot * BLOCKS, 0x7fffffff);
    this.pendingCount++;
  }

  /** Vonage was told to drop what it holds (`clear`): frames sent but not played will never be heard, nor echoed. */
  flushReference(): void {
    this.pendingCount = 0;
  }

  /**
   * One caller frame from the jitter buffer (16-bit LE at the leg rate), in order. Returns true when it is echo-only:
   * no louder than the bot's own audio coming back (or than the line's noise floor). Call {@link callerVoice} after it when the frame turns out to be
   * the caller's voice. `callerSpeaking`: the caller is in an utterance (see the class comment on the first ½ s).
   */
  onCallerFrame(frame: Uint8Array, callerSpeaking: boolean): boolean {
    // The caller is in an utterance (the VAD heard enough voice that was not echo): the next final is theirs.
    if (callerSpeaking) this.heard = Heard.Caller;
    this.judged = this.awake;
    if (!this.awake) return false;
    const f = this.frame++;
    const at = f * BLOCKS;
    // Estimate over the window up to the previous frame, whose verdict (voice or not) is known by now.
    if ((f * BLOCKS - this.validFromBlock) % ((this.mode === Mode.Locked ? LOCKED_EST_EVERY_FRAMES : EST_EVERY_FRAMES) * BLOCKS) === 0) {
      if (f - 1 - this.lastVoiceFrame > WINDOW_BLOCKS / BLOCKS) this.maybeEstimate(at, false);
      else if (this.mode !== Mode.Locked) this.maybeEstimate(at, true);
    }
    const mask = this.mask;
    let refFrame = 0;
    if (this.pendingCount > 0) {
      const p = this.pendingHead * BLOCKS;
      for (let k = 0; k < BLOCKS; k++) {
        const e = this.pending[p + k]!;
        this.refE[(at + k) & mask] = e;
        refFrame += e;
      }
      this.pendingHead = (this.pendingHead + 1) % PENDING_FRAMES;
      this.pendingCount--;
    } else for (let k = 0; k < BLOCKS; k++) this.refE[(at + k) & mask] = 0;
    this.refFrameE[f & this.frameMask] = refFrame;
    if (refFrame > ACTIVE_FLOOR) this.activeUntilFrame = f + this.maxDelayFrames + 2;
    const calFrame = this.hpCal.blocks(frame, this.calE, at, mask);
    this.trackFloor(calFrame);
    // No estimate after 1 s awake means the caller has been talking over the bot (an echo-only line gives one at ½ s):
    // trust the VAD until a quiet stretch allows an estimate.
    if (this.mode === Mode.Initial && f * BLOCKS - this.validFromBlock >= INITIAL_MAX_FRAMES * BLOCKS) {
      this.mode = Mode.Unlocked;
      this.gain = 0;
    }
    // Before the first estimate an utterance can only have started on frames louder than any echo could be: the caller
    // is really talking over the bot, and the rest of that utterance counts as is (the conservative rule would cut
    // speech at the bot's own level to pieces, and no estimate can run while the caller talks).
    const echo = !(callerSpeaking && this.mode === Mode.Initial) && this.notCaller(calFrame, at);
    this.voiced[f & this.frameMask] = 0;
    // Without a locked path the session sends an echo frame to the ASR as it is.
    if (echo && this.mode !== Mode.Locked) this.suspect(f);
    if (f >= this.activeUntilFrame && this.pendingCount === 0) this.awake = false;
    return echo;
  }

  /**
   * The last caller frame was the caller's voice (the VAD called it voiced and it was not echo): windows holding it are
   * kept out of the estimation, where the caller's voice would pass for echo.
   */
  callerVoice(): void {
    const f = (this.lastVoiceFrame = this.frame - 1);
    if (!this.judged) return; // asleep (the bot silent): nothing to tell apart
    this.voiced[f & this.frameMask] = 1;
    // With a locked path it is louder than the echo; without one it is judged again at the lock.
    if (this.mode === Mode.Locked) {
      if (++this.louder >= REJUDGE_VOICE_FRAMES) this.heard = Heard.Caller;
    } else this.suspect(f);
  }

  /** The raw VAD called an echo-only frame voiced: it was kept from counting as speech. */
  countEchoFrame(): void {
    this.stats.framesEcho++;
    if (this.counters) this.counters.echoFrames++;
    this.voiced[(this.frame - 1) & this.frameMask] = 1;
  }

  heardOnlyEcho(final: boolean): boolean {
    const echo = this.heard === Heard.Echo;
    if (!final) return echo;
    this.heard = Heard.Nothing;
    this.louder = 0;
    if (echo) {
      this.stats.transcriptsDropped++;
      if (this.counters) this.counters.echoTranscriptsDropped++;
    }
    return echo;
  }

  /** Frame `f` reached the ASR as it is before any lock (echo or voice: the lock will tell). */
  private suspect(f: number): void {
    if (this.heard === Heard.Caller || this.heard === Heard.Suspect) return;
    this.heard = Heard.Suspect;
    this.suspectFrom = f;
  }

  /**
   * A path just locked (this frame, `f`, not yet recorded): judge the suspects again with it. Echo when (almost) none
   * the VAD called voiced is louder than the fitted echo (margin included); the caller's when some are, or when the
   * first suspects are older than the rings or than this awake spell (not kept: cannot be confirmed).
   */
  private rejudge(f: number): void {
    if (this.heard !== Heard.Suspect) return;
    const from = this.suspectFrom;
    const oldest = f - Math.min(this.frameMask + 1, (this.mask + 1 - this.lagBlocks - LOCK_HI_BLOCKS) / BLOCKS) + 1;
    if (from < oldest || from * BLOCKS < this.validFromBlock) {
      this.heard = Heard.Caller;
      return;
    }
    const cal = this.calE;
    const mask = this.mask;
    for (let g = from; g < f; g++) {
      if (!this.voiced[g & this.frameMask]) continue;
      const at = g * BLOCKS;
      let e = 0;
      for (let k = 0; k < BLOCKS; k++) e += cal[(at + k) & mask]!;
      if (!this.notCaller(e, at)) this.louder++;
    }
    this.heard = this.louder >= REJUDGE_VOICE_FRAMES ? Heard.Caller : Heard.Echo;
  }

  /** An echo-only frame went to the ASR as silence. */
  countMuted(): void {
    this.stats.framesMuted++;
  }

  /** A caller frame of energy `e` at block `at` is no louder than the echo expected there, or than the line's noise. */
  private notCaller(e: number, at: number): boolean {
    return e <= this.floorE * FLOOR_MARGIN || e <= this.expectedEcho(at);
  }

  /** Keep the line's noise floor ({@link FLOOR_CHUNK_FRAMES}): O(1) per frame, O(chunks) per ½ s. */
  private trackFloor(e: number): void {
    const c = this.floorChunk;
    if (e < this.floorChunks[c]!) this.floorChunks[c] = e;
    if (++this.floorChunkFrames < FLOOR_CHUNK_FRAMES) return;
    let min = Infinity;
    for (let k = 0; k < FLOOR_CHUNKS; k++) if (this.floorChunks[k]! < min) min = this.floorChunks[k]!;
    this.floorE = min;
    this.floorChunkFrames = 0;
    this.floorChunk = (c + 1) % FLOOR_CHUNKS;
    this.floorChunks[this.floorChunk] = Infinity;
  }

  /** The largest caller frame energy that still counts as echo at block `at`. */
  private expectedEcho(at: number): number {
    const ref = this.refE;
    const mask = this.mask;
    if (this.mode === Mode.Locked) {
      let sum = 0;
      const lo = this.lagBlocks - LOCK_LO_BLOCKS;
      const hi = this.lagBlocks + LOCK_HI_BLOCKS;
      for (let k = 0; k < BLOCKS; k++) {
        let m = 0;
        for (let d = lo < 0 ? 0 : lo; d <= hi; d++) {
          const e = ref[(at + k - d) & mask]!;
          if (e > m) m = e;
        }
        sum += m;
      }
      return sum * this.gain * this.margin;
    }
    let max = 0;
    const f = at / BLOCKS;
    for (let d = 0; d <= this.maxDelayFrames; d++) {
      const e = this.refFrameE[(f - d) & this.frameMask]!;
      if (e > max) max = e;
    }
    // Unlocked, the gain is already an upper bound (all the caller's energy, noise included, put down to echo): no margin.
    return this.mode === Mode.Initial ? max * INITIAL_SUSPECT_GAIN : max * this.gain;
  }

  /**
   * `voiceInWindow`: frames of the window were taken for the caller's voice. Without a path that may be the echo itself
   * (after {@link INITIAL_MAX_FRAMES} the VAD is trusted, and on an echoing line the echo then passes for voice in every
   * window: no quiet window would ever come, and the bot paused on its own echo all call long). Such a window may still
   * lock, on a peak of {@link VOICE_LOCK_RHO} found twice in a row at the same delay (a caller's own words do not follow
   * the bot's envelope; an echo does, every time); it never sets the unlocked bound (the caller's energy is in it).
   */
  private maybeEstimate(end: number, voiceInWindow: boolean): void {
    const w = Math.min(WINDOW_BLOCKS, end - this.validFromBlock);
    if (w < MIN_WINDOW_BLOCKS) return;
    let active = 0;
    const frames = w / BLOCKS;
    const f = end / BLOCKS - 1;
    for (let d = 0; d < frames; d++) if (this.refFrameE[(f - d) & this.frameMask]! > ACTIVE_FLOOR) active++;
    if (active < MIN_ACTIVE_FRAMES) return;
    const e = estimateEcho(this.refE, this.calE, this.mask, end, w, this.maxLagBlocks, this.scratch, this.est);
    this.stats.estimates++;
    // A gain above −6 dB is no line's echo (G.168's least ERL): the caller was talking in frames taken for echo, and
    // two voices' envelopes can correlate over a short window. Such an estimate is dropped.
    const plausible = e.gain > 0 && e.gain <= INITIAL_GAIN;
    if (voiceInWindow) {
      const strong = plausible && e.rho >= VOICE_LOCK_RHO;
      const again = strong && this.voiceLagBlocks >= 0 && Math.abs(e.lagBlocks - this.voiceLagBlocks) <= VOICE_LOCK_LAG_BLOCKS;
      this.voiceLagBlocks = strong ? e.lagBlocks : -1;
      if (!again) return;
    } else this.voiceLagBlocks = -1;
    if (e.rho >= LOCK_RHO && plausible) {
      this.mode = Mode.Locked;
      this.lagBlocks = e.lagBlocks;
      this.gain = e.gain;
      this.stats.delayMs = e.lagBlocks * BLOCK_MS;
      this.stats.erlDb = Math.round(-10 * Math.log10(this.gain) * 10) / 10;
      this.stats.rho = Math.round(e.rho * 100) / 100;
      this.rejudge(end / BLOCKS);
    } else if (this.mode !== Mode.Locked && e.gainUpper <= INITIAL_GAIN) {
      this.mode = Mode.Unlocked;
      this.gain = e.gainUpper;
    }
  }

  /** The bot starts sending after a silence: the histories restart (the caller's was not kept while asleep). */
  private wake(): void {
    this.awake = true;
    this.refE.fill(0);
    this.calE.fill(0);
    this.refFrameE.fill(0);
    this.voiceLagBlocks = -1;
    this.validFromBlock = this.frame * BLOCKS;
    this.activeUntilFrame = this.frame + this.maxDelayFrames + 2;
  }
}
