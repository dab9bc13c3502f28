/**
 * One call's turn-taking, as a pure state machine: the session tells it what happened (speech start/end, voiced
 * frames, transcripts, replies opened/started/done, bot output, bot failures, ticks, the drain) with the times on the
 * injected clock, and it answers through {@link TurnActions} (state change, interrupt, turn latency measured, apologise,
 * goodbye, hang up). No I/O, no timers, no adapters: `test/core/turn.test.ts` drives it as a table of event sequences.
 *
 * Per-frame entry points (`voiced`, `speech`) allocate nothing.
 */
import { CloseCode } from '../errors.js';

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
}

/** Why the call is being ended after a goodbye. */
export type GoodbyeReason = 'drain' | 'bot-failures';

/** What the turn machine asks the session to do. Called synchronously from the event methods. */
export interface TurnActions {
  onState(s: CallState): void;
  /** Barge-in: stop the reply now (abort its synthesis, clear playback). */
  onBargeIn(): void;
  /** The first frame of reply `replyId` was sent; `turnLatencyMs` when it closed a caller's turn (else undefined). */
  onReplyStarted(replyId: number, turnLatencyMs: number | undefined): void;
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
    this.speech(speechMs, playing, interruptible);
  }

  /** The caller is still speaking (hot path: once per frame while speaking). */
  speech(speechMs: number, playing: boolean, interruptible: boolean): void {
    if (this.bargedThisUtterance || !this.cfg.bargeIn) return;
    // Only speech newer than the reply counts: the tail of the utterance being answered must not cut its own answer.
    if (speechMs - this.speechMsAtReply < this.cfg.bargeInMinSpeechMs) return;
    if (!playing || !interruptible || this.goingAway) return;
    this.bargedThisUtterance = true;
    this.bargeIns++;
    this.act.onBargeIn();
    this.setState('listening');
  }

  /** VAD: the caller stopped speaking. */
  speechEnd(): void {
    if (this.state === 'listening') this.setState('thinking');
  }

  /** A transcript reached the bot; a non-empty final starts the bot's reply clock. */
  transcript(final: boolean, hasText: boolean, nowMs: number): void {
    if (final && hasText && this.cfg.hasTts && this.cfg.botReplyTimeoutMs > 0 && this.botWaitSinceMs < 0) this.botWaitSinceMs = nowMs;
  }

  /** The bot produced output: it is answering. */
  botOutput(): void {
    this.botWaitSinceMs = -1;
  }

  /** The 20 ms tick: a final transcript unanswered past the timeout is a bot failure. */
  tick(nowMs: number): void {
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
    let latency: number | undefined;
    // Turn latency counts the endpointing silence too: it is silence the caller hears.
    if (this.turnOpen && this.lastVoicedAtMs >= 0) {
      this.turnOpen = false;
      latency = atMs - this.lastVoicedAtMs;
    }
    this.act.onReplyStarted(id, latency);
    this.setState('speaking');
  }

  /** A reply played out or was interrupted; `idle` when nothing else is queued, playing or being synthesised. */
  replyDone(idle: boolean): void {
    if (!idle || this.state === 'closed') return;
    this.setState('listening');
    if (this.hangupPending) this.act.onHangUp(this.hangupCode, this.hangupReason);
  }

  /** Playback was cleared (the bot's `clear`). */
  cleared(): void {
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
    this.botWaitSinceMs = -1;
  }

  private startGoodbye(why: GoodbyeReason, code: number, reason: string): void {
    if (this.state === 'closed' || this.goingAway) return;
    this.goingAway = true;
    this.botWaitSinceMs = -1;
    this.hangupPending = false;
    this.hangupCode = code;
    this.hangupReason = reason;
    this.act.onGoodbye(why);
  }

  private setState(s: CallState): void {
    if (this.state === s || this.state === 'closed') return;
    this.state = s;
    this.act.onState(s);
  }
}
