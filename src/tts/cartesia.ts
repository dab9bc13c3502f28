/**
 * TTS adapter `cartesia`: Cartesia Sonic over its TTS WebSocket through the official `@cartesia/cartesia-js` (`TTSWS`).
 *
 * - One WebSocket per call (opened at the call's first request, kept for its later replies, closed after
 *   {@link IDLE_CLOSE_MS} without a request or at shutdown): a socket fault reaches only its own call.
 * - Each request is one Cartesia context (`context_id`). `synthesize` sends the whole text in one generation request;
 *   {@link TtsAdapter.openStream} sends each pushed piece as a continuation (`continue: true`) on the same context and
 *   ends it with an empty transcript and `continue: false`, so audio starts before the reply is complete and prosody
 *   carries across pieces.
 * - Output: raw `pcm_s16le` at the leg rate (8/16/24 kHz are all Cartesia rates; anything else gets 16 kHz and the
 *   egress path resamples). Voice: the request's when it is a Cartesia voice id (a UUID), else `CARTESIA_VOICE`.
 *   Language: the call's primary subtag (`en-GB` → `en`).
 * - Abort (barge-in, call end): a `cancel` for the context, and the iteration ends at once.
 * - Failures are thrown from the iterator as {@link AdapterError}s ({@link classifyCartesiaStatus}): the handshake's
 *   HTTP status or the `error` message's `status_code` — 400 `CARTESIA_BAD_REQUEST`, 401 `CARTESIA_UNAUTHORIZED`,
 *   402 `CARTESIA_PAYMENT_REQUIRED`, 403 `CARTESIA_FORBIDDEN`, 404 `CARTESIA_NOT_FOUND` (unknown voice or model),
 *   other 4xx `CARTESIA_ERROR`: not recoverable; 408 `CARTESIA_TIMEOUT`, 429 `CARTESIA_RATE_LIMITED`, 5xx
 *   `CARTESIA_SERVER_ERROR`, no status `CARTESIA_CONNECT_FAILED`, a socket lost mid-request `CARTESIA_CONNECTION_LOST`:
 *   recoverable (the call's next request opens a new socket).
 * - `CARTESIA_URL` is the SDK's `baseURL`. The SDK always dials `wss:`; for a `ws://` or `http://` base URL the adapter
 *   gives the SDK's `ws` options a plain TCP `createConnection`, so a local server without TLS can be used.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { connect as netConnect } from 'node:net';
import type { ClientOptions } from 'ws';
import type { TtsSettings } from '../config/sections.js';
import type { Logger } from '../observability/logger.js';
import { AdapterError } from '../errors.js';
import { Channel } from '../util/channel.js';
import type { AdapterContext } from '../util/adapter-context.js';
import type { TtsAdapter, TtsChunk, TtsRequest, TtsTextStream } from './types.js';

/** A call's socket is closed after this long without a request (the call has most likely ended). */
export const IDLE_CLOSE_MS = 20_000;
/** Chunks queued between the socket and the reader; past it the request fails (the reader stopped reading). */
const MAX_QUEUED_CHUNKS = 4096;
/** A socket not open within this long fails its requests (`CARTESIA_CONNECT_FAILED`, recoverable). */
const CONNECT_TIMEOUT_MS = 5000;
const CARTESIA_RATES = [8000, 16000, 22050, 24000, 44100, 48000];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type TtsWsModule = typeof import('@cartesia/cartesia-js/resources/tts/index');
type TTSWS = InstanceType<TtsWsModule['TTSWS']>;
type CartesiaClient = InstanceType<typeof import('@cartesia/cartesia-js').Cartesia>;
interface Sdk {
  Cartesia: typeof import('@cartesia/cartesia-js').Cartesia;
  TTSWS: TtsWsModule['TTSWS'];
}

/** A Cartesia HTTP-style status (handshake or `error` message) → our code and whether a retry can help. */
export function classifyCartesiaStatus(status: number | undefined, message: string): AdapterError {
  const msg = message.length > 300 ? `${message.slice(0, 300)}…` : message;
  const err = (code: string, recoverable: boolean) => new AdapterError(code, msg, { recoverable });
  if (status === undefined) return err('CARTESIA_CONNECT_FAILED', true);
  if (status >= 500) return err('CARTESIA_SERVER_ERROR', true);
  switch (status) {
    case 400:
      return err('CARTESIA_BAD_REQUEST', false);
    case 401:
      return err('CARTESIA_UNAUTHORIZED', false);
    case 402:
      return err('CARTESIA_PAYMENT_REQUIRED', false);
    case 403:
      return err('CARTESIA_FORBIDDEN', false);
    case 404:
      return err('CARTESIA_NOT_FOUND', false);
    case 408:
      return err('CARTESIA_TIMEOUT', true);
    case 429:
      return err('CARTESIA_RATE_LIMITED', true);
    default:
      return err('CARTESIA_ERROR', false);
  }
}

