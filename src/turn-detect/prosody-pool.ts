/**
 * The prosodic end-of-turn cue (`prosody.ts`) judged in a worker thread, one per process, shared by every call.
 *
 * Why: the cue costs ~0.4 ms of YIN pitch tracking per utterance end, all at once; on the event loop that paces every
 * call it was a fifth of the main thread's work at 500 legs (bench/README.md, "Tried and not kept" and "The prosodic
 * cue off the event loop") and in most of its busy stretches of 12 ms or more. Its verdict is needed only once the
 * short silence after the utterance has passed, so a millisecond in a queue costs the caller nothing. The worker runs
 * at a lower priority (`nice`, like Flite's threads), in the event loop's idle time on a shared core.
 *
 * Never fails a call: a full queue, a crashed worker (replaced by the pool) or a closed pool falls back to computing
 * the cue here, on the event loop, and is counted.
 */
import { WorkerPool } from '../util/worker-pool.js';
import { prosodyCue } from './prosody.js';

/** What the turn gate asks (see `gate.ts`, `TurnGateConfig.prosodyJudge`). */
export interface ProsodyJudge {
  /** Whether the utterance (16-bit mono at `sampleRateHz`, only read) sounds unfinished. Never rejects. */
  unfinished(audio: Int16Array, sampleRateHz: number): Promise<boolean>;
  /** A verdict came too late for its turn (counted: `gateway_prosody_cues_late_total`). */
  noteLate?(): void;
}

interface Job {
  pcm: Int16Array;
  sampleRateHz: number;
}

/** Jobs waiting for the worker at most (~0.4 ms each): beyond it a cue is computed on the event loop. */
const QUEUE_CAPACITY = 512;

export class ProsodyPool implements ProsodyJudge {
  private readonly pool: WorkerPool<Job, { unfinished: boolean }>;
  /** Cues computed on the event loop because the worker could not take them (queue full, worker failed, closed). */
  fallbacks = 0;
  /** Cues judged by the worker. */
  judged = 0;
  /** Verdicts the turn gate stopped waiting for (see `CUE_WAIT_MS` in `gate.ts`). */
  late = 0;

  /** `nice`: the worker thread's scheduling niceness (Linux, per thread; 0 = as the event loop). */
  constructor(nice: number) {
    this.pool = new WorkerPool<Job, { unfinished: boolean }>(new URL('./prosody-worker.js', import.meta.url), 1, QUEUE_CAPACITY, { nice });
  }

  async unfinished(audio: Int16Array, sampleRateHz: number): Promise<boolean> {
    try {
      // Structured-cloned (copied) into the worker: the caller's audio stays its own.
      const r = await this.pool.run({ pcm: audio, sampleRateHz });
      this.judged++;
      return r.unfinished === true;
    } catch {
      this.fallbacks++;
      try {
        return prosodyCue(audio, sampleRateHz).unfinished;
      } catch {
        return false;
      }
    }
  }

  noteLate(): void {
    this.late++;
  }

  /** Start the worker now (so the first call's cue does not wait for it to load). */
  warm(): void {
    this.pool.warm();
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
