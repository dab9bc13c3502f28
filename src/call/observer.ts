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
  | { type: 'barge-in'; replyId: number }
  /** The first frame of a reply was sent; `turnLatencyMs` when it closed a caller's turn. */
  | { type: 'reply-start'; replyId: number; turnLatencyMs?: number }
  | { type: 'call-end'; summary: CallSummary };

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
