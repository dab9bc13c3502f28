/**
 * One call's turn-taking, as a pure state machine: the session tells it what happened (speech start/end, voiced
 * frames, transcripts, replies opened/started/done, bot output, bot failures, ticks, the drain) with the times on the
 * injected clock, and it answers through {@link TurnActions} (state change, pause, resume, interrupt, backchannel, turn
 * latency measured, apologise, goodbye, hang up). No I/O, no timers, no adapters: `test/call/turn.test.ts` drives it
 * as a table of event sequences.
 *
 * **Barge-in: pause, then decide.** "New" speech is voiced ms of the caller's utterance newer than the playing reply.
 * 1. *Onset*: new speech reaches `bargeInPauseMs` while an interruptible reply plays → `onPause` (the pacer stops
 *    sending in the same frame and Vonage drops its lead: the caller hears silence at once). With `bargeInConfirmMs` = 0
 *    there is no pause: `onBargeIn` at `bargeInMinSpeechMs` (the behaviour before this rule).
 * 2. *Confirmed* → `onBargeIn` (clear, the reply is interrupted) when, while paused, new speech reaches
 *    `bargeInConfirmMs`, or a transcript (partial or final) has a word that is not a backchannel.
 * 3. *Undone* → `onResume` (playback goes on from the pause point; the bot is told nothing) when, while paused, the
 *    caller is silent for `resumeSilenceMs` (shorter than the VAD's end of utterance, so an "uh-huh" costs the caller
 *    well under a second of bot silence), the VAD ends the utterance, or `2 × bargeInConfirmMs` pass since the pause
 *    (never paused forever; after this bound the same utterance does not pause again, so steady noise cannot make the
 *    bot stutter, though it can still confirm by reaching `bargeInConfirmMs`). An utterance that goes on after a
 *    resume on silence may pause again (another `bargeInPauseMs`), and confirms on its total new speech.
 * 4. *Backchannel* (`backchannelMaxMs` > 0): an utterance that began while the bot was speaking and did not interrupt
 *    is an acknowledgement when its transcript is only listed words (any length), or when it ends with voiced ms ≤
 *    `backchannelMaxMs` and its final is no more than a few words none of which interrupts (kind `short`, see
 *    backchannel.ts: pocketsphinx hears Flite's "okay" as "again"; "stop", "wait", "no" still interrupt; and only when
 *    it began {@link SHORT_ACK_AFTER_REPLY_MS} into the reply). It is told to the bot
 *    as `onBackchannel` with its final transcript as text (never as a transcript: the bot must not answer "uh-huh").
 *    With ASR the final is waited for (in order: the oldest finished candidate takes the next final; told without
 *    text when the caller's next utterance ends first, or after {@link BACKCHANNEL_TEXT_WAIT_MS}). Finals of a
 *    candidate still under way are held until its end. An unconfirmed utterance whose final has other words (kind
 *    `words`, or `short` but longer than a backchannel) is a turn: the final goes to the bot, and the reply it paused
 *    is interrupted then (late).
 *    A listed-words transcript during the utterance also holds off confirmation by duration ("yeah, yeah, right").
 *    Coherence: confirmation by duration must take longer than a backchannel, so `bargeInConfirmMs` >
 *    `backchannelMaxMs` (defaults 900 and 700); otherwise every utterance longer than `bargeInConfirmMs` interrupts
 *    and the duration rule only applies to shorter ones.
 * Non-interruptible replies are never paused.
 *
 * **Echo** (`echo`, the echo guard): a transcript of audio that was only the bot's own echo coming back down the line
 * (heard by the ASR before the guard had the line's echo path, confirmed once it had) is dropped: never a turn, never
 * a backchannel, never given to the bot; each dropped final is told as `onEchoTranscript` and counted.
 *
 * Per-frame entry points (`voiced`, `speech`) allocate nothing.
 */
import { CloseCode } from '../errors.js';
import type { EchoTranscripts } from '../vad/echo-guard.js';
import type { TranscriptKind } from './backchannel.js';

