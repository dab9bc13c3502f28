/**
 * The messages between the cluster primary and its workers (over node:cluster's IPC channel). Every message of ours
 * has a `gw` tag, so prom-client's own cluster messages (`type: 'prom-client:…'`) on the same channel pass by.
 *
 * None of these is on the audio path: a leg costs one `reserve` round trip when it opens and one `release` when it
 * closes; metrics, console and drain messages follow people and signals, not frames.
 */

/** Worker → primary. */
export type ToPrimary =
  /** Listening: the bound port and what the start-up line reports. */
  | { gw: 'ready'; port: number; info: Record<string, unknown> }
  /** Take one gateway-wide MAX_CALLS slot for a new leg; answered with `reserved`. */
  | { gw: 'reserve'; id: number }
  /** A leg that held a slot has closed. */
  | { gw: 'release' }
  /** The whole gateway's /metrics text; answered with `metrics`. */
  | { gw: 'metrics'; id: number }
  /** This worker's metrics (prom-client `getMetricsAsJSON()`), answering `metrics-json-req`. */
  | { gw: 'metrics-json'; id: number; metrics: unknown[] }
  /** Console clients connected to this worker now. */
  | { gw: 'console-watchers'; n: number }
  /** A console event of this worker, for the other workers' console clients. */
  | { gw: 'console-event'; event: string; json: string }
  /** Ask every other worker for its console call views (answered with one `console-views` per worker). */
  | { gw: 'console-views-req'; id: number }
  /** This worker's call views, answering a `console-views-req` from worker `to`. */
  | { gw: 'console-views'; id: number; to: number; views: unknown[] }
  /** An answering-machine detection result for a call this worker does not hold: for whichever worker does. */
  | { gw: 'amd'; callUuid: string; detection: { result: string; subState?: string } };

/** Primary → worker. */
export type ToWorker =
  | { gw: 'reserved'; id: number; ok: boolean }
  /** Legs open in the whole gateway now (sent on every change). */
  | { gw: 'calls'; total: number }
  | { gw: 'metrics'; id: number; text?: string; error?: string }
  /** The primary gathers every ready worker's metrics to aggregate them. */
  | { gw: 'metrics-json-req'; id: number }
  /** Stop taking calls and drain (the primary got SIGTERM/SIGINT). */
  | { gw: 'drain' }
  /** Console clients connected to the other workers. */
  | { gw: 'console-remote'; n: number }
  | { gw: 'console-event'; event: string; json: string }
  /** Another worker asks for this worker's call views (`from` is its id). */
  | { gw: 'console-views-req'; id: number; from: number }
  | { gw: 'console-views'; id: number; views: unknown[] }
  /** Another worker's event webhook got a detection result for a call it does not hold. */
  | { gw: 'amd'; callUuid: string; detection: { result: string; subState?: string } };

/** True for a message of ours (a `gw` tag), false for anything else on the channel. */
export function isGatewayMessage<T extends { gw: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { gw?: unknown }).gw === 'string';
}
