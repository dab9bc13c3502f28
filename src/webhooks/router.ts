/**
 * The webhooks Vonage calls: `/webhooks/answer` (the NCCO that opens the socket), `/webhooks/event` (call status;
 * a terminal status ends the live session) and `/webhooks/fallback` (an apology NCCO). Each request is read with the
 * bounds of webhooks/http.ts, checked (signed webhooks), counted in `gateway_webhook_requests_total{hook,code}`, and
 * refused with a JSON `{error, reason}` and a stable code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebhookSettings } from '../config/sections.js';
import { CloseCode, GatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CallTracker } from '../call/tracker.js';
import type { WebhookAuth } from '../security/webhook-auth.js';
import { readWebhookInput, sendError, sendJson, sendNoContent } from './http.js';
import { handleAnswer } from './answer.js';
import { classifyEvent, eventReply } from './event.js';
import { apologyNcco } from './ncco.js';
import { parseMachineDetection, type MachineDetection, type MachineDetectionInbox } from './amd.js';

export interface WebhookDeps {
  /** The current server and security settings (the answer's socket URL carries the bound port, known once listening). */
  settings: () => WebhookSettings;
  logger: Logger;
  metrics: Metrics;
  tracker: CallTracker;
  /** Signed webhooks (VONAGE_SIGNATURE_SECRET), or undefined when off. */
  auth: WebhookAuth | undefined;
  /** True when a new call would be accepted (not draining, below MAX_CALLS). */
  canAccept: () => boolean;
  /** True once the gateway is draining (says why a call was refused). */
  draining: () => boolean;
  /** Answering-machine detection results for calls whose leg has not connected yet. */
  amd?: MachineDetectionInbox;
  /** WORKERS > 1: a result for a call not on this worker goes to the others too (its leg may be there). */
  shareMachineDetection?: (callUuid: string, d: MachineDetection) => void;
  /** A call was accepted (its NCCO is being sent): a speech-to-speech model pre-connects for it. Must not throw. */
  answered?: (uuid: string) => void;
}

/** Handles `path` when it is a webhook; returns false (nothing written) otherwise. */
export type WebhookRouter = (req: IncomingMessage, res: ServerResponse, url: URL, path: string) => Promise<boolean>;

export function createWebhookRouter(d: WebhookDeps): WebhookRouter {
  const { logger, metrics, tracker, auth } = d;

  async function answer(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { fields } = await readWebhookInput(req, url, auth);
    const r = handleAnswer(d.settings(), fields, d.canAccept());
    logger.info({ call: r.call.uuid, conv: r.call.conversation_uuid, from: r.call.from, to: r.call.to, refused: r.refused }, 'answer webhook');
    if (r.refused) metrics.legsRefused.inc({ reason: d.draining() ? 'draining' : 'capacity' });
    else d.answered?.(r.call.uuid);
    metrics.webhookRequests.inc({ hook: 'answer', code: '200' });
    sendJson(res, 200, r.ncco);
  }

  async function event(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { fields } = await readWebhookInput(req, url, auth);
    const e = classifyEvent(d.settings().server, fields);
    // Answering-machine detection names its call in `call_uuid`; checked before anything is counted or acted on.
    const amd = e.kind === 'human' || e.kind === 'machine' ? parseMachineDetection(e.kind, fields) : undefined;
    metrics.webhookEvents.inc({ status: e.kind });
    const session = tracker.find({ uuid: amd?.callUuid ?? e.uuid, headerUuid: e.headerUuid, conversationUuid: e.conversationUuid });
    if (amd) {
      if (session) session.machineDetected(amd.detection);
      else {
        d.amd?.hold(amd.callUuid, amd.detection);
        d.shareMachineDetection?.(amd.callUuid, amd.detection);
      }
    }
    (session ? session.logger : logger).info(
      { call: e.headerUuid ?? e.uuid, conv: e.conversationUuid, status: e.status, kind: e.kind, detail: e.detail, live: !!session },
      'vonage event',
    );
    if (session && e.terminal && e.uuid === session.info.callId) session.close(CloseCode.NORMAL, `vonage reported ${e.status}`);
    const ncco = eventReply(e);
    metrics.webhookRequests.inc({ hook: 'event', code: ncco ? '200' : '204' });
    if (ncco) sendJson(res, 200, ncco);
    else sendNoContent(res);
  }

  async function fallback(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { fields } = await readWebhookInput(req, url, auth);
    const orig = fields.original_request;
    logger.warn(
      {
        call: typeof fields.uuid === 'string' ? fields.uuid : undefined,
        reason: typeof fields.reason === 'string' ? fields.reason.slice(0, 500) : fields.reason,
        original_request: orig && typeof orig === 'object' ? orig : undefined,
      },
      'fallback webhook',
    );
    metrics.webhookRequests.inc({ hook: 'fallback', code: '200' });
    sendJson(res, 200, apologyNcco());
  }

  const routes: Record<string, [hook: string, handler: typeof answer]> = {
    '/webhooks/answer': ['answer', answer],
    '/webhooks/event': ['event', event],
    '/webhooks/fallback': ['fallback', fallback],
  };

  return async (req, res, url, path) => {
    const route = Object.prototype.hasOwnProperty.call(routes, path) ? routes[path] : undefined;
    if (!route) return false;
    const [hook, handler] = route;
    try {
      await handler(req, res, url);
    } catch (err) {
      const ge = err instanceof GatewayError ? err : new GatewayError('INTERNAL', 'internal error', { httpStatus: 500 });
      if (ge.httpStatus >= 500) logger.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack }, hook }, 'webhook failed');
      else logger.warn({ hook, code: ge.code, status: ge.httpStatus }, `webhook refused: ${ge.message}`);
      metrics.webhookRequests.inc({ hook, code: String(ge.httpStatus) });
      if (!res.headersSent) sendError(res, ge);
      else res.destroy();
    }
    return true;
  };
}
