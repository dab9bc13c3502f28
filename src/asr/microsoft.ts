/**
 * ASR adapter `microsoft`: Azure Speech continuous recognition through `microsoft-cognitiveservices-speech-sdk`, fed
 * from a push stream (16-bit mono PCM at the leg rate; 24 kHz legs are resampled to 16 kHz, which the service prefers).
 *
 * - `recognizing` → `interim`; `recognized` (RecognizedSpeech) → `final` with `startMs`/`endMs` taken from the result's
 *   Offset/Duration (100-ns ticks), made absolute in the call's audio and continuous across reconnects. NoMatch results
 *   emit nothing (but count as audio the service has finished with).
 * - `canceled` with an error → `{type:'error', code:'AZURE_<CANCELLATION_ERROR_CODE>', recoverable}`. Authentication,
 *   forbidden, bad request and runtime errors are fatal: the stream's events end. Connection failures, service
 *   timeouts/errors and too-many-requests are recoverable: the adapter opens a new recognizer and push stream after a
 *   backoff and replays the audio no final has covered yet (a {@link ReplayBuffer} acknowledged up to each final's
 *   end), then emits `{type:'restart', reason, replayedMs}`. At most `AZURE_SPEECH_MAX_RETRIES` reconnects in a row;
 *   a final resets the count.
 * - A lost socket counts as a recoverable `AZURE_CONNECTION_FAILURE` too: the SDK's own silent reconnect is pre-empted
 *   (its replay duplicates and reorders audio when live audio is arriving; see `onDisconnected`).
 * - Every connection attempt has its own timeout (`AZURE_SPEECH_CONNECT_TIMEOUT_MS`): the SDK alone may never report
 *   a refused upgrade (Node ≥ 22, upstream issue #959).
 */
import type * as SpeechSdk from 'microsoft-cognitiveservices-speech-sdk';
import { StreamResampler, loadResampler } from '../audio/resampler.js';
import type { AzureSettings } from '../config/sections.js';
import type { Logger } from '../observability/logger.js';
import { Channel } from '../util/channel.js';
import type { AdapterContext } from '../util/adapter-context.js';
import { AZURE_RECOVERABLE, azureErrorCode, azureSpeechConfig, checkAzureConfig, loadAzureSdk, type Sdk } from '../util/azure-speech.js';
import { ReplayBuffer } from './replay-buffer.js';
import type { AsrAdapter, AsrEvent, AsrStream, AsrStreamOptions } from './types.js';

/** Unfinalised audio kept for replay; older audio is dropped (and counted) past it. */
const REPLAY_MAX_MS = 30_000;
const BACKOFF_FIRST_MS = 200;
const BACKOFF_MAX_MS = 5_000;

/** One recognizer + push stream: the unit a reconnect replaces. */
interface Attempt {
  id: number;
  reco: SpeechSdk.SpeechRecognizer;
  conn: SpeechSdk.Connection;
  push: SpeechSdk.PushAudioInputStream;
  /** Absolute byte (in the recognised audio) where this recognizer's stream starts. */
  baseByte: number;
  /** Connect timer. */
  timer: NodeJS.Timeout | undefined;
}

export interface MicrosoftAsrSettings {
  config: AzureSettings;
  logger: Logger;
}

class MicrosoftAsrStream implements AsrStream {
  readonly events = new Channel<AsrEvent>(256);
  private readonly sdk: Sdk;
  private readonly o: AsrStreamOptions;
  private readonly config: AzureSettings;
  private readonly log: Logger;
  /** Rate the recogniser is given (the leg's, or 16 kHz for 24 kHz legs). */
  private readonly rateHz: number;
  private readonly resampler: StreamResampler | undefined;
  private readonly replay: ReplayBuffer;
  private current: Attempt | undefined;
  private attempts = 0;
  /** Recoverable failures since the last final. */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly onAbort = () => this.close();

  constructor(sdk: Sdk, o: AsrStreamOptions, s: MicrosoftAsrSettings) {
    this.sdk = sdk;
    this.o = o;
    this.config = s.config;
    this.log = s.logger.child({ callId: o.call.callId });
    this.rateHz = o.call.sampleRateHz === 8000 ? 8000 : 16000;
    if (o.call.sampleRateHz !== this.rateHz) this.resampler = new StreamResampler(o.call.sampleRateHz, this.rateHz);
    this.replay = new ReplayBuffer(this.rateHz, REPLAY_MAX_MS);
  }

