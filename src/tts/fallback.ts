/**
 * A TTS adapter made of others, tried in order (`TTS_ADAPTER=microsoft,flite`): when one throws before it has
 * produced any audio for a request, the next one synthesises the same text. Once audio has reached the caller a
 * failure is passed on (switching voices mid-sentence would be worse than stopping). An aborted request is never
 * retried. Each fallback is counted ({@link FallbackTts.stats}) and logged with the failing adapter and reason.
 *
 * An adapter that produces no first audio within `firstAudioTimeoutMs` counts as failing before audio: its request is
 * aborted, its iterator abandoned (never awaited again), and the next adapter takes the text. A `synthesize` that throws
 * synchronously is a failure before audio too.
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

export interface FallbackTtsOptions {
  /** No first audio from one adapter within this long: the next one is tried (0 = no bound). */
  firstAudioTimeoutMs?: number;
}

/** What a first-audio timeout throws (as the failing adapter's error). */
export class TtsFirstAudioTimeout extends Error {
  readonly code = 'TTS_FIRST_AUDIO_TIMEOUT';
}

export class FallbackTts implements TtsAdapter {
  readonly name: string;
  readonly adapters: readonly TtsAdapter[];
  readonly stats: FallbackTtsStats = { fallbacks: 0, exhausted: 0, byAdapter: {} };
  private readonly log: Logger;
  /** The per-adapter first-audio bound (0 = none). */
  readonly firstAudioTimeoutMs: number;

  constructor(adapters: readonly TtsAdapter[], logger: Logger, opts: FallbackTtsOptions = {}) {
    if (adapters.length === 0) throw new RangeError('FallbackTts needs at least one adapter');
    this.adapters = adapters;
    this.firstAudioTimeoutMs = opts.firstAudioTimeoutMs ?? 0;
    this.name = adapters.map((a) => a.name).join(',');
    this.log = logger;
  }

  async *synthesize(req: TtsRequest): AsyncIterable<TtsChunk> {
    let lastErr: unknown;
    for (let i = 0; i < this.adapters.length; i++) {
      const a = this.adapters[i]!;
      let produced = false;
      // Each adapter gets its own signal, so a timed-out one can be stopped without aborting the request.
      const ctl = new AbortController();
      const onAbort = () => ctl.abort();
      req.signal.addEventListener('abort', onAbort, { once: true });
      let it: AsyncIterator<TtsChunk> | undefined;
      let finished = false;
      try {
        it = a.synthesize({ ...req, signal: ctl.signal })[Symbol.asyncIterator]();
        const first = await this.first(it);
        if (!first.done) {
          produced = true;
          yield first.value;
          for (;;) {
            const r = await it.next();
            if (r.done) break;
            yield r.value;
          }
        }
        finished = true;
        return;
      } catch (err) {
        if (produced || req.signal.aborted) throw err;
        lastErr = err;
        const next = this.adapters[i + 1];
        if (!next) break;
        this.stats.fallbacks++;
        this.stats.byAdapter[a.name] = (this.stats.byAdapter[a.name] ?? 0) + 1;
        this.log.warn({ call: req.call.callId, failed: a.name, next: next.name, err: { message: (err as Error)?.message ?? String(err) } }, 'tts fallback');
      } finally {
        req.signal.removeEventListener('abort', onAbort);
        // Stopped early (timeout, failure, or the consumer left): tell the adapter; never wait on it.
        if (!finished) {
          ctl.abort();
          try {
            if (it?.return) void Promise.resolve(it.return()).catch(() => {});
          } catch {
            /* adapter code: ignored */
          }
        }
      }
    }
    this.stats.exhausted++;
    throw lastErr;
  }

  /** The iterator's first result, or a {@link TtsFirstAudioTimeout} thrown when it takes too long. */
  private first(it: AsyncIterator<TtsChunk>): Promise<IteratorResult<TtsChunk>> {
    const p = it.next();
    const ms = this.firstAudioTimeoutMs;
    if (ms <= 0) return p;
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        reject(new TtsFirstAudioTimeout(`no audio within ${ms} ms`));
      }, ms);
      timer.unref?.();
      const settle = (f: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        f();
      };
      Promise.resolve(p).then(
        (v) => settle(() => resolve(v)),
        (err) => settle(() => reject(err)),
      );
    });
  }

  async close(): Promise<void> {
    // A then() callback, so an adapter whose close() throws synchronously does not stop the others closing.
    await Promise.allSettled(this.adapters.map((a) => Promise.resolve().then(() => a.close?.())));
  }
}
