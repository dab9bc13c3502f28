/**
 * Adaptive endpointing for one call: the gate between the ASR's final transcripts and the bot. What "the caller's turn
 * ended" means here, concretely:
 *
 * - Every final is HELD (not given to the bot) and the end-of-turn detector is asked how complete the turn so far
 *   reads (`complete`, 0..1).
 * - The held text is RELEASED to the bot as ONE final (`final: true`, once per turn) when the caller is not speaking
 *   and has been silent (since their last voiced frame) for at least `minSilenceMs` if the verdict is complete
 *   (≥ {@link COMPLETE_THRESHOLD}), else `maxSilenceMs`. A final that reads complete therefore goes at once (it comes
 *   after the VAD's short silence), one that reads unfinished waits up to the long silence.
 * - With the prosodic cue on (`prosodyHoldMs`), a turn that reads complete is also listened to: if the caller's latest
 *   utterance *sounds* unfinished (its end still loud, the pitch not fallen: `prosody.ts`), it waits `prosodyHoldMs`
 *   of silence instead of `minSilenceMs`. Judged once per utterance, only when the short silence has passed; with a
 *   `prosodyJudge` (the gateway's worker thread) the turn waits for the verdict, at most {@link CUE_WAIT_MS}.
 * - A recogniser known to append a conjunction the caller did not say (the local one on an 8 kHz leg hears "but i'm
 *   sure in years and") makes a trailing "and"/"but" doubtful rather than unfinished: a turn that reads unfinished and
 *   ends in that word waits `conjunctionHoldMs` (`ENDPOINT_CONJUNCTION_HOLD_MS`, set by the session for that
 *   recogniser and rate only), not `maxSilenceMs`. Longer than a caller's pause inside a sentence (the eval's is
 *   800 ms), so one who really goes on after an "and" is still joined.
 * - A final that arrives while text is held is JOINED to it (a space between) and the detector asked again about the
 *   whole; the bot never sees the parts. If the caller spoke again after the latest final (the VAD said speaking),
 *   its verdict is stale: the gate waits for that speech's final (or, if none comes, the long silence). Interim transcripts pass through at once, prefixed with the held text.
 * - Bounded: nothing is held longer than {@link MAX_HOLD_MS} (or twice `maxSilenceMs`), whatever the VAD says; a barge-in releases the held text
 *   at once ({@link TurnGate.flush}: the caller has taken the floor, the bot must know what they said before it);
 *   `close()` drops it (the call is over: nobody to answer).
 *
 * The detector is user code: called in a try/catch, its promise raced against `timeoutMs` on the injected clock
 * (checked by {@link TurnGate.tick}, the session's 20 ms tick), its answer checked (a number 0..1). A throw, rejection,
 * malformed answer or timeout falls back to the built-in heuristic for that prediction and is reported to the owner
 * (which counts it at the adapter boundary and logs it once per call). A late answer to a superseded question is
 * ignored. No timers of its own and no I/O: `test/turn-detect/gate.test.ts` drives it on a manual clock.
 */
import type { Clock } from '../util/clock.js';
import { completeness, lastWord } from './heuristic.js';
import { prosodyCue } from './prosody.js';
import type { ProsodyJudge } from './prosody-pool.js';
import { COMPLETE_THRESHOLD, type TurnDetectInput, type TurnDetector, type TurnPrediction } from './types.js';

/** Trailing words the local recogniser adds at telephone band (from the flush pad's quiet or the line's noise). */
const INVENTED_TRAILING: ReadonlySet<string> = new Set(['and', 'but']);

/**
 * The longest a final is held, whatever the VAD says (a caller who never stops, a VAD stuck on noise): this, or twice
 * `maxSilenceMs` if that is longer.
 */
export const MAX_HOLD_MS = 10000;

/**
 * The longest a turn that is otherwise over waits for the prosodic cue judged off the event loop
 * ({@link TurnGateConfig.prosodyJudge}); past it the cue gives no verdict (the turn is not held) and is counted.
 */
export const CUE_WAIT_MS = 200;

