/**
 * Verifies the HS256 JWTs Vonage signs with the account signature secret: on signed webhooks and, with
 * `authorization: {type: "vonage"}`, on the WebSocket upgrade. Signature checking is `jose`'s (HS256 only, so `none`
 * and algorithm-confusion tokens are refused); the freshness of `iat` is checked here so the refusal says why.
 */
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';

/** Why a token was refused: a stable slug for logs and tests, and a sentence for the 401 body. Never the token. */
export class AuthFailure extends Error {
  constructor(
    readonly slug:
      | 'missing_token'
      | 'malformed_token'
      | 'bad_signature'
      | 'missing_iat'
      | 'expired'
      | 'future_iat'
      | 'missing_payload_hash'
      | 'payload_hash_mismatch'
      | 'wrong_token',
    message: string,
  ) {
    super(message);
    this.name = 'AuthFailure';
  }
}

/** Tokens dated this far in the future are still accepted (clocks differ a little). */
export const IAT_SKEW_S = 30;
/** Longest `Authorization` header value read; longer is refused before any parsing. */
export const MAX_AUTHORIZATION_CHARS = 8192;

export interface VonageJwtOptions {
  /** The signature secret, as bytes. */
  key: Uint8Array;
  /** Oldest `iat` accepted, in seconds before now (the replay window). */
  maxAgeS: number;
  /** Current time in seconds (tests). */
  nowS?: number;
}

/** The token of an `Authorization: Bearer <token>` header. @throws AuthFailure */
export function bearerToken(header: string | string[] | undefined): string {
  if (header === undefined || header === '') throw new AuthFailure('missing_token', 'missing Authorization: Bearer token');
  if (Array.isArray(header) || header.length > MAX_AUTHORIZATION_CHARS)
    throw new AuthFailure('malformed_token', 'Authorization header is not one Bearer token');
  const m = /^Bearer\s+([A-Za-z0-9_.-]+)\s*$/i.exec(header);
  if (!m) throw new AuthFailure('malformed_token', 'Authorization header is not a Bearer token');
  return m[1]!;
}

/**
 * Verify signature (HS256 with `key`), `iat` present, not older than `maxAgeS` and not more than {@link IAT_SKEW_S}
 * in the future (and `exp`/`nbf` when present). Returns the claims. @throws AuthFailure
 */
export async function verifyVonageJwt(token: string, opts: VonageJwtOptions): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, opts.key, {
      algorithms: ['HS256'],
      clockTolerance: IAT_SKEW_S,
      currentDate: opts.nowS === undefined ? undefined : new Date(opts.nowS * 1000),
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed)
      throw new AuthFailure('bad_signature', 'token signature does not verify with the signature secret');
    if (err instanceof joseErrors.JWTExpired) throw new AuthFailure('expired', 'token has expired (exp)');
    if (err instanceof joseErrors.JOSEAlgNotAllowed) throw new AuthFailure('malformed_token', 'token algorithm is not HS256');
    if (err instanceof joseErrors.JWTClaimValidationFailed) throw new AuthFailure('expired', `token claim ${err.claim} is not valid now`);
    throw new AuthFailure('malformed_token', 'token is not a valid JWT');
  }
  const nowS = opts.nowS ?? Math.floor(Date.now() / 1000);
  if (typeof payload.iat !== 'number' || !Number.isFinite(payload.iat)) throw new AuthFailure('missing_iat', 'token has no iat claim');
  if (nowS - payload.iat > opts.maxAgeS) throw new AuthFailure('expired', `token iat is older than ${opts.maxAgeS} s (replay window)`);
  if (payload.iat - nowS > IAT_SKEW_S) throw new AuthFailure('future_iat', `token iat is more than ${IAT_SKEW_S} s in the future`);
  return payload;
}
