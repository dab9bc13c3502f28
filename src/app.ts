/**
 * Builds one gateway process: HTTP webhooks and the Vonage WebSocket on one port, the shared 20 ms ticker, metrics,
 * the call tracker. A factory, never a singleton: tests build several in one process.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { withBoundPort, type Config } from './config/config.js';
import { CloseCode, GatewayError } from './errors.js';
import { countLogDrops, createLogger, type Logger } from './observability/logger.js';
import { Metrics, type StatSources } from './observability/metrics.js';
import { FallbackTts } from './tts/fallback.js';
import { systemClock, type Clock } from './util/clock.js';
import { Ticker } from './util/ticker.js';
import { loadResampler } from './audio/resampler.js';
import { loadVad } from './vad/fvad.js';
import { closeAdapters, loadAdapters, type Adapters } from './adapters.js';
import { CallTracker } from './call/tracker.js';
import { CallSession } from './call/session.js';
import { VonageLeg, legOptionsFrom } from './leg/leg.js';
import { readWebhookInput, sendError, sendJson, sendNoContent } from './webhooks/http.js';
import { handleAnswer } from './webhooks/answer.js';
import { classifyEvent, eventReply } from './webhooks/event.js';
import { apologyNcco } from './webhooks/ncco.js';
import { RecordingStore } from './recording/store.js';
import { GOODBYE_MAX_MS } from './call/apology.js';
import { createWebhookAuth } from './security/webhook-auth.js';
import { createLegAuth } from './security/leg-auth.js';
import { SourceRateLimiter, sourceAddress } from './security/rate-limit.js';
import { clientErrorResponse } from './security/client-errors.js';
import { createVonageClient } from './vonage/client.js';
import { CallControl } from './vonage/call-control.js';
import { createConsole, type ConsoleRoutes } from './console/routes.js';

export interface GatewayOptions {
  config: Config;
  /** Environment handed to adapter factories (their own settings). */
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
  clock?: Clock;
  /** Pre-built adapters (tests); otherwise loaded from config. */
  adapters?: Adapters;
}

export interface Gateway {
  readonly config: Config;
  readonly server: Server;
  readonly metrics: Metrics;
  readonly tracker: CallTracker;
  readonly logger: Logger;
  readonly adapters: Adapters;
  readonly ticker: Ticker;
  /** Call recordings (RECORDING_DIR), or undefined when off. */
  readonly recordings: RecordingStore | undefined;
  /** The live console (CONSOLE_ENABLED), or undefined when off or refused. */
  readonly console: ConsoleRoutes | undefined;
  /** True once drain() started. */
  readonly draining: boolean;
  /** Start listening; resolves with the bound port. */
  listen(): Promise<number>;
  /** Stop taking calls, let live calls finish until `deadlineMs`, then close them (1001) and the server. */
  drain(deadlineMs?: number): Promise<void>;
  /** Close everything now. Idempotent. */
  close(): Promise<void>;
}