/**
 * How long a finished backchannel waits for its final transcript before it is told to the bot without text (it is
 * told sooner if the caller's next utterance ends first: finals come in order, so a later final is not its). Generous
 * because the offline recogniser's finals can take seconds on a loaded machine, and a late one must not become a turn.
 */
export const BACKCHANNEL_TEXT_WAIT_MS = 8000;

/**
 * The `short` rule (a few unlisted words acknowledge) applies only to an utterance that began at least this long after
 * the playing reply's first frame: nobody acknowledges a reply they have not heard yet. Speech that starts with the
 * reply is the caller going on with their turn (a reply that came inside their pause), so its words interrupt as before.
 */
export const SHORT_ACK_AFTER_REPLY_MS = 500;

/** Why a paused reply resumed. */
export type ResumeReason = 'silence' | 'speech-end' | 'bound' | 'played';

export type CallState = 'starting' | 'listening' | 'thinking' | 'speaking' | 'closed';

export interface TurnConfig {
  /** Caller speech may interrupt an interruptible reply. */
  bargeIn: boolean;
  /** Voiced ms newer than the reply needed before it counts as a barge-in. */
  bargeInMinSpeechMs: number;
  /** A final transcript unanswered this long is a bot failure; 0 = never. */
  botReplyTimeoutMs: number;
  /** Bot failures one call tolerates: each is answered with an apology, the last with a goodbye and a hang-up. */
  botMaxFailures: number;
  /** Replies are spoken (the reply clock only runs with TTS: without it the bot may answer with actions only). */
  hasTts: boolean;
  /** Transcripts will come (a backchannel's decision waits for its final). */
  hasAsr: boolean;
  /** New voiced ms, while paused, that confirm a barge-in; 0 = no pause: interrupt at onset. */
  bargeInConfirmMs: number;
  /** New voiced ms that pause the reply (onset), when `bargeInConfirmMs` > 0; default `bargeInMinSpeechMs`. */
  bargeInPauseMs?: number;
  /** Caller silence (ms, on the injected clock) that undoes a pause. */
  resumeSilenceMs: number;
  /** Longest voiced ms of a backchannel; 0 = no backchannel rule at all (duration or words). */
  backchannelMaxMs: number;
  /** Classifies transcripts (`BACKCHANNEL_WORDS`). */
  backchannelWords: { kind(text: string): TranscriptKind };
  /** The echo guard (`ECHO_GUARD`): asked about every transcript whether it came from the bot's own echo. */
  echo?: EchoTranscripts | undefined;
}

/** Why the call is being ended after a goodbye. */
export type GoodbyeReason = 'drain' | 'bot-failures';

/** What the turn machine asks the session to do. Called synchronously from the event methods. */
export interface TurnActions {
  onState(s: CallState): void;
  /** Barge-in: stop the reply now (abort its synthesis, clear playback). */
  onBargeIn(): void;
  /** Barge-in onset: pause playback now (the decision follows: {@link onBargeIn} or {@link onResume}). */
  onPause(): void;
  /** The pause is undone: playback goes on from where it stopped; nothing was interrupted. */
  onResume(why: ResumeReason): void;
  /** The caller acknowledged while the bot spoke: `durationMs` voiced, `text` when the ASR gave words. */
  onBackchannel(durationMs: number, text: string | undefined): void;
  /** A final transcript held while its utterance was under way turned out to be a turn: give it to the bot now. */
  onHeldTranscript(text: string): void;
  /** A final transcript was of the bot's own echo: dropped (not a turn, not given to the bot). */
  onEchoTranscript(text: string): void;
  /** The first frame of reply `replyId` was sent at `atMs`; `turnLatencyMs` when it closed a caller's turn (else undefined). */
  onReplyStarted(replyId: number, turnLatencyMs: number | undefined, atMs: number): void;
  /** The bot failed or did not answer (`failures` so far in this call): tell the caller, the call goes on. */
  onApologise(why: string, failures: number): void;
  /** Stop the bot and say goodbye; then the session calls {@link Turn.goodbyeWritten}. */
  onGoodbye(why: GoodbyeReason): void;
  /** End the call now with this close code and reason. */
  onHangUp(code: number, reason: string): void;
}