/** Join a streamed piece to the text before it: Cartesia concatenates transcripts verbatim. */
export function joinPiece(prev: string, piece: string): string {
  // Sentences arrive trimmed ("Hello there." + "How are you?"); tokens carry their own spaces (" world"). A digit after
  // a dot ("3." + "5") is a number going on, not a new sentence.
  return prev && /[.!?,;:]$/.test(prev) && /^[^\s\d.,!?;:)\]]/.test(piece) ? ` ${piece}` : piece;
}

/** One request: a context on the call's socket. */
class Context {
  readonly id = randomUUID();
  readonly chunks = new Channel<TtsChunk>(MAX_QUEUED_CHUNKS, 'drop-newest');
  failure: AdapterError | undefined;
  done = false;
  private carry: number | undefined;

  constructor(readonly rateHz: number) {}

  /** A `chunk` message's PCM (the SDK has decoded its base64 into `audio`). */
  onAudio(bytes: Uint8Array): void {
    if (this.done || bytes.byteLength === 0) return;
    let start = 0;
    const lead = this.carry !== undefined ? 1 : 0;
    const n = (lead + bytes.byteLength) >> 1;
    const out = new Int16Array(n);
    let i = 0;
    if (this.carry !== undefined) {
      out[i++] = ((this.carry | (bytes[0]! << 8)) << 16) >> 16;
      start = 1;
      this.carry = undefined;
    }
    for (let b = start; b + 1 < bytes.byteLength; b += 2) out[i++] = ((bytes[b]! | (bytes[b + 1]! << 8)) << 16) >> 16;
    if ((bytes.byteLength - start) & 1) this.carry = bytes[bytes.byteLength - 1];
    if (n > 0 && !this.chunks.push({ audio: out, sampleRateHz: this.rateHz }))
      this.finish(new AdapterError('CARTESIA_QUEUE_OVERFLOW', 'synthesized audio not consumed', { recoverable: true }));
  }

  finish(err?: AdapterError): void {
    if (this.done) return;
    this.done = true;
    this.failure = err;
    this.chunks.close();
  }
}

/** A call's socket and the contexts it carries. */
class CallSocket {
  readonly contexts = new Map<string, Context>();
  ws: TTSWS | undefined;
  /** Resolves when the socket is open; rejects (with the classified error) when it cannot be. */
  readonly ready: Promise<TTSWS>;
  dead = false;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(
    sdk: Sdk,
    client: CartesiaClient,
    wsOptions: ClientOptions | undefined,
    private readonly log: Logger,
    private readonly onDead: (s: CallSocket) => void,
  ) {
    let ws: TTSWS;
    try {
      ws = new sdk.TTSWS(client, wsOptions);
    } catch (err) {
      this.dead = true;
      this.ready = Promise.reject(classifyCartesiaStatus(undefined, (err as Error)?.message ?? String(err)));
      this.ready.catch(() => {});
      return;
    }
    this.ws = ws;
    // Without an `error` listener the SDK turns socket errors into unhandled rejections.
    ws.on('error', (e) => this.log.debug({ err: { message: e?.message } }, 'cartesia socket error'));
    ws.on('event', (ev) => this.route(ev as unknown as Record<string, unknown>));
    let opened = false;
    // Before the socket opened, a close is the refused or failed handshake: `connect()` rejects with why.
    ws.socket.addEventListener('close', () => opened && this.lost('CARTESIA_CONNECTION_LOST', 'the Cartesia socket closed mid-request'));
    this.ready = ws.connect().then(
      () => {
        opened = true;
        return ws;
      },
      (e: unknown) => {
        const message = (e as { message?: string })?.message ?? String(e);
        const status = /Unexpected server response: (\d{3})/.exec(message);
        const err = classifyCartesiaStatus(status ? Number(status[1]) : undefined, `Cartesia connection failed: ${message}`);
        this.lost(err.code, err.message, err);
        throw err;
      },
    );
    this.ready.catch(() => {});
  }