export async function buildGateway(opts: GatewayOptions): Promise<Gateway> {
  let config = opts.config;
  const logger = opts.logger ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  await Promise.all([loadResampler(), loadVad()]);
  const metrics = new Metrics();
  countLogDrops(logger, metrics.logLinesDropped); // stdout too slow: lines dropped, never blocking or buffering without bound
  // Vonage REST call control, when VONAGE_APPLICATION_ID is set (a bad key fails the start: VONAGE_NOT_CONFIGURED).
  const vonage = await createVonageClient(config, logger, (e) => {
    metrics.vonageRequests.inc({ op: e.op, status: String(e.status) });
    metrics.vonageRequestDuration.observe({ op: e.op }, e.durationMs / 1000);
  });
  const adapters = opts.adapters ?? (await loadAdapters(config, logger, opts.env ?? {}));
  // Components that keep plain counters: read at scrape time.
  const statsOf = (a: unknown): unknown => (a && typeof a === 'object' ? (a as { stats?: unknown }).stats : undefined);
  if (adapters.bot.name === 'llm') {
    const llm = statsOf(adapters.bot) as StatSources['llm'];
    metrics.sources.llm = llm;
    if (llm) llm.onFirstToken = (ms) => metrics.llmFirstTokenLatency.observe(ms / 1000);
  }
  if (adapters.bot.name === 'remote') metrics.sources.remoteBot = statsOf(adapters.bot) as StatSources['remoteBot'];
  if (adapters.tts instanceof FallbackTts) metrics.sources.ttsFallback = adapters.tts.stats;
  const recordings = config.recordingDir ? new RecordingStore({ dir: config.recordingDir, logger: logger.child({ component: 'recording' }) }) : undefined;
  await recordings?.init();
  if (recordings) metrics.sources.recordings = recordings.stats;
  const tracker = new CallTracker();
  const ticker = new Ticker(clock, 20);
  const callControl = vonage ? new CallControl(vonage, metrics.adapterErrors) : undefined;
  ticker.onListenerError = (err) => logger.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack } }, 'tick listener failed');
  ticker.onListenerRemoved = (l, err) => {
    metrics.tickerListenerFaults.inc();
    logger.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack }, call: l instanceof CallSession ? l.info.callId : undefined }, `tick listener kept throwing: removed${l instanceof CallSession ? ', its call closed (1011)' : ''}`);
    if (l instanceof CallSession) l.close(CloseCode.INTERNAL, 'internal error');
  };
  metrics.tickerLateTicks = () => ticker.stats.lateTicks;
  metrics.sumLive = (pick) => {
    let n = 0;
    for (const s of tracker.sessions()) n += pick({ jitter: s.jitter, pacer: s.pacerStats });
    return n;
  };
  // autoPong off: each leg answers pings itself, after its message bucket (a ping flood ends in 4008, not a bare terminate).
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxPayloadBytes, perMessageDeflate: false, clientTracking: false, autoPong: false });
  const legs = new Set<VonageLeg>();
  let draining = false;
  let closed = false;

  const canAccept = () => !draining && legs.size < config.maxCalls;
  // Security (README "Security"): signed webhooks, authenticated legs, upgrade rate limit per source.
  const webhookAuth = createWebhookAuth(config);
  const legAuth = createLegAuth(config);
  const upgradeLimiter = new SourceRateLimiter(config.upgradeRatePerSource, config.upgradeBurstPerSource);
  const consoleRoutes = createConsole(config, () => tracker.sessions(), logger);
  if (consoleRoutes) metrics.sources.console = consoleRoutes.hub;
  if (config.wsAuth === 'custom' && !webhookAuth) logger.warn('WS_AUTH=custom without VONAGE_SIGNATURE_SECRET: anyone who can call the answer webhook can read the leg token');

  // ── HTTP ──────────────────────────────────────────────────────────────────────
  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    let hook = 'other';
    try {
      switch (path) {
        case '/healthz':
          return sendJson(res, 200, { status: 'ok' });
        case '/readyz':
          if (draining) return sendJson(res, 503, { ready: false, reason: 'draining', calls: tracker.size });
          if (legs.size >= config.maxCalls) return sendJson(res, 503, { ready: false, reason: 'at capacity', calls: tracker.size });
          return sendJson(res, 200, { ready: true, calls: tracker.size });
        case '/metrics': {
          const text = await metrics.registry.metrics();
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
          return;
        }
        case '/webhooks/answer': {
          hook = 'answer';
          const { fields } = await readWebhookInput(req, url, webhookAuth);
          const r = handleAnswer(config, fields, canAccept());
          logger.info({ call: r.call.uuid, conv: r.call.conversation_uuid, from: r.call.from, to: r.call.to, refused: r.refused }, 'answer webhook');
          if (r.refused) metrics.legsRefused.inc({ reason: draining ? 'draining' : 'capacity' });
          metrics.webhookRequests.inc({ hook, code: '200' });
          return sendJson(res, 200, r.ncco);
        }
        case '/webhooks/event': {
          hook = 'event';
          const { fields } = await readWebhookInput(req, url, webhookAuth);
          const e = classifyEvent(config, fields);
          metrics.webhookEvents.inc({ status: e.kind });
          const session = tracker.find({ uuid: e.uuid, headerUuid: e.headerUuid, conversationUuid: e.conversationUuid });
          (session ? session.logger : logger).info(
            { call: e.headerUuid ?? e.uuid, conv: e.conversationUuid, status: e.status, kind: e.kind, detail: e.detail, live: !!session },
            'vonage event',
          );
          if (session && e.terminal && e.uuid === session.info.callId) session.close(CloseCode.NORMAL, `vonage reported ${e.status}`);
          const ncco = eventReply(e);
          metrics.webhookRequests.inc({ hook, code: ncco ? '200' : '204' });
          return ncco ? sendJson(res, 200, ncco) : sendNoContent(res);
        }
        case '/webhooks/fallback': {
          hook = 'fallback';
          const { fields } = await readWebhookInput(req, url, webhookAuth);
          const orig = fields.original_request;
          logger.warn({ call: typeof fields.uuid === 'string' ? fields.uuid : undefined, reason: typeof fields.reason === 'string' ? fields.reason.slice(0, 500) : fields.reason, original_request: orig && typeof orig === 'object' ? orig : undefined }, 'fallback webhook');
          metrics.webhookRequests.inc({ hook, code: '200' });
          return sendJson(res, 200, apologyNcco());
        }
        default:
          if (consoleRoutes && (path === '/console' || path.startsWith('/console/'))) return consoleRoutes.handle(req, res, url, path);
          return sendJson(res, 404, { error: 'NOT_FOUND', reason: `no route ${req.method} ${path.slice(0, 100)}` });
      }
    } catch (err) {
      const ge = err instanceof GatewayError ? err : new GatewayError('INTERNAL', 'internal error', { httpStatus: 500 });
      if (ge.httpStatus >= 500) logger.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack }, hook }, 'webhook failed');
      else logger.warn({ hook, code: ge.code, status: ge.httpStatus }, `webhook refused: ${ge.message}`);
      metrics.webhookRequests.inc({ hook, code: String(ge.httpStatus) });
      if (!res.headersSent) sendError(res, ge);
      else res.destroy();
    }
  }

  // ── WebSocket upgrade ────────────────────────────────────────────────────────
  function refuseUpgrade(socket: Duplex, status: number, reason: string, metricReason: string, errorCode = metricReason, extraHeaders = ''): void {
    metrics.legsRefused.inc({ reason: metricReason });
    const body = JSON.stringify({ error: errorCode, reason });
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n${extraHeaders}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    if (url.pathname !== config.wsPath) return refuseUpgrade(socket, 404, `no WebSocket endpoint at ${url.pathname.slice(0, 100)}`, 'path');
    const source = sourceAddress(req, config.trustProxy);
    const rate = upgradeLimiter.take(source);
    if (!rate.allowed) {
      if (rate.firstRefusal) logger.warn({ source, retryAfterS: rate.retryAfterS }, 'leg refused: upgrade rate limit (further refusals from this source are not logged until one is allowed)');
      return refuseUpgrade(socket, 429, `more than ${config.upgradeRatePerSource} upgrades per second from this source`, 'rate', 'RATE_LIMITED', `Retry-After: ${rate.retryAfterS}\r\n`);
    }
    if (draining) return refuseUpgrade(socket, 503, 'gateway is draining', 'draining');
    if (legs.size >= config.maxCalls) return refuseUpgrade(socket, 503, 'gateway at capacity', 'capacity');
    if (legAuth) {
      // Before the WebSocket exists: a leg that does not belong never gets to send a byte of audio. Tokens are never logged.
      const denied = await legAuth(req);
      if (denied) {
        logger.warn({ source, auth: config.wsAuth, failure: denied.slug }, `leg refused: ${denied.message}`);
        return refuseUpgrade(socket, 401, denied.message, 'unauthorized', 'LEG_UNAUTHORIZED');
      }
      if (socket.destroyed) return;
      if (draining) return refuseUpgrade(socket, 503, 'gateway is draining', 'draining');
      if (legs.size >= config.maxCalls) return refuseUpgrade(socket, 503, 'gateway at capacity', 'capacity');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const id = randomUUID();
      const leg = new VonageLeg(id, ws, legOptionsFrom(config, metrics), metrics.hot, logger.child({ leg: id }));
      legs.add(leg);
      leg.onFinalClose = (code) => {
        legs.delete(leg);
        metrics.legsClosed.inc({ code: String(code) });
      };
      leg.start(
        (h) => {
          if (draining) throw new GatewayError('UNAVAILABLE', 'gateway is draining');
          const session = new CallSession(leg, h, { config, clock, ticker, metrics, logger, asr: adapters.asr, bot: adapters.bot, tts: adapters.tts, recordings, callControl, observer: consoleRoutes?.hub });
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

  const server = createServer({ requestTimeout: 10000, headersTimeout: 5000, maxHeaderSize: 16 * 1024 }, (req, res) => {
    onRequest(req, res).catch((err) => {
      logger.error({ err: { message: (err as Error)?.message } }, 'request handler crashed');
      if (!res.headersSent) sendJson(res, 500, { error: 'INTERNAL', reason: 'internal error' });
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    onUpgrade(req, socket, head).catch((err) => {
      logger.error({ err: { message: (err as Error)?.message } }, 'upgrade handler failed');
      socket.destroy();
    });
  });
  // Malformed WebSocket upgrades (bad Sec-WebSocket-Key/Version, wrong method) get a JSON 4xx like everything else.
  wss.on('wsClientError', (err: Error, socket: Duplex) => {
    if (!socket.writable) return void socket.destroy();
    logger.warn({ reason: err.message.slice(0, 100) }, 'leg refused: malformed WebSocket upgrade');
    refuseUpgrade(socket, /method/i.test(err.message) ? 405 : 400, err.message.slice(0, 200), 'bad_upgrade', 'BAD_UPGRADE');
  });
  server.on('clientError', (err, socket) => {
    if ((err as { code?: string }).code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const r = clientErrorResponse(err);
    logger.warn({ code: r.code, status: r.status }, `HTTP request refused: ${r.reason}`);
    socket.end(r.raw);
  });

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    draining = true;
    for (const s of [...tracker.sessions()]) s.close(CloseCode.GOING_AWAY, 'gateway shutting down');
    consoleRoutes?.close();
    for (const l of [...legs]) l.close(CloseCode.GOING_AWAY, 'gateway shutting down');
    ticker.close();
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
    wss.close();
    await recordings?.whenIdle(); // every recording complete on disk before the process may exit
    await closeAdapters(adapters);
  }

  const gw: Gateway = {
    get config() {
      return config;
    },
    server, metrics, tracker, logger, adapters, ticker, recordings,
    console: consoleRoutes,
    get draining() {
      return draining;
    },
    listen: () =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          const a = server.address();
          const port = typeof a === 'object' && a ? a.port : config.port;
          config = withBoundPort(config, port);
          resolve(port);
        });
      }),
    async drain(deadlineMs = config.drainTimeoutMs) {
      if (draining) return;
      draining = true;
      logger.info({ calls: tracker.size, deadlineMs }, 'draining: no new calls');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([tracker.whenEmpty(), new Promise<void>((r) => (timer = setTimeout(r, deadlineMs)))]);
      if (timer) clearTimeout(timer);
      if (tracker.size) {
        logger.warn({ calls: tracker.size }, 'drain deadline passed: closing live calls');
        // Each live call hears a goodbye (with TTS), then is closed with 1001; what is left after the bound is closed below.
        for (const s of [...tracker.sessions()]) s.goodbye();
        let bound: NodeJS.Timeout | undefined;
        await Promise.race([tracker.whenEmpty(), new Promise<void>((r) => (bound = setTimeout(r, GOODBYE_MAX_MS)))]);
        clearTimeout(bound);
      }
      await close();
    },
    close,
  };
  return gw;
}
