/**
 * A call's telemetry observer (as mediasoup keeps a separate `observer` emitter): the session reports what happens at
 * points that already exist — state changes, transcripts, bot text, DTMF, barge-in, reply start, call start and end.
 * Never per audio frame. The session builds an event only while `active` is true (a console client is connected),
 * so with nobody watching it costs one property read per event.
 */
import type { CallInfo } from './call-info.js';
import type { CallSummary } from './session.js';
import type { CallState } from './turn.js';

/** What a session reports. Times are the observer's own (wall clock at emission). */
export type CallObserverEvent =
  | { type: 'call-start' }
  | { type: 'state'; state: CallState }
  /** A transcript from the ASR: interim (may change) or final. */
  | { type: 'transcript'; text: string; final: boolean }
  /** Text the bot asked to be spoken (one `say`; streamed bots send several per reply). */
  | { type: 'bot-say'; text: string }
  | { type: 'dtmf'; digit: string; durationMs: number }
  /** `atMs` (session clock): when the barge-in was decided. */
  | { type: 'barge-in'; replyId: number; atMs?: number }
  /** Barge-in onset: playback paused (`atMs`, session clock); a `barge-in` or a `barge-in-resume` follows. */
  | { type: 'barge-in-pause'; replyId: number; atMs: number }
  | { type: 'barge-in-resume'; replyId: number; atMs: number }
  /** The caller acknowledged the bot without interrupting it (`text` when the ASR heard words). */
  | { type: 'backchannel'; text?: string; durationMs: number }
  /** A final transcript of the bot's own echo, dropped by the echo guard (never a turn, never given to the bot). */
  | { type: 'echo-transcript'; text: string }
  /** The first frame of a reply was sent (`atMs`, session clock); `turnLatencyMs` when it closed a caller's turn. */
  | { type: 'reply-start'; replyId: number; turnLatencyMs?: number; atMs?: number }
  /** A reply played out or was cut (`atMs`, session clock). */
  | { type: 'reply-done'; replyId: number; heardMs: number; totalMs: number; interrupted: boolean; atMs: number }
  /** A latency measured between the same two points (session clock ms) as its Prometheus histogram (see {@link TimingKind}). */
  | { type: 'timing'; what: TimingKind; startMs: number; endMs: number }
  /** The bot failed or did not answer, and the caller is told so (spoken with TTS, else a tone); `failures` in a row so far. */
  | { type: 'apology'; why: string; failures: number }
  | { type: 'call-end'; summary: CallSummary };

/**
 * The latencies the session reports, each observed at the same two points as a histogram:
 * `asr-final` = `gateway_asr_final_latency_seconds`, `bot-first-text` = `gateway_bot_first_text_latency_seconds`,
 * `tts-first-audio` = `gateway_tts_first_audio_latency_seconds`, `first-frame` = `gateway_turn_latency_seconds`.
 */
export type TimingKind = 'asr-final' | 'bot-first-text' | 'tts-first-audio' | 'first-frame';

/** Parts of a call that measure a latency report it here too (the session forwards it to its observer). */
export interface TimingSink {
  onTiming?(what: TimingKind, startMs: number, endMs: number): void;
}

/** The one view of a live call an observer may read (metadata, state, live counters). */
export interface ObservedCall {
  readonly info: CallInfo;
  readonly state: CallState;
  readonly jitter: CallSummary['jitter'];
  readonly pacerStats: CallSummary['pacer'];
  summary(): CallSummary;
}

export interface CallObserver {
  /** True while someone listens; sessions skip building events otherwise. */
  readonly active: boolean;
  /** Called synchronously by the session; must not throw and must not block (bounded work, no I/O waits). */
  event(call: ObservedCall, e: CallObserverEvent): void;
}

/** One observer made of several (the console and the tracer): active while any is; each gets events while it is. */
export function combineObservers(...list: Array<CallObserver | undefined>): CallObserver | undefined {
  const obs = list.filter((o): o is CallObserver => o !== undefined);
  if (obs.length <= 1) return obs[0];
  return {
    get active() {
      return obs.some((o) => o.active);
    },
    event(call, e) {
      for (const o of obs) if (o.active) o.event(call, e);
    },
  };
}
