/**
 * ASR adapter `deepgram`: Deepgram live transcription (listen v1 WebSocket) through the official `@deepgram/sdk`.
 *
 * - Audio: linear16 mono at the leg rate (8/16/24 kHz, all native to Deepgram), `interim_results`, `endpointing`
 *   (`DEEPGRAM_ENDPOINTING_MS`), `utterance_end_ms=1000` and `vad_events`, model `DEEPGRAM_MODEL`, language = the call's.
 * - Finals are Deepgram's own: `Results` with `is_final` are collected and given as one `final` when Deepgram ends the
 *   utterance (`speech_final`, an `UtteranceEnd` event, or a `from_finalize` result after our `Finalize`); `Results`
 *   that are not final become `interim` (collected text + the hypothesis). `startMs`/`endMs` come from the results'
 *   `start`/`duration`, made absolute in the call's audio across reconnects. `SpeechStarted` marks where an utterance
 *   began (used when its words carry no earlier start). The gateway's VAD end-of-speech hint sends `Finalize`.
 * - `KeepAlive` (a text frame, as Deepgram asks) every {@link KEEPALIVE_MS} while no audio has been sent, so a silent
 *   stretch (the jitter buffer skipping, a leg on hold) does not end the stream with NET-0001.
 * - Errors: see deepgram-errors.ts. Recoverable ones reconnect after a backoff and replay the audio no final covered
 *   (a {@link ReplayBuffer}), then emit `restart`; at most {@link MAX_RETRIES} in a row (a final resets the count).
 *   The SDK's own reconnect is off: replaying is ours to control.
 * - `DEEPGRAM_URL` is the SDK's `baseUrl`: `wss://api.deepgram.com` by default; `ws://host:port` (or `http://`) reaches
 *   a local or self-hosted server.
 */
import type { DeepgramClient } from '@deepgram/sdk';
import type { AsrSettings } from '../config/sections.js';
import type { Logger } from '../observability/logger.js';
import { Channel } from '../util/channel.js';
import type { AdapterContext } from '../util/adapter-context.js';
import { backoffMs } from './google-errors.js';
import { classifyDeepgramClose, classifyDeepgramHandshake, type DeepgramErrorInfo } from './deepgram-errors.js';
import { ReplayBuffer } from './replay-buffer.js';
import type { AsrAdapter, AsrEvent, AsrStream, AsrStreamOptions } from './types.js';

/** Unfinalised audio kept for replay after a reconnect; older audio is dropped (and counted) past it. */
const REPLAY_MAX_MS = 30_000;
/** Recoverable failures in a row (no final between them) before the stream gives up. */
export const MAX_RETRIES = 5;
/** Deepgram closes a stream that gets nothing for 10 s; it asks for a KeepAlive every 3–5 s of silence. */
export const KEEPALIVE_MS = 4_000;
const CONNECT_TIMEOUT_S = 5;
/** Deepgram's smallest `utterance_end_ms`. */
const UTTERANCE_END_MS = 1000;

type Sdk = typeof import('@deepgram/sdk');
type ListenSocket = Awaited<ReturnType<DeepgramClient['listen']['v1']['connect']>>;

/** One WebSocket: the unit a reconnect replaces. */
interface Attempt {
  id: number;
  socket: ListenSocket | undefined;
  open: boolean;
  /** Absolute byte (in the call's audio) of the first byte this socket was sent. */
  baseByte: number;
  /** What the socket reported, settled once in a microtask (the SDK reports a refused upgrade as a close, then an error). */
  closeCode: number | undefined;
  closeReason: string;
  errorMessage: string | undefined;
  settled: boolean;
}

/** A Deepgram `Results` message, as far as this adapter reads it. */
interface Results {
  type: 'Results';
  start?: number;
  duration?: number;
  is_final?: boolean;
  speech_final?: boolean;
  from_finalize?: boolean;
  channel?: { alternatives?: Array<{ transcript?: string; confidence?: number }> };
}

export interface DeepgramAsrSettings {
  config: AsrSettings;
  logger: Logger;
}

