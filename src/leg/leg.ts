/**
 * One Vonage WebSocket leg: the handshake, exact inbound frames, text events, liveness, and the outbound side the pacer
 * writes to. Knows nothing about ASR, bots or TTS: the call session listens to it.
 *
 * Lifecycle: `start()` arms the handshake timeout; the first message must be `websocket:connected`. After that, binary
 * messages are validated and re-framed into exact 20 ms frames for the listener; text messages become typed events.
 * `close()` is idempotent; the listener's `onClose` fires exactly once, whoever closed.
 *
 * The leg is a wall between the network and the call: every socket event handler calls the listener through a guard
 * (a throw closes this leg alone with 1011, logged once, never reaching `ws` or the event loop); every inbound message
 * and every ping the peer sends spends a token of a per-leg bucket (past it: 4008); malformed and unknown text messages
 * are counted and logged here at most once per interval (never a line per message), and a leg that keeps sending
 * malformed ones is closed (4009). Gaps in the audio are silence (counted), not death: liveness is ping/pong (4005),
 * and only a leg that sends no message at all for `idleTimeoutMs` is closed (4004).
 */
import type { WebSocket, RawData } from 'ws';
import { Reframer, type FrameSink } from '../audio/reframer.js';
import { frameBytesFor } from '../config/config.js';
import type { LegSettings } from '../config/sections.js';
import { CloseCode, GatewayError, closeReason } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { HotCounters, Metrics } from '../observability/metrics.js';
import { LogLimiter } from '../util/log-limiter.js';
import { MinuteCount, TokenBucket } from './limits.js';
import { parseHandshake, parseLegEvent, type CallLegEvent, type Handshake } from './handshake.js';
import type { PacerSink } from '../egress/pacer.js';
import { framedWriter, installFastReceive, type FramedWriter } from './fast-audio.js';

/**
 * What the leg calls. A throw from any of these closes this leg with 1011 (logged once); it never reaches the socket
 * library or another call.
 */
export interface LegListener {
  /** One exact frame; the buffer is the listener's to keep. */
  onAudio(frame: Buffer, arrivalMs: number): void;
  /** A Vonage event (dtmf, notify, cleared). `unknown` and `malformed` text messages never get here: the leg counts them. */
  /** A Vonage event (DTMF, notify, cleared); malformed and unknown messages never reach the listener. */
  onEvent(event: CallLegEvent): void;
  /** Fires once. `byGateway` is true when the gateway closed the socket. */
  onClose(code: number, reason: string, byGateway: boolean): void;
}

export interface LegOptions {
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  pingIntervalMs: number;
  /** Binary messages larger than this many frames are refused as absurd (4003). */
  maxFramesPerMessage?: number;
  /** Inbound messages (binary, text) and pings per second, sustained (token bucket); past it: 4008. 0 = no limit. */
  maxMessagesPerS?: number;
  /** Bucket size: messages a leg may send at once above `maxMessagesPerS`. */
  messageBurst?: number;
  /** More than this many malformed text messages in any minute (1 s resolution) closes the leg (4009). 0 = no limit. */
  maxMalformedPerMin?: number;
  /** A gap of more than this many ms in the audio, after audio had been flowing, counts as one silence. Default 1000. */
  silenceMs?: number;
  /** Per-leg log rate limit: at most one line per this many ms for each repeated warning. Default 10000. */
  logIntervalMs?: number;
  /**
   * Answer the peer's pings (default). Create the socket with `autoPong: false` so the leg answers after its message
   * bucket; with `autoPong: true`, set this to false (ws answers, and terminates a ping flood with 1006 on its own).
   */
  answerPings?: boolean;
  /**
   * Read binary messages up to this many bytes straight from the socket ({@link installFastReceive}); undefined: `ws`
   * reads every message.
   */
  fastReceiveMaxPayload?: number;
  /** Write outbound audio frames pre-framed straight to the socket ({@link FramedWriter}); otherwise `ws.send`. */
  fastSend?: boolean;
  /** Counts a text message the leg handled itself instead of passing it on (`gateway_leg_events_total{event}`). */
  countEvent?: (event: 'malformed' | 'unknown') => void;
}