  private route(ev: Record<string, unknown>): void {
    const ctx = typeof ev.context_id === 'string' ? this.contexts.get(ev.context_id) : undefined;
    if (!ctx) return; // a context already finished or cancelled
    switch (ev.type) {
      case 'chunk':
        if (ev.audio instanceof Uint8Array) ctx.onAudio(ev.audio);
        return;
      case 'done':
        ctx.finish();
        return;
      case 'error': {
        const status = typeof ev.status_code === 'number' ? ev.status_code : undefined;
        const text = [ev.title, ev.message, ev.error, ev.error_code].filter((x) => typeof x === 'string' && x).join(': ') || 'error';
        ctx.finish(classifyCartesiaStatus(status ?? 500, `Cartesia: ${text}`));
        return;
      }
      default:
        return; // timestamps, flush_done: not asked for
    }
  }

  /** The socket is gone (or never came): every context on it fails; the call's next request opens a new one. */
  lost(code: string, message: string, err?: AdapterError): void {
    if (this.dead) return;
    this.dead = true;
    for (const ctx of this.contexts.values()) ctx.finish(err ?? new AdapterError(code, message, { recoverable: true }));
    this.contexts.clear();
    this.onDead(this);
  }

  close(): void {
    this.dead = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    for (const ctx of this.contexts.values()) ctx.finish();
    this.contexts.clear();
    const ws = this.ws;
    if (!ws) return;
    if (ws.socket.readyState === 0) {
      // Closing a socket still connecting makes `ws` emit an error: wait for the outcome, then close.
      this.ready.then(
        () => ws.close(),
        () => {},
      );
    } else ws.close();
  }
}

interface Settings {
  config: TtsSettings;
  logger: Logger;
}

class CartesiaTts implements TtsAdapter {
  readonly name = 'cartesia';
  private readonly sockets = new Map<string, CallSocket>();
  private readonly wsOptions: ClientOptions;
  private closed = false;

  constructor(
    private readonly sdk: Sdk,
    private readonly client: CartesiaClient,
    private readonly s: Settings,
  ) {
    this.wsOptions = { handshakeTimeout: CONNECT_TIMEOUT_MS };
    const u = new URL(s.config.cartesiaUrl);
    if (u.protocol === 'ws:' || u.protocol === 'http:') {
      // The SDK dials wss: always; a plain-TCP connection to the configured host and port makes it ws:.
      const port = Number(u.port || 80);
      this.wsOptions.createConnection = () => netConnect({ host: u.hostname.replace(/^\[|\]$/g, ''), port });
    }
  }

  synthesize(req: TtsRequest): AsyncIterable<TtsChunk> {
    const text = req.text.trim();
    const stream = this.open(req, text);
    return stream.audio;
  }