export interface TurnGateConfig {
  /** Silence after which a turn that reads complete ends. */
  minSilenceMs: number;
  /** Silence after which a turn that reads unfinished ends anyway. */
  maxSilenceMs: number;
  /** A detector prediction not settled in this long falls back to the heuristic. */
  timeoutMs: number;
  callId: string;
  language: string;
  sampleRateHz: number;
  /**
   * The prosodic cue (`ENDPOINT_PROSODY_HOLD_MS`, see `prosody.ts`): a turn that reads complete but whose last
   * utterance sounds unfinished ends after this much silence instead of `minSilenceMs`. 0 (or not above
   * `minSilenceMs`) = off. Needs the owner's {@link TurnGateOwner.lastUtteranceAudio}.
   */
  prosodyHoldMs?: number;
  /**
   * Judges the prosodic cue elsewhere (a worker thread: `prosody-pool.ts`); the turn waits for its verdict, at most
   * {@link CUE_WAIT_MS}. Undefined: computed here, at once.
   */
  prosodyJudge?: ProsodyJudge;
  /** The capture's limit: an utterance this long or longer was cut, its end is not in the audio (no cue). */
  maxUtteranceMs?: number;
  /**
   * The recogniser appends conjunctions nobody said (the local one on an 8 kHz leg): a turn that reads unfinished and
   * ends in "and"/"but" waits this much silence instead of `maxSilenceMs`. 0 (or not between the two) = off.
   */
  conjunctionHoldMs?: number;
}

export interface TurnGateOwner {
  /** Give a transcript to the bot: finals once per turn (the held text), interims as they come. */
  onGateTranscript(text: string, final: boolean): void;
  /** One prediction of the detector failed (`code`: TURN_DETECT_FAILED, _TIMEOUT, _MALFORMED); the heuristic answered. */
  onDetectorFault(err: unknown, code: string): void;
  /** Arrival of the caller's last voiced frame (−1: none yet). */
  readonly lastVoicedAtMs: number;
  /** The VAD says the caller is speaking now. */
  readonly speaking: boolean;
  /** The caller's last utterance audio, when kept (for a detector that asks for audio). */
  readonly lastUtteranceAudio?: Int16Array | undefined;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return !!v && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/** `complete` of a detector's answer, or undefined if it is not a number in 0..1. */
function completeOf(v: unknown): number | undefined {
  if (!v || typeof v !== 'object') return undefined;
  let c: unknown;
  try {
    c = (v as TurnPrediction).complete;
  } catch {
    return undefined; // a throwing getter is a malformed answer
  }
  return typeof c === 'number' && c >= 0 && c <= 1 ? c : undefined;
}

/** Where {@link TurnGate} counts its decisions for the process metrics (implemented by the metrics' hot counters). */
export interface TurnGateCounters {
  turnGateReleased: number;
  turnGateJoined: number;
  turnGateProsodyHolds: number;
  turnGateDoubtfulReleases: number;
}

export class TurnGate {
  private readonly cfg: TurnGateConfig;
  private readonly detector: TurnDetector;
  private readonly clock: Clock;
  private readonly owner: TurnGateOwner;
  private readonly maxHoldMs: number;
  /** The turn so far ('' = nothing held). */
  private held = '';
  private heldSinceMs = -1;
  /** The detector's verdict on `held` (−1: being asked). */
  private verdict = -1;
  private askedAtMs = -1;
  /** Which question is current: answers to older ones are ignored. */
  private seq = 0;
  private pending: AbortController | undefined;
  /**
   * The caller spoke after the latest final: its words are not transcribed yet, so the verdict is stale and the turn
   * is not over: wait for their final (joined) or, if none comes, the long silence.
   */
  private spokeSinceFinal = false;
  /** When the latest final came, and whether the VAD has said speaking since. */
  private finalAtMs = -1;
  private sawSpeaking = false;
  private closed = false;
  /** Finals joined to a held one (a pause inside a turn). */
  joined = 0;
  /** Turns given to the bot. */
  released = 0;
  /** Predictions answered by the heuristic because the detector failed. */
  fallbacks = 0;
  /** Utterances whose audio sounded unfinished when their turn read complete (the prosodic cue held them). */
  prosodyHolds = 0;
  /** Turns released after `conjunctionHoldMs` (a trailing conjunction the recogniser may have made up). */
  doubtfulReleases = 0;
  /** Cues from {@link TurnGateConfig.prosodyJudge} that did not come within {@link CUE_WAIT_MS} (no verdict used). */
  prosodyLate = 0;
  /** The utterance the prosodic cue last judged, and its verdict (computed once per utterance, when first needed). */
  private cueAudio: Int16Array | undefined;
  private cueUnfinished = false;
  /** The cue is being judged elsewhere: asked at `cueAskedAtMs`, its answer matched by `cueSeq`. */
  private cuePending = false;
  private cueAskedAtMs = -1;
  private cueSeq = 0;
  private readonly prosodyHoldMs: number;
  private readonly conjunctionHoldMs: number;

  /** Where the process metrics count the gate's decisions (the metrics' hot counters); undefined: per call only. */
  private readonly counters: TurnGateCounters | undefined;

