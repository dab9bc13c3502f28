/**
 * The end-of-turn detector contract (`TURN_DETECTOR`): given what the caller has said so far in this turn (and how
 * long they have been silent), how likely is it that they are done? Adaptive endpointing (see `gate.ts`) asks it once
 * per final transcript and ends the turn after `ENDPOINT_MIN_SILENCE_MS` when the answer is at least
 * {@link COMPLETE_THRESHOLD}, else after `ENDPOINT_MAX_SILENCE_MS` (or when more speech comes, joined to the turn).
 *
 * A detector is user code: it is always called through the call's adapter boundary. A throw, a rejection, a malformed
 * answer or no answer within `TURN_DETECTOR_TIMEOUT_MS` falls back to the built-in heuristic for that prediction; it is
 * counted (`gateway_adapter_faults_total{kind="turn",point="predict"}`) and logged once per call. The call goes on.
 */

/** What a detector is asked, once per final transcript of the caller's turn. */
export interface TurnDetectInput {
  /** Everything the caller said in this turn so far (held finals joined with spaces), trimmed. */
  readonly text: string;
  /** Always true today (the gate asks on finals); kept so interim-driven detectors fit the same contract. */
  readonly final: boolean;
  /** Silence since the caller's last voiced frame, ms (0 if they are speaking). */
  readonly silenceMs: number;
  readonly callId: string;
  /** BCP-47 language of the call, e.g. `en-US`. */
  readonly language: string;
  /**
   * The turn's audio (16-bit mono PCM at `sampleRateHz`) when the gateway keeps it (only when the detector asks for it
   * with `wantsAudio`; a Smart Turn–style model reads the last 8 s). Owned by the gateway: copy it to keep it.
   */
  readonly audio?: Int16Array;
  readonly sampleRateHz: number;
}

/** A detector's answer. */
export interface TurnPrediction {
  /** Probability that the caller has finished their turn, 0..1. */
  readonly complete: number;
}

/** An end-of-turn detector: an object, or what a module's factory returns. */
export interface TurnDetector {
  /** Non-empty: labels logs. */
  readonly name: string;
  /** Ask for the turn's audio in {@link TurnDetectInput.audio} (costs a copy per final). Default false. */
  readonly wantsAudio?: boolean;
  /**
   * Predict. `signal` aborts when the gateway stops waiting (timeout, the call ended, a newer final came): stop work.
   * May answer synchronously (the built-in does) or with a promise.
   */
  predict(input: TurnDetectInput, signal: AbortSignal): TurnPrediction | Promise<TurnPrediction>;
  /** Called once when the gateway shuts down. */
  close?(): void | Promise<void>;
}

/** `complete` at or above this ends the turn after the short silence; below it, after the long one. */
export const COMPLETE_THRESHOLD = 0.5;
