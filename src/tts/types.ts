/**
 * The TTS adapter contract: text in, PCM chunks out, streamed and abortable. Users plug in their own with
 * `TTS_ADAPTER=./my-tts.js`.
 */
import type { CallInfo } from '../call/call-info.js';
import type { AdapterContext } from '../util/adapter-context.js';

export interface TtsChunk {
  /**
   * 16-bit mono PCM; any length. The gateway only reads it, never writes it, and keeps no reference once it has been
   * played: an adapter may hand on audio it shares (a cache of prompts) without copying.
   */
  audio: Int16Array;
  /** Any rate; the egress path resamples to the leg's. */
  sampleRateHz: number;
}

export interface TtsRequest {
  text: string;
  call: CallInfo;
  /** Voice name, adapter-specific; undefined = the adapter's default for `call.language`. */
  voice?: string;
  /** Aborted on barge-in or call end: stop synthesising and end the iteration. */
  signal: AbortSignal;
}

/**
 * One utterance whose text arrives in pieces (a bot streaming its reply), from {@link TtsAdapter.openStream}. The
 * gateway pushes each piece as it comes and reads `audio` at the same time; it ends the stream when the reply ends.
 */
export interface TtsTextStream {
  /** Append text (pieces are joined as the adapter's service needs); returns at once. Ignored after `end()`. */
  push(text: string): void;
  /** No more text: `audio` ends once everything pushed has been spoken. Idempotent. */
  end(): void;
  /**
   * The audio of everything pushed, in order, read once. Ends after `end()` when all is spoken, or when the request's
   * signal aborts (the adapter stops the synthesis). A provider failure is thrown from the iterator (with a `code`).
   */
  readonly audio: AsyncIterable<TtsChunk>;
}

export interface TtsAdapter {
  readonly name: string;
  /** Synthesize one piece of text. Errors are thrown from the iterator (the session logs, counts and moves on). */
  synthesize(req: TtsRequest): AsyncIterable<TtsChunk>;
  /**
   * Optional streaming input: open one utterance and push its text as it arrives, so the first audio can come before
   * the text (or its first sentence) is complete. When present, the gateway speaks a bot reply streamed as several
   * `say`s through one stream instead of one `synthesize` per piece. `req` is a request without text.
   */
  openStream?(req: Omit<TtsRequest, 'text'>): TtsTextStream;
  close?(): void | Promise<void>;
}

export type TtsAdapterFactory = (ctx: AdapterContext) => TtsAdapter | Promise<TtsAdapter>;