  /** Open the first recognizer (separate from the constructor: nothing starts work there). */
  open(): void {
    if (this.o.signal.aborted) {
      this.close();
      return;
    }
    this.o.signal.addEventListener('abort', this.onAbort, { once: true });
    this.startAttempt();
  }

  write(frame: Buffer): void {
    if (this.closed) return;
    let copy: Buffer;
    if (this.resampler) {
      const samples = new Int16Array(frame.length >> 1);
      Buffer.from(samples.buffer).set(frame.subarray(0, samples.length * 2));
      const out = this.resampler.process(samples);
      if (out.length === 0) return;
      // `out` owns its ArrayBuffer exactly (the resampler copies out of WASM memory).
      copy = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    } else {
      copy = Buffer.alloc(frame.length); // not from the pool: copy.buffer is exactly this frame
      frame.copy(copy);
    }
    this.replay.append(copy);
    const a = this.current;
    if (a) a.push.write(copy.buffer as ArrayBuffer);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.o.signal.removeEventListener('abort', this.onAbort);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const a = this.current;
    this.current = undefined;
    if (a) this.teardown(a);
    this.resampler?.close();
    this.events.close();
  }

  /** Audio the replay buffer had to drop (bytes) because no final came for {@link REPLAY_MAX_MS}. */
  get droppedReplayBytes(): number {
    return this.replay.droppedBytes;
  }