/** The leg options from the configuration, counting the events the leg keeps to itself in `metrics`. */
export function legOptionsFrom(config: LegSettings, metrics?: Pick<Metrics, 'legEvents'>): LegOptions {
  return {
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    pingIntervalMs: config.pingIntervalMs,
    maxMessagesPerS: config.legMaxMessagesPerS,
    messageBurst: config.legMessageBurst,
    maxMalformedPerMin: config.legMaxMalformedPerMin,
    fastReceiveMaxPayload: config.legFastAudio ? config.maxPayloadBytes : undefined,
    fastSend: config.legFastAudio,
    countEvent: metrics ? (event) => metrics.legEvents.inc({ event }) : undefined,
  };
}

/** `ws` delivers a Buffer (fragmented messages as an array of them). */
function toBuffer(data: RawData): Buffer {
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
}

const SEND_BINARY = { binary: true } as const;
const SEND_TEXT = { binary: false } as const;
/** After we send a close frame, how long the peer has to answer before the socket is destroyed. */
const CLOSE_GRACE_MS = 2000;
const DEFAULT_SILENCE_MS = 1000;
const DEFAULT_LOG_INTERVAL_MS = 10000;

function errFields(err: unknown): { message: string; stack?: string } {
  if (err instanceof Error) return { message: err.message, stack: err.stack };
  try {
    return { message: String(err) };
  } catch {
    return { message: 'unprintable error' };
  }
}

export class VonageLeg implements PacerSink, FrameSink {
  readonly id: string;
  private readonly ws: WebSocket;
  private readonly opts: LegOptions;
  private readonly hot: HotCounters;
  private log: Logger;
  private listener: LegListener | undefined;
  private reframer: Reframer | undefined;
  /** Outbound audio pre-framed onto the socket (`fastSend`), or undefined: `ws.send`. */
  private readonly framed: FramedWriter | undefined;
  private handshake: Handshake | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private liveTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private lastMessageMs = 0;
  private awaitingPong = false;
  private arrivalMs = 0;
  private closing = false;
  private closedFlag = false;
  private closedByGateway = false;
  private gatewayCode = 0;
  private gatewayReason = '';
  /** A listener (or app callback) threw: logged once per leg. */
  private faulted = false;
  /** Inbound messages and pings: refilled from the clock on each message (no timer). */
  private readonly bucket: TokenBucket;
  // Silence: arrival of the last binary message (0 = no audio yet), and whether the current gap was already counted.
  private lastAudioMs = 0;
  private silent = false;
  private readonly malformed = new MinuteCount();
  // Per-leg log rate limits: one per repeated warning.
  private readonly malformedLog: LogLimiter;
  private readonly unknownLog: LogLimiter;
  private readonly socketErrorLog: LogLimiter;
  private onHandshake: ((h: Handshake) => LegListener) | undefined;
  private onRefused: ((err: GatewayError) => void) | undefined;
  readonly openedAtMs = performance.now();
  /** Called once when the socket has closed, whether or not the handshake succeeded (the app's leg accounting). */
  onFinalClose: ((code: number) => void) | undefined;

