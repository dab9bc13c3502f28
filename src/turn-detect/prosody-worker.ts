/**
 * Worker thread of {@link ProsodyPool} (`prosody-pool.ts`): the prosodic cue for one utterance, off the event loop.
 * In: `{ id, pcm: Int16Array, sampleRateHz }`; out: `{ id, unfinished }` or `{ id, error }`.
 */
import { parentPort } from 'node:worker_threads';
import { applyWorkerNice } from '../util/worker-pool.js';
import { prosodyCue } from './prosody.js';

applyWorkerNice();

parentPort?.on('message', (job: { id: number; pcm: Int16Array; sampleRateHz: number }) => {
  try {
    parentPort?.postMessage({ id: job.id, unfinished: prosodyCue(job.pcm, job.sampleRateHz).unfinished });
  } catch (err) {
    parentPort?.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) });
  }
});
