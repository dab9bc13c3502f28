/**
 * `defineTts`: a TTS adapter from one function that turns text into audio, in whatever shape is handy (one chunk,
 * an array, an async iterable). The SDK checks every chunk, stops on abort and reports failures as
 * {@link AdapterError}s thrown from the iterator (the one failure model).
 */
import type { CallInfo } from '../call/call-info.js';
import type { TtsAdapter, TtsChunk, TtsRequest } from '../tts/types.js';
import type { AdapterContext, AdapterSettings, AdapterSettingValues } from '../util/adapter-context.js';
import { AdapterError, toAdapterError } from '../errors.js';

/** Audio a synthesize function may give: chunks with their rate, or bare samples at the definition's `sampleRateHz`. */
export type TtsPiece = TtsChunk | Int16Array;
export type TtsResult = TtsPiece | readonly TtsPiece[] | AsyncIterable<TtsPiece> | Iterable<TtsPiece>;

export interface TtsDefinition<C extends AdapterSettings = AdapterSettings> {
  name: string;
  /** Settings this adapter reads: validated at start-up, given to `synthesize()` parsed (see AsrDefinition.settings). */
  settings?: C;
  /** The rate of bare `Int16Array` pieces (required when the function yields them). */
  sampleRateHz?: number;
  /**
   * Synthesize `text` for one call. `signal` aborts on barge-in or call end: stop then (the SDK stops reading anyway).
   * Throw an {@link AdapterError} to choose the failure's code; anything else thrown becomes code `TTS_FAILED`.
   */
  synthesize(
    text: string,
    req: { call: CallInfo; voice: string | undefined; signal: AbortSignal; ctx: AdapterContext | undefined; settings: AdapterSettingValues<C> },
  ): TtsResult | Promise<TtsResult>;
  close?: () => void | Promise<void>;
}

/** Lowest and highest sample rates a chunk may carry. */
export const MIN_RATE_HZ = 4000;
export const MAX_RATE_HZ = 192000;

function chunkOf(p: unknown, rateHz: number | undefined): TtsChunk {
  if (p instanceof Int16Array) {
    if (!rateHz) throw new AdapterError('TTS_BAD_CHUNK', 'a bare Int16Array needs sampleRateHz in the definition');
    return { audio: p, sampleRateHz: rateHz };
  }
  const c = p as TtsChunk | null;
  if (!c || !(c.audio instanceof Int16Array)) throw new AdapterError('TTS_BAD_CHUNK', 'a chunk must be { audio: Int16Array, sampleRateHz }');
  if (!Number.isInteger(c.sampleRateHz) || c.sampleRateHz < MIN_RATE_HZ || c.sampleRateHz > MAX_RATE_HZ) {
    throw new AdapterError('TTS_BAD_CHUNK', `chunk sample rate ${String(c.sampleRateHz)} is not an integer in ${MIN_RATE_HZ}–${MAX_RATE_HZ} Hz`);
  }
  return c;
}

/**
 * Make a TTS adapter factory: `export default defineTts({ name, synthesize: async (text) => pcm, sampleRateHz })` is a
 * complete `TTS_ADAPTER` module. Failures: whatever the function throws (or a malformed chunk) is thrown from the
 * request's iterator as an AdapterError; the gateway then tries the next TTS of the list, or plays the reply without
 * audio. An aborted request ends quietly.
 */
export function defineTts<C extends AdapterSettings = AdapterSettings>(
  def: TtsDefinition<C>,
): ((ctx?: AdapterContext) => TtsAdapter) & { readonly settings?: C } {
  if (!def || typeof def.name !== 'string' || !def.name || typeof def.synthesize !== 'function') throw new TypeError('defineTts needs a name and synthesize()');
  const factory = (ctx?: AdapterContext): TtsAdapter => {
    const settings = (ctx?.settings ?? {}) as AdapterSettingValues<C>;
    async function* synthesize(req: TtsRequest): AsyncIterable<TtsChunk> {
      if (req.signal.aborted) return;
      let src: unknown;
      try {
        src = await def.synthesize(req.text, { call: req.call, voice: req.voice, signal: req.signal, ctx, settings });
      } catch (err) {
        if (req.signal.aborted) return;
        throw toAdapterError(err, 'TTS_FAILED');
      }
      if (src === undefined || src === null || req.signal.aborted) return;
      if (src instanceof Int16Array || (typeof src === 'object' && !(Symbol.iterator in src) && !(Symbol.asyncIterator in src))) {
        yield chunkOf(src, def.sampleRateHz);
        return;
      }
      const it = typeof src === 'object' && Symbol.asyncIterator in src ? (src as AsyncIterable<TtsPiece>)[Symbol.asyncIterator]() : undefined;
      let finished = false;
      try {
        if (!it) {
          for (const p of src as Iterable<TtsPiece>) {
            if (req.signal.aborted) return;
            yield chunkOf(p, def.sampleRateHz);
          }
          return;
        }
        for (;;) {
          let r: IteratorResult<TtsPiece>;
          try {
            r = await it.next();
          } catch (err) {
            if (req.signal.aborted) return;
            throw toAdapterError(err, 'TTS_FAILED');
          }
          if (r.done) finished = true;
          if (r.done || req.signal.aborted) return;
          yield chunkOf(r.value, def.sampleRateHz);
        }
      } finally {
        // Stopped early (abort, a bad chunk, the consumer gone): let the source release what it holds.
        if (it && !finished)
          void Promise.resolve()
            .then(() => it.return?.())
            .catch(() => {});
      }
    }
    return { name: def.name, synthesize, ...(def.close ? { close: def.close } : {}) };
  };
  return def.settings ? Object.assign(factory, { settings: def.settings }) : factory;
}
