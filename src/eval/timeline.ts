/**
 * What one eval call recorded at the caller, on the caller's 20 ms clock (tick n covers [n·20, n·20 + 20) ms from
 * the socket opening): what it said and when, what it heard, and the gateway's control messages. The scorer reads
 * only this, so it can be tested on synthetic timelines.
 */
import type { TurnKind } from './scenario.js';

/** Something the caller said. Times in ms on the caller's clock. */
export interface CallerEvent {
  /** Index of the turn in the scenario. */
  index: number;
  kind: TurnKind;
  /** First loud frame sent. */
  onsetMs: number;
  /** End of the last loud frame sent. */
  endMs: number;
  /** The mid-sentence pause, if the turn has one. */
  pause?: { startMs: number; endMs: number };
}

export interface CallTimeline {
  sampleRateHz: number;
  /** 1 where the caller heard a bot audio frame in that 20 ms slot (Vonage's playout), 0 for silence. */
  playing: Uint8Array;
  /** For each slot that played audio: when that frame arrived (ms, caller clock); NaN otherwise. */
  arrivalMs: Float64Array;
  /** When each `{"action":"clear"}` arrived. */
  clearsMs: number[];
  /** Clears that only paused a reply (its next frames were the ones the clear dropped): not in `clearsMs`. */
  pauseClearsMs: number[];
  /** When each notify marker was echoed (its audio had played), with its payload. */
  notifies: Array<{ atMs: number; payload: unknown }>;
  events: CallerEvent[];
  /** The scenario has line echo (every reply is a chance to cut itself off on its own echo). */
  echo: boolean;
  /** What the caller heard, one frame per slot. */
  heard: Int16Array;
  durationMs: number;
  closeCode: number | null;
  closedBy: 'simulator' | 'gateway' | null;
  /** Turns whose trigger timed out (the bot never stopped / never started a reply): spoken anyway. */
  triggerTimeouts: number;
  framesSent: number;
  framesHeldByJitter: number;
}
