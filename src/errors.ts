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
  /** A WebSocket protocol violation by the peer (bad frame, unmasked data, oversized control frame): sent by `ws` itself. */
  PROTOCOL_ERROR: 1002,
  /** A text message that is not valid UTF-8: sent by `ws` itself. */
  INVALID_PAYLOAD: 1007,
  /** A message larger than `maxPayload` (sent by `ws` itself). */
  MESSAGE_TOO_BIG: 1009,
  /** Unexpected failure inside the gateway, or adapter code (a user's ASR, bot or TTS) failed in a way this call cannot survive. */
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
  /** The leg sent more messages than `LEG_MAX_MESSAGES_PER_S` / `LEG_MESSAGE_BURST` allow. */
  MESSAGE_RATE_EXCEEDED: 4008,
  /** The leg sent more than `LEG_MAX_MALFORMED_PER_MIN` malformed text messages in a minute. */
  MALFORMED_FLOOD: 4009,
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
  /** Adapter code threw or rejected where the call cannot go on without it (the call closes with 1011). */
  | 'ADAPTER_FAULT'
  /** A leg sent messages faster than its token bucket allows (4008). */
  | 'MESSAGE_RATE_EXCEEDED'
  /** A leg kept sending malformed text messages (4009). */
  | 'MALFORMED_FLOOD'
  /** A WebSocket upgrade request that is not one (bad key, version, method) (400/405/426). */
  | 'BAD_UPGRADE'
  /** The path has no WebSocket endpoint (404). */
  | 'NOT_FOUND'
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
  ADAPTER_FAULT: CloseCode.INTERNAL,
  MESSAGE_RATE_EXCEEDED: CloseCode.MESSAGE_RATE_EXCEEDED,
  MALFORMED_FLOOD: CloseCode.MALFORMED_FLOOD,
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
  return b.length <= 123
    ? text
    : b
        .subarray(0, 120)
        .toString('utf8')
        .replace(/\uFFFD$/, '') + '...';
}

/** The adapter kinds user code plugs in as. */
export type AdapterKind = 'asr' | 'bot' | 'tts';

/** An adapter error code: upper-case letters, digits and `_` (e.g. `AZURE_AUTHENTICATION_FAILURE`, `BOT_INPUT_THREW`). */
export const ADAPTER_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

/**
 * The one failure model of every adapter kind (ASR, bot, TTS): a stable `code` and whether the call can go on with
 * the same adapter (`recoverable`). Adapters throw (or emit, for ASR) it; the gateway wraps anything else it catches
 * at the adapter boundary in one with {@link toAdapterError}.
 */
export class AdapterError extends Error {
  readonly code: string;
  readonly recoverable: boolean;

  constructor(code: string, message: string, opts: { recoverable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AdapterError';
    this.code = ADAPTER_CODE.test(code) ? code : 'ADAPTER_ERROR';
    this.recoverable = opts.recoverable ?? false;
  }
}

/**
 * Whatever adapter code threw, as an {@link AdapterError}: an AdapterError as is; an error that carries a well-formed
 * `code` (and optionally `recoverable`) keeps them; anything else gets `fallbackCode`. Never throws.
 */
export function toAdapterError(err: unknown, fallbackCode: string, fallbackRecoverable = false): AdapterError {
  if (err instanceof AdapterError) return err;
  let code = fallbackCode;
  let recoverable = fallbackRecoverable;
  let message: string;
  try {
    const e = err as { code?: unknown; recoverable?: unknown; message?: unknown } | null | undefined;
    if (e && typeof e === 'object') {
      if (typeof e.code === 'string' && ADAPTER_CODE.test(e.code)) code = e.code;
      if (typeof e.recoverable === 'boolean') recoverable = e.recoverable;
      message = typeof e.message === 'string' ? e.message : Object.prototype.toString.call(e);
    } else message = String(err);
  } catch {
    message = 'unprintable error';
  }
  return new AdapterError(code, message.slice(0, 500), { recoverable, cause: err });
}