export class Turn {
  private readonly cfg: TurnConfig;
  private readonly act: TurnActions;
  state: CallState = 'starting';
  /** Arrival of the caller's last voiced frame (−1: none yet): where their speech really ended (before endpointing). */
  lastVoicedAtMs = -1;
  /** The caller spoke since the last reply started: the next reply's first frame closes the turn. */
  turnOpen = false;
  /** Voiced ms of the current utterance when the playing reply started: only speech after that can barge in. */
  speechMsAtReply = 0;
  bargedThisUtterance = false;
  /** A final transcript the bot has not answered since this time (−1: none). */
  botWaitSinceMs = -1;
  /** The call ends once what is queued has played. */
  hangupPending = false;
  hangupCode: number = CloseCode.NORMAL;
  hangupReason = 'bot hung up';
  /** A goodbye is playing (drain deadline or too many bot failures): bot output is ignored. */
  goingAway = false;
  botFailures = 0;
  bargeIns = 0;
  pauses = 0;
  resumes = 0;
  backchannels = 0;
  /** Final transcripts dropped as the bot's own echo. */
  echoTranscripts = 0;
  /** Playback is paused at a barge-in onset, awaiting the decision. */
  paused = false;
  /** When the pause began (arrival of the voiced frame that made it). */
  private pausedAtMs = 0;
  /** Voiced ms of the utterance at the last frame seen. */
  private lastSpeechMs = 0;
  /** A new pause needs the onset's voiced ms past this (set when a pause is undone by silence). */
  private rearmSpeechMs = 0;
  /** This utterance hit the pause bound: it does not pause again. */
  private noRepause = false;
  private pausedThisUtterance = false;
  /** This utterance began while the bot spoke and has not interrupted: it may be a backchannel. */
  private candidate = false;
  /** The candidate's latest transcript while it is still under way, its kind, and whether it was a final (held). */
  private candidateText: string | undefined;
  private candidateKind: TranscriptKind = 'empty';
  private candidateFinal = false;
  /** The candidate began {@link SHORT_ACK_AFTER_REPLY_MS} or more into the reply: a `short` transcript may acknowledge. */
  private candidateLate = false;
  /** The first frame of the latest reply went out at this time. */
  private replyStartedAtMs = -Infinity;
  /** A finished backchannel (voiced ms) awaiting its final transcript or its deadline (−1: none). */
  private bcDurMs = -1;
  private bcText: string | undefined;
  private bcDueMs = 0;
  /** Its utterance had paused the reply (words in its final interrupt late). */
  private bcPaused = false;
  private bcLate = false;

  constructor(cfg: TurnConfig, actions: TurnActions) {
    this.cfg = cfg;
    this.act = actions;
  }

  /** The bot session is up. */
  botReady(): void {
    this.setState('listening');
  }

  /** A voiced frame arrived at `atMs` (hot path). */
  voiced(atMs: number): void {
    this.lastVoicedAtMs = atMs;
  }

  /**
   * VAD: the caller started speaking. `speechMs` is voiced ms so far; `playing` whether a reply is queued, playing or
   * being synthesised, `interruptible` whether it may be cut.
   */
  speechStart(speechMs: number, playing: boolean, interruptible: boolean): void {
    this.bargedThisUtterance = false;
    this.turnOpen = true;
    this.speechMsAtReply = 0;
    this.rearmSpeechMs = 0;
    this.noRepause = false;
    this.pausedThisUtterance = false;
    this.candidate = playing && !this.goingAway && this.cfg.backchannelMaxMs > 0;
    this.candidateText = undefined;
    this.candidateKind = 'empty';
    this.candidateFinal = false;
    this.candidateLate = this.lastVoicedAtMs - this.replyStartedAtMs >= SHORT_ACK_AFTER_REPLY_MS;
    this.speech(speechMs, playing, interruptible);
  }

