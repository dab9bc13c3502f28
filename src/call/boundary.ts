/**
 * The adapter boundary of one call: every throw or rejection that call/ catches from adapter code (a user's ASR, bot
 * or TTS) goes through {@link AdapterBoundary.fault}, which turns it into an {@link AdapterError}, counts it, and logs
 * it once per call and call point. What to do about it (apology, no ASR, next TTS, close) is the caller's decision.
 *
 * Points in use (the `point` label of `gateway_adapter_faults_total`):
 *   asr: `start` · `write` · `endOfSpeech` · `events` · `close`
 *   bot: `start` · `input` · `output` · `close`
 *   tts: `synthesize` (threw before iterating) · `stream` (its iterator threw) · `first-audio-timeout` (no audio in
 *        time) · `stream-timeout` (no next chunk in time)
 *   bot: `output` also counts a `play` whose audio cannot be played (not PCM at a usable rate)
 *   turn: `predict` (the end-of-turn detector threw, rejected, answered malformed or too late: the heuristic answered)
 *
 * Cheap on the hot path: call sites keep their own `try/catch` (no closure per frame) and call `fault` only in the catch.
 */
import { toAdapterError, type AdapterError, type AdapterKind } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

export class AdapterBoundary {
  private readonly metrics: Metrics;
  private readonly log: Logger;
  /** `kind:point` already logged for this call. */
  private readonly logged = new Set<string>();
  /** Faults counted but not logged (repeats of a logged point). */
  suppressed = 0;
  /** Every fault of this call. */
  faults = 0;
  /** Once the call has closed, late faults (an iterator failing as it is torn down) are neither counted nor logged. */
  closed = false;

  constructor(metrics: Metrics, log: Logger) {
    this.metrics = metrics;
    this.log = log;
  }

  /**
   * Record a throw or rejection from adapter code. Counted in `adapterFaults{kind,point}` and `adapterErrors{stage,code}`;
   * the first one per `kind:point` in this call is logged (`<kind> adapter error`), the rest only counted. Never throws.
   */
  fault(kind: AdapterKind | 'turn', point: string, err: unknown, fallbackCode: string, recoverable = false): AdapterError {
    const e = toAdapterError(err, fallbackCode, recoverable);
    if (this.closed) return e;
    this.faults++;
    this.metrics.adapterFaults.inc({ kind, point });
    this.metrics.adapterErrors.inc({ stage: kind, code: e.code });
    const key = `${kind}:${point}`;
    if (this.logged.has(key)) {
      this.suppressed++;
      return e;
    }
    this.logged.add(key);
    this.log.error({ stage: kind, point, code: e.code, recoverable, err: { message: e.message } }, `${kind} adapter error`);
    return e;
  }
}