  openStream(req: Omit<TtsRequest, 'text'>): TtsTextStream {
    return this.open(req, undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  /** The call's socket, opened on first use; its idle timer is stopped while a request runs. */
  private socketFor(callId: string): CallSocket {
    let s = this.sockets.get(callId);
    if (!s || s.dead) {
      s = new CallSocket(this.sdk, this.client, this.wsOptions, this.s.logger.child({ callId }), (dead) => {
        if (this.sockets.get(callId) === dead) this.sockets.delete(callId);
        dead.close();
      });
      this.sockets.set(callId, s);
    }
    if (s.idleTimer) clearTimeout(s.idleTimer);
    s.idleTimer = undefined;
    return s;
  }

  private release(callId: string, s: CallSocket): void {
    if (s.dead || s.contexts.size > 0 || this.sockets.get(callId) !== s) return;
    s.idleTimer = setTimeout(() => {
      if (this.sockets.get(callId) === s) this.sockets.delete(callId);
      s.close();
    }, IDLE_CLOSE_MS);
    s.idleTimer.unref();
  }

  /**
   * One context. `whole` given: the request's whole text (one generation request, or nothing to say when empty);
   * undefined: streaming input, pieces pushed later.
   */
  private open(req: Omit<TtsRequest, 'text'>, whole: string | undefined): TtsTextStream {
    const c = this.s.config;
    const rateHz = CARTESIA_RATES.includes(req.call.sampleRateHz) ? req.call.sampleRateHz : 16000;
    const ctx = new Context(rateHz);
    const callId = req.call.callId;
    const base = {
      model_id: c.cartesiaModel,
      voice: { mode: 'id' as const, id: req.voice && UUID.test(req.voice) ? req.voice : c.cartesiaVoice },
      language: req.call.language.split('-')[0]!.toLowerCase(),
      output_format: { container: 'raw' as const, encoding: 'pcm_s16le' as const, sample_rate: rateHz as 8000 },
      context_id: ctx.id,
    };
    let sock: CallSocket | undefined;
    let sent = '';
    let ended = false;
    let started = false;
    /** Messages go out in order, once the socket is open. */
    let chain: Promise<unknown> = Promise.resolve();
    const send = (msg: Record<string, unknown>) => {
      const s = sock;
      if (!s || ctx.done) return;
      chain = chain
        .then(() => s.ready)
        .then((ws) => (ctx.done && !msg.cancel ? undefined : ws.send(msg as never)))
        .catch(() => {}); // a refused socket fails the context through `lost`
    };
    const begin = () => {
      if (started || this.closed || req.signal.aborted) return;
      started = true;
      sock = this.socketFor(callId);
      sock.contexts.set(ctx.id, ctx);
      if (sock.dead) ctx.finish(new AdapterError('CARTESIA_CONNECT_FAILED', 'no Cartesia socket', { recoverable: true }));
    };
    const onAbort = () => {
      if (sock && !ctx.done && !sock.dead) send({ context_id: ctx.id, cancel: true });
      ctx.finish();
    };
    const push = (text: string) => {
      if (ended || req.signal.aborted || !text) return;
      begin();
      const piece = joinPiece(sent, text);
      sent += piece;
      send({ ...base, transcript: piece, continue: true });
    };
    const end = () => {
      if (ended) return;
      ended = true;
      if (!started) {
        ctx.finish(); // nothing was pushed: nothing to say
        return;
      }
      send({ ...base, transcript: '', continue: false });
    };
    if (whole !== undefined) {
      ended = true;
      if (whole) {
        begin();
        send({ ...base, transcript: whole, continue: false });
      } else ctx.finish();
    }
    if (req.signal.aborted) ctx.finish();
    else req.signal.addEventListener('abort', onAbort, { once: true });
    if (this.closed) ctx.finish(new AdapterError('CARTESIA_CLOSED', 'the adapter is closed', { recoverable: false }));

    const release = () => {
      req.signal.removeEventListener('abort', onAbort);
      const s = sock;
      if (!s) return;
      if (!ctx.done) {
        // The reader left early: stop the generation.
        send({ context_id: ctx.id, cancel: true });
        ctx.finish();
      }
      s.contexts.delete(ctx.id);
      this.release(callId, s);
    };
    async function* audio(): AsyncGenerator<TtsChunk> {
      try {
        for await (const chunk of ctx.chunks) {
          if (req.signal.aborted) return;
          yield chunk;
        }
        if (ctx.failure && !req.signal.aborted) throw ctx.failure;
      } finally {
        release();
      }
    }
    return { push, end, audio: audio() };
  }
}

let sdk: Sdk | undefined;
/**
 * The SDK's CommonJS build, loaded on first use. Its ES-module build finds `ws` with a bare `require`, which does not
 * exist in an ES module: on Node 20 (no global WebSocket) every socket would then fail with "the ws peer dependency
 * is required".
 */
function loadCartesiaSdk(): Sdk {
  if (!sdk) {
    const require = createRequire(import.meta.url);
    const main = require('@cartesia/cartesia-js') as typeof import('@cartesia/cartesia-js');
    const tts = require('@cartesia/cartesia-js/resources/tts/index') as TtsWsModule;
    sdk = { Cartesia: main.Cartesia, TTSWS: tts.TTSWS };
  }
  return sdk;
}

/** The `cartesia` TTS adapter. Throws at start-up without `CARTESIA_API_KEY`. */
export async function createCartesiaTts(ctx: AdapterContext): Promise<TtsAdapter> {
  const c = ctx.sections.tts;
  if (!c.cartesiaApiKey) throw new Error('TTS adapter cartesia needs CARTESIA_API_KEY');
  const sdk = loadCartesiaSdk();
  const client = new sdk.Cartesia({ apiKey: c.cartesiaApiKey, baseURL: c.cartesiaUrl });
  return new CartesiaTts(sdk, client, { config: c, logger: ctx.logger });
}