  /** The caller is still speaking (hot path: once per frame while speaking). */
  speech(speechMs: number, playing: boolean, interruptible: boolean): void {
    this.lastSpeechMs = speechMs;
    if (this.bargedThisUtterance || !this.cfg.bargeIn) return;
    // Only speech newer than the reply counts: the tail of the utterance being answered must not cut its own answer.
    const fresh = speechMs - this.speechMsAtReply;
    const confirmMs = this.cfg.bargeInConfirmMs;
    if (this.paused) {
      if (fresh >= confirmMs && this.candidateKind !== 'backchannel') this.bargeIn();
      return;
    }
    const onsetMs = confirmMs > 0 ? (this.cfg.bargeInPauseMs ?? this.cfg.bargeInMinSpeechMs) : this.cfg.bargeInMinSpeechMs;
    if (fresh < onsetMs) return;
    if (!playing || !interruptible || this.goingAway) return;
    if (confirmMs <= 0 || (fresh >= confirmMs && this.candidateKind !== 'backchannel')) return this.bargeIn();
    if (this.noRepause || speechMs - this.rearmSpeechMs < onsetMs) return;
    this.paused = true;
    this.pausedThisUtterance = true;
    this.pausedAtMs = this.lastVoicedAtMs;
    this.pauses++;
    this.act.onPause();
  }

  /**
   * VAD: the caller stopped speaking; `speechMs` voiced in the utterance (`playing`/`interruptible`: the speaker now).
   * Returns true when it is a backchannel decided now: the session flags its `speech-end`, and `onBackchannel` follows
   * at the next tick. With ASR and no final yet, the decision waits for the final (see the class comment).
   */
  speechEnd(speechMs = this.lastSpeechMs, nowMs = this.lastVoicedAtMs, playing = false, interruptible = true): boolean {
    if (this.paused) this.resume('speech-end');
    if (this.bcDurMs >= 0) this.endBackchannel(); // an older one still waiting for text: its final did not come first
    let decided = false;
    if (this.candidate && !this.bargedThisUtterance) {
      const text = this.candidateFinal ? this.candidateText : undefined;
      const acknowledges = this.acknowledges(this.candidateKind, speechMs, this.candidateLate);
      if (this.candidateFinal && !acknowledges && text !== undefined) {
        // Its final came before the VAD's end, with words that do not acknowledge (see acknowledges): a turn after all.
        if (this.pausedThisUtterance) this.lateBargeIn(playing, interruptible);
        this.startReplyClock(nowMs);
        this.act.onHeldTranscript(text);
      } else if (this.candidateFinal || !this.cfg.hasAsr) {
        // Decided now: told at the next tick, so the bot sees the utterance's speech-end first.
        decided = acknowledges;
        if (decided) this.holdBackchannel(speechMs, text, nowMs);
      } else this.holdBackchannel(speechMs, undefined, nowMs + BACKCHANNEL_TEXT_WAIT_MS); // its final decides
    }
    this.candidate = false;
    this.candidateText = undefined;
    this.candidateKind = 'empty';
    this.candidateFinal = false;
    if (this.state === 'listening') this.setState('thinking');
    return decided;
  }

  /**
   * A transcript from the ASR (`playing`/`interruptible` describe the speaker now). Returns true when it goes to the
   * bot as a transcript now, false when it is held (a final of an utterance under way that began while the bot spoke:
   * its end decides), taken as a backchannel's text, or dropped as the bot's echo. A non-empty final delivered starts
   * the reply clock.
   */
  transcript(final: boolean, text: string, nowMs: number, playing = false, interruptible = true): boolean {
    if (this.cfg.echo?.heardOnlyEcho(final)) {
      // Nobody spoke: nothing here changes (a backchannel waiting for its final still waits: finals come in order).
      if (final) {
        this.echoTranscripts++;
        this.act.onEchoTranscript(text);
      }
      return false;
    }
    const kind: TranscriptKind = this.cfg.backchannelMaxMs > 0 ? this.cfg.backchannelWords.kind(text) : text.trim() ? 'words' : 'empty';
    if (final && this.bcDurMs >= 0) {
      // Finals come in utterance order: the oldest finished candidate's comes first, and decides it: a backchannel when
      // it is only listed words (or none), or a short one of a few words that do not interrupt (a misheard "okay");
      // otherwise a turn, and the reply it paused is interrupted now.
      if (kind === 'empty' || this.acknowledges(kind, this.bcDurMs, this.bcLate)) {
        if (kind !== 'empty') this.bcText = text.trim();
        this.endBackchannel();
        return false;
      }
      this.bcDurMs = -1;
      this.turnOpen = true;
      if (this.bcPaused) this.lateBargeIn(playing, interruptible);
    } else {
      // Confirmed by words (partial or final): any but acknowledgements, or a short few that may be one.
      if (this.paused && (kind === 'words' || (kind === 'short' && !(this.candidate && this.candidateLate)))) this.bargeIn();
      if (this.candidate && !this.bargedThisUtterance) {
        if (kind !== 'empty') {
          this.candidateText = text.trim();
          this.candidateKind = kind;
          this.candidateFinal = final;
        }
        if (final) return false; // held: the utterance's end decides
      }
    }
    if (final && kind !== 'empty') this.startReplyClock(nowMs);
    return true;
  }