  constructor(id: string, ws: WebSocket, opts: LegOptions, hot: HotCounters, log: Logger) {
    this.id = id;
    this.ws = ws;
    this.opts = opts;
    this.hot = hot;
    this.log = log;
    this.framed = opts.fastSend ? framedWriter(ws) : undefined;
    this.bucket = new TokenBucket(opts.maxMessagesPerS ?? 0, opts.messageBurst ?? opts.maxMessagesPerS ?? 1, this.openedAtMs);
    const logEvery = opts.logIntervalMs ?? DEFAULT_LOG_INTERVAL_MS;
    const suppressed = () => void hot.legLogSuppressed++;
    this.malformedLog = new LogLimiter(logEvery, suppressed);
    this.unknownLog = new LogLimiter(logEvery, suppressed);
    this.socketErrorLog = new LogLimiter(logEvery, suppressed);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get sampleRateHz(): number {
    return this.handshake?.sampleRateHz ?? 0;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /**
   * Arm the handshake timeout and start reading. `onHandshake` is called once with the parsed handshake and returns the
   * listener for everything after it (it may throw a GatewayError to refuse the leg). `onRefused` is told why a leg
   * never got past its handshake.
   */
  start(onHandshake: (h: Handshake) => LegListener, onRefused: (err: GatewayError) => void): void {
    this.onHandshake = onHandshake;
    this.onRefused = onRefused;
    const ws = this.ws;
    // Every handler is guarded: nothing thrown here may reach `ws` (it would become an uncaughtException).
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('ping', (data) => this.onPing(data));
    ws.on('pong', () => (this.awaitingPong = false));
    ws.on('error', (err) => this.onSocketError(err));
    ws.on('close', (code, reason) => this.onSocketClose(code, reason.toString('utf8')));
    // The hot message (binary audio) read without ws's per-message objects; ws still gets every other frame.
    if (this.opts.fastReceiveMaxPayload !== undefined) installFastReceive(ws, (payload) => this.onMessage(payload, true), this.opts.fastReceiveMaxPayload);
    this.handshakeTimer = setTimeout(
      () => this.refuse(new GatewayError('HANDSHAKE_TIMEOUT', `no websocket:connected within ${this.opts.handshakeTimeoutMs} ms`)),
      this.opts.handshakeTimeoutMs,
    );
    this.handshakeTimer.unref();
  }

  /** Replace the logger (the session's child logger, once the call is known). */
  setLogger(log: Logger): void {
    this.log = log;
  }

  sendFrame(frame: Buffer): void {
    if (this.closing) return;
    if (this.framed === undefined || !this.framed.write(frame)) this.ws.send(frame, SEND_BINARY);
    this.hot.framesOut++;
  }

  sendText(text: string): void {
    if (this.closing) return;
    this.ws.send(text, SEND_TEXT);
  }

  /** Close with a code (a `CloseCode` value, or any code valid on the wire) and reason. Idempotent; the peer gets `CLOSE_GRACE_MS` to answer before the socket is destroyed. */
  close(code: number, reason: string): void {
    this.closeWith(code, reason, false);
  }

  /** @param stopReading stop reading the socket too (a flooding peer costs nothing more until it is destroyed). */
  private closeWith(code: number, reason: string, stopReading: boolean): void {
    if (this.closing) return;
    this.closing = true;
    this.closedByGateway = true;
    this.gatewayCode = code;
    this.gatewayReason = reason;
    this.clearTimers();
    try {
      this.ws.close(code, closeReason(reason));
      if (stopReading) this.ws.pause();
    } catch {
      this.ws.terminate();
    }
    this.killTimer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    this.killTimer.unref();
  }

  /** FrameSink for the reframer: exact frames to the listener (called inside the message handler's guard). */
  onFrame(frame: Buffer): void {
    this.hot.framesIn++;
    if (this.closing) return; // the listener failed on an earlier frame of the same message
    this.listener?.onAudio(frame, this.arrivalMs);
  }

  private refuse(err: GatewayError): void {
    if (this.closing) return;
    this.log.warn({ code: err.code, closeCode: err.closeCode }, `leg refused: ${err.message}`);
    try {
      this.onRefused?.(err);
    } catch (e) {
      this.fault(e, 'onRefused');
    }
    this.close(err.closeCode, err.message);
  }

  /**
   * A listener or app callback threw. Log it once, close this leg alone with 1011. The error never propagates into `ws`:
   * with JITTER_TARGET_MS=0 the whole call runs synchronously inside the message handler.
   */
  private fault(err: unknown, point: string): void {
    if (!this.faulted) {
      this.faulted = true;
      this.log.error({ err: errFields(err), point, closeCode: CloseCode.INTERNAL }, 'leg listener threw: closing this leg (1011)');
    }
    this.close(CloseCode.INTERNAL, 'internal error');
  }

  private rateExceeded(what: string): void {
    const err = new GatewayError('MESSAGE_RATE_EXCEEDED', `more than ${this.opts.maxMessagesPerS} ${what} a second (burst ${this.bucket.burst})`);
    if (this.listener === undefined) {
      try {
        this.onRefused?.(err);
      } catch (e) {
        this.fault(e, 'onRefused');
      }
    }
    this.closeFlood(err);
  }

  /** Close a leg that floods: one log line, and stop reading its socket. */
  private closeFlood(err: GatewayError): void {
    this.log.warn({ code: err.code, closeCode: err.closeCode }, `closing leg: ${err.message}`);
    this.closeWith(err.closeCode, err.message, true);
  }

  /**
   * A ping from the peer spends a token like a message. The server runs with `autoPong: false` and the leg answers
   * here, so a ping flood ends with 4008 instead of `ws` terminating the socket (1006) once 60 pongs are pending.
   */
  private onPing(data: Buffer): void {
    if (this.closing) return;
    if (!this.bucket.take(performance.now())) {
      this.rateExceeded('messages and pings');
      return;
    }
    if (this.opts.answerPings !== false) {
      try {
        this.ws.pong(data);
      } catch {
        // the socket is going away
      }
    }
  }

  private onSocketError(err: Error): void {
    try {
      const held = this.socketErrorLog.admit(performance.now());
      if (held >= 0) this.log.warn({ err: { message: err.message, code: (err as { code?: string }).code }, suppressed: held }, 'leg socket error');
    } catch {
      // a logger that throws must not take the socket handler down
    }
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    const now = performance.now();
    this.lastMessageMs = now;
    if (!this.bucket.take(now)) {
      this.rateExceeded('messages and pings');
      return;
    }
    if (this.listener === undefined) {
      this.onFirstMessage(data, isBinary);
      return;
    }
    try {
      if (isBinary) {
        if (this.lastAudioMs > 0 && !this.silent && now - this.lastAudioMs > (this.opts.silenceMs ?? DEFAULT_SILENCE_MS)) this.hot.legSilences++;
        this.silent = false;
        this.lastAudioMs = now;
        this.arrivalMs = now;
        this.onBinary(toBuffer(data));
      } else {
        const ev = parseLegEvent(toBuffer(data).toString('utf8'));
        if (ev.kind === 'malformed') this.onMalformed(ev.reason, now);
        else if (ev.kind === 'unknown') this.onUnknown(ev.event, now);
        else this.listener.onEvent(ev);
      }
    } catch (err) {
      this.fault(err, isBinary ? 'onAudio' : 'onEvent');
    }
  }

  /** A text message that is not a JSON event object: counted, logged at most once per interval, a flood closes the leg. */
  private onMalformed(reason: string, nowMs: number): void {
    this.hot.legTextMalformed++;
    this.opts.countEvent?.('malformed');
    const limit = this.opts.maxMalformedPerMin ?? 0;
    if (limit > 0 && this.malformed.add(nowMs) > limit) {
      this.closeFlood(new GatewayError('MALFORMED_FLOOD', `more than ${limit} malformed text messages in a minute`));
      return;
    }
    const held = this.malformedLog.admit(nowMs);
    if (held >= 0) this.log.warn({ reason, suppressed: held }, 'malformed text message ignored');
  }

  private onUnknown(event: string, nowMs: number): void {
    this.opts.countEvent?.('unknown');
    const held = this.unknownLog.admit(nowMs);
    if (held >= 0) this.log.info({ event, suppressed: held }, 'unknown leg event ignored');
  }

  private onFirstMessage(data: RawData, isBinary: boolean): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    try {
      const h = parseHandshake(toBuffer(data), isBinary);
      this.handshake = h;
      this.reframer = new Reframer(frameBytesFor(h.sampleRateHz), this);
      const onHandshake = this.onHandshake as (h: Handshake) => LegListener;
      this.listener = onHandshake(h);
    } catch (err) {
      this.refuse(err instanceof GatewayError ? err : new GatewayError('INTERNAL', (err as Error).message));
      return;
    }
    // Liveness: one coarse timer per leg (not per frame): idle check and ping/pong.
    const every = Math.min(this.opts.pingIntervalMs, Math.max(250, Math.floor(this.opts.idleTimeoutMs / 4)));
    let sincePingMs = 0;
    const silenceMs = this.opts.silenceMs ?? DEFAULT_SILENCE_MS;
    this.liveTimer = setInterval(() => {
      try {
        const now = performance.now();
        if (now - this.lastMessageMs > this.opts.idleTimeoutMs) {
          this.refuseLive(new GatewayError('IDLE_TIMEOUT', `nothing received for ${this.opts.idleTimeoutMs} ms`));
          return;
        }
        // A caller who only listens: silence, counted once per spell, not a reason to hang up.
        if (this.lastAudioMs > 0 && !this.silent && now - this.lastAudioMs > silenceMs) {
          this.silent = true;
          this.hot.legSilences++;
        }
        sincePingMs += every;
        if (sincePingMs >= this.opts.pingIntervalMs) {
          sincePingMs = 0;
          if (this.awaitingPong) {
            this.refuseLive(new GatewayError('PING_TIMEOUT', `no pong within ${this.opts.pingIntervalMs} ms`));
            return;
          }
          this.awaitingPong = true;
          this.ws.ping();
        }
      } catch (err) {
        this.fault(err, 'liveness');
      }
    }, every);
    this.liveTimer.unref();
  }

  private refuseLive(err: GatewayError): void {
    this.log.warn({ code: err.code, closeCode: err.closeCode }, `closing leg: ${err.message}`);
    this.close(err.closeCode, err.message);
  }

  private onBinary(buf: Buffer): void {
    const rf = this.reframer as Reframer;
    const len = buf.length;
    if (len === rf.frameBytes) {
      rf.push(buf);
      return;
    }
    const maxFrames = this.opts.maxFramesPerMessage ?? 50;
    if (len === 0) {
      this.hot.framesMalformed++;
      return;
    }
    if (len % 2 !== 0 || len > maxFrames * rf.frameBytes) {
      this.hot.framesMalformed++;
      this.refuseLive(
        new GatewayError(
          'BAD_FRAME',
          len % 2
            ? `binary message of ${len} bytes is not whole 16-bit samples`
            : `binary message of ${len} bytes is absurd for 20 ms frames of ${rf.frameBytes}`,
        ),
      );
      return;
    }
    this.hot.framesReassembled++;
    rf.push(buf);
  }

  private clearTimers(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    if (this.liveTimer) clearInterval(this.liveTimer);
    this.handshakeTimer = undefined;
    this.liveTimer = undefined;
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.closing = true;
    this.clearTimers();
    if (this.killTimer) clearTimeout(this.killTimer);
    this.reframer?.reset();
    const listener = this.listener;
    this.listener = undefined;
    const byGateway = this.closedByGateway;
    this.logHeld();
    try {
      this.onFinalClose?.(byGateway ? this.gatewayCode : code);
    } catch (err) {
      this.fault(err, 'onFinalClose');
    }
    try {
      listener?.onClose(byGateway ? this.gatewayCode : code, byGateway ? this.gatewayReason : reason, byGateway);
    } catch (err) {
      this.fault(err, 'onClose');
    }
  }

  /** The last word of each rate-limited warning: how many were not logged since its last line. */
  private logHeld(): void {
    try {
      const malformed = this.malformedLog.takeHeld();
      if (malformed > 0) this.log.warn({ suppressed: malformed }, `${malformed} more malformed text messages were ignored and not logged (per-leg log limit)`);
      const unknown = this.unknownLog.takeHeld();
      if (unknown > 0) this.log.info({ suppressed: unknown }, `${unknown} more unknown leg events were ignored and not logged (per-leg log limit)`);
      const errors = this.socketErrorLog.takeHeld();
      if (errors > 0) this.log.warn({ suppressed: errors }, `${errors} more leg socket errors were not logged (per-leg log limit)`);
    } catch {
      // logging must not stop the close
    }
  }
}
