/**
 * Authenticated legs: with `WS_AUTH=vonage` the upgrade must carry Vonage's HS256 JWT (signature + `iat` freshness,
 * signed with `VONAGE_SIGNATURE_SECRET`); with `WS_AUTH=custom` the exact `WS_AUTH_TOKEN` as the `Authorization`
 * header, compared in constant time. Checked before the WebSocket is accepted, so no audio is ever read from a leg
 * that does not belong.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { SecuritySettings } from '../config/sections.js';
import { AuthFailure, bearerToken, MAX_AUTHORIZATION_CHARS, verifyVonageJwt } from './vonage-jwt.js';

export const WS_AUTH_MODES = ['none', 'vonage', 'custom'] as const;
export type WsAuthMode = (typeof WS_AUTH_MODES)[number];

/** Checks one upgrade request; resolves with the failure (never the token) or undefined when the leg may connect. */
export type LegAuth = (req: IncomingMessage) => Promise<AuthFailure | undefined>;

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * True when `presented` equals `expectedDigest`'s preimage. Both sides are hashed to 32 bytes first, so
 * `timingSafeEqual` always compares equal lengths and the time taken says nothing about the token.
 */
export function customTokenMatches(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(sha256(presented), expectedDigest);
}

/** The check for this config, or undefined when legs are not authenticated (`WS_AUTH=none`). */
export function createLegAuth(config: SecuritySettings): LegAuth | undefined {
  if (config.wsAuth === 'vonage') {
    const key = new TextEncoder().encode(config.vonageSignatureSecret);
    const maxAgeS = config.webhookMaxAgeS;
    return async (req) => {
      try {
        await verifyVonageJwt(bearerToken(req.headers.authorization), { key, maxAgeS });
        return undefined;
      } catch (f) {
        if (f instanceof AuthFailure) return f;
        throw f;
      }
    };
  }
  if (config.wsAuth === 'custom') {
    const expected = sha256(config.wsAuthToken);
    return async (req) => {
      const h = req.headers.authorization;
      if (h === undefined || h === '') return new AuthFailure('missing_token', 'missing Authorization header');
      if (h.length > MAX_AUTHORIZATION_CHARS) return new AuthFailure('wrong_token', 'Authorization header does not match');
      return customTokenMatches(h, expected) ? undefined : new AuthFailure('wrong_token', 'Authorization header does not match');
    };
  }
  return undefined;
}
