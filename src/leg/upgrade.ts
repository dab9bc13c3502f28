/**
 * The WebSocket upgrade pipeline: from an HTTP `upgrade` request to a Vonage leg and, once its handshake is valid, a
 * call session. In order, cheapest first, each step refusing before the next costs anything:
 *
 * | step | refused with | `error` (JSON body) | `gateway_legs_refused_total{reason}` |
 * |---|---|---|---|
 * | path is `WS_PATH` | 404 | `NOT_FOUND` | `path` |
 * | upgrade rate per source | 429 + `Retry-After` | `RATE_LIMITED` | `rate` |
 * | a WebSocket upgrade: `GET`, `Upgrade: websocket`, a valid `Sec-WebSocket-Key` | 405 / 400 | `BAD_UPGRADE` | `bad_upgrade` |
 * | `Sec-WebSocket-Version: 13` | 426 + `Sec-WebSocket-Version: 13` | `BAD_UPGRADE` | `bad_upgrade` |
 * | not draining, below `MAX_CALLS` | 503 | `UNAVAILABLE` | `draining` / `capacity` |
 * | leg authentication (`WS_AUTH`) | 401 | `LEG_UNAUTHORIZED` | `unauthorized` |
 * | the rest of `ws`'s checks (`Sec-WebSocket-Protocol`, `-Extensions`) | 400 | `BAD_UPGRADE` | `bad_upgrade` |
 *
 * Every refusal is `Connection: close` with a JSON `{"error": CODE, "reason": text}` body; `error` is a stable
 * upper-case code, the metric keeps its short lower-case reasons. Then the WebSocket exists: the leg's own handshake
 * rules (leg/leg.ts) decide, and a valid handshake becomes a {@link CallSession} tracked until it closes.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { WebSocketServer } from 'ws';
import type { UpgradeSettings } from '../config/sections.js';
import { GatewayError, type ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CallTracker } from '../call/tracker.js';
import { CallSession, type SessionDeps } from '../call/session.js';
import type { LegAuth } from '../security/leg-auth.js';
import { SourceRateLimiter, sourceAddress } from '../security/rate-limit.js';
import { AdmissionQueue } from './admission.js';
import { VonageLeg, legOptionsFrom } from './leg.js';

/** The only WebSocket protocol version accepted (RFC 6455). `ws` also takes the hybi-08 draft's `8`; we do not. */
export const WS_VERSION = '13';

const KEY = /^[+/0-9A-Za-z]{22}==$/;

/**
 * What `ws` would refuse in `handleUpgrade` (same checks, same messages), checked before the costlier steps, plus the
 * protocol version: `ws` also accepts `8` (a 2011 draft); Vonage and every browser speak 13, and RFC 6455 §4.4 says to
 * answer anything else with 426 and the version we speak.
 */
export function malformedUpgrade(req: IncomingMessage): { status: number; reason: string; headers: string } | undefined {
  if (req.method !== 'GET') return { status: 405, reason: 'Invalid HTTP method', headers: '' };
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return { status: 400, reason: 'Invalid Upgrade header', headers: '' };
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !KEY.test(key)) return { status: 400, reason: 'Missing or invalid Sec-WebSocket-Key header', headers: '' };
  if (req.headers['sec-websocket-version'] !== WS_VERSION)
    return { status: 426, reason: `Sec-WebSocket-Version must be ${WS_VERSION}`, headers: `Sec-WebSocket-Version: ${WS_VERSION}\r\n` };
  return undefined;
}

export interface UpgradeDeps {
  /** The current server, leg and security settings (the server's change once, when the port is bound). */
  settings: () => UpgradeSettings;
  metrics: Metrics;
  logger: Logger;
  tracker: CallTracker;
  /** Leg authentication (WS_AUTH), or undefined when off. */
  legAuth: LegAuth | undefined;
  /** True once the gateway is draining: no new legs. */
  draining: () => boolean;
  /** What a new call session is built with (read when its handshake arrives). */
  session: () => SessionDeps;
  /**
   * Gateway-wide call slots (WORKERS > 1: MAX_CALLS counts every worker's legs). A leg reserves one after the cheap
   * checks and auth, before the WebSocket exists, and gives it back when its socket closes. Undefined: this process's
   * own legs are the count.
   */
  slots?: LegSlots;
}

/** Call slots shared with other processes (cluster/worker.ts). */
export interface LegSlots {
  /** True when the gateway as a whole is at MAX_CALLS. */
  full(): boolean;
  /** Take a slot; false when none is left. */
  reserve: () => Promise<boolean>;
  /** Give a slot back; called detached (`socket.once('close', release)`). */
  release: () => void;
}

export interface UpgradePipeline {
  /** Legs open now (handshake pending or in a call). */
  readonly legs: ReadonlySet<VonageLeg>;
  /** The `server.on('upgrade')` handler. Never throws; a failure destroys the socket and is logged. */
  onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Close every open leg with `code`, then the WebSocket server. */
  close(code: number, reason: string): void;
}

