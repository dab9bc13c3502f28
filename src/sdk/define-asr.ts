/**
 * `defineAsr`: an ASR adapter from a per-call `start()` that gets an `emit` object, so an adapter needs no event queue
 * of its own. The SDK owns the stream: a bounded event channel (drop-oldest, counted), `write()` that never throws,
 * an idempotent `close()`, and the end of `events` on close, on abort and after an unrecoverable error.
 */
import type { CallInfo } from '../call/call-info.js';
import type { AsrAdapter, AsrEvent, AsrStream } from '../asr/types.js';
import type { AdapterContext, AdapterSettings, AdapterSettingValues } from '../util/adapter-context.js';
import { toAdapterError } from '../errors.js';
import { Channel } from '../util/channel.js';

/** How a stream reports what it heard. Calls after the stream ended are ignored. */
export interface AsrEmitter {
  interim(text: string): void;
  final(text: string, extra?: { confidence?: number; startMs?: number; endMs?: number }): void;
  /** A provider failure (the one failure model: a code and `recoverable`). An unrecoverable one ends the stream. */
  error(code: string, message: string, recoverable: boolean): void;
}

/** What a definition's `start()` returns for one call. */
export interface AsrHandlers {
  /** One 20 ms frame of 16-bit LE PCM at `call.sampleRateHz`; valid only during the call (copy it to keep it). */
  write(frame: Buffer, receivedAtMs: number): void;
  endOfSpeech?(): void;
  /** Release what the call holds. Called once. */
  close?(): void;
}

export interface AsrDefinition<C extends AdapterSettings = AdapterSettings> {
  name: string;
  /**
   * Settings this adapter reads (environment variables, or keys of the gateway's config file): validated at start-up
   * (a bad or missing value stops the start with a message naming the variable) and given to `start()` parsed.
   */
  settings?: C;
  /** Emits interim transcripts. Default false. */
  interim?: boolean;
  /** Rates the adapter takes natively. Default 8000, 16000 and 24000. */
  sampleRatesHz?: readonly number[];
  /** Events waiting for the gateway, at most (oldest dropped past it, counted in the stream's `dropped`). Default 64. */
  eventCapacity?: number;
  /**
   * Open one call's recognition. Throw (an {@link AdapterError} to choose the code, else `ASR_START_FAILED`) when it
   * cannot start: the gateway moves the call to the next ASR of the chain, or goes on without ASR.
   */
  start(
    call: CallInfo,
    io: { emit: AsrEmitter; signal: AbortSignal; ctx: AdapterContext | undefined; settings: AdapterSettingValues<C> },
  ): AsrHandlers | Promise<AsrHandlers>;
  close?: () => void | Promise<void>;
}

/** The stream `defineAsr` makes, with its drop counter. */
export interface DefinedAsrStream extends AsrStream {
  /** Events dropped because the gateway fell behind. */
  readonly dropped: number;
}

class Stream implements DefinedAsrStream {
  readonly events: Channel<AsrEvent>;
  handlers: AsrHandlers | undefined;
  private ended = false;
  readonly emit: AsrEmitter;

  constructor(capacity: number) {
    this.events = new Channel<AsrEvent>(capacity, 'drop-oldest');
    this.emit = {
      interim: (text) => void (this.ended || this.events.push({ type: 'interim', text: String(text) })),
      final: (text, extra) => void (this.ended || this.events.push({ type: 'final', text: String(text), ...extra })),
      error: (code, message, recoverable) => {
        if (this.ended) return;
        const e = toAdapterError({ code, message, recoverable: !!recoverable }, 'ASR_FAILED');
        this.events.push({ type: 'error', code: e.code, message: e.message, recoverable: e.recoverable });
        if (!e.recoverable) this.close();
      },
    };
  }

  get dropped(): number {
    return this.events.dropped;
  }

  write(frame: Buffer, receivedAtMs: number): void {
    if (this.ended || !this.handlers) return;
    try {
      this.handlers.write(frame, receivedAtMs);
    } catch (err) {
      // The contract says write never throws: the adapter's throw becomes an unrecoverable error event.
      const e = toAdapterError(err, 'ASR_WRITE_FAILED');
      this.emit.error(e.code, `write: ${e.message}`, false);
    }
  }

  endOfSpeech(): void {
    if (this.ended) return;
    try {
      this.handlers?.endOfSpeech?.();
    } catch (err) {
      const e = toAdapterError(err, 'ASR_WRITE_FAILED');
      this.emit.error(e.code, `endOfSpeech: ${e.message}`, false);
    }
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.handlers?.close?.();
    } catch {
      // Closing anyway: the events end below whatever the adapter's close did.
    }
    this.events.close();
  }
}

/**
 * Make an ASR adapter factory: `export default defineAsr({ name, start: (call, { emit }) => ({ write(frame) {…} }) })`
 * is a complete `ASR_ADAPTER` module.
 *
 * **Failures** (the one failure model, {@link AdapterError}): at start, throw; during the call, `emit.error(code,
 * message, recoverable)`: a recoverable error keeps the stream, an unrecoverable one ends it (the gateway fails the
 * call over to the next ASR, or goes on without). A throw from your `write()`/`endOfSpeech()` becomes an unrecoverable
 * error event (code `ASR_WRITE_FAILED` unless it carried its own): it never reaches the gateway's 20 ms loop.
 */
export function defineAsr<C extends AdapterSettings = AdapterSettings>(
  def: AsrDefinition<C>,
): ((ctx?: AdapterContext) => AsrAdapter) & { readonly settings?: C } {
  if (!def || typeof def.name !== 'string' || !def.name || typeof def.start !== 'function') throw new TypeError('defineAsr needs a name and start()');
  const capabilities = { interim: !!def.interim, sampleRatesHz: def.sampleRatesHz ?? [8000, 16000, 24000] };
  const factory = (ctx?: AdapterContext): AsrAdapter => ({
    name: def.name,
    capabilities,
    async start({ call, signal }): Promise<DefinedAsrStream> {
      const s = new Stream(def.eventCapacity ?? 64);
      try {
        s.handlers = await def.start(call, { emit: s.emit, signal, ctx, settings: (ctx?.settings ?? {}) as AdapterSettingValues<C> });
      } catch (err) {
        s.close();
        throw toAdapterError(err, 'ASR_START_FAILED');
      }
      if (!s.handlers || typeof s.handlers.write !== 'function') {
        s.close();
        throw toAdapterError(new Error('start() must return { write(frame) }'), 'ASR_START_FAILED');
      }
      if (signal.aborted) s.close();
      else {
        const onAbort = () => s.close();
        signal.addEventListener('abort', onAbort, { once: true });
        const close = s.close.bind(s);
        s.close = () => {
          signal.removeEventListener('abort', onAbort);
          close();
        };
      }
      return s;
    },
    ...(def.close ? { close: def.close } : {}),
  });
  return def.settings ? Object.assign(factory, { settings: def.settings }) : factory;
}
