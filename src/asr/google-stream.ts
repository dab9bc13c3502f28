/**
 * One call's Google Cloud Speech v1 recognition, as a chain of gRPC `StreamingRecognize` streams that looks like one
 * {@link AsrStream}. Google caps a stream at 305 s, single-utterance streams end after each utterance, and streams
 * fail; each time, the adapter opens a new stream and replays the audio Google has not yet acknowledged with a final
 * result (kept in a {@link ReplayBuffer}), so nothing the caller said is lost, reordered, or transcribed twice.
 *
 * Positions: the replay buffer counts bytes from the call's first frame. A stream's first audio byte is the buffer's
 * `start` when it opens (the last acknowledged position), so a result's `resultEndTime` (relative to its stream) maps
 * to `streamBase + resultEndTime` in the call: finals' `startMs`/`endMs` are continuous across restarts.
 *
 * Restarts (each emits `{type:'restart', reason, replayedMs}`, `replayedMs` = unacknowledged audio fed again):
 * - `rotate`: the stream reached `rotateMs` (default 290 s, before the 305 s cap);
 * - `single-utterance`: Google sent `END_OF_SINGLE_UTTERANCE` and closed the stream;
 * - `duration-limit`: Google's 305 s cap fired anyway (OUT_OF_RANGE); immediate, not counted as a failure;
 * - `GOOGLE_<STATUS>` for recoverable errors (see google-errors.ts), after an exponential backoff; after
 *   `maxConsecutiveFailures` failures in a row the error is reported with `recoverable: false` and `events` ends;
 * - `ended`: the server closed the stream without an error; `stalled`: the stream stopped taking audio for longer
 *   than the replay buffer holds (counted as a failure).
 */
import type { CallOptions } from 'google-gax';
import type { Duplex } from 'node:stream';
import { Channel } from '../util/channel.js';
import { ReplayBuffer } from './replay-buffer.js';
import { backoffMs, classifyGoogleError, type GoogleErrorInfo } from './google-errors.js';
import type { AsrEvent, AsrStream, AsrStreamOptions } from './types.js';

/** The part of the SDK's v1 `SpeechClient` this file uses (the raw bidi call; we frame requests ourselves). */
export interface StreamingSpeechClient {
  _streamingRecognize(options?: CallOptions): Duplex & { cancel(): void };
}

/** Settings of one call's recognition (from config; see README "Google Cloud Speech"). */
export interface GoogleStreamSettings {
  /** Recognition model; empty = the service's default for the language. */
  model: string;
  interimResults: boolean;
  /** Phrase hints sent as one speech context. */
  phrases: readonly string[];
  singleUtterance: boolean;
  /** Rotate each stream after this long (Google's cap is 305 s). */
  rotateMs: number;
  /** Unacknowledged audio kept for replay; older audio is dropped and counted. */
  replayMaxMs: number;
  /** Consecutive failed streams before giving up. */
  maxConsecutiveFailures: number;
  /** A stream that refuses audio (gRPC flow control) this long is replaced. Default 5000. */
  stallMs?: number;
}

/** A stream that lived this long, or got any response, resets the failure count. */
const STABLE_STREAM_MS = 10000;
/** After END_OF_SINGLE_UTTERANCE, the server should close the stream within this; else we cancel it. */
const SINGLE_UTTERANCE_CLOSE_MS = 5000;

interface ResultTime {
  seconds?: number | string | null;
  nanos?: number | null;
}
interface StreamingResult {
  alternatives?: Array<{ transcript?: string | null; confidence?: number | null }> | null;
  isFinal?: boolean | null;
  resultEndTime?: ResultTime | null;
}
interface StreamingResponse {
  error?: { code?: number; message?: string } | null;
  results?: StreamingResult[] | null;
  speechEventType?: string | number | null;
}

