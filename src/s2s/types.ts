/**
 * The speech-to-speech adapter contract: a model that hears the caller's audio and answers with audio, standing in for
 * ASR + bot + TTS for the whole call (`BOT_ADAPTER=openai-realtime`). One {@link S2sSession} per call, owned by the
 * call session through `call/s2s-link.ts` (the only code that calls it). The model detects the caller's turns itself;
 * the gateway keeps the leg, the pacer, barge-in clearing, recording, metrics and call control.
 */
import type { CallInfo } from '../call/call-info.js';

export type S2sEvent =
  /**
   * Audio of the model's reply item `itemId` (16-bit mono PCM at `sampleRateHz`), in order. A new `itemId` starts a new
   * reply. The gateway resamples to the leg rate only when the rates differ.
   */
  | { type: 'audio'; itemId: string; audio: Int16Array; sampleRateHz: number }
  /** The model has sent all the audio of item `itemId`. */
  | { type: 'audio-done'; itemId: string }
  /** The model heard the caller start speaking: whatever it was saying is interrupted (barge-in). */
  | { type: 'speech-start' }
  /** What the caller said (`caller`, when the service transcribes input) or the model said (`bot`), for logs and console. */
  | { type: 'transcript'; role: 'caller' | 'bot'; text: string }
  /** The model called a tool; `arguments` is its JSON text, untrusted. Answer with {@link S2sSession.toolResult}. */
  | { type: 'tool-call'; callId: string; name: string; arguments: string }
  /** A failure. `recoverable: false` means the session is over (e.g. the connection was lost); `events` then ends. */
  | { type: 'error'; code: string; message: string; recoverable: boolean };

export interface S2sSessionOptions {
  call: CallInfo;
  /** Aborted when the call ends: stop work, release handles, end `events`. */
  signal: AbortSignal;
  /** Vonage call control is configured: offer the call-control tools (hang up, transfer, DTMF). */
  hasCallControl: boolean;
}

/** One call's conversation with the model. */
export interface S2sSession {
  /**
   * One 20 ms frame of the caller's 16-bit little-endian mono PCM at `call.sampleRateHz`. Called from the 20 ms loop:
   * must return quickly and never throw. The buffer is valid only during the call.
   */
  write(frame: Buffer): void;
  /**
   * The caller heard only the first `heardMs` of reply item `itemId` (barge-in): the model forgets the rest. Also
   * cancels the model's response if it is still being generated.
   */
  truncate(itemId: string, heardMs: number): void;
  /** The result of tool call `callId`, for the model; `respond` asks the model to go on speaking. */
  toolResult(callId: string, output: string, respond: boolean): void;
  /** Something the caller did that the model cannot hear (a key press), told as text; the model answers it. */
  tell(text: string): void;
  /** Model output and failures, in order; ends when the session is closed or lost. */
  readonly events: AsyncIterable<S2sEvent>;
  /** Idempotent. */
  close(): void;
}

export interface S2sAdapter {
  readonly name: string;
  /**
   * The answer webhook for call `callId` was served: open the model's session now, so the first turn does not wait for
   * the connection. Bounded (pool size, time to live); must never throw. Optional.
   */
  preconnect?(callId: string): void;
  /** Open (or take the pre-connected) session for one call. May reject: the call then cannot go on (4007). */
  start(opts: S2sSessionOptions): S2sSession | Promise<S2sSession>;
  /** Release process-wide resources (pre-connected sessions) at shutdown. */
  close?(): void | Promise<void>;
}
