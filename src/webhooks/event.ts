/**
 * `/webhooks/event`: every status change of every leg, and the non-status events (record, input, transfer,
 * transcribed). Classified, counted, correlated with the live call, and answered 204 — except `failed`/`unanswered`
 * of our own synchronous websocket connect, which get an NCCO with a spoken apology.
 */
import { GatewayError } from '../errors.js';
import type { ServerSettings } from '../config/sections.js';
import { stringFields } from './http.js';
import { apologyNcco, type Ncco } from './ncco.js';

export const CALL_STATUSES = [
  'started',
  'ringing',
  'answered',
  'busy',
  'cancelled',
  'unanswered',
  'disconnected',
  'rejected',
  'failed',
  'timeout',
  'human',
  'machine',
  'completed',
] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

/** Statuses after which the call (the leg the event is about) is over. */
const TERMINAL: ReadonlySet<string> = new Set(['busy', 'cancelled', 'unanswered', 'rejected', 'failed', 'timeout', 'completed']);

export interface ClassifiedEvent {
  /** Metric label: a known status, a non-status event type, or `other`. */
  kind: CallStatus | 'record' | 'input' | 'transfer' | 'transcribed' | 'other';
  status: string | undefined;
  uuid: string | undefined;
  conversationUuid: string | undefined;
  /** The call uuid we put in the websocket endpoint's headers, when the event is about our websocket leg. */
  headerUuid: string | undefined;
  /** The event is about our websocket leg (its `to` is our socket URI, or it echoes our headers). */
  ourWebsocketLeg: boolean;
  terminal: boolean;
  detail: string | undefined;
}

/** @throws GatewayError WEBHOOK_MALFORMED (400) for wrong types; unknown statuses are accepted as `other`. */
export function classifyEvent(server: Pick<ServerSettings, 'publicWsUrl' | 'wsPath'>, fields: Record<string, unknown>): ClassifiedEvent {
  const f = stringFields(fields, ['status', 'uuid', 'conversation_uuid', 'to', 'from', 'detail', 'type', 'recording_url', 'direction', 'timestamp'], 2048);
  let headers = fields.headers;
  if (typeof headers === 'string') {
    try {
      headers = JSON.parse(headers); // GET events carry objects as JSON strings
    } catch {
      headers = undefined;
    }
  }
  if (headers !== undefined && headers !== null && (typeof headers !== 'object' || Array.isArray(headers))) {
    throw new GatewayError('WEBHOOK_MALFORMED', 'field headers must be an object', { httpStatus: 400 });
  }
  const hu = headers ? (headers as Record<string, unknown>).uuid : undefined;
  const headerUuid = typeof hu === 'string' ? hu : undefined;
  let kind: ClassifiedEvent['kind'];
  if (f.status !== undefined) kind = (CALL_STATUSES as readonly string[]).includes(f.status) ? (f.status as CallStatus) : 'other';
  else if (f.recording_url !== undefined) kind = 'record';
  else if (fields.dtmf !== undefined || fields.speech !== undefined) kind = 'input';
  else if (f.type === 'transfer' || fields.conversation_uuid_to !== undefined) kind = 'transfer';
  else if (fields.transcription_url !== undefined || f.type === 'transcription') kind = 'transcribed';
  else kind = 'other';
  const to = f.to ?? '';
  const ourWebsocketLeg = to.startsWith(server.publicWsUrl) || (to.startsWith('ws') && to.includes(server.wsPath)) || headerUuid !== undefined;
  return {
    kind,
    status: f.status,
    uuid: f.uuid,
    conversationUuid: f.conversation_uuid,
    headerUuid,
    ourWebsocketLeg,
    terminal: f.status !== undefined && TERMINAL.has(f.status),
    detail: f.detail,
  };
}

/** The NCCO to answer with, or undefined for 204. */
export function eventReply(e: ClassifiedEvent): Ncco | undefined {
  if ((e.kind === 'failed' || e.kind === 'unanswered') && e.ourWebsocketLeg) return apologyNcco();
  return undefined;
}
