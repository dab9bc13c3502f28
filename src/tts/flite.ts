/**
 * The default, offline TTS: Flite (WASI build) in a pool of worker threads. Voice `slt` (16 kHz) for 16/24 kHz legs,
 * `kal` (8 kHz) for 8 kHz legs, or `TTS_VOICE`. Text is split into sentences; the next sentence is synthesised while
 * the current one plays (at most two jobs per call in the pool, so one long reply cannot starve other calls); a first
 * sentence is due at once, a next one when the sentence before it will have played (the pool runs jobs earliest due
 * first, so a burst of calls neither delays greetings behind next sentences nor leaves a gap in a reply).
 * Sentences already spoken (or being spoken) for any call of the process are reused (`TTS_CACHE_MB`, see
 * sentence-cache.ts). English only: other languages are spoken with the English voice, and the log says so once.
 */
import type { TtsAdapter, TtsChunk, TtsRequest } from './types.js';
import type { AdapterContext } from '../util/adapter-context.js';
import { performance } from 'node:perf_hooks';
import { WorkerPool, PoolError } from '../util/worker-pool.js';
import { splitSentences } from './sentences.js';
import { CacheWaitAborted, SentenceCache, type SentenceCacheStats } from './sentence-cache.js';

interface FliteJob {
  text: string;
  voice: string;
}
interface FliteResult {
  pcm: ArrayBuffer;
  sampleRateHz: number;
}

export const FLITE_VOICES = ['slt', 'kal', 'kal16', 'awb', 'rms'] as const;

/** The Flite adapter, with its sentence cache's figures (undefined with `TTS_CACHE_MB=0`). */
export interface FliteTts extends TtsAdapter {
  cacheStats(): SentenceCacheStats | undefined;
}

export function createFliteTts(ctx: AdapterContext): FliteTts {
  const { ttsWorkers: size, ttsVoice, ttsWorkerNice: nice, ttsCacheMb } = ctx.sections.tts;
  const pool = new WorkerPool<FliteJob, FliteResult>(new URL('./flite-worker.js', import.meta.url), size, 256, { nice });
  pool.warm();
  const cache = ttsCacheMb > 0 ? new SentenceCache<FliteResult>(ttsCacheMb * 1024 * 1024, (r) => r.pcm.byteLength) : undefined;
  const configured = ttsVoice || undefined;
  let warnedLanguage = false;

  async function* synthesize(req: TtsRequest): AsyncIterable<TtsChunk> {
    // A voice named for another vendor (a per-call voice, or a fallback chain) is not Flite's: use Flite's default.
    const asked = req.voice ?? configured;
    const voice = asked && (FLITE_VOICES as readonly string[]).includes(asked) ? asked : req.call.sampleRateHz === 8000 ? 'kal' : 'slt';
    if (!warnedLanguage && !/^en\b/i.test(req.call.language)) {
      warnedLanguage = true;
      ctx.logger.warn({ language: req.call.language }, 'flite speaks English only; use a cloud TTS for other languages');
    }
    const sentences = splitSentences(req.text);
    if (!sentences.length) return;
    const run = (text: string, dueMs?: number): Promise<FliteResult> =>
      cache
        ? cache.get(`${voice}\n${text}`, (signal) => pool.run({ text, voice }, signal, [], dueMs), req.signal)
        : pool.run({ text, voice }, req.signal, [], dueMs);
    let next: Promise<FliteResult> | undefined = run(sentences[0]!);
    for (let i = 0; i < sentences.length && next; i++) {
      let r: FliteResult;
      try {
        r = await next;
      } catch (err) {
        if ((err instanceof PoolError || err instanceof CacheWaitAborted) && err.code === 'ABORTED') return;
        throw err;
      }
      // Sentence i starts playing about now (it is handed over below): the next one is needed when it has played.
      const playsMs = (r.pcm.byteLength / 2 / r.sampleRateHz) * 1000;
      next = i + 1 < sentences.length && !req.signal.aborted ? run(sentences[i + 1]!, performance.now() + playsMs) : undefined;
      // A sentence whose job was refused or failed still lets the next ones play; the rejection is observed here.
      next?.catch(() => {});
      if (req.signal.aborted) return;
      // A cached result is shared by every call: handed on as it is, since the gateway only reads a chunk's audio (a
      // copy per call was the whole greeting per answered call, at the moment a burst of calls is answered).
      yield { audio: new Int16Array(r.pcm), sampleRateHz: r.sampleRateHz };
    }
  }

  return { name: 'flite', synthesize, close: () => pool.close(), cacheStats: () => cache?.stats() };
}