function durationMs(d: ResultTime | null | undefined): number | undefined {
  if (!d) return undefined;
  const ms = Number(d.seconds ?? 0) * 1000 + Number(d.nanos ?? 0) / 1e6;
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** Confidence arrives as a float32 (0.9 → 0.8999999761…): 4 decimals are all it carries. */
function roundConfidence(c: number): number {
  return Math.round(c * 1e4) / 1e4;
}

export class GoogleAsrStream implements AsrStream {
  /** Events for the session; interims may be dropped (oldest first) if the consumer stalls. */
  readonly events = new Channel<AsrEvent>(256);
  readonly replay: ReplayBuffer;
  /** Provider streams opened so far (1 + restarts). */
  streamsOpened = 0;

  private readonly streamingConfig: object;
  private s: (Duplex & { cancel(): void }) | undefined;
  /** Absolute byte offset of the current stream's first audio byte. */
  private baseByte = 0;
  /** Absolute byte offset up to which audio has been written to the current stream. */
  private sentByte = 0;
  /** The current stream refused more writes (backpressure); resume on 'drain'. */
  private blocked = false;
  /** When `blocked` last became true (performance.now()). */
  private blockedAtMs = 0;
  /** False once the current stream has been told the utterance ended (it is finishing; do not write). */
  private accepting = false;
  private gotResponse = false;
  private openedAtMs = 0;
  private failures = 0;
  private lastFinalEndByte = 0;
  private closedFlag = false;
  private rotateTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private finishTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => this.close();
  private readonly onRotate = (): void => this.rotate();
  private readonly onRetry = (): void => {
    this.retryTimer = undefined;
    this.open();
  };
  private readonly onFinishTimeout = (): void => {
    this.finishTimer = undefined;
    if (this.s && !this.accepting) this.restart('single-utterance', 0);
  };

  constructor(
    private readonly client: StreamingSpeechClient,
    private readonly o: AsrStreamOptions,
    private readonly settings: GoogleStreamSettings,
    /** Told once when the stream closes (the adapter forgets it). */
    private readonly onClosed?: (s: GoogleAsrStream) => void,
  ) {
    this.replay = new ReplayBuffer(o.call.sampleRateHz, settings.replayMaxMs);
    const config: Record<string, unknown> = {
      encoding: 'LINEAR16',
      sampleRateHertz: o.call.sampleRateHz,
      audioChannelCount: 1,
      languageCode: o.call.language,
    };
    if (settings.model) config.model = settings.model;
    if (settings.phrases.length) config.speechContexts = [{ phrases: [...settings.phrases] }];
    this.streamingConfig = { config, interimResults: settings.interimResults, singleUtterance: settings.singleUtterance };
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Open the first provider stream and follow the call's signal. Called once, by the adapter. */
  start(): this {
    if (this.o.signal.aborted) {
      this.close();
      return this;
    }
    this.o.signal.addEventListener('abort', this.onAbort, { once: true });
    this.open();
    return this;
  }

  write(frame: Buffer, _receivedAtMs?: number): void {
    if (this.closedFlag || frame.length === 0) return;
    // The frame is only ours during this call: keep a copy (it is also what we send, and what a restart replays).
    const copy = Buffer.allocUnsafe(frame.length);
    frame.copy(copy);
    this.replay.append(copy);
    const s = this.s;
    if (!s || !this.accepting) return;
    if (this.blocked) {
      // A stream that takes no audio for too long (network stall), or so long that the replay bound dropped audio it
      // was never sent, is replaced: the new one gets everything still kept.
      if (this.sentByte < this.replay.start || performance.now() - this.blockedAtMs > (this.settings.stallMs ?? 5000)) {
        this.fail({ code: 'GOOGLE_STALLED', status: undefined, message: 'the stream stopped taking audio', recoverable: true, durationCap: false }, 'stalled');
      }
      return;
    }
    if (this.sentByte === this.replay.end - copy.length) this.send(s, copy);
    else this.pump(s);
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.o.signal.removeEventListener('abort', this.onAbort);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.detach();
    this.events.close();
    this.onClosed?.(this);
  }

  // ── provider streams ──────────────────────────────────────────────────────
  private open(): void {
    if (this.closedFlag) return;
    let s: Duplex & { cancel(): void };
    try {
      s = this.client._streamingRecognize();
    } catch (err) {
      this.onStreamError(undefined, err);
      return;
    }
    this.s = s;
    this.streamsOpened++;
    this.baseByte = this.replay.start;
    this.sentByte = this.replay.start;
    this.blocked = false;
    this.accepting = true;
    this.gotResponse = false;
    this.openedAtMs = performance.now();
    s.on('data', (r: StreamingResponse) => this.onResponse(s, r));
    s.on('error', (err: unknown) => this.onStreamError(s, err));
    s.on('end', () => this.onStreamEnd(s));
    s.on('drain', () => {
      if (s !== this.s) return;
      this.blocked = false;
      this.pump(s);
    });
    // v1 framing: exactly one config first, then audio only.
    this.blocked = !s.write({ streamingConfig: this.streamingConfig });
    this.blockedAtMs = performance.now();
    if (!this.blocked) this.pump(s);
    this.rotateTimer = setTimeout(this.onRotate, this.settings.rotateMs);
  }

  /** Stop using the current stream: cancel it (its late events are ignored) and clear its timers. */
  private detach(): void {
    if (this.rotateTimer) clearTimeout(this.rotateTimer);
    if (this.finishTimer) clearTimeout(this.finishTimer);
    this.rotateTimer = this.finishTimer = undefined;
    const s = this.s;
    this.s = undefined;
    this.accepting = false;
    if (!s) return;
    // Keep listening for errors: cancelling makes the stream emit CANCELLED, which must not go unhandled.
    try {
      s.cancel();
    } catch {
      /* already finished */
    }
  }

  private send(s: Duplex, chunk: Buffer): void {
    let ok = false;
    try {
      ok = s.write({ audioContent: chunk });
    } catch {
      /* a write after the stream failed: its 'error' handler restarts it */
    }
    this.sentByte += chunk.length;
    if (!ok) {
      this.blocked = true;
      this.blockedAtMs = performance.now();
    }
  }

  /** Send everything kept from `sentByte` on, until the stream pushes back. */
  private pump(s: Duplex): void {
    if (this.sentByte >= this.replay.end) return;
    for (const c of this.replay.from(this.sentByte)) {
      this.send(s, c);
      if (this.blocked || s !== this.s) return;
    }
  }

  private restart(reason: string, delayMs: number): void {
    this.detach();
    if (this.closedFlag) return;
    this.events.push({ type: 'restart', reason, replayedMs: Math.round(this.replay.byteToMs(this.replay.size)) });
    if (delayMs <= 0) this.open();
    else this.retryTimer = setTimeout(this.onRetry, delayMs);
  }

  private rotate(): void {
    this.rotateTimer = undefined;
    // A single-utterance stream that is finishing is about to be replaced anyway.
    if (this.s && this.accepting) this.restart('rotate', 0);
  }

  private onResponse(s: Duplex, r: StreamingResponse): void {
    if (s !== this.s) return;
    this.gotResponse = true;
    this.failures = 0;
    if (r.error && r.error.code) {
      this.onStreamError(s, { code: r.error.code, details: r.error.message ?? '' });
      return;
    }
    if (r.results?.length) this.onResults(r.results);
    if (r.speechEventType === 'END_OF_SINGLE_UTTERANCE' || r.speechEventType === 1) {
      // Google stops listening: half-close, take the final it still sends, and reopen when it closes the stream.
      if (this.accepting) {
        this.accepting = false;
        try {
          s.end();
        } catch {
          /* already ended */
        }
        this.finishTimer = setTimeout(this.onFinishTimeout, SINGLE_UTTERANCE_CLOSE_MS);
      }
    }
  }

  private onResults(results: StreamingResult[]): void {
    let interim = '';
    for (const res of results) {
      const alt = res.alternatives?.[0];
      const text = (alt?.transcript ?? '').trim();
      if (!res.isFinal) {
        if (text) interim = interim ? `${interim} ${text}` : text;
        continue;
      }
      const relMs = durationMs(res.resultEndTime);
      if (relMs === undefined) {
        // No position: emit it, but acknowledge nothing (a restart may replay it rather than lose speech).
        if (text) this.events.push(alt?.confidence ? { type: 'final', text, confidence: roundConfidence(alt.confidence) } : { type: 'final', text });
        continue;
      }
      const endByte = Math.max(this.lastFinalEndByte, Math.min(this.sentByte, this.baseByte + this.replay.msToByte(relMs)));
      const startByte = Math.max(this.lastFinalEndByte, this.baseByte);
      this.lastFinalEndByte = endByte;
      this.replay.ack(endByte);
      if (!text) continue;
      const e: AsrEvent = {
        type: 'final',
        text,
        startMs: Math.round(this.replay.byteToMs(Math.min(startByte, endByte))),
        endMs: Math.round(this.replay.byteToMs(endByte)),
      };
      if (alt?.confidence) e.confidence = roundConfidence(alt.confidence);
      this.events.push(e);
    }
    if (interim) this.events.push({ type: 'interim', text: interim });
  }

  private onStreamError(s: Duplex | undefined, err: unknown): void {
    if (s !== this.s || this.closedFlag) return;
    const info = classifyGoogleError(err);
    if (!info.recoverable) {
      this.detach();
      this.events.push({ type: 'error', code: info.code, message: info.message, recoverable: false });
      this.close();
      return;
    }
    if (info.durationCap) {
      this.events.push({ type: 'error', code: info.code, message: info.message, recoverable: true });
      this.restart('duration-limit', 0);
      return;
    }
    this.fail(info, info.code);
  }

  private onStreamEnd(s: Duplex): void {
    if (s !== this.s || this.closedFlag) return;
    if (!this.accepting) {
      this.restart('single-utterance', 0);
      return;
    }
    // The server closed a stream we were still using, without an error.
    if (this.gotResponse || performance.now() - this.openedAtMs >= STABLE_STREAM_MS) this.restart('ended', 0);
    else this.fail({ code: 'GOOGLE_STREAM_ENDED', status: 0, message: 'the service closed the stream', recoverable: true, durationCap: false }, 'ended');
  }

  /** A recoverable failure: retry with backoff, or give up after too many in a row. */
  private fail(info: GoogleErrorInfo, reason: string): void {
    const stable = this.gotResponse || performance.now() - this.openedAtMs >= STABLE_STREAM_MS;
    this.failures = stable ? 1 : this.failures + 1;
    if (this.failures > this.settings.maxConsecutiveFailures) {
      this.detach();
      const message = `${info.message} (gave up after ${this.settings.maxConsecutiveFailures} consecutive failures)`;
      this.events.push({ type: 'error', code: info.code, message, recoverable: false });
      this.close();
      return;
    }
    this.events.push({ type: 'error', code: info.code, message: info.message, recoverable: true });
    this.restart(reason, backoffMs(this.failures));
  }
}
