/**
 * gRPC status → adapter error for Google Cloud Speech. Every status becomes an error event with code
 * `GOOGLE_<STATUS_NAME>`; `recoverable` says whether the adapter reopens the stream (replaying unacknowledged audio)
 * or gives up (the stream's events end after the error).
 *
 * | status | code | recoverable | why |
 * |---|---|---|---|
 * | 1 CANCELLED | GOOGLE_CANCELLED | yes | cancelled by the server or a proxy (our own cancels are never reported) |
 * | 2 UNKNOWN | GOOGLE_UNKNOWN | yes | transient server failure |
 * | 3 INVALID_ARGUMENT | GOOGLE_INVALID_ARGUMENT | no | bad config (model/language), malordered data: retrying repeats it |
 * | 4 DEADLINE_EXCEEDED | GOOGLE_DEADLINE_EXCEEDED | yes | call deadline; a new stream has a new one |
 * | 5 NOT_FOUND | GOOGLE_NOT_FOUND | no | unknown model, phrase set or project |
 * | 6 ALREADY_EXISTS | GOOGLE_ALREADY_EXISTS | no | not expected from streaming |
 * | 7 PERMISSION_DENIED | GOOGLE_PERMISSION_DENIED | no | API disabled, no IAM permission, billing |
 * | 8 RESOURCE_EXHAUSTED | GOOGLE_RESOURCE_EXHAUSTED | yes | quota / rate limit: retried with backoff |
 * | 9 FAILED_PRECONDITION | GOOGLE_FAILED_PRECONDITION | no | the project or resource is not in a usable state |
 * | 10 ABORTED | GOOGLE_ABORTED | yes | concurrency conflict: retry |
 * | 11 OUT_OF_RANGE | GOOGLE_OUT_OF_RANGE | yes | the 305 s stream cap, or the audio timeout: a new stream fixes both |
 * | 12 UNIMPLEMENTED | GOOGLE_UNIMPLEMENTED | no | wrong endpoint or API version |
 * | 13 INTERNAL | GOOGLE_INTERNAL | yes | transient server failure |
 * | 14 UNAVAILABLE | GOOGLE_UNAVAILABLE | yes | no connection, server restarting |
 * | 15 DATA_LOSS | GOOGLE_DATA_LOSS | no | unrecoverable by definition |
 * | 16 UNAUTHENTICATED | GOOGLE_UNAUTHENTICATED | no | missing or bad credentials |
 * | (none) | GOOGLE_CLIENT_ERROR | no | the client library failed without a gRPC status (e.g. credentials could not be loaded) |
 *
 * Two more codes come from the adapter itself (google-stream.ts), both recoverable and counted as failures:
 * `GOOGLE_STREAM_ENDED` (the service closed a young stream with OK and no results) and `GOOGLE_STALLED` (the stream
 * took no audio for longer than the replay buffer holds).
 *
 * Recoverable errors are retried with exponential backoff; after `maxConsecutiveFailures` in a row the last one is
 * reported again with `recoverable: false` and the stream ends.
 */

export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

const RECOVERABLE = new Set([1, 2, 4, 8, 10, 11, 13, 14]);

export interface GoogleErrorInfo {
  /** `GOOGLE_<STATUS_NAME>` or `GOOGLE_CLIENT_ERROR`. */
  code: string;
  /** gRPC status, or undefined when the error carried none. */
  status: number | undefined;
  message: string;
  recoverable: boolean;
  /** The stream hit Google's per-stream duration cap (305 s): an expected rotation, not a failure. */
  durationCap: boolean;
}

/** Classify an error the SDK's stream emitted. */
export function classifyGoogleError(err: unknown): GoogleErrorInfo {
  const e = (err ?? {}) as { code?: unknown; details?: unknown; message?: unknown };
  const status = typeof e.code === 'number' && Number.isInteger(e.code) && e.code >= 0 && e.code < GRPC_STATUS_NAMES.length ? e.code : undefined;
  const raw = typeof e.details === 'string' && e.details ? e.details : typeof e.message === 'string' ? e.message : String(err);
  const message = raw.length > 500 ? raw.slice(0, 500) + '…' : raw;
  if (status === undefined || status === 0) {
    return { code: 'GOOGLE_CLIENT_ERROR', status, message, recoverable: false, durationCap: false };
  }
  return {
    code: `GOOGLE_${GRPC_STATUS_NAMES[status]}`,
    status,
    message,
    recoverable: RECOVERABLE.has(status),
    durationCap: status === 11 && /maximum allowed stream duration/i.test(message),
  };
}

/**
 * Backoff before reconnect attempt `n` (1-based) of a run of failures: 100, 200, 400, 800, 1600 ms, capped at 2 s,
 * each ±20 % at random so that calls hit by the same outage do not reconnect in lockstep.
 */
export function backoffMs(n: number, random: () => number = Math.random): number {
  const base = Math.min(2000, 100 * 2 ** Math.max(0, n - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}
