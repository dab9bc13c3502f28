/**
 * Deepgram live-transcription failures → adapter error codes. Deepgram reports a failure in one of two places
 * (developers.deepgram.com, "STT Troubleshooting WebSocket, NET, and DATA Errors"):
 *
 * - the **handshake** is refused with an HTTP status (the SDK's socket reports `Unexpected server response: <status>`);
 * - an open stream ends with a **close frame** whose reason starts with a code such as `DATA-0000` or `NET-0001`.
 *
 * | where | status / close code | code | recoverable | why |
 * |---|---|---|---|---|
 * | handshake | 400 | DEEPGRAM_BAD_REQUEST | no | bad model, language, encoding or rate: retrying repeats it |
 * | handshake | 401 | DEEPGRAM_UNAUTHORIZED | no | missing or wrong `DEEPGRAM_API_KEY` |
 * | handshake | 402 | DEEPGRAM_PAYMENT_REQUIRED | no | the project is out of credit |
 * | handshake | 403 | DEEPGRAM_FORBIDDEN | no | the key may not use this model or feature |
 * | handshake | 404 | DEEPGRAM_NOT_FOUND | no | wrong `DEEPGRAM_URL` path |
 * | handshake | 408 | DEEPGRAM_TIMEOUT | yes | the service timed the upgrade out |
 * | handshake | 429 | DEEPGRAM_RATE_LIMITED | yes | concurrency or rate limit: retried with backoff |
 * | handshake | 5xx | DEEPGRAM_UNAVAILABLE | yes | the service is failing or restarting |
 * | handshake | other 4xx | DEEPGRAM_HTTP_<status> | no | a client error retrying cannot fix |
 * | connect | (no status) | DEEPGRAM_CONNECT_FAILED | yes | refused, reset, DNS, or no upgrade within the connect timeout |
 * | stream | 1000 not asked for | DEEPGRAM_STREAM_ENDED | yes | the service ended the stream |
 * | stream | 1002/1008 `DATA-…` | DEEPGRAM_BAD_AUDIO | no | the audio cannot be decoded: the same audio fails again |
 * | stream | 1009 `BIG-…` | DEEPGRAM_MESSAGE_TOO_BIG | no | a message over the service's limit |
 * | stream | 1011 `NET-…` | DEEPGRAM_NET_TIMEOUT | yes | no audio/KeepAlive reached it (NET-0001) or it sent nothing (NET-0000) |
 * | stream | 1011 other | DEEPGRAM_SERVER_ERROR | yes | internal error |
 * | stream | 1006 / any other | DEEPGRAM_CONNECTION_LOST | yes | the socket dropped without a close frame (network, proxy) |
 *
 * Recoverable errors reconnect with backoff and replay the audio no final covered; after a run of them the last is
 * reported unrecoverable (see deepgram.ts).
 */

export interface DeepgramErrorInfo {
  code: string;
  message: string;
  recoverable: boolean;
}

function clip(s: string): string {
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/** A refused upgrade (HTTP status) or a failed connect (no status). */
export function classifyDeepgramHandshake(message: string): DeepgramErrorInfo {
  const m = /Unexpected server response: (\d{3})/.exec(message);
  const status = m ? Number(m[1]) : undefined;
  const msg = clip(message || 'connection failed');
  if (status === undefined) return { code: 'DEEPGRAM_CONNECT_FAILED', message: msg, recoverable: true };
  if (status >= 500) return { code: 'DEEPGRAM_UNAVAILABLE', message: msg, recoverable: true };
  switch (status) {
    case 400:
      return { code: 'DEEPGRAM_BAD_REQUEST', message: msg, recoverable: false };
    case 401:
      return { code: 'DEEPGRAM_UNAUTHORIZED', message: msg, recoverable: false };
    case 402:
      return { code: 'DEEPGRAM_PAYMENT_REQUIRED', message: msg, recoverable: false };
    case 403:
      return { code: 'DEEPGRAM_FORBIDDEN', message: msg, recoverable: false };
    case 404:
      return { code: 'DEEPGRAM_NOT_FOUND', message: msg, recoverable: false };
    case 408:
      return { code: 'DEEPGRAM_TIMEOUT', message: msg, recoverable: true };
    case 429:
      return { code: 'DEEPGRAM_RATE_LIMITED', message: msg, recoverable: true };
    default:
      return { code: `DEEPGRAM_HTTP_${status}`, message: msg, recoverable: false };
  }
}

/** The service closed an open stream we did not ask it to close. */
export function classifyDeepgramClose(code: number, reason: string): DeepgramErrorInfo {
  const message = clip(`closed ${code}${reason ? `: ${reason}` : ''}`);
  if (code === 1000) return { code: 'DEEPGRAM_STREAM_ENDED', message, recoverable: true };
  if ((code === 1008 || code === 1002) && /DATA-/.test(reason)) return { code: 'DEEPGRAM_BAD_AUDIO', message, recoverable: false };
  if (code === 1009) return { code: 'DEEPGRAM_MESSAGE_TOO_BIG', message, recoverable: false };
  if (code === 1011)
    return /NET-/.test(reason) ? { code: 'DEEPGRAM_NET_TIMEOUT', message, recoverable: true } : { code: 'DEEPGRAM_SERVER_ERROR', message, recoverable: true };
  return { code: 'DEEPGRAM_CONNECTION_LOST', message, recoverable: true };
}
