/**
 * The cluster primary (`WORKERS` > 1): forks the workers that serve HTTP and WebSocket legs on one shared port, and
 * holds what must be one for the whole gateway. It serves no request itself.
 *
 * - **Port**: node:cluster's round-robin scheduler (set explicitly; the default except on Windows) makes the primary
 *   own the listening socket and hand each accepted connection to a worker, so `PORT=0` gives every worker the same
 *   port. The start-up line (`gateway listening`, with `port` and `workers`) is logged once every worker listens.
 * - **MAX_CALLS**: a {@link CallSlots} ledger; a worker reserves a slot over IPC before it accepts a leg.
 * - **Metrics** (`/metrics`): whichever worker is scraped asks the primary, which gathers every ready worker's registry and merges
 *   them with prom-client's `AggregatorRegistry.aggregate` (plus the primary's own worker metrics).
 * - **Console**: relays console events and call views between workers (cluster/worker.ts has the worker side).
 * - **A dead worker** is replaced; only its calls are lost (its slots are freed and counted). A worker that fails
 *   before it ever listened at start-up stops the gateway (exit 1): a bad adapter or key will not fix itself.
 * - **SIGTERM/SIGINT** drains every worker (each runs the single-process drain); the primary exits when all have,
 *   0 if every one exited 0. A second signal kills the workers and exits 1.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { ServerSettings } from '../config/sections.js';
import { printBanner, type BannerInfo } from '../observability/banner.js';
import type { Logger } from '../observability/logger.js';
import { GOODBYE_MAX_MS } from '../call/apology.js';
import { CallSlots } from './slots.js';
import { registerAggregators } from './aggregate.js';
import { isGatewayMessage, type ToPrimary, type ToWorker } from './protocol.js';

/** How long the primary waits for one worker's metrics before it answers without them. */
export const METRICS_TIMEOUT_MS = 3000;
/** Delay before replacing a worker that died; doubled (to {@link RESTART_MAX_MS}) while replacements die young. */
export const RESTART_MIN_MS = 200;
export const RESTART_MAX_MS = 10_000;
/** A worker that lived this long resets the restart delay. */
const YOUNG_MS = 10_000;

interface WorkerState {
  worker: Worker;
  ready: boolean;
  startedAt: number;
  consoleWatchers: number;
}

export interface PrimaryOptions {
  /** The server section: MAX_CALLS (the gateway-wide slots), the host for the banner, the drain deadline. */
  server: ServerSettings;
  logger: Logger;
  workers: number;
}