  constructor(cfg: TurnGateConfig, detector: TurnDetector, clock: Clock, owner: TurnGateOwner, counters?: TurnGateCounters) {
    this.counters = counters;
    this.cfg = cfg;
    this.detector = detector;
    this.clock = clock;
    this.owner = owner;
    this.maxHoldMs = Math.max(MAX_HOLD_MS, 2 * cfg.maxSilenceMs);
    const hold = Math.min(cfg.prosodyHoldMs ?? 0, cfg.maxSilenceMs);
    this.prosodyHoldMs = hold > cfg.minSilenceMs ? hold : 0;
    const and = cfg.conjunctionHoldMs ?? 0;
    this.conjunctionHoldMs = and > cfg.minSilenceMs && and < cfg.maxSilenceMs ? and : 0;
  }

  /** The prosodic cue is on: the gate reads the owner's {@link TurnGateOwner.lastUtteranceAudio}. */
  get listens(): boolean {
    return this.prosodyHoldMs > 0;
  }

  /** Text is held (the caller's turn has not ended yet). */
  get holding(): boolean {
    return this.held !== '';
  }

  /** A transcript from the ASR. */
  transcript(text: string, final: boolean): void {
    if (this.closed) return;
    if (!final) {
      this.owner.onGateTranscript(this.held ? `${this.held} ${text}` : text, false);
      return;
    }
    const t = text.trim();
    if (!t) {
      // An empty final (noise) ends nothing: alone it goes through as before; with text held it changes nothing.
      if (!this.held) this.owner.onGateTranscript(text, true);
      return;
    }
    if (this.held) {
      this.held = `${this.held} ${t}`;
      this.joined++;
      if (this.counters) this.counters.turnGateJoined++;
    } else {
      this.held = t;
      this.heldSinceMs = this.clock.now();
    }
    this.spokeSinceFinal = false;
    this.finalAtMs = this.clock.now();
    this.sawSpeaking = false;
    this.ask();
    this.check();
  }

  /** The session's 20 ms tick: timeouts and the silence that ends a held turn. */
  tick(): void {
    if (this.held) this.check();
  }

  /** Barge-in: give the held text to the bot now (nothing if none). */
  flush(): void {
    if (this.held && !this.closed) this.release();
  }

  /** The call ended: drop what is held, ignore late answers. Idempotent. */
  close(): void {
    this.closed = true;
    this.held = '';
    this.cueAudio = undefined;
    this.cuePending = false;
    this.abortPending();
  }

  private ask(): void {
    this.abortPending();
    const seq = ++this.seq;
    const now = this.clock.now();
    const voiced = this.owner.lastVoicedAtMs;
    const input: TurnDetectInput = {
      text: this.held,
      final: true,
      silenceMs: this.owner.speaking || voiced < 0 ? 0 : Math.max(0, now - voiced),
      callId: this.cfg.callId,
      language: this.cfg.language,
      audio: this.detector.wantsAudio ? this.owner.lastUtteranceAudio : undefined,
      sampleRateHz: this.cfg.sampleRateHz,
    };
    const ac = new AbortController();
    let answer: unknown;
    try {
      answer = this.detector.predict(input, ac.signal);
    } catch (err) {
      return this.fallback(err, 'TURN_DETECT_FAILED');
    }
    if (!isThenable(answer)) return this.accept(answer);
    this.verdict = -1;
    this.askedAtMs = now;
    this.pending = ac;
    // The detector's promise is never trusted to settle: the tick enforces the timeout either way.
    Promise.resolve(answer).then(
      (v) => this.settled(seq, v, undefined),
      (err: unknown) => this.settled(seq, undefined, err ?? new Error('rejected')),
    );
  }

  private settled(seq: number, v: unknown, err: unknown): void {
    if (seq !== this.seq || this.closed || !this.held || this.verdict >= 0) return; // superseded, timed out or over
    this.pending = undefined;
    if (err !== undefined) this.fallback(err, 'TURN_DETECT_FAILED');
    else this.accept(v);
    this.check();
  }

  private accept(v: unknown): void {
    const c = completeOf(v);
    if (c === undefined) return this.fallback(new Error('predict() did not answer { complete: a number 0..1 }'), 'TURN_DETECT_MALFORMED');
    this.verdict = c;
  }

  private fallback(err: unknown, code: string): void {
    this.verdict = completeness(this.held);
    this.fallbacks++;
    this.owner.onDetectorFault(err, code);
  }