  /** The bot produced output: it is answering. */
  botOutput(): void {
    this.botWaitSinceMs = -1;
  }

  /**
   * The 20 ms tick: a pause is undone after enough silence or at its bound; a backchannel is told once due; a final
   * transcript unanswered past the timeout is a bot failure.
   */
  tick(nowMs: number): void {
    if (this.paused) {
      if (nowMs - this.lastVoicedAtMs >= this.cfg.resumeSilenceMs) this.resume('silence');
      else if (nowMs - this.pausedAtMs >= 2 * this.cfg.bargeInConfirmMs) {
        this.noRepause = true;
        this.resume('bound');
      }
    }
    if (this.bcDurMs >= 0 && nowMs >= this.bcDueMs) this.endBackchannel();
    const wait = this.botWaitSinceMs;
    if (wait >= 0 && nowMs - wait >= this.cfg.botReplyTimeoutMs) this.botFailed('the bot did not answer in time');
  }

  /** The bot's code threw or rejected, or it missed a reply: apologise, or after too many, say goodbye. */
  botFailed(why: string): void {
    this.botWaitSinceMs = -1;
    if (this.state === 'closed' || this.goingAway) return;
    this.botFailures++;
    if (this.botFailures >= this.cfg.botMaxFailures) {
      this.startGoodbye('bot-failures', CloseCode.INTERNAL, `bot failed ${this.botFailures} times`);
      return;
    }
    this.act.onApologise(why, this.botFailures);
  }

  /** The bot cannot go on at all (a speech-to-speech model's session was lost): say goodbye and hang up. */
  botLost(why: string): void {
    this.startGoodbye('bot-failures', CloseCode.INTERNAL, why);
  }

  /** The drain deadline passed: say goodbye and close with 1001. */
  drain(): void {
    this.startGoodbye('drain', CloseCode.GOING_AWAY, 'gateway shutting down');
  }

  /** The goodbye has been written out: the call ends once it has played (now, if nothing is playing). */
  goodbyeWritten(idle: boolean): void {
    if (this.state === 'closed') return;
    this.hangupPending = true;
    if (idle) this.act.onHangUp(this.hangupCode, this.hangupReason);
  }

  /** A reply was opened (its synthesis begins). Speech already under way cannot interrupt it. */
  replyOpened(speaking: boolean, speechMs: number): void {
    this.speechMsAtReply = speaking ? speechMs : 0;
    if (this.state !== 'speaking') this.setState('thinking');
  }

  /** The first frame of reply `id` went out at `atMs`. */
  replyStarted(id: number, atMs: number, speaking: boolean, speechMs: number): void {
    this.speechMsAtReply = speaking ? speechMs : 0;
    this.replyStartedAtMs = atMs;
    let latency: number | undefined;
    // Turn latency counts the endpointing silence too: it is silence the caller hears.
    if (this.turnOpen && this.lastVoicedAtMs >= 0) {
      this.turnOpen = false;
      latency = atMs - this.lastVoicedAtMs;
    }
    this.act.onReplyStarted(id, latency, atMs);
    this.setState('speaking');
  }