export function runPrimary(o: PrimaryOptions): void {
  const { server, logger } = o;
  cluster.schedulingPolicy = cluster.SCHED_RR;
  registerAggregators();
  const states = new Map<number, WorkerState>();
  const slots = new CallSlots(server.maxCalls);
  let started = false;
  let stopping = false;
  let exitCode = 0;
  let restartDelayMs = RESTART_MIN_MS;
  let metricsSeq = 0;
  const metricsPending = new Map<number, { want: Set<number>; got: unknown[][]; done: (err?: Error) => void }>();

  const own = new Registry();
  const workersGauge = new Gauge({ name: 'gateway_workers', help: 'Gateway worker processes listening now (WORKERS > 1)', registers: [own] });
  const restarts = new Counter({ name: 'gateway_worker_restarts_total', help: 'Worker processes that died and were replaced', registers: [own] });
  const lostCalls = new Counter({ name: 'gateway_worker_lost_calls_total', help: 'Calls that ended because their worker process died', registers: [own] });

  const send = (w: Worker, m: ToWorker) => {
    if (w.isConnected()) w.send(m);
  };
  const broadcastCalls = () => {
    for (const s of states.values()) if (s.ready) send(s.worker, { gw: 'calls', total: slots.total });
  };
  const consoleRemote = () => {
    let all = 0;
    for (const s of states.values()) all += s.consoleWatchers;
    for (const s of states.values()) if (s.ready) send(s.worker, { gw: 'console-remote', n: all - s.consoleWatchers });
  };
  const readyCount = () => [...states.values()].filter((s) => s.ready).length;

  function fork(): void {
    const worker = cluster.fork();
    states.set(worker.id, { worker, ready: false, startedAt: Date.now(), consoleWatchers: 0 });
  }

  function onMessage(worker: Worker, raw: unknown): void {
    if (!isGatewayMessage<ToPrimary>(raw)) return;
    const st = states.get(worker.id);
    if (!st) return;
    const m = raw;
    switch (m.gw) {
      case 'ready': {
        st.ready = true;
        workersGauge.set(readyCount());
        logger.info({ worker: worker.id, workerPid: worker.process.pid, port: m.port }, 'worker listening');
        send(worker, { gw: 'calls', total: slots.total });
        consoleRemote();
        if (!started && readyCount() === o.workers) {
          started = true;
          logger.info({ ...m.info, port: m.port, workers: o.workers, pids: [...states.values()].map((s) => s.worker.process.pid) }, 'gateway listening');
          printBanner({ ...(m.info as Omit<BannerInfo, 'port' | 'host'>), port: m.port, host: server.host, workers: o.workers });
        }
        return;
      }
      case 'reserve': {
        const ok = !stopping && slots.take(worker.id);
        send(worker, { gw: 'reserved', id: m.id, ok });
        if (ok) broadcastCalls();
        return;
      }
      case 'release':
        slots.release(worker.id);
        return broadcastCalls();
      case 'metrics':
        return void gatherMetrics().then(
          (text) => send(worker, { gw: 'metrics', id: m.id, text }),
          (err) => send(worker, { gw: 'metrics', id: m.id, error: (err as Error).message }),
        );
      case 'metrics-json': {
        const p = metricsPending.get(m.id);
        if (!p || !p.want.delete(worker.id)) return;
        p.got.push(m.metrics);
        if (p.want.size === 0) p.done();
        return;
      }
      case 'console-watchers':
        st.consoleWatchers = Math.max(0, m.n | 0);
        return consoleRemote();
      case 'console-event':
        for (const s of states.values()) if (s.ready && s.worker !== worker && s.consoleWatchers > 0) send(s.worker, m);
        return;
      case 'console-views-req':
        for (const s of states.values()) if (s.ready && s.worker !== worker) send(s.worker, { gw: 'console-views-req', id: m.id, from: worker.id });
        return;
      case 'console-views': {
        const to = states.get(m.to);
        if (to) send(to.worker, { gw: 'console-views', id: m.id, views: m.views });
        return;
      }
      case 'amd':
        // The leg may be on any worker, or not connected yet: every other worker hands it over or holds it.
        for (const s of states.values()) if (s.ready && s.worker !== worker) send(s.worker, m);
        return;
    }
  }

  /** Every ready worker's registry, merged (sums; summaries per cluster/aggregate.ts), then the primary's own. */
  async function gatherMetrics(): Promise<string> {
    const id = ++metricsSeq;
    const want = new Set([...states.values()].filter((s) => s.ready && s.worker.isConnected()).map((s) => s.worker.id));
    const got: unknown[][] = [];
    await new Promise<void>((resolve) => {
      // A worker that does not answer in time (dying, stuck) is left out rather than failing the scrape.
      const timer = setTimeout(() => done(), METRICS_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        metricsPending.delete(id);
        resolve();
      };
      metricsPending.set(id, { want, got, done });
      if (want.size === 0) return done();
      for (const wid of want) send(states.get(wid)!.worker, { gw: 'metrics-json-req', id });
    });
    const merged = AggregatorRegistry.aggregate(got);
    return (await merged.metrics()) + (await own.metrics());
  }

  cluster.on('message', onMessage);
  cluster.on('exit', (worker, code, signal) => {
    const st = states.get(worker.id);
    states.delete(worker.id);
    workersGauge.set(readyCount());
    const lost = slots.dropWorker(worker.id);
    if (lost) lostCalls.inc(lost);
    for (const p of metricsPending.values()) if (p.want.delete(worker.id) && p.want.size === 0) p.done();
    broadcastCalls();
    consoleRemote();
    if (stopping) {
      if (code !== 0) exitCode = 1;
      logger.info({ worker: worker.id, workerPid: worker.process.pid, code, signal, left: states.size }, 'worker drained and exited');
      if (states.size === 0) finish();
      return;
    }
    if (!started && !st?.ready) {
      // Start-up failure (the worker wrote why on stderr): restarting would fail the same way.
      logger.error({ worker: worker.id, code, signal }, 'a worker failed to start: stopping the gateway');
      stopping = true;
      exitCode = 1;
      for (const s of states.values()) s.worker.process.kill('SIGKILL');
      if (states.size === 0) finish();
      return;
    }
    const young = st ? Date.now() - st.startedAt < YOUNG_MS : true;
    restartDelayMs = young ? Math.min(RESTART_MAX_MS, restartDelayMs * 2) : RESTART_MIN_MS;
    const delayMs = young ? restartDelayMs : RESTART_MIN_MS;
    restarts.inc();
    logger.error(
      { worker: worker.id, workerPid: worker.process.pid, code, signal, lostCalls: lost, restartInMs: delayMs },
      'worker died: replacing it (its calls are lost)',
    );
    setTimeout(() => {
      if (!stopping) fork();
    }, delayMs);
  });

  let finished = false;
  function finish(): void {
    if (finished) return;
    finished = true;
    logger.info({ code: exitCode }, 'gateway stopped');
    // Let the last log line reach stdout before exiting.
    setTimeout(() => process.exit(exitCode), 50);
  }

  let signals = 0;
  const stop = (signal: string) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: killing the workers, exiting now');
      for (const s of states.values()) s.worker.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, workers: states.size, calls: slots.total }, 'shutting down: draining every worker');
    for (const s of states.values()) send(s.worker, { gw: 'drain' });
    if (states.size === 0) return finish();
    // Each worker bounds its own drain; this bounds a worker that hangs anyway.
    const bound = setTimeout(
      () => {
        logger.error({ workers: states.size }, 'workers still running past the drain deadline: killing them');
        exitCode = 1;
        for (const s of states.values()) s.worker.process.kill('SIGKILL');
      },
      server.drainTimeoutMs + GOODBYE_MAX_MS + 10_000,
    );
    bound.unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  logger.info({ workers: o.workers }, 'starting workers');
  for (let i = 0; i < o.workers; i++) fork();
}
