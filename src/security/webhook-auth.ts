/**
 * Signed webhooks: with `VONAGE_SIGNATURE_SECRET` set, every webhook must carry `Authorization: Bearer <JWT>` signed
 * HS256 with it, fresh (`iat` within `WEBHOOK_MAX_AGE_S`), whose `payload_hash` is the SHA-256 (hex) of what was sent:
 * the raw POST body, or for GET the query parameters rebuilt as compact JSON in their original order.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { SecuritySettings } from '../config/sections.js';
import { GatewayError } from '../errors.js';
import { AuthFailure, bearerToken, verifyVonageJwt } from './vonage-jwt.js';

/** What `readWebhookInput` calls to authenticate a webhook before parsing it. */
export interface WebhookAuth {
  /** Cheap checks before the body is read (the header is there and looks like a Bearer token). @throws GatewayError 401 */
  precheck(req: IncomingMessage): void;
  /** Full check once the raw body (POST) or the URL (GET) is known. @throws GatewayError 401 */
  verify(req: IncomingMessage, url: URL, raw: Buffer | undefined): Promise<void>;
}

/**
 * The JSON whose SHA-256 a GET webhook's `payload_hash` is: `{"k":"v",…}`, every query parameter as a string, in the
 * order it appears in the query string (built by hand: `JSON.stringify` of an object would move integer-like keys first).
 */
export function queryJson(url: URL): string {
  const parts: string[] = [];
  for (const [k, v] of url.searchParams) parts.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
  return `{${parts.join(',')}}`;
}

/** SHA-256 hex of the signed payload: the raw body for POST, {@link queryJson} for GET/HEAD. */
export function payloadHash(method: string | undefined, url: URL, raw: Buffer | undefined): string {
  const h = createHash('sha256');
  if (method === 'GET' || method === 'HEAD' || raw === undefined) h.update(queryJson(url), 'utf8');
  else h.update(raw);
  return h.digest('hex');
}

function unauthorized(f: AuthFailure): GatewayError {
  return new GatewayError('WEBHOOK_UNAUTHORIZED', f.message, { httpStatus: 401 });
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The verifier for this config, or undefined when webhooks are not signed (no `VONAGE_SIGNATURE_SECRET`). */
export function createWebhookAuth(config: SecuritySettings): WebhookAuth | undefined {
  if (!config.vonageSignatureSecret) return undefined;
  const key = new TextEncoder().encode(config.vonageSignatureSecret);
  const maxAgeS = config.webhookMaxAgeS;
  return {
    precheck(req) {
      try {
        bearerToken(req.headers.authorization);
      } catch (f) {
        throw unauthorized(f as AuthFailure);
      }
    },
    async verify(req, url, raw) {
      try {
        const claims = await verifyVonageJwt(bearerToken(req.headers.authorization), { key, maxAgeS });
        const claimed = claims.payload_hash;
        if (typeof claimed !== 'string' || !claimed) throw new AuthFailure('missing_payload_hash', 'token has no payload_hash claim');
        if (!sameHex(claimed, payloadHash(req.method, url, raw))) {
          throw new AuthFailure('payload_hash_mismatch', 'payload_hash does not match the request (SHA-256 of the body, or of the query as JSON)');
        }
      } catch (f) {
        throw f instanceof AuthFailure ? unauthorized(f) : f;
      }
    },
  };
}