export function createUpgradePipeline(d: UpgradeDeps): UpgradePipeline {
  const { metrics, logger, tracker, legAuth } = d;
  const s0 = d.settings();
  // autoPong off: each leg answers pings itself, after its message bucket (a ping flood ends in 4008, not a bare terminate).
  const wss = new WebSocketServer({ noServer: true, maxPayload: s0.leg.maxPayloadBytes, perMessageDeflate: false, clientTracking: false, autoPong: false });
  const legs = new Set<VonageLeg>();
  const limiter = new SourceRateLimiter(s0.security.upgradeRatePerSource, s0.security.upgradeBurstPerSource);
  const slots = d.slots;
  /** The last guard of the pipeline: log, and drop the socket when there is one. Never throws. */
  const failed = (err: unknown, socket?: Duplex) => {
    logger.error({ err: { message: (err as Error)?.message } }, 'upgrade handler failed');
    socket?.destroy();
  };
  const admission = new AdmissionQueue(s0.leg.admissionSliceMs, failed);
  // Legs waiting for admission count: a burst beyond MAX_CALLS is refused at once, not after it has waited.
  const atCapacity = () => legs.size + admission.queued >= d.settings().server.maxCalls || (slots !== undefined && slots.full());

  function refuse(socket: Duplex, status: number, code: ErrorCode, reason: string, metricReason: string, extraHeaders = ''): void {
    metrics.legsRefused.inc({ reason: metricReason });
    const body = JSON.stringify({ error: code, reason });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n${extraHeaders}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  /** Draining or full: refused before (and again after) the asynchronous auth check. */
  function refuseUnavailable(socket: Duplex): boolean {
    if (d.draining()) refuse(socket, 503, 'UNAVAILABLE', 'gateway is draining', 'draining');
    else if (atCapacity()) refuse(socket, 503, 'UNAVAILABLE', 'gateway at capacity', 'capacity');
    else return false;
    return true;
  }

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const { server, security } = d.settings();
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    if (url.pathname !== server.wsPath) return refuse(socket, 404, 'NOT_FOUND', `no WebSocket endpoint at ${url.pathname.slice(0, 100)}`, 'path');
    const source = sourceAddress(req, security.trustProxy);
    const rate = limiter.take(source);
    if (!rate.allowed) {
      if (rate.firstRefusal)
        logger.warn(
          { source, retryAfterS: rate.retryAfterS },
          'leg refused: upgrade rate limit (further refusals from this source are not logged until one is allowed)',
        );
      return refuse(
        socket,
        429,
        'RATE_LIMITED',
        `more than ${security.upgradeRatePerSource} upgrades per second from this source`,
        'rate',
        `Retry-After: ${rate.retryAfterS}\r\n`,
      );
    }
    const bad = malformedUpgrade(req);
    if (bad) {
      logger.warn({ source, reason: bad.reason }, 'leg refused: malformed WebSocket upgrade');
      return refuse(socket, bad.status, 'BAD_UPGRADE', bad.reason, 'bad_upgrade', bad.headers);
    }
    if (refuseUnavailable(socket)) return;
    // The cheap checks are done; the rest (auth, `ws`'s handshake, the leg) is admitted in slices (leg/admission.ts).
    const closing = () => void (socket.destroyed || refuse(socket, 503, 'UNAVAILABLE', 'gateway is closing', 'draining'));
    const job = () => void admit(req, socket, head, source).catch((err) => failed(err, socket));
    if (admission.run(job, closing)) metrics.legsAdmissionWaited.inc();
  }

  async function admit(req: IncomingMessage, socket: Duplex, head: Buffer, source: string): Promise<void> {
    const { security } = d.settings();
    // Waited in the admission queue: the caller may have gone, the gateway may have filled up or begun draining.
    if (socket.destroyed) return;
    if (refuseUnavailable(socket)) return;
    if (legAuth) {
      // Before the WebSocket exists: a leg that does not belong never gets to send a byte of audio. Tokens are never logged.
      const denied = await legAuth(req);
      if (denied) {
        logger.warn({ source, auth: security.wsAuth, failure: denied.slug }, `leg refused: ${denied.message}`);
        return refuse(socket, 401, 'LEG_UNAUTHORIZED', denied.message, 'unauthorized');
      }
      if (socket.destroyed) return;
      if (refuseUnavailable(socket)) return;
    }
    if (slots) {
      if (!(await slots.reserve())) return refuse(socket, 503, 'UNAVAILABLE', 'gateway at capacity', 'capacity');
      if (socket.destroyed) return slots.release();
      // Whatever happens next (refused, a call, a leg closed by either side), the slot is free once the socket is.
      socket.once('close', slots.release);
      if (d.draining()) return refuse(socket, 503, 'UNAVAILABLE', 'gateway is draining', 'draining');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const id = randomUUID();
      const leg = new VonageLeg(id, ws, legOptionsFrom(d.settings().leg, metrics), metrics.hot, logger.child({ leg: id }));
      legs.add(leg);
      leg.onFinalClose = (code) => {
        legs.delete(leg);
        metrics.legsClosed.inc({ code: String(code) });
      };
      leg.start(
        (h) => {
          if (d.draining()) throw new GatewayError('UNAVAILABLE', 'gateway is draining');
          const session = new CallSession(leg, h, d.session());
          tracker.add(session);
          metrics.legsAccepted.inc();
          metrics.activeCalls.inc();
          const prev = session.onClosed;
          session.onClosed = (s, summary) => {
            metrics.activeCalls.dec();
            prev?.(s, summary);
          };
          session.start();
          return session;
        },
        (err) => metrics.legsRefused.inc({ reason: err.code.toLowerCase() }),
      );
    });
  }

  // Malformed WebSocket upgrades (bad Sec-WebSocket-Key, no Upgrade header, wrong method) get a JSON 4xx like everything else.
  wss.on('wsClientError', (err: Error, socket: Duplex) => {
    if (!socket.writable) return void socket.destroy();
    logger.warn({ reason: err.message.slice(0, 100) }, 'leg refused: malformed WebSocket upgrade');
    refuse(socket, /method/i.test(err.message) ? 405 : 400, 'BAD_UPGRADE', err.message.slice(0, 200), 'bad_upgrade');
  });

  return {
    legs,
    onUpgrade(req, socket, head) {
      try {
        upgrade(req, socket, head);
      } catch (err) {
        failed(err, socket);
      }
    },
    close(code, reason) {
      admission.close();
      for (const l of [...legs]) l.close(code, reason);
      wss.close();
    },
  };
}
