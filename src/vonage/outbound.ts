/**
 * Outbound calls (`vgw call`): `POST /v1/calls` with the same connect NCCO the answer webhook returns
 * (`connectNcco`), so inbound and outbound calls reach the gateway the same way.
 *
 * By default Vonage fetches the NCCO from the gateway's answer webhook when the callee answers (`answer_url`): the
 * NCCO then carries the call's real uuid and `region_url`, exactly as for an inbound call, so the bot's call actions
 * (transfer, DTMF, hangup) work over REST. With `inlineNcco` the NCCO goes in the request itself; the call's uuid does
 * not exist yet then, so its `headers.uuid` is a reference (`outbound-…`) and bot call actions are not sent over REST.
 */
import { randomUUID } from 'node:crypto';
import type { ServerSettings, WebhookSettings } from '../config/sections.js';
import type { AmdMode } from '../config/tracing-specs.js';
import { GatewayError } from '../errors.js';
import { connectNcco, type Ncco } from '../webhooks/ncco.js';
import { OUTBOUND_REF_PREFIX } from './call-control.js';
import type { CreatedCall, VonageClient } from './client.js';

export interface OutboundCallOptions {
  /** Number to call, E.164 digits (a leading `+` is accepted). */
  to: string;
  /** Caller id, E.164 digits; absent = a random number of the application (`random_from_number`). */
  from?: string;
  /** The gateway's public base URL (http/https); default the config's PUBLIC_URL. */
  gatewayUrl?: string;
  /** Send the NCCO inline instead of pointing Vonage at the answer webhook (see the module comment). */
  inlineNcco?: boolean;
  /**
   * Ask Vonage for advanced machine detection (`behavior: continue`: the call goes on whoever answers); the results
   * reach the event webhook and the call's bot as `machine-detection` inputs. `beepTimeoutS` 0 = Vonage's default.
   */
  amd?: { mode: AmdMode; beepTimeoutS: number };
}

export interface OutboundCall {
  call: CreatedCall;
  /** With `inlineNcco`: the reference put in the NCCO headers (the gateway logs it as the call id). */
  ref?: string;
  /** With `inlineNcco`: the NCCO sent. */
  ncco?: Ncco;
  /** Otherwise: the answer URL Vonage will fetch the NCCO from. */
  answerUrl?: string;
}

/** `447700900001` or `+447700900001` → digits. @throws GatewayError CONFIG_INVALID on anything else. */
export function phoneNumber(raw: string, what: string): string {
  const n = raw.trim().replace(/^\+/, '');
  if (!/^\d{7,15}$/.test(n)) throw new GatewayError('CONFIG_INVALID', `${what} must be a phone number of 7-15 digits (E.164, optional +)`);
  return n;
}

/** The server settings as seen from another base URL (the NCCO's websocket `uri` and `eventUrl` follow it). */
export function serverForUrl(server: ServerSettings, gatewayUrl: string | undefined): ServerSettings {
  if (!gatewayUrl) return server;
  let u: URL;
  try {
    u = new URL(gatewayUrl);
  } catch {
    throw new GatewayError('CONFIG_INVALID', '--url must be an absolute http:// or https:// URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new GatewayError('CONFIG_INVALID', '--url must be an absolute http:// or https:// URL');
  const publicUrl = u.toString().replace(/\/+$/, '');
  return Object.freeze({ ...server, publicUrl, publicWsUrl: publicUrl.replace(/^http/, 'ws'), publicUrlFromPort: false });
}

/** Place a call whose answered leg is connected to the gateway's WebSocket. */
export async function placeOutboundCall(settings: WebhookSettings, client: VonageClient, opts: OutboundCallOptions): Promise<OutboundCall> {
  const to = phoneNumber(opts.to, '--to');
  const from = opts.from === undefined ? undefined : phoneNumber(opts.from, '--from');
  const server = serverForUrl(settings.server, opts.gatewayUrl);
  const eventUrl = [`${server.publicUrl}/webhooks/event`];
  const a = opts.amd;
  if (a && a.beepTimeoutS !== 0 && !(Number.isInteger(a.beepTimeoutS) && a.beepTimeoutS >= 30 && a.beepTimeoutS <= 120)) {
    throw new GatewayError('CONFIG_INVALID', '--amd-beep-timeout must be from 30 to 120 seconds');
  }
  const amd = a && { advancedMachineDetection: { behavior: 'continue' as const, mode: a.mode, ...(a.beepTimeoutS ? { beepTimeout: a.beepTimeoutS } : {}) } };
  if (!opts.inlineNcco) {
    const answerUrl = `${server.publicUrl}/webhooks/answer`;
    const call = await client.createCall({ to, from, answerUrl: [answerUrl], eventUrl, ...amd });
    return { call, answerUrl };
  }
  const ref = `${OUTBOUND_REF_PREFIX}${randomUUID()}`;
  const ncco = connectNcco({ server, security: settings.security }, { uuid: ref, from, to });
  const call = await client.createCall({ to, from, ncco, eventUrl, ...amd });
  return { call, ref, ncco };
}
