/**
 * The probes and the scrape endpoint: `/healthz` (the process answers), `/readyz` (it would take a new call: not
 * draining, below `MAX_CALLS`; 503 with the reason otherwise) and `/metrics` (Prometheus text).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../webhooks/http.js';
import type { Metrics } from './metrics.js';

export interface HealthDeps {
  metrics: Metrics;
  /** Calls live now. */
  calls: () => number;
  /** True once the gateway is draining. */
  draining: () => boolean;
  /** True when no further leg would be accepted (MAX_CALLS legs open). */
  atCapacity: () => boolean;
  /** The Prometheus text to serve instead of this process's registry (WORKERS > 1: the whole gateway's). */
  metricsText?: () => Promise<string>;
}

/** Handles `path` when it is a probe or `/metrics`; returns false (nothing written) otherwise. */
export type HealthRouter = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

export function createHealthRoutes(d: HealthDeps): HealthRouter {
  return async (_req, res, path) => {
    switch (path) {
      case '/healthz':
        sendJson(res, 200, { status: 'ok' });
        return true;
      case '/readyz':
        if (d.draining()) sendJson(res, 503, { ready: false, reason: 'draining', calls: d.calls() });
        else if (d.atCapacity()) sendJson(res, 503, { ready: false, reason: 'at capacity', calls: d.calls() });
        else sendJson(res, 200, { ready: true, calls: d.calls() });
        return true;
      case '/metrics': {
        let text: string;
        try {
          text = d.metricsText ? await d.metricsText() : await d.metrics.registry.metrics();
        } catch (err) {
          sendJson(res, 503, { error: 'UNAVAILABLE', reason: `metrics unavailable: ${(err as Error).message}` });
          return true;
        }
        res.writeHead(200, { 'content-type': d.metrics.registry.contentType });
        res.end(text);
        return true;
      }
      default:
        return false;
    }
  };
}
