/**
 * Builds one gateway process: HTTP webhooks and the Vonage WebSocket on one port, the shared 20 ms ticker, metrics,
 * the call tracker. A factory, never a singleton: tests build several in one process. What each part does lives next
 * to it: webhooks/router.ts (the webhooks), observability/health.ts (probes, /metrics), leg/upgrade.ts (upgrade checks,
 * leg, call session); this file builds and wires them and owns the lifecycle (listen, drain, close).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { withBoundPort, type Config } from './config/config.js';
import type { ConfigFile } from './config/config-file.js';
import { callSettingsOf, sectionsOf, type UpgradeSettings, type WebhookSettings } from './config/sections.js';
import { CloseCode } from './errors.js';
import { countLogDrops, createLogger, type Logger } from './observability/logger.js';
import { Metrics, type StatSources } from './observability/metrics.js';
import { FallbackTts } from './tts/fallback.js';
import { systemClock, type Clock } from './util/clock.js';
import { Ticker } from './util/ticker.js';
import { loadResampler } from './audio/resampler.js';
import { loadVad } from './vad/fvad.js';
import { adapterContext, closeAdapters, loadAdapters, type Adapters } from './adapters.js';
import { loadTurnDetector } from './turn-detect/load.js';
import type { TurnDetector } from './turn-detect/types.js';
import { CallTracker } from './call/tracker.js';
import { CallSession } from './call/session.js';
import { createUpgradePipeline } from './leg/upgrade.js';
import { sendJson } from './webhooks/http.js';
import { createWebhookRouter } from './webhooks/router.js';
import { MachineDetectionInbox } from './webhooks/amd.js';
import { createHealthRoutes } from './observability/health.js';
import { RecordingStore } from './recording/store.js';
import { GOODBYE_MAX_MS } from './call/apology.js';
import { createWebhookAuth } from './security/webhook-auth.js';
import { createLegAuth } from './security/leg-auth.js';
import { exposedWithoutLegAuth, exposureWarning } from './security/exposure.js';
import { clientErrorResponse } from './security/client-errors.js';
import { createVonageClient } from './vonage/client.js';
import { CallControl } from './vonage/call-control.js';
import { createConsole, type ConsoleRoutes } from './console/routes.js';
import type { ClusterLink } from './cluster/worker.js';
import { combineObservers, type CallObserver } from './call/observer.js';
import type { TracerProvider } from '@opentelemetry/api';
import type { TracingSdk } from './observability/tracing-sdk.js';
import { ProsodyPool } from './turn-detect/prosody-pool.js';

/** The prosodic cue's worker runs below the event loop, as Flite's threads do by default (`TTS_WORKER_NICE`). */
const PROSODY_WORKER_NICE = 10;