  private startAttempt(): number {
    const sdk = this.sdk;
    const sc = azureSpeechConfig(sdk, this.config);
    sc.speechRecognitionLanguage = this.o.call.language;
    sc.setProperty('SPEECH-TransmitLengthBeforThrottleMs', String(this.config.azureSpeechUnthrottledMs));
    // One connection attempt per recognizer: the adapter owns retries (with backoff, bounded, and replay it controls).
    sc.setProperty('SPEECH-Error-MaxRetryCount', '0');
    const push = sdk.AudioInputStream.createPushStream(sdk.AudioStreamFormat.getWaveFormatPCM(this.rateHz, 16, 1));
    const reco = new sdk.SpeechRecognizer(sc, sdk.AudioConfig.fromStreamInput(push));
    if (this.config.azureSpeechPhrases.length) sdk.PhraseListGrammar.fromRecognizer(reco).addPhrases([...this.config.azureSpeechPhrases]);
    const conn = sdk.Connection.fromRecognizer(reco);
    const a: Attempt = { id: ++this.attempts, reco, conn, push, baseByte: this.replay.start, timer: undefined };
    reco.recognizing = (_s, e) => this.onRecognizing(a, e);
    reco.recognized = (_s, e) => this.onRecognized(a, e);
    reco.canceled = (_s, e) => this.onCanceled(a, e);
    reco.sessionStarted = () => this.onConnected(a);
    conn.connected = () => this.onConnected(a);
    conn.disconnected = (e) => this.onDisconnected(a, e);
    // Replay what no final has covered yet, before any new audio.
    let replayed = 0;
    for (const c of this.replay.pending()) {
      push.write(
        c.byteOffset === 0 && c.byteLength === c.buffer.byteLength
          ? (c.buffer as ArrayBuffer)
          : (c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength) as ArrayBuffer),
      );
      replayed += c.length;
    }
    this.current = a;
    this.armConnectTimer(a);
    reco.startContinuousRecognitionAsync(
      () => {},
      (err: string) => this.fail(a, 'AZURE_RUNTIME_ERROR', `start failed: ${err}`, false),
    );
    return replayed;
  }

  private armConnectTimer(a: Attempt): void {
    if (a.timer) clearTimeout(a.timer);
    const ms = this.config.azureSpeechConnectTimeoutMs;
    a.timer = setTimeout(() => {
      a.timer = undefined;
      this.fail(a, 'AZURE_CONNECT_TIMEOUT', `no connection to Azure Speech within ${ms} ms`, true);
    }, ms);
  }

  private onConnected(a: Attempt): void {
    if (a !== this.current) return;
    if (a.timer) clearTimeout(a.timer);
    a.timer = undefined;
  }

  /**
   * The socket went away under a live recognizer. The SDK would reconnect by itself, but its replay is only correct
   * when no read of new audio is pending: with live audio arriving, the chunk being awaited is sent before the replay
   * and then again inside it (duplicated and out of order). So the adapter replaces the recognizer itself. This runs
   * synchronously inside the SDK's close event, before its receive loop can dial again.
   */
  private onDisconnected(a: Attempt, e: SpeechSdk.ConnectionEventArgs): void {
    if (a !== this.current || this.closed) return;
    this.fail(a, 'AZURE_CONNECTION_FAILURE', `connection to Azure Speech lost (${e.sessionId ?? 'no session'})`, true);
  }

  private onRecognizing(a: Attempt, e: SpeechSdk.SpeechRecognitionEventArgs): void {
    if (a !== this.current || !e.result.text) return;
    this.events.push({ type: 'interim', text: e.result.text });
  }

  private onRecognized(a: Attempt, e: SpeechSdk.SpeechRecognitionEventArgs): void {
    if (a !== this.current) return;
    const r = e.result;
    const sdk = this.sdk;
    if (r.reason !== sdk.ResultReason.RecognizedSpeech && r.reason !== sdk.ResultReason.NoMatch) return;
    // Offset/Duration are ticks from the start of this recognizer's audio.
    const startByte = a.baseByte + this.ticksToBytes(r.offset);
    const endByte = a.baseByte + this.ticksToBytes(r.offset + r.duration);
    this.replay.ack(endByte);
    this.failures = 0;
    if (r.reason !== sdk.ResultReason.RecognizedSpeech || !r.text) return;
    this.events.push({
      type: 'final',
      text: r.text,
      startMs: Math.round(this.replay.byteToMs(startByte)),
      endMs: Math.round(this.replay.byteToMs(endByte)),
    });
  }

  private onCanceled(a: Attempt, e: SpeechSdk.SpeechRecognitionCanceledEventArgs): void {
    if (a !== this.current) return;
    if (e.reason !== this.sdk.CancellationReason.Error) return; // end of stream: only after our own close
    const code = azureErrorCode(this.sdk, e.errorCode, e.errorDetails ?? '');
    this.fail(a, code, e.errorDetails || code, AZURE_RECOVERABLE.has(code));
  }

  /** The attempt failed: end the stream, or reconnect after a backoff and replay. */
  private fail(a: Attempt, code: string, message: string, recoverable: boolean): void {
    if (a !== this.current || this.closed) return;
    this.current = undefined;
    this.teardown(a);
    if (recoverable && this.failures >= this.config.azureSpeechMaxRetries) {
      message = `${message} (gave up after ${this.failures} reconnects)`;
      recoverable = false;
    }
    this.log.warn({ code, recoverable, attempt: a.id }, `azure speech: ${message}`);
    this.events.push({ type: 'error', code, message, recoverable });
    if (!recoverable) {
      this.close();
      return;
    }
    this.failures++;
    const delayMs = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this.failures - 1));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed) return;
      const replayedBytes = this.startAttempt();
      this.events.push({ type: 'restart', reason: code, replayedMs: Math.round(this.replay.byteToMs(replayedBytes)) });
    }, delayMs);
  }

  private teardown(a: Attempt): void {
    if (a.timer) clearTimeout(a.timer);
    a.timer = undefined;
    const reco = a.reco;
    reco.recognizing = undefined as never;
    reco.recognized = undefined as never;
    reco.canceled = undefined as never;
    reco.sessionStarted = undefined as never;
    a.conn.connected = undefined as never;
    a.conn.disconnected = undefined as never;
    // Close the socket now rather than stop gracefully: a graceful stop waits for the service's turn.end (unbounded,
    // and the SDK's own stop timeout leaves a 5 s timer running), and results after close are not wanted anyway.
    // Marking the internal recognizer disposed first (its dispose() sets the flag synchronously) stops its receive and
    // send loops from dialling a fresh connection when the socket goes; closeConnection() then ends recognition.
    const internal = reco.internalData as { dispose?: () => Promise<void> };
    internal.dispose?.().catch(() => {});
    a.conn.closeConnection(
      () => {},
      () => {},
    );
    reco.close(
      () => a.push.close(),
      (err: string) => {
        a.push.close();
        this.log.debug({ err, attempt: a.id }, 'azure recognizer close failed');
      },
    );
  }

  private ticksToBytes(ticks: number): number {
    return Math.round((ticks * this.rateHz) / 10_000_000) * 2;
  }
}

/** The `microsoft` ASR adapter. Throws at start-up if no key+region, endpoint or host is configured. */
export async function createMicrosoftAsr(ctx: AdapterContext): Promise<AsrAdapter> {
  checkAzureConfig(ctx.sections.azure, 'ASR');
  const sdk = await loadAzureSdk();
  await loadResampler();
  const settings: MicrosoftAsrSettings = { config: ctx.sections.azure, logger: ctx.logger };
  return {
    name: 'microsoft',
    capabilities: { interim: true, sampleRatesHz: [8000, 16000] },
    start: (o) => {
      const s = new MicrosoftAsrStream(sdk, o, settings);
      s.open();
      return s;
    },
  };
}
