/**
 * One Vonage WebSocket leg: the handshake, exact inbound frames, text events, liveness, and the outbound side the pacer
 * writes to. Knows nothing about ASR, bots or TTS: the call session listens to it.
 *
 * Lifecycle: `start()` arms the handshake timeout; the first message must be `websocket:connected`. After that, binary
 * messages are validated and re-framed into exact 20 ms frames for the listener; text messages become typed events.
 * `close()` is idempotent; the listener's `onClose` fires exactly once, whoever closed.
 */
import type { WebSocket, RawData } from 'ws';
import { Reframer, type FrameSink } from '../audio/reframer.js';
import { frameBytesFor } from '../config/config.js';
import { CloseCode, GatewayError, closeReason, type CloseCodeValue } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { HotCounters } from '../observability/metrics.js';
import { parseHandshake, parseLegEvent, type Handshake, type LegEvent } from './handshake.js';
import type { PacerSink } from '../egress/pacer.js';

export interface LegListener {
  /** One exact frame; the buffer is the listener's to keep. */
  onAudio(frame: Buffer, arrivalMs: number): void;
  onEvent(event: LegEvent): void;
  /** Fires once. `byGateway` is true when the gateway closed the socket. */
  onClose(code: number, reason: string, byGateway: boolean): void;
}

export interface LegOptions {
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  pingIntervalMs: number;
  /** Binary messages larger than this many frames are refused as absurd (4003). */
  maxFramesPerMessage?: number;
}

/** `ws` delivers a Buffer (fragmented messages as an array of them). */
function toBuffer(data: RawData): Buffer {
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
}

const SEND_BINARY = { binary: true } as const;
const SEND_TEXT = { binary: false } as const;
/** After we send a close frame, how long the peer has to answer before the socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

export class VonageLeg implements PacerSink, FrameSink {
  readonly id: string;
  private readonly ws: WebSocket;
  private readonly opts: LegOptions;
  private readonly hot: HotCounters;
  private log: Logger;
  private listener: LegListener | undefined;
  private reframer: Reframer | undefined;
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
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('pong', () => (this.awaitingPong = false));
    ws.on('error', (err) => this.log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'leg socket error'));
    ws.on('close', (code, reason) => this.onSocketClose(code, reason.toString('utf8')));
    this.handshakeTimer = setTimeout(() => this.refuse(new GatewayError('HANDSHAKE_TIMEOUT', `no websocket:connected within ${this.opts.handshakeTimeoutMs} ms`)), this.opts.handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  /** Replace the logger (the session's child logger, once the call is known). */
  setLogger(log: Logger): void {
    this.log = log;
  }

  sendFrame(frame: Buffer): void {
    if (this.closing) return;
    this.ws.send(frame, SEND_BINARY);
    this.hot.framesOut++;
  }

  sendText(text: string): void {
    if (this.closing) return;
    this.ws.send(text, SEND_TEXT);
  }

  /** Close with a code and reason. Idempotent; the peer gets `CLOSE_GRACE_MS` to answer before the socket is destroyed. */
  close(code: CloseCodeValue | number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closedByGateway = true;
    this.gatewayCode = code;
    this.gatewayReason = reason;
    this.clearTimers();
    try {
      this.ws.close(code, closeReason(reason));
    } catch {
      this.ws.terminate();
    }
    this.killTimer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    this.killTimer.unref();
  }

  /** FrameSink for the reframer: exact frames to the listener. */
  onFrame(frame: Buffer): void {
    this.hot.framesIn++;
    this.listener?.onAudio(frame, this.arrivalMs);
  }

  private refuse(err: GatewayError): void {
    if (this.closing) return;
    this.log.warn({ code: err.code, closeCode: err.closeCode }, `leg refused: ${err.message}`);
    this.onRefused?.(err);
    this.close(err.closeCode, err.message);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    this.lastMessageMs = performance.now();
    if (this.listener === undefined) {
      this.onFirstMessage(data, isBinary);
      return;
    }
    if (isBinary) {
      this.arrivalMs = this.lastMessageMs;
      this.onBinary(toBuffer(data));
    } else {
      this.listener.onEvent(parseLegEvent(toBuffer(data).toString('utf8')));
    }
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
    this.liveTimer = setInterval(() => {
      if (performance.now() - this.lastMessageMs > this.opts.idleTimeoutMs) {
        this.refuseLive(new GatewayError('IDLE_TIMEOUT', `nothing received for ${this.opts.idleTimeoutMs} ms`));
        return;
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
      this.refuseLive(new GatewayError('BAD_FRAME', len % 2 ? `binary message of ${len} bytes is not whole 16-bit samples` : `binary message of ${len} bytes is absurd for 20 ms frames of ${rf.frameBytes}`));
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
    this.onFinalClose?.(byGateway ? this.gatewayCode : code);
    listener?.onClose(byGateway ? this.gatewayCode : code, byGateway ? this.gatewayReason : reason, byGateway);
  }
}