  private check(): void {
    const now = this.clock.now();
    if (this.verdict < 0) {
      if (now - this.askedAtMs < this.cfg.timeoutMs) return;
      this.abortPending();
      this.fallback(new Error(`predict() did not answer within ${this.cfg.timeoutMs} ms`), 'TURN_DETECT_TIMEOUT');
    }
    if (now - this.heldSinceMs >= this.maxHoldMs) return this.release();
    // The caller spoke after the final when the VAD said speaking (after VAD_MIN_SPEECH_MS of voice; it lasts at least
    // the short silence, so a tick cannot miss it) and voice came after the final. A final that arrives while the VAD's
    // utterance is still open but silent (its trailing silence: the ASR flushed early, or a streaming final) is not
    // stale: it is released once the utterance ends, after the short silence.
    const speaking = this.owner.speaking;
    if (speaking) this.sawSpeaking = true;
    if (this.sawSpeaking && this.owner.lastVoicedAtMs > this.finalAtMs) this.spokeSinceFinal = true;
    if (speaking) return;
    const voiced = this.owner.lastVoicedAtMs;
    const silenceMs = voiced < 0 ? Infinity : now - voiced;
    const complete = this.verdict >= COMPLETE_THRESHOLD && !this.spokeSinceFinal;
    const doubtful = !complete && !this.spokeSinceFinal && this.conjunctionHoldMs > 0 && INVENTED_TRAILING.has(lastWord(this.held));
    let needMs = complete ? this.cfg.minSilenceMs : doubtful ? this.conjunctionHoldMs : this.cfg.maxSilenceMs;
    // Reads complete: does it also sound finished? Asked only once the short silence has passed (the utterance has
    // ended, its audio is the latest), once per utterance. Judged elsewhere, the turn waits for the verdict (bounded).
    if (complete && silenceMs >= needMs && this.prosodyHoldMs > 0) {
      const unfinished = this.soundsUnfinished(now);
      if (unfinished === undefined) return;
      if (unfinished) needMs = this.prosodyHoldMs;
    }
    if (silenceMs < needMs) return;
    if (doubtful) {
      this.doubtfulReleases++;
      if (this.counters) this.counters.turnGateDoubtfulReleases++;
    }
    this.release();
  }

  /**
   * The prosodic cue for the caller's latest utterance (false without its audio or when it was cut); undefined while a
   * {@link TurnGateConfig.prosodyJudge} judges it (at most {@link CUE_WAIT_MS}: then false, counted in `prosodyLate`).
   */
  private soundsUnfinished(now: number): boolean | undefined {
    const audio = this.owner.lastUtteranceAudio;
    if (!audio || !audio.length) return false;
    if (audio !== this.cueAudio) {
      this.cueAudio = audio;
      this.cuePending = false;
      const maxMs = this.cfg.maxUtteranceMs ?? Infinity;
      // A capture that hit its limit kept the utterance's start, not its end (the capture drops most of the VAD's
      // trailing silence, which is minSilenceMs with the gate): nothing to judge.
      const cut = (audio.length * 1000) / this.cfg.sampleRateHz >= maxMs - this.cfg.minSilenceMs;
      const judge = this.cfg.prosodyJudge;
      if (cut || !judge) this.cued(!cut && prosodyCue(audio, this.cfg.sampleRateHz).unfinished);
      else {
        this.cuePending = true;
        this.cueAskedAtMs = now;
        const seq = ++this.cueSeq;
        judge.unfinished(audio, this.cfg.sampleRateHz).then(
          (v) => this.judged(seq, v === true),
          () => this.judged(seq, false),
        );
      }
    }
    if (this.cuePending) {
      if (now - this.cueAskedAtMs < CUE_WAIT_MS) return undefined;
      this.cuePending = false;
      this.cueUnfinished = false;
      this.prosodyLate++;
      this.cfg.prosodyJudge?.noteLate?.();
    }
    return this.cueUnfinished;
  }

  private cued(unfinished: boolean): void {
    this.cueUnfinished = unfinished;
    if (unfinished) {
      this.prosodyHolds++;
      if (this.counters) this.counters.turnGateProsodyHolds++;
    }
  }

  /** The judge's verdict on the cue asked as `seq`: used if still wanted, and the turn looked at again. */
  private judged(seq: number, unfinished: boolean): void {
    if (seq !== this.cueSeq || !this.cuePending || this.closed) return;
    this.cuePending = false;
    this.cued(unfinished);
    if (this.held) this.check();
  }

  private release(): void {
    const text = this.held;
    this.held = '';
    this.heldSinceMs = -1;
    this.verdict = -1;
    this.seq++;
    this.abortPending();
    this.spokeSinceFinal = false;
    this.released++;
    if (this.counters) this.counters.turnGateReleased++;
    this.owner.onGateTranscript(text, true);
  }

  private abortPending(): void {
    const p = this.pending;
    this.pending = undefined;
    if (p) p.abort();
  }
}