  /** A reply played out or was interrupted; `idle` when nothing else is queued, playing or being synthesised. */
  replyDone(idle: boolean): void {
    if (!idle || this.state === 'closed') return;
    if (this.paused) this.resume('played'); // all of it played out during the pause: nothing is left to decide
    this.setState('listening');
    if (this.hangupPending) this.act.onHangUp(this.hangupCode, this.hangupReason);
  }

  /** Playback was cleared (the bot's `clear`). */
  cleared(): void {
    this.paused = false; // a clear ends the pause (the pacer's too)
    this.setState('listening');
  }

  /** The bot asked to end the call: now if `immediate` or nothing is playing, else once it has played. */
  botHangup(immediate: boolean, idle: boolean): void {
    if (this.goingAway) return;
    if (immediate || idle) this.act.onHangUp(this.hangupCode, this.hangupReason);
    else this.hangupPending = true;
  }

  closed(): void {
    this.state = 'closed';
    this.paused = false;
    this.bcDurMs = -1;
    this.botWaitSinceMs = -1;
  }

  private startGoodbye(why: GoodbyeReason, code: number, reason: string): void {
    if (this.state === 'closed' || this.goingAway) return;
    this.goingAway = true;
    this.paused = false; // the goodbye clears playback
    this.botWaitSinceMs = -1;
    this.hangupPending = false;
    this.hangupCode = code;
    this.hangupReason = reason;
    this.act.onGoodbye(why);
  }

  private bargeIn(): void {
    this.paused = false; // the clear ends the pause
    this.bargedThisUtterance = true;
    this.candidate = false;
    this.bargeIns++;
    this.act.onBargeIn();
    this.setState('listening');
  }

  /** Words after all ("stop" is as short as "okay"): interrupt the reply the utterance paused, if it still plays. */
  private lateBargeIn(playing: boolean, interruptible: boolean): void {
    if (!this.cfg.bargeIn || !playing || !interruptible || this.goingAway) return;
    this.paused = false; // the clear ends any pause
    this.bargedThisUtterance = true;
    this.bargeIns++;
    this.act.onBargeIn();
    this.setState('listening');
  }

  private resume(why: ResumeReason): void {
    this.paused = false;
    this.rearmSpeechMs = this.lastSpeechMs;
    this.resumes++;
    this.act.onResume(why);
  }

  private startReplyClock(nowMs: number): void {
    if (this.cfg.hasTts && this.cfg.botReplyTimeoutMs > 0 && this.botWaitSinceMs < 0) this.botWaitSinceMs = nowMs;
  }

  /**
   * An utterance of `speechMs` voiced whose transcript is of `kind` ('empty': none) acknowledges: listed words at any
   * length; else short enough, with no words or (begun `late` enough into the reply) a `short` transcript.
   */
  private acknowledges(kind: TranscriptKind, speechMs: number, late: boolean): boolean {
    if (kind === 'backchannel') return true;
    return speechMs <= this.cfg.backchannelMaxMs && (kind === 'empty' || (kind === 'short' && late));
  }

  /** A finished candidate: told at `dueMs` (or at its final, if sooner). */
  private holdBackchannel(ms: number, text: string | undefined, dueMs: number): void {
    this.bcDurMs = ms;
    this.bcText = text;
    this.bcDueMs = dueMs;
    this.bcPaused = this.pausedThisUtterance;
    this.bcLate = this.candidateLate;
    this.turnOpen = false;
  }

  /** Tell the pending backchannel (if it qualifies: listed words, or short enough). Returns true when told. */
  private endBackchannel(): boolean {
    const ms = this.bcDurMs;
    const text = this.bcText;
    this.bcDurMs = -1;
    this.bcText = undefined;
    if (ms < 0 || this.state === 'closed' || (text === undefined && ms > this.cfg.backchannelMaxMs)) return false;
    this.backchannels++;
    this.turnOpen = false;
    this.act.onBackchannel(ms, text);
    return true;
  }

  private setState(s: CallState): void {
    if (this.state === s || this.state === 'closed') return;
    this.state = s;
    this.act.onState(s);
  }
}