export interface GatewayOptions {
  config: Config;
  /** Environment handed to adapter factories (their own settings): the process's, with the config file's values under it. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The config file the settings came from: its keys are checked against the gateway's and the custom adapters' settings. */
  configFile?: ConfigFile;
  logger?: Logger;
  clock?: Clock;
  /** Pre-built adapters (tests); otherwise loaded from config. */
  adapters?: Adapters;
  /**
   * This process is one worker of several (`WORKERS` > 1): MAX_CALLS, /readyz, /metrics and the console then mean the
   * whole gateway, through the primary. Undefined: the process stands alone.
   */
  cluster?: ClusterLink;
  /** A pre-built end-of-turn detector (tests); otherwise `TURN_DETECTOR` is loaded. */
  turnDetector?: TurnDetector;
  /** Trace calls with this provider (tests) instead of the one `OTEL_EXPORTER_OTLP_ENDPOINT` sets up. */
  tracerProvider?: TracerProvider;
  /** One more call observer (benches and tests that trace calls), beside the console and the tracer. */
  observer?: CallObserver;
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
  /** The call tracer (OpenTelemetry), or undefined when tracing is off. */
  readonly tracing: CallObserver | undefined;
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
  // Each part gets its section(s) of the settings (config/sections.ts), not the whole config. Rebuilt when the config
  // changes (once, when the port is bound: the public URLs may follow it).
  let sections = sectionsOf(config);
  const webhookSettings = (): WebhookSettings => ({ server: sections.server, security: sections.security });
  const upgradeSettings = (): UpgradeSettings => ({ server: sections.server, leg: sections.leg, security: sections.security });
  const logger = opts.logger ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  await Promise.all([loadResampler(), loadVad()]);
  const metrics = new Metrics();
  countLogDrops(logger, metrics.logLinesDropped); // stdout too slow: lines dropped, never blocking or buffering without bound
  // Vonage REST call control, when VONAGE_APPLICATION_ID is set (a bad key fails the start: VONAGE_NOT_CONFIGURED).
  const vonage = await createVonageClient(sections.vonage, logger, (e) => {
    metrics.vonageRequests.inc({ op: e.op, status: String(e.status) });
    metrics.vonageRequestDuration.observe({ op: e.op }, e.durationMs / 1000);
  });
  // The end-of-turn detector first: a bad TURN_DETECTOR fails the start before any adapter runs.
  const turnDetector =
    opts.turnDetector ?? (await loadTurnDetector(config.turnDetector, adapterContext(config, logger.child({ adapter: 'turn-detector' }), opts.env)));
  const adapters =
    opts.adapters ??
    (await loadAdapters(config, logger, opts.env ?? {}, { configFile: opts.configFile }).catch(async (err: unknown) => {
      await Promise.resolve()
        .then(() => turnDetector.close?.())
        .catch(() => {});
      throw err;
    }));
  // Components that keep plain counters: read at scrape time.
  const statsOf = (a: unknown): unknown => (a && typeof a === 'object' ? (a as { stats?: unknown }).stats : undefined);
  if (adapters.bot.name === 'llm') {
    const llm = statsOf(adapters.bot) as StatSources['llm'];
    metrics.sources.llm = llm;
    if (llm) llm.onFirstToken = (ms) => metrics.llmFirstTokenLatency.observe(ms / 1000);
  }
  if (adapters.bot.name === 'remote') metrics.sources.remoteBot = statsOf(adapters.bot) as StatSources['remoteBot'];
  if (adapters.asr?.name === 'pocketsphinx') metrics.sources.localAsr = statsOf(adapters.asr) as StatSources['localAsr'];
  if (adapters.tts instanceof FallbackTts) metrics.sources.ttsFallback = adapters.tts.stats;
  const recordings = config.recordingDir ? new RecordingStore({ dir: config.recordingDir, logger: logger.child({ component: 'recording' }) }) : undefined;
  await recordings?.init();
  if (recordings) metrics.sources.recordings = recordings.stats;
  // OpenTelemetry traces (docs/tracing.md): the SDK and the tracer are loaded only when switched on.
  let tracingSdk: TracingSdk | undefined;
  let provider = opts.tracerProvider;
  if (!provider && config.otelTracesUrl) {
    tracingSdk = await (await import('./observability/tracing-sdk.js')).startTracingSdk(sections.tracing);
    provider = tracingSdk.provider;
    const u = new URL(config.otelTracesUrl);
    logger.info({ url: `${u.origin}${u.pathname}`, sampler: config.otelSampler, service: config.otelServiceName }, 'tracing on: spans exported over OTLP/HTTP');
  }
  const tracing = provider
    ? new (await import('./observability/tracing.js')).CallTracer(
        provider,
        clock,
        { asr: adapters.asr?.name, bot: adapters.bot.name, tts: adapters.tts?.name },
        logger.child({ component: 'tracing' }),
      )
    : undefined;
  const tracker = new CallTracker();
  // Answering-machine detection results that came before their call's leg (sync AMD modes): given to it at connect.
  const amdInbox = new MachineDetectionInbox();
  tracker.onAdd = (s) => amdInbox.deliver(s);
  const ticker = new Ticker(clock, 20);
  // The prosodic end-of-turn cue off the event loop (src/turn-detect/prosody-pool.ts): one worker for every call.
  const prosodyPool =
    config.endpointProsodyWorker && config.endpointing === 'adaptive' && config.endpointProsodyHoldMs > config.endpointMinSilenceMs
      ? new ProsodyPool(PROSODY_WORKER_NICE)
      : undefined;
  prosodyPool?.warm(); // loaded before the first call's first utterance ends
  if (prosodyPool) metrics.prosodyCues = () => ({ worker: prosodyPool.judged, eventLoop: prosodyPool.fallbacks, late: prosodyPool.late });
  const callControl = vonage ? new CallControl(vonage, metrics.adapterErrors) : undefined;
  ticker.onListenerError = (err) => logger.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack } }, 'tick listener failed');
  ticker.onListenerRemoved = (l, err) => {
    metrics.tickerListenerFaults.inc();
    logger.error(
      { err: { message: (err as Error)?.message, stack: (err as Error)?.stack }, call: l instanceof CallSession ? l.info.callId : undefined },
      `tick listener kept throwing: removed${l instanceof CallSession ? ', its call closed (1011)' : ''}`,
    );
    if (l instanceof CallSession) l.close(CloseCode.INTERNAL, 'internal error');
  };
  metrics.tickerLateTicks = () => ticker.stats.lateTicks;
  metrics.sumLive = (pick) => {
    let n = 0;
    for (const s of tracker.sessions()) n += pick({ jitter: s.jitter, pacer: s.pacerStats });
    return n;
  };
  let draining = false;
  let closed = false;

  // Security (README "Security"): signed webhooks, authenticated legs, upgrade rate limit per source.
  const webhookAuth = createWebhookAuth(sections.security);
  const legAuth = createLegAuth(sections.security);
  const consoleRoutes = createConsole({ ...sections.console, host: config.host, publicUrl: config.publicUrl }, () => tracker.sessions(), logger);
  if (consoleRoutes) metrics.sources.console = consoleRoutes.hub;
  const observer = combineObservers(consoleRoutes?.hub, tracing, opts.observer);
  const link = opts.cluster;
  if (link) {
    link.serveMetrics(metrics.registry);
    if (consoleRoutes) consoleRoutes.hub.relayTo(link.consoleRelay(consoleRoutes.hub));
  }
  if (config.wsAuth === 'custom' && !webhookAuth)
    logger.warn('WS_AUTH=custom without VONAGE_SIGNATURE_SECRET: anyone who can call the answer webhook can read the leg token');
  const exposed = exposureWarning(sections);
  if (exposed) logger.warn({ exposed: exposedWithoutLegAuth(sections) }, exposed);

  // ── WebSocket legs (leg/upgrade.ts): upgrade checks, leg, call session ─────────
  const upgrades = createUpgradePipeline({
    settings: upgradeSettings,
    metrics,
    logger,
    tracker,
    legAuth,
    draining: () => draining,
    slots: link && { full: () => link.liveCalls() >= config.maxCalls, reserve: link.reserve, release: link.release },
    session: () => ({
      settings: callSettingsOf(config),
      clock,
      ticker,
      metrics,
      logger,
      asr: adapters.asr,
      bot: adapters.bot,
      tts: adapters.tts,
      recordings,
      callControl,
      observer,
      turnDetector,
      prosodyJudge: prosodyPool,
      s2s: adapters.s2s,
    }),
  });
  const atCapacity = link ? () => link.liveCalls() >= config.maxCalls : () => upgrades.legs.size >= config.maxCalls;

  // ── HTTP: probes and metrics, webhooks, console ──────────────────────────────
  const health = createHealthRoutes({
    metrics,
    calls: link ? link.liveCalls : () => tracker.size,
    draining: () => draining,
    atCapacity,
    metricsText: link?.metricsText,
  });
  // A speech-to-speech model opens its session while the answer webhook is served; a failure there only costs the head start.
  const preconnect = adapters.s2s?.preconnect
    ? (uuid: string) => {
        try {
          adapters.s2s?.preconnect?.(uuid);
        } catch (err) {
          logger.warn({ err: { message: (err as Error)?.message } }, 'speech-to-speech pre-connect failed');
        }
      }
    : undefined;
  const webhooks = createWebhookRouter({
    settings: webhookSettings,
    logger,
    metrics,
    tracker,
    auth: webhookAuth,
    canAccept: () => !draining && !atCapacity(),
    draining: () => draining,
    answered: preconnect,
    amd: amdInbox,
    shareMachineDetection: link?.shareMachineDetection,
  });
  if (link) {
    link.onMachineDetection = (callUuid, d) => {
      const s = tracker.find({ uuid: callUuid });
      if (s) s.machineDetected(d);
      else amdInbox.hold(callUuid, d);
    };
  }
  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (await health(req, res, path)) return;
    if (await webhooks(req, res, url, path)) return;
    if (consoleRoutes && (path === '/console' || path.startsWith('/console/'))) return consoleRoutes.handle(req, res, url, path);
    sendJson(res, 404, { error: 'NOT_FOUND', reason: `no route ${req.method} ${path.slice(0, 100)}` });
  }

  // Node checks headersTimeout/requestTimeout only every connectionsCheckingInterval (30 s by default), so a slow
  // client would be cut after 22-30 s instead of 5/10 s: check every second.
  const server = createServer({ requestTimeout: 10000, headersTimeout: 5000, connectionsCheckingInterval: 1000, maxHeaderSize: 16 * 1024 }, (req, res) => {
    onRequest(req, res).catch((err) => {
      logger.error({ err: { message: (err as Error)?.message } }, 'request handler crashed');
      if (!res.headersSent) sendJson(res, 500, { error: 'INTERNAL', reason: 'internal error' });
      else res.destroy();
    });
  });
  server.on('upgrade', upgrades.onUpgrade);
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
    upgrades.close(CloseCode.GOING_AWAY, 'gateway shutting down');
    ticker.close();
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
    await recordings?.whenIdle(); // every recording complete on disk before the process may exit
    // Every call span has ended (the sessions closed above): export what is buffered, bounded.
    if (tracingSdk) await tracingSdk.shutdown();
    else
      await Promise.resolve()
        .then(() => (provider as { forceFlush?: () => Promise<void> } | undefined)?.forceFlush?.())
        .catch(() => {});
    await closeAdapters(adapters);
    await prosodyPool?.close();
    await Promise.resolve()
      .then(() => turnDetector.close?.())
      .catch((err: unknown) => logger.warn({ err: { message: (err as Error)?.message } }, 'turn detector close failed'));
  }

  const gw: Gateway = {
    get config() {
      return config;
    },
    server,
    metrics,
    tracker,
    logger,
    adapters,
    ticker,
    recordings,
    tracing,
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
          sections = sectionsOf(config);
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
