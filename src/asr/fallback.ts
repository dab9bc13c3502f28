/**
 * An ordered chain of ASR adapters that is itself an ASR adapter (`ASR_ADAPTER=google,microsoft,local`).
 *
 * Each call starts on the first adapter. When its stream fails unrecoverably (an error event with
 * `recoverable: false`, its `events` ending on their own or throwing, `start()` rejecting, or its `write()` or
 * `endOfSpeech()` throwing — adapter code is never trusted not to), the call moves to the next adapter
 * without dropping audio: the audio not yet covered by a final transcript is kept in a {@link PcmRing} and replayed
 * into the new stream, and frames that arrive while the next adapter starts are kept there too. Transcript offsets
 * (`startMs`/`endMs`) are rebased so they stay absolute in the call's audio. A `failover` event tells the session
 * (which counts it); only when the last adapter fails is the failure passed on as unrecoverable.
 */
import { PcmRing } from '../audio/pcm-ring.js';
import { Channel } from '../util/channel.js';
import type { AsrAdapter, AsrEvent, AsrStream, AsrStreamOptions } from './types.js';

export interface FallbackAsrOptions {
  /** Unfinalised audio kept for replay into the next adapter, ms (bounded: older audio is overwritten). */
  replayMs: number;
  /**
   * When a final carries no `endMs`, audio up to this long before the final's arrival is still replayed on failover
   * (a final is never instantaneous; replaying a little too much beats losing the start of the next utterance).
   */
  unalignedKeepMs: number;
}

export const DEFAULT_FALLBACK_OPTIONS: FallbackAsrOptions = { replayMs: 10000, unalignedKeepMs: 300 };

/** Unrecoverable failures that move the call to the next adapter. */
interface Failure {
  code: string;
  message: string;
}

class FallbackStream implements AsrStream {
  readonly events = new Channel<AsrEvent>(256);
  private readonly chain: readonly AsrAdapter[];
  private readonly o: AsrStreamOptions;
  private readonly opts: FallbackAsrOptions;
  private readonly bytesPerMs: number;
  private readonly frameBytes: number;
  private readonly ring: PcmRing;
  private index = -1;
  private inner: AsrStream | undefined;
  private innerCtl: AbortController | undefined;
  /** Absolute byte position of the first byte the current inner stream was given. */
  private innerBasePos = 0;
  private closed = false;

  constructor(chain: readonly AsrAdapter[], o: AsrStreamOptions, opts: FallbackAsrOptions) {
    this.chain = chain;
    this.o = o;
    this.opts = opts;
    this.bytesPerMs = (o.call.sampleRateHz * 2) / 1000;
    this.frameBytes = this.bytesPerMs * 20;
    this.ring = new PcmRing(Math.round(opts.replayMs * this.bytesPerMs));
    o.signal.addEventListener('abort', () => this.close(), { once: true });
  }

  /** Start the first adapter that starts. Resolves once one is running, or rejects if none can start. */
  async begin(): Promise<void> {
    const failure = await this.next(undefined);
    if (failure) throw new Error(`no ASR adapter could start: ${failure.message}`);
  }

  write(frame: Buffer, receivedAtMs: number): void {
    if (this.closed) return;
    // The ring is needed while there is an adapter left to fail over to, and while the next one is starting.
    if (this.index < this.chain.length - 1 || this.inner === undefined) this.ring.append(frame);
    else this.ring.ack(this.ring.end + frame.length);
    const inner = this.inner;
    if (!inner) return;
    try {
      inner.write(frame, receivedAtMs);
    } catch (err) {
      this.innerThrew(inner, 'ASR_WRITE_FAILED', err);
    }
  }

  endOfSpeech(): void {
    const inner = this.inner;
    if (!inner?.endOfSpeech) return;
    try {
      inner.endOfSpeech();
    } catch (err) {
      this.innerThrew(inner, 'ASR_END_OF_SPEECH_FAILED', err);
    }
  }

  /** The current adapter's `write`/`endOfSpeech` threw: it failed unrecoverably, exactly like an unrecoverable error event. */
  private innerThrew(stream: AsrStream, code: string, err: unknown): void {
    if (this.closed || stream !== this.inner) return;
    const failure = { code, message: `${this.chain[this.index]!.name}: ${(err as Error)?.message ?? String(err)}` };
    const last = this.index >= this.chain.length - 1;
    this.events.push({ type: 'error', code: failure.code, message: failure.message, recoverable: !last });
    this.releaseInner();
    if (last) {
      this.events.push({ type: 'error', code: failure.code, message: `every ASR adapter failed; last: ${failure.message}`, recoverable: false });
      this.close();
      return;
    }
    void this.next(failure);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseInner();
    this.events.close();
  }