class DeepgramAsrStream implements AsrStream {
  readonly events = new Channel<AsrEvent>(256);
  private readonly client: DeepgramClient;
  private readonly o: AsrStreamOptions;
  private readonly config: AsrSettings;
  private readonly log: Logger;
  private readonly rateHz: number;
  private readonly replay: ReplayBuffer;
  private current: Attempt | undefined;
  private attempts = 0;
  /** Recoverable failures since the last final. */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  /** `performance.now()` of the last audio or KeepAlive sent. */
  private lastSentMs = 0;
  private closed = false;
  /** The utterance being collected from `is_final` results (relative seconds of the current socket). */
  private words: string[] = [];
  private confidences: number[] = [];
  private uttStartS: number | undefined;
  private uttEndS = 0;
  private speechStartS: number | undefined;
  private readonly onAbort = () => this.close();

  constructor(client: DeepgramClient, o: AsrStreamOptions, s: DeepgramAsrSettings) {
    this.client = client;
    this.o = o;
    this.config = s.config;
    this.log = s.logger.child({ callId: o.call.callId });
    this.rateHz = o.call.sampleRateHz;
    this.replay = new ReplayBuffer(this.rateHz, REPLAY_MAX_MS);
  }

  /** Open the first socket (separate from the constructor: nothing starts work there). */
  open(): void {
    if (this.o.signal.aborted) {
      this.close();
      return;
    }
    this.o.signal.addEventListener('abort', this.onAbort, { once: true });
    this.lastSentMs = performance.now();
    this.keepAliveTimer = setInterval(() => this.keepAlive(), KEEPALIVE_MS);
    this.startAttempt();
  }

  write(frame: Buffer): void {
    if (this.closed || frame.length === 0) return; // an empty binary frame would end the stream at Deepgram
    const copy = Buffer.allocUnsafe(frame.length & ~1);
    frame.copy(copy, 0, 0, copy.length);
    this.replay.append(copy);
    const a = this.current;
    if (a?.open && a.socket) this.send(a, copy);
  }

