/**
 * The ASR adapter contract. An adapter is a factory's product, created once per process; it opens one
 * {@link AsrStream} per call. Users plug in their own with `ASR_ADAPTER=./my-asr.js` (see README).
 */
import type { CallInfo } from '../call/call-info.js';
import type { AdapterContext } from '../util/adapter-context.js';

export interface AsrCapabilities {
  /** Emits interim (partial) transcripts. */
  interim: boolean;
  /** Sample rates the adapter accepts natively; the gateway passes frames at the leg rate (8000/16000/24000). */
  sampleRatesHz: readonly number[];
}

export type AsrEvent =
  | { type: 'interim'; text: string }
  /**
   * `startMs`/`endMs`, when the provider gives them: where the result lies in the call's audio (ms from the first frame
   * the stream was given), continuous across the adapter's internal restarts.
   */
  | { type: 'final'; text: string; confidence?: number; startMs?: number; endMs?: number }
  /** A provider failure. `recoverable` errors keep the stream; unrecoverable ones end it. Never thrown. */
  | { type: 'error'; code: string; message: string; recoverable: boolean }
  /** The adapter replaced its provider stream (rotation before a duration limit, reconnect after an error). */
  | { type: 'restart'; reason: string; replayedMs: number }
  /** A fallback chain moved the call from one adapter to the next (see `asr/fallback.ts`). */
  | { type: 'failover'; from: string; to: string; reason: string; replayedMs: number };

export interface AsrStreamOptions {
  call: CallInfo;
  /** Aborted when the call ends: stop work, release handles, end `events`. */
  signal: AbortSignal;
}

/** One call's recognition stream. The session owns it and closes it. */
export interface AsrStream {
  /**
   * Push one 20 ms frame of 16-bit little-endian mono PCM at `call.sampleRateHz`. Called from the 20 ms loop: must
   * return quickly and never throw. The buffer is valid only during the call; copy it to keep it.
   * `receivedAtMs` is when the socket delivered the frame (`performance.now()` clock), for ingress-latency measurement.
   */
  write(frame: Buffer, receivedAtMs: number): void;
  /**
   * Hint: the caller stopped speaking (VAD end of utterance, or sooner after `ENDPOINT_ASR_FLUSH_MS` of silence when
   * that is a number: speech may then go on). Adapters that endpoint themselves may ignore it.
   */
  endOfSpeech?(): void;
  /** Transcripts and errors; ends when the stream is closed. */
  readonly events: AsyncIterable<AsrEvent>;
  /** Stop and release everything. Idempotent. */
  close(): void;
}

export interface AsrAdapter {
  readonly name: string;
  readonly capabilities: AsrCapabilities;
  /** Open a stream for one call. May reject (the call goes on without ASR, and the log says why). */
  start(opts: AsrStreamOptions): AsrStream | Promise<AsrStream>;
  /** Release process-wide resources at shutdown. */
  close?(): void | Promise<void>;
}

export type AsrAdapterFactory = (ctx: AdapterContext) => AsrAdapter | Promise<AsrAdapter>;
