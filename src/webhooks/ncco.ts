/**
 * NCCO builders. Written as plain JSON (not through @vonage/voice types, which spell `content-type` as `contentType`).
 */
import type { WebhookSettings } from '../config/sections.js';

export type Ncco = Array<Record<string, unknown>>;

/** Vonage's limit on the websocket endpoint's `headers` object, serialised. */
export const MAX_HEADERS_BYTES = 512;

export interface CallFields {
  uuid: string;
  conversation_uuid?: string;
  from?: string;
  to?: string;
  /** The call's language and TTS voice, when they differ from the gateway's defaults (echoed in the handshake). */
  language?: string;
  voice?: string;
  /** The call's REST host, echoed back so call control can use it (validated where it is used). */
  region_url?: string;
}

/**
 * The headers Vonage echoes back in the handshake: the call's identity and REST host. Fields are dropped (to, from,
 * conversation_uuid, then region_url) or
 * truncated until the JSON fits in 512 bytes; `uuid` always stays.
 */
export function callHeaders(call: CallFields): Record<string, string> {
  const h: Record<string, string> & { uuid: string } = { uuid: call.uuid };
  if (call.conversation_uuid) h.conversation_uuid = call.conversation_uuid;
  if (call.from) h.from = call.from;
  if (call.to) h.to = call.to;
  if (call.language) h.language = call.language;
  if (call.voice) h.voice = call.voice;
  if (call.region_url) h.region_url = call.region_url;
  const size = () => Buffer.byteLength(JSON.stringify(h));
  for (const k of ['to', 'from', 'conversation_uuid', 'region_url'] as const) {
    if (size() <= MAX_HEADERS_BYTES) break;
    delete h[k];
  }
  if (size() > MAX_HEADERS_BYTES) h.uuid = h.uuid.slice(0, 400);
  return h;
}

/** The answer NCCO: one `connect` to our WebSocket, synchronous events to our event webhook, nothing after it. */
export function connectNcco({ server, security }: WebhookSettings, call: CallFields): Ncco {
  const uri = `${server.publicWsUrl}${server.wsPath}?uuid=${encodeURIComponent(call.uuid)}`;
  const endpoint: Record<string, unknown> = {
    type: 'websocket',
    uri,
    'content-type': `audio/l16;rate=${server.audioRateHz}`,
    headers: callHeaders(call),
  };
  // Authenticated legs (WS_AUTH): Vonage then sends its JWT, or our token, as the upgrade's Authorization header.
  if (security.wsAuth === 'vonage') endpoint.authorization = { type: 'vonage' };
  else if (security.wsAuth === 'custom') endpoint.authorization = { type: 'custom', value: security.wsAuthToken };
  const connect: Record<string, unknown> = {
    action: 'connect',
    eventType: 'synchronous',
    eventUrl: [`${server.publicUrl}/webhooks/event`],
    endpoint: [endpoint],
  };
  return [connect];
}

/** A short spoken apology, for failures and the fallback webhook. */
export function apologyNcco(text = 'Sorry, we cannot take your call right now. Please try again later. Goodbye.'): Ncco {
  return [{ action: 'talk', text }];
}