  /** The gateway's VAD heard the caller stop: ask Deepgram to finalise what it holds now. */
  endOfSpeech(): void {
    const a = this.current;
    if (this.closed || !a?.open || !a.socket) return;
    try {
      a.socket.sendFinalize({ type: 'Finalize' });
    } catch {
      /* the socket is going away: its close is handled */
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.o.signal.removeEventListener('abort', this.onAbort);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.retryTimer = this.keepAliveTimer = undefined;
    const a = this.current;
    this.current = undefined;
    if (a) this.teardown(a);
    this.events.close();
  }

  /** Audio the replay buffer had to drop (bytes) because no final came for {@link REPLAY_MAX_MS}. */
  get droppedReplayBytes(): number {
    return this.replay.droppedBytes;
  }

  private send(a: Attempt, pcm: Buffer): void {
    try {
      a.socket?.sendMedia(pcm);
      this.lastSentMs = performance.now();
    } catch {
      /* not open any more: the close is on its way and the audio stays in the replay buffer */
    }
  }

  private keepAlive(): void {
    const a = this.current;
    if (!a?.open || !a.socket || performance.now() - this.lastSentMs < KEEPALIVE_MS - 500) return;
    try {
      a.socket.sendKeepAlive({ type: 'KeepAlive' });
      this.lastSentMs = performance.now();
    } catch {
      /* closing: handled by its close */
    }
  }

  private startAttempt(): void {
    const a: Attempt = {
      id: ++this.attempts,
      socket: undefined,
      open: false,
      baseByte: this.replay.start,
      closeCode: undefined,
      closeReason: '',
      errorMessage: undefined,
      settled: false,
    };
    this.current = a;
    this.resetUtterance();
    const c = this.config;
    this.client.listen.v1
      .connect({
        model: c.deepgramModel,
        language: this.o.call.language,
        encoding: 'linear16',
        sample_rate: this.rateHz,
        channels: 1,
        interim_results: 'true',
        punctuate: 'true',
        endpointing: c.deepgramEndpointingMs,
        utterance_end_ms: UTTERANCE_END_MS,
        vad_events: 'true',
        // Reconnects are ours (with replay); the SDK's would resend nothing and could retry a bad key 30 times.
        reconnectAttempts: 0,
        shouldReconnect: () => false,
        connectionTimeoutInSeconds: CONNECT_TIMEOUT_S,
      })
      .then(
        (socket) => {
          if (a !== this.current || this.closed) {
            socket.close();
            return;
          }
          a.socket = socket;
          socket.on('open', () => this.onOpen(a));
          socket.on('message', (m) => this.onMessage(a, m));
          socket.on('close', (e) => this.onSocketEnd(a, e?.code, e?.reason, undefined));
          socket.on('error', (e) => this.onSocketEnd(a, undefined, '', e?.message ?? String(e)));
          socket.connect();
        },
        (err: unknown) => this.fail(a, classifyDeepgramHandshake((err as Error)?.message ?? String(err))),
      );
  }

  private onOpen(a: Attempt): void {
    if (a !== this.current || this.closed) return;
    a.open = true;
    // Everything no final covered yet (all of it, on the first socket), then live audio.
    a.baseByte = this.replay.start;
    let replayed = 0;
    for (const c of this.replay.pending()) {
      this.send(a, c);
      replayed += c.length;
    }
    if (a.id > 1) this.events.push({ type: 'restart', reason: 'reconnected', replayedMs: Math.round(this.replay.byteToMs(replayed)) });
  }

  private onMessage(a: Attempt, m: unknown): void {
    if (a !== this.current || this.closed || !m || typeof m !== 'object') return;
    const msg = m as { type?: unknown };
    switch (msg.type) {
      case 'Results':
        this.onResults(a, m as Results);
        return;
      case 'UtteranceEnd':
        this.emitFinal(a);
        return;
      case 'SpeechStarted': {
        const ts = (m as { timestamp?: unknown }).timestamp;
        if (typeof ts === 'number' && Number.isFinite(ts) && this.words.length === 0) this.speechStartS = ts;
        return;
      }
      default:
        return; // Metadata, and anything newer: nothing to do
    }
  }

  private onResults(a: Attempt, r: Results): void {
    const alt = r.channel?.alternatives?.[0];
    const text = typeof alt?.transcript === 'string' ? alt.transcript.trim() : '';
    const start = typeof r.start === 'number' && Number.isFinite(r.start) ? r.start : undefined;
    const end = start !== undefined && typeof r.duration === 'number' && Number.isFinite(r.duration) ? start + r.duration : undefined;
    if (!r.is_final) {
      const all = text ? [...this.words, text].join(' ') : '';
      if (all) this.events.push({ type: 'interim', text: all });
      return;
    }
    if (text) {
      this.words.push(text);
      if (typeof alt?.confidence === 'number' && Number.isFinite(alt.confidence)) this.confidences.push(alt.confidence);
      this.uttStartS ??= this.speechStartS !== undefined && start !== undefined ? Math.min(this.speechStartS, start) : start;
      if (end !== undefined) this.uttEndS = end;
    } else if (this.words.length === 0 && end !== undefined) {
      // Silence Deepgram has finished with: nothing to replay for it after a reconnect.
      this.replay.ack(a.baseByte + this.replay.msToByte(end * 1000));
    }
    if (r.speech_final || r.from_finalize) this.emitFinal(a);
  }

  /** Deepgram ended the utterance: give what was collected as one final. */
  private emitFinal(a: Attempt): void {
    if (this.words.length === 0) return;
    const baseMs = this.replay.byteToMs(a.baseByte);
    const startMs = this.uttStartS !== undefined ? Math.round(baseMs + this.uttStartS * 1000) : undefined;
    const endMs = Math.round(baseMs + this.uttEndS * 1000);
    const confidence = this.confidences.length ? this.confidences.reduce((x, y) => x + y, 0) / this.confidences.length : undefined;
    const text = this.words.join(' ');
    this.replay.ack(a.baseByte + this.replay.msToByte(this.uttEndS * 1000));
    this.failures = 0;
    this.resetUtterance();
    this.events.push({ type: 'final', text, ...(confidence === undefined ? {} : { confidence }), ...(startMs === undefined ? {} : { startMs }), endMs });
  }

  private resetUtterance(): void {
    this.words = [];
    this.confidences = [];
    this.uttStartS = undefined;
    this.uttEndS = 0;
    this.speechStartS = undefined;
  }

  /** The socket closed or errored. Settled once, after the SDK has reported both (it reports a close before the error). */
  private onSocketEnd(a: Attempt, code: number | undefined, reason: string | undefined, error: string | undefined): void {
    if (a !== this.current || this.closed) return;
    if (code !== undefined && a.closeCode === undefined) {
      a.closeCode = code;
      a.closeReason = typeof reason === 'string' ? reason : '';
    }
    if (error !== undefined) a.errorMessage ??= error;
    queueMicrotask(() => {
      if (a.settled || a !== this.current || this.closed) return;
      a.settled = true;
      if (!a.open) this.fail(a, classifyDeepgramHandshake(a.errorMessage ?? `closed ${a.closeCode ?? ''} before the stream opened`));
      else if (a.errorMessage !== undefined) this.fail(a, { code: 'DEEPGRAM_CONNECTION_LOST', message: a.errorMessage.slice(0, 300), recoverable: true });
      else this.fail(a, classifyDeepgramClose(a.closeCode ?? 1006, a.closeReason));
    });
  }

  /** The socket failed: end the stream, or reconnect after a backoff and replay. */
  private fail(a: Attempt, e: DeepgramErrorInfo): void {
    if (a !== this.current || this.closed) return;
    this.current = undefined;
    this.teardown(a);
    let { message, recoverable } = e;
    if (recoverable && this.failures >= MAX_RETRIES) {
      message = `${message} (gave up after ${this.failures} reconnects)`;
      recoverable = false;
    }
    this.log.warn({ code: e.code, recoverable, attempt: a.id }, `deepgram: ${message}`);
    this.events.push({ type: 'error', code: e.code, message, recoverable });
    if (!recoverable) {
      this.close();
      return;
    }
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed) this.startAttempt();
    }, backoffMs(this.failures));
  }

  private teardown(a: Attempt): void {
    const s = a.socket;
    a.socket = undefined;
    if (!s) return;
    // `on(event, undefined)` drops the event's handlers: nothing of this socket reaches the stream any more.
    for (const ev of ['open', 'message', 'close', 'error'] as const) s.on(ev, undefined);
    // Tell Deepgram the audio is over (it stops billing and flushes), then close without waiting for its results.
    if (a.open) {
      try {
        s.sendCloseStream({ type: 'CloseStream' });
      } catch {
        /* already closing */
      }
    }
    try {
      s.close();
    } catch {
      /* already closed */
    }
  }
}

