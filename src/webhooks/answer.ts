/** `/webhooks/answer`: Vonage asks what to do with a new call; we connect it to our WebSocket. */
import { GatewayError } from '../errors.js';
import type { ServerSettings, WebhookSettings } from '../config/sections.js';
import { stringFields } from './http.js';
import { apologyNcco, connectNcco, type Ncco } from './ncco.js';

const UUID_CHARS = /^[A-Za-z0-9_.:-]+$/;

export interface AnswerResult {
  ncco: Ncco;
  call: { uuid: string; conversation_uuid?: string; from?: string; to?: string; region_url?: string };
  /** True when the gateway cannot take the call (draining or full) and answered with an apology. */
  refused: boolean;
}

/** The language (and voice) configured for the number dialled, if any (LANGUAGE_BY_NUMBER). */
export function languageFor(server: Pick<ServerSettings, 'languageByNumber'>, to: string | undefined): { language?: string; voice?: string } {
  const digits = to?.replace(/[^0-9]/g, '');
  const l = digits ? server.languageByNumber[digits] : undefined;
  return l ? { language: l.language, voice: l.voice } : {};
}

/**
 * Validate an answer webhook's fields and build the NCCO.
 * @throws GatewayError WEBHOOK_MALFORMED (400) when `uuid` is missing or a field has the wrong type or size.
 */
export function handleAnswer(settings: WebhookSettings, fields: Record<string, unknown>, canAccept: boolean): AnswerResult {
  const f = stringFields(fields, ['uuid', 'conversation_uuid', 'from', 'to', 'region_url', 'from_user', 'endpoint_type']);
  const uuid = f.uuid;
  if (!uuid) throw new GatewayError('WEBHOOK_MALFORMED', 'field uuid is required', { httpStatus: 400 });
  if (uuid.length > 100 || !UUID_CHARS.test(uuid))
    throw new GatewayError('WEBHOOK_MALFORMED', 'field uuid must be 1-100 characters of A-Z a-z 0-9 _ . : -', { httpStatus: 400 });
  if (f.conversation_uuid && !UUID_CHARS.test(f.conversation_uuid))
    throw new GatewayError('WEBHOOK_MALFORMED', 'field conversation_uuid has invalid characters', { httpStatus: 400 });
  const call = {
    uuid,
    conversation_uuid: f.conversation_uuid,
    from: f.from ?? f.from_user,
    to: f.to,
    region_url: f.region_url,
    ...languageFor(settings.server, f.to),
  };
  if (!canAccept) return { ncco: apologyNcco('Sorry, all our lines are busy. Please call again later. Goodbye.'), call, refused: true };
  return { ncco: connectNcco(settings, call), call, refused: false };
}
