/**
 * The gateway's one error type and every stable code it uses, with the WebSocket close code each maps to.
 * Codes are part of the public contract: the README lists them; never renumber.
 */

/** WebSocket close codes the gateway sends on a Vonage leg (4000–4999 are application-defined). */
export const CloseCode = {
  /** The call ended normally (bot hung up, call completed). */
  NORMAL: 1000,
  /** The gateway is shutting down and the drain deadline passed. */
  GOING_AWAY: 1001,
  /** A message larger than `maxPayload` (sent by `ws` itself). */
  MESSAGE_TOO_BIG: 1009,
  /** Unexpected failure inside the gateway. */
  INTERNAL: 1011,
  /** No `websocket:connected` message within the handshake timeout. */
  HANDSHAKE_TIMEOUT: 4000,
  /** First message was not a JSON `websocket:connected` event (binary first, bad JSON, wrong event, not an object). */
  HANDSHAKE_MALFORMED: 4001,
  /** Handshake `content-type` missing, not `audio/l16`, or a rate other than 8000/16000/24000. */
  UNSUPPORTED_CONTENT_TYPE: 4002,
  /** A binary message that is not whole 16-bit samples, or absurdly large for 20 ms framing. */
  BAD_FRAME: 4003,
  /** Nothing received for the idle timeout. */
  IDLE_TIMEOUT: 4004,
  /** No pong to our ping within the liveness window. */
  PING_TIMEOUT: 4005,
  /** The gateway is draining or at capacity: no new legs. */
  UNAVAILABLE: 4006,
  /** A required adapter could not start for this call. */
  ADAPTER_FAILED: 4007,
} as const;
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** Stable error codes. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'HANDSHAKE_TIMEOUT'
  | 'HANDSHAKE_MALFORMED'
  | 'UNSUPPORTED_CONTENT_TYPE'
  | 'BAD_FRAME'
  | 'IDLE_TIMEOUT'
  | 'PING_TIMEOUT'
  | 'UNAVAILABLE'
  | 'ADAPTER_FAILED'
  | 'ADAPTER_LOAD_FAILED'
  | 'WEBHOOK_MALFORMED'
  | 'WEBHOOK_TOO_LARGE'
  | 'WEBHOOK_UNSUPPORTED_MEDIA'
  /** Signed webhooks are on and the request's JWT is missing, forged, stale or does not match the payload (401). */
  | 'WEBHOOK_UNAUTHORIZED'
  /** Authenticated legs are on and the upgrade's `Authorization` is missing or wrong (401, before any WebSocket). */
  | 'LEG_UNAUTHORIZED'
  /** Too many upgrades from one source address (429). */
  | 'RATE_LIMITED'
  /** Vonage call control (REST) is used but VONAGE_APPLICATION_ID / VONAGE_PRIVATE_KEY are missing or unusable. */
  | 'VONAGE_NOT_CONFIGURED'
  /** A Vonage REST request failed (HTTP error after retries, timeout, network error). */
  | 'VONAGE_API_FAILED'
  | 'INTERNAL';

const closeCodeOf: Partial<Record<ErrorCode, CloseCodeValue>> = {
  HANDSHAKE_TIMEOUT: CloseCode.HANDSHAKE_TIMEOUT,
  HANDSHAKE_MALFORMED: CloseCode.HANDSHAKE_MALFORMED,
  UNSUPPORTED_CONTENT_TYPE: CloseCode.UNSUPPORTED_CONTENT_TYPE,
  BAD_FRAME: CloseCode.BAD_FRAME,
  IDLE_TIMEOUT: CloseCode.IDLE_TIMEOUT,
  PING_TIMEOUT: CloseCode.PING_TIMEOUT,
  UNAVAILABLE: CloseCode.UNAVAILABLE,
  ADAPTER_FAILED: CloseCode.ADAPTER_FAILED,
};

export class GatewayError extends Error {
  readonly code: ErrorCode;
  /** WebSocket close code to use when this error ends a leg. */
  readonly closeCode: CloseCodeValue;
  /** HTTP status to use when this error answers a request. */
  readonly httpStatus: number;

  constructor(code: ErrorCode, message: string, opts: { httpStatus?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.closeCode = closeCodeOf[code] ?? CloseCode.INTERNAL;
    this.httpStatus = opts.httpStatus ?? 500;
  }
}

/** WebSocket close reasons must fit in 123 bytes. */
export function closeReason(text: string): string {
  const b = Buffer.from(text, 'utf8');
  return b.length <= 123 ? text : b.subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '') + '...';
}
