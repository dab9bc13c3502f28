/**
 * A worker's side of the cluster (`WORKERS` > 1): the {@link ClusterLink} the app is built with, over the IPC channel
 * to the primary (cluster/primary.ts). With `WORKERS=1` none of this exists and the app counts on its own.
 */
import type { MachineDetection } from '../webhooks/amd.js';
import type { Registry } from 'prom-client';
import { isGatewayMessage, type ToPrimary, type ToWorker } from './protocol.js';

/** How long a leg waits for the primary's answer to a slot reservation before it is refused (503). */
export const RESERVE_TIMEOUT_MS = 2000;
/** How long a scrape waits for the primary's aggregated metrics. */
export const METRICS_WAIT_MS = 5000;
/** How long a console client's request for the other workers' calls stays open. */
const VIEWS_WAIT_MS = 2000;

/** What the console hub offers the relay (console/hub.ts). */
export interface ConsoleRelayTarget {
  /** Console clients connected to the other workers (the hub reports events while any are). */
  setRemoteWatchers(n: number): void;
  /** An event from another worker, for this worker's console clients. */
  deliver(event: string, json: string): void;
  /** This worker's live and recently ended call views. */
  views(): unknown[];
}

/** What the hub uses to reach the other workers' console clients. */
export interface ConsoleRelay {
  /** This worker's console clients now. */
  watchers(n: number): void;
  /** One event (serialised once) for the other workers' console clients. */
  publish(event: string, json: string): void;
  /** Ask the other workers for their call views; `onViews` runs once per worker that answers. */
  requestViews(onViews: (views: unknown[]) => void): void;
}

/** The app's view of the cluster: the gateway-wide answers a single process would compute alone. */
/** The functions here are closures (no `this`): the app hands them on detached. */
export interface ClusterLink {
  /** This worker's cluster id (1, 2, …; a replacement gets a new one). */
  readonly workerId: number;
  /** Legs open in the whole gateway (as the primary last said). */
  liveCalls: () => number;
  /** Take a gateway-wide MAX_CALLS slot for a new leg; false when full (or the primary does not answer). */
  reserve: () => Promise<boolean>;
  /** Give a slot back (the leg that held it closed). */
  release: () => void;
  /** The whole gateway's Prometheus text. */
  metricsText: () => Promise<string>;
  /** Answer the primary's requests for this worker's metrics from `registry`. */
  serveMetrics(registry: Registry): void;
  /** Connect the console hub to the other workers. */
  consoleRelay(hub: ConsoleRelayTarget): ConsoleRelay;
  /** Tell the primary this worker listens (it logs the start-up line once all do). */
  ready(port: number, info: Record<string, unknown>): void;
  /** Called when the primary asks every worker to drain. */
  onDrain: (() => void) | undefined;
  /** Send an answering-machine detection result to the other workers (the call's leg is not on this one). */
  shareMachineDetection: (callUuid: string, detection: MachineDetection) => void;
  /** Called with another worker's detection result. */
  onMachineDetection: ((callUuid: string, detection: MachineDetection) => void) | undefined;
}

export function createWorkerLink(workerId: number): ClusterLink {
  let total = 0;
  let seq = 0;
  let registry: Registry | undefined;
  let hub: ConsoleRelayTarget | undefined;
  const reservations = new Map<number, { resolve: (ok: boolean) => void; timer: NodeJS.Timeout }>();
  const scrapes = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  const views = new Map<number, (v: unknown[]) => void>();

  const send = (m: ToPrimary) => {
    if (process.connected) process.send?.(m);
  };

  process.on('message', (raw: unknown) => {
    if (!isGatewayMessage<ToWorker>(raw)) return;
    const m = raw;
    switch (m.gw) {
      case 'calls':
        total = m.total;
        return;
      case 'reserved': {
        const r = reservations.get(m.id);
        if (!r) {
          // Answered after the leg gave up waiting: hand the slot straight back.
          if (m.ok) send({ gw: 'release' });
          return;
        }
        reservations.delete(m.id);
        clearTimeout(r.timer);
        if (m.ok) total++; // until the primary's broadcast says so
        return r.resolve(m.ok);
      }
      case 'metrics': {
        const s = scrapes.get(m.id);
        if (!s) return;
        scrapes.delete(m.id);
        clearTimeout(s.timer);
        return m.text !== undefined ? s.resolve(m.text) : s.reject(new Error(m.error ?? 'no metrics'));
      }
      case 'metrics-json-req':
        if (!registry) return send({ gw: 'metrics-json', id: m.id, metrics: [] });
        return void registry.getMetricsAsJSON().then(
          (metrics) => send({ gw: 'metrics-json', id: m.id, metrics }),
          () => send({ gw: 'metrics-json', id: m.id, metrics: [] }),
        );
      case 'drain':
        return link.onDrain?.();
      case 'console-remote':
        return hub?.setRemoteWatchers(m.n);
      case 'console-event':
        return hub?.deliver(m.event, m.json);
      case 'console-views-req':
        return send({ gw: 'console-views', id: m.id, to: m.from, views: hub ? hub.views() : [] });
      case 'console-views':
        return views.get(m.id)?.(m.views);
      case 'amd':
        return link.onMachineDetection?.(m.callUuid, m.detection as MachineDetection);
    }
  });

  const link: ClusterLink = {
    workerId,
    onDrain: undefined,
    onMachineDetection: undefined,
    shareMachineDetection: (callUuid, detection) => send({ gw: 'amd', callUuid, detection }),
    liveCalls: () => total,
    reserve: () =>
      new Promise<boolean>((resolve) => {
        const id = ++seq;
        const timer = setTimeout(() => {
          reservations.delete(id);
          resolve(false);
        }, RESERVE_TIMEOUT_MS);
        reservations.set(id, { resolve, timer });
        send({ gw: 'reserve', id });
      }),
    release: () => {
      if (total > 0) total--;
      send({ gw: 'release' });
    },
    metricsText: () =>
      new Promise<string>((resolve, reject) => {
        const id = ++seq;
        const timer = setTimeout(() => {
          scrapes.delete(id);
          reject(new Error('the cluster primary did not answer'));
        }, METRICS_WAIT_MS);
        scrapes.set(id, { resolve, reject, timer });
        send({ gw: 'metrics', id });
      }),
    serveMetrics: (r) => {
      registry = r;
    },
    consoleRelay: (target) => {
      hub = target;
      return {
        watchers: (n) => send({ gw: 'console-watchers', n }),
        publish: (event, json) => send({ gw: 'console-event', event, json }),
        requestViews: (onViews) => {
          const id = ++seq;
          views.set(id, onViews);
          setTimeout(() => views.delete(id), VIEWS_WAIT_MS).unref();
          send({ gw: 'console-views-req', id });
        },
      };
    },
    ready: (port, info) => send({ gw: 'ready', port, info }),
  };
  return link;
}
