/**
 * A TTS adapter made of others, tried in order (`TTS_ADAPTER=microsoft,flite`): when one throws before it has
 * produced any audio for a request, the next one synthesises the same text. Once audio has reached the caller a
 * failure is passed on (switching voices mid-sentence would be worse than stopping). An aborted request is never
 * retried. Each fallback is counted ({@link FallbackTts.stats}) and logged with the failing adapter and reason.
 */
import type { Logger } from '../observability/logger.js';
import type { TtsAdapter, TtsChunk, TtsRequest } from './types.js';

export interface FallbackTtsStats {
  /** Requests handed to a later adapter because an earlier one failed before producing audio. */
  fallbacks: number;
  /** Requests every adapter failed. */
  exhausted: number;
  /** Fallbacks by the adapter that failed. */
  byAdapter: Record<string, number>;
}

export class FallbackTts implements TtsAdapter {
  readonly name: string;
  readonly adapters: readonly TtsAdapter[];
  readonly stats: FallbackTtsStats = { fallbacks: 0, exhausted: 0, byAdapter: {} };
  private readonly log: Logger;

  constructor(adapters: readonly TtsAdapter[], logger: Logger) {
    if (adapters.length === 0) throw new RangeError('FallbackTts needs at least one adapter');
    this.adapters = adapters;
    this.name = adapters.map((a) => a.name).join(',');
    this.log = logger;
  }

  async *synthesize(req: TtsRequest): AsyncIterable<TtsChunk> {
    let lastErr: unknown;
    for (let i = 0; i < this.adapters.length; i++) {
      const a = this.adapters[i];
      let produced = false;
      try {
        for await (const chunk of a.synthesize(req)) {
          produced = true;
          yield chunk;
        }
        return;
      } catch (err) {
        if (produced || req.signal.aborted) throw err;
        lastErr = err;
        const next = this.adapters[i + 1];
        if (!next) break;
        this.stats.fallbacks++;
        this.stats.byAdapter[a.name] = (this.stats.byAdapter[a.name] ?? 0) + 1;
        this.log.warn({ call: req.call.callId, failed: a.name, next: next.name, err: { message: (err as Error)?.message ?? String(err) } }, 'tts fallback');
      }
    }
    this.stats.exhausted++;
    throw lastErr;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.adapters.map((a) => a.close?.()));
  }
}