let sdkPromise: Promise<Sdk> | undefined;
function loadDeepgramSdk(): Promise<Sdk> {
  sdkPromise ??= import('@deepgram/sdk').then((m) =>
    (m as unknown as { default?: Sdk }).default?.DeepgramClient ? (m as unknown as { default: Sdk }).default : m,
  );
  return sdkPromise;
}

/** The `deepgram` ASR adapter. Throws at start-up without `DEEPGRAM_API_KEY`. */
export async function createDeepgramAsr(ctx: AdapterContext): Promise<AsrAdapter> {
  const c = ctx.sections.asr;
  if (!c.deepgramApiKey) throw new Error('ASR adapter deepgram needs DEEPGRAM_API_KEY');
  const sdk = await loadDeepgramSdk();
  // One client per process: it holds no connection; each call opens its own socket.
  const client = new sdk.DeepgramClient({ apiKey: c.deepgramApiKey, baseUrl: c.deepgramUrl });
  const settings: DeepgramAsrSettings = { config: c, logger: ctx.logger };
  return {
    name: 'deepgram',
    capabilities: { interim: true, sampleRatesHz: [8000, 16000, 24000] },
    start: (o) => {
      const s = new DeepgramAsrStream(client, o, settings);
      s.open();
      return s;
    },
  };
}
