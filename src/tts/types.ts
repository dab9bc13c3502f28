/**
 * The TTS adapter contract: text in, PCM chunks out, streamed and abortable. Users plug in their own with
 * `TTS_ADAPTER=./my-tts.js`.
 */
import type { CallInfo } from '../call/call-info.js';
import type { AdapterContext } from '../util/adapter-context.js';

export interface TtsChunk {
  /** 16-bit mono PCM; any length. */
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

export interface TtsAdapter {
  readonly name: string;
  /** Synthesize one piece of text. Errors are thrown from the iterator (the session logs, counts and moves on). */
  synthesize(req: TtsRequest): AsyncIterable<TtsChunk>;
  close?(): void | Promise<void>;
}

export type TtsAdapterFactory = (ctx: AdapterContext) => TtsAdapter | Promise<TtsAdapter>;
