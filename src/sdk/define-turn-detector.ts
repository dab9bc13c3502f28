/**
 * `defineTurnDetector`: an end-of-turn detector (`TURN_DETECTOR=./my-detector.mjs`) from one function that answers
 * how complete the caller's turn is, as a number 0..1 or `{ complete }`, synchronously or not. The SDK checks the
 * answer (a number in 0..1, else an {@link AdapterError} `TURN_DETECT_MALFORMED`) so a mistake shows up as a clear
 * fault; the gateway falls back to its built-in heuristic for that prediction either way (see `TurnDetector`).
 */
import { AdapterError } from '../errors.js';
import type { TurnDetectInput, TurnDetector, TurnPrediction } from '../turn-detect/types.js';

export type { TurnDetectInput, TurnDetector, TurnPrediction } from '../turn-detect/types.js';
export { COMPLETE_THRESHOLD } from '../turn-detect/types.js';

/** What a predict function may answer: a probability 0..1, or `{ complete }`. */
export type TurnAnswer = number | TurnPrediction;

export interface TurnDetectorDefinition {
  /** Non-empty: labels logs. */
  name: string;
  /** Ask for the caller's last utterance audio in `input.audio` (the gateway keeps it only then). */
  wantsAudio?: boolean;
  /** Probability the caller is done. `signal` aborts when the gateway stops waiting: stop work then. */
  predict(input: TurnDetectInput, signal: AbortSignal): TurnAnswer | Promise<TurnAnswer>;
  close?: () => void | Promise<void>;
}

function toPrediction(a: unknown): TurnPrediction {
  const c = typeof a === 'number' ? a : (a as TurnPrediction | null)?.complete;
  if (typeof c !== 'number' || !(c >= 0 && c <= 1))
    throw new AdapterError('TURN_DETECT_MALFORMED', `predict() answered ${typeof c === 'number' ? c : typeof c}, not a probability 0..1`);
  return { complete: c };
}

/** Build a detector; default-export it from a module to use it as `TURN_DETECTOR`. */
export function defineTurnDetector(def: TurnDetectorDefinition): TurnDetector {
  if (!def || typeof def.name !== 'string' || !def.name.trim()) throw new TypeError('defineTurnDetector: `name` must be a non-empty string');
  if (typeof def.predict !== 'function') throw new TypeError('defineTurnDetector: `predict` must be a function');
  return {
    name: def.name,
    wantsAudio: def.wantsAudio === true,
    predict(input, signal) {
      const a = def.predict(input, signal);
      return a && typeof (a as Promise<TurnAnswer>).then === 'function' ? Promise.resolve(a).then(toPrediction) : toPrediction(a);
    },
    close: def.close ? () => def.close?.() : undefined,
  };
}