  /**
   * Move to the next adapter after `failure` (undefined at the start). Returns the last failure if the chain is
   * exhausted, after passing it on as unrecoverable.
   */
  private async next(failure: Failure | undefined): Promise<Failure | undefined> {
    let last = failure;
    while (!this.closed && this.index < this.chain.length - 1) {
      const from = this.index >= 0 ? this.chain[this.index]!.name : undefined;
      this.index++;
      const adapter = this.chain[this.index]!;
      const ctl = new AbortController();
      const onAbort = () => ctl.abort();
      this.o.signal.addEventListener('abort', onAbort, { once: true });
      ctl.signal.addEventListener('abort', () => this.o.signal.removeEventListener('abort', onAbort), { once: true });
      let stream: AsrStream;
      try {
        stream = await adapter.start({ call: this.o.call, signal: ctl.signal });
      } catch (err) {
        ctl.abort();
        last = { code: 'ASR_START_FAILED', message: `${adapter.name}: ${(err as Error)?.message ?? String(err)}` };
        this.events.push({ type: 'error', code: last.code, message: last.message, recoverable: this.index < this.chain.length - 1 });
        continue;
      }
      if (this.closed) {
        stream.close();
        ctl.abort();
        return undefined;
      }
      this.inner = stream;
      this.innerCtl = ctl;
      // Replay what the previous adapter never finalised (and what arrived while this one started), in frames.
      const pending = this.ring.pending();
      this.innerBasePos = this.ring.end - pending.length;
      try {
        for (let off = 0; off < pending.length; off += this.frameBytes)
          stream.write(pending.subarray(off, Math.min(pending.length, off + this.frameBytes)), performance.now());
      } catch (err) {
        // Failed on the replay: this adapter is out as well; the loop moves on to the next.
        this.releaseInner();
        last = { code: 'ASR_WRITE_FAILED', message: `${adapter.name}: ${(err as Error)?.message ?? String(err)}` };
        this.events.push({ type: 'error', code: last.code, message: last.message, recoverable: this.index < this.chain.length - 1 });
        continue;
      }
      if (from !== undefined) {
        this.events.push({
          type: 'failover',
          from,
          to: adapter.name,
          reason: last ? `${last.code}: ${last.message}` : 'failed',
          replayedMs: Math.round(pending.length / this.bytesPerMs),
        });
      }
      void this.pump(stream);
      return undefined;
    }
    if (last && !this.closed) {
      this.events.push({ type: 'error', code: last.code, message: `every ASR adapter failed; last: ${last.message}`, recoverable: false });
      this.close();
    }
    return last;
  }

  private async pump(stream: AsrStream): Promise<void> {
    let failure: Failure | undefined;
    try {
      for await (const e of stream.events) {
        if (this.closed || stream !== this.inner) return;
        if (e.type === 'error' && !e.recoverable) {
          failure = { code: e.code, message: e.message };
          // Still an error of this adapter: counted by the session; recoverable for the call while adapters remain.
          this.events.push({ ...e, recoverable: this.index < this.chain.length - 1 });
          break;
        }
        if (e.type === 'final') {
          this.events.push(this.rebase(e));
          continue;
        }
        this.events.push(e);
      }
    } catch (err) {
      failure = { code: 'ASR_STREAM_FAILED', message: (err as Error)?.message ?? String(err) };
    }
    if (this.closed || stream !== this.inner) return;
    failure ??= { code: 'ASR_STREAM_ENDED', message: `${this.chain[this.index]!.name} stream ended unexpectedly` };
    this.releaseInner();
    if (this.index >= this.chain.length - 1) {
      this.events.push({ type: 'error', code: failure.code, message: `every ASR adapter failed; last: ${failure.message}`, recoverable: false });
      this.close();
      return;
    }
    await this.next(failure);
  }

  /** Make a final's offsets absolute in the call's audio and forget the audio it covers. */
  private rebase(e: Extract<AsrEvent, { type: 'final' }>): AsrEvent {
    const baseMs = this.innerBasePos / this.bytesPerMs;
    if (e.endMs !== undefined) {
      const endPos = this.innerBasePos + Math.floor((e.endMs * this.bytesPerMs) / this.frameBytes) * this.frameBytes;
      this.ring.ack(endPos);
      if (baseMs === 0) return e;
      return { ...e, startMs: e.startMs === undefined ? undefined : e.startMs + baseMs, endMs: e.endMs + baseMs };
    }
    this.ring.ack(this.ring.end - Math.round(this.opts.unalignedKeepMs * this.bytesPerMs));
    return e;
  }

  private releaseInner(): void {
    const inner = this.inner;
    this.inner = undefined;
    try {
      inner?.close();
    } catch {
      /* adapter code: the stream is being dropped anyway */
    }
    this.innerCtl?.abort();
    this.innerCtl = undefined;
  }
}

/** Chain `adapters` in order; the name is `a>b>c`. */
export function createFallbackAsr(adapters: readonly AsrAdapter[], opts: FallbackAsrOptions = DEFAULT_FALLBACK_OPTIONS): AsrAdapter {
  if (adapters.length === 0) throw new Error('a fallback chain needs at least one adapter');
  return {
    name: adapters.map((a) => a.name).join('>'),
    capabilities: { interim: adapters.some((a) => a.capabilities.interim), sampleRatesHz: adapters[0]!.capabilities.sampleRatesHz },
    async start(o) {
      const s = new FallbackStream(adapters, o, opts);
      await s.begin();
      return s;
    },
    async close() {
      // A then() callback, so an adapter whose close() throws synchronously does not stop the others closing.
      await Promise.allSettled(adapters.map((a) => Promise.resolve().then(() => a.close?.())));
    },
  };
}
