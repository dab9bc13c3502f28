/**
 * Everything one call says, through ONE serialized queue: it owns the TTS requests, the reply writer of the reply
 * being built and (for clearing and closing) the pacer. Bot `say`s (streamed: consecutive says form one reply until
 * `end`), bot `play`s, the gateway's apology and goodbye are jobs run one after another, so two replies can never
 * interleave: an apology ends a reply the bot left half-streamed before it speaks, and a bot reply that arrives while the
 * apology is being spoken waits its turn (or is dropped once a goodbye has begun).
 *
 * `clear()` (barge-in) acts at once: it aborts the reply being built and clears playback. `pause()` (a barge-in onset)
 * and `resume()` (not confirmed) act on playback only: synthesis goes on, its audio waits in the pacer.
 *
 * TTS is adapter code, so every request is guarded: `synthesize` throwing, its iterator throwing, or no audio within
 * `TTS_FIRST_AUDIO_TIMEOUT_MS` (then the request's signal is aborted and the iterator abandoned) is counted
 * (`gateway_adapter_faults_total{kind="tts"}`), logged once per call and point, and the reply ends with what was
 * already written ("reply produced no audio" when nothing was). The call goes on; nothing waits on a silent TTS.
 */
import { frameBytesFor } from '../config/config.js';
import { Pacer } from '../egress/pacer.js';
import { ReplyWriter } from '../egress/reply-writer.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { FallbackTts, TtsFirstAudioTimeout } from '../tts/fallback.js';
import type { TtsAdapter, TtsChunk, TtsTextStream } from '../tts/types.js';
import type { Clock } from '../util/clock.js';
import { APOLOGY_TEXT, apologyTone } from './apology.js';
import type { AdapterBoundary } from './boundary.js';
import type { CallInfo } from './call-info.js';
import type { GoodbyeReason } from './turn.js';
import type { TimingSink } from './observer.js';

export interface SpeakerOwner extends TimingSink {
  /** A reply was opened (its synthesis begins). */
  onReplyOpened(replyId: number): void;
  /** A reply ended without any audio reaching the pacer (TTS failed or gave nothing): it is done now. */
  onReplySilent(replyId: number): void;
  /** Text of a bot `say` about to be spoken (for the console). */
  onSay(text: string): void;
}

export interface SpeakerDeps {
  tts: TtsAdapter | undefined;
  pacer: Pacer;
  call: CallInfo;
  /** The call's signal: every reply is aborted when the call ends. */
  signal: AbortSignal;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  boundary: AdapterBoundary;
  /** No audio from a TTS request within this long counts as a failure (0 = no bound). */
  ttsFirstAudioTimeoutMs: number;
}

/** Per-reply choices of the bot (sidecar protocol 1.1): its own id for the reply, and the reply's language and voice. */
export interface ReplyOptions {
  id?: string;
  language?: string;
  voice?: string;
}

/** Bot ids of replies not yet reported done; past this many the oldest is forgotten (a reply that never ends). */
const MAX_TAGS = 64;

interface Reply {
  id: number;
  /** The call as the TTS sees it for this reply (its own language, when the bot chose one). */
  ttsCall: CallInfo;
  voice: string | undefined;
  writer: ReplyWriter;
  ctl: AbortController;
  interruptible: boolean;
  endReceived: boolean;
  /** A streamed reply on a TTS with streaming input: its text stream and the task playing its audio. */
  stream?: { text: TtsTextStream | undefined; ended: boolean; pump: Promise<void> };
}

/**
 * The reason a finished reply's (or TTS request's) signal is aborted with: one shared `AbortError`, not the new one
 * `abort()` builds each time (a `DOMException` with a captured stack: 1.4 % of the event loop at 500 legs replying).
 */
const REPLY_OVER = new DOMException('The reply is over', 'AbortError');
const TIMEOUT = Symbol('timeout');
const ABORTED = Symbol('aborted');

export class Speaker {
  private readonly d: SpeakerDeps;
  private readonly owner: SpeakerOwner;
  private tail: Promise<void> = Promise.resolve();
  private reply: Reply | undefined;
  private replyId = 0;
  /** The rest of a bot reply that was interrupted is dropped up to its `end`. */
  private discardUntilEnd = false;
  /** Whether the audio now queued or playing may be interrupted (the flag of the newest reply written). */
  private playbackInterruptible = true;
  /** A goodbye has begun: bot output is dropped. */
  private goingAway = false;
  private closed = false;
  /** Bot ids of open replies, by reply number, until the session takes them for the reply's playback input. */
  private readonly tags = new Map<number, string>();
  /** How long a TTS request may go without audio: the adapter's own fallback gets a bound per adapter it tries. */
  private readonly ttsTimeoutMs: number;

  constructor(deps: SpeakerDeps, owner: SpeakerOwner) {
    this.d = deps;
    this.owner = owner;
    const n = deps.tts instanceof FallbackTts ? deps.tts.adapters.length : 1;
    this.ttsTimeoutMs = deps.ttsFirstAudioTimeoutMs > 0 ? deps.ttsFirstAudioTimeoutMs * n + (n > 1 ? 250 : 0) : 0;
  }

  /** Something to interrupt: audio queued or playing, or a reply being built. */
  get playing(): boolean {
    return this.d.pacer.active || this.reply !== undefined;
  }

  /** Nothing queued, playing or being built. */
  get idle(): boolean {
    return !this.d.pacer.active && this.reply === undefined;
  }

  /** Whether what is playing (or being built) may be cut by barge-in. */
  get interruptible(): boolean {
    return this.reply ? this.reply.interruptible : this.playbackInterruptible;
  }

  /** The reply being built, else the last one opened. */
  get currentReplyId(): number {
    return this.reply?.id ?? this.replyId;
  }

  /**
   * A bot `say`: queued; resolves when it has been written out (or dropped). `opts` (id, language, voice) are taken
   * from the piece that opens the reply.
   */
  say(text: string, end: boolean, interruptible: boolean, opts?: ReplyOptions): Promise<void> {
    return this.enqueue(() => this.doSay(text, end, interruptible, opts));
  }

  /** A bot `play`: one reply of raw audio, queued; `id` is the bot's id for it. */
  play(audio: Int16Array, sampleRateHz: number, interruptible: boolean, id?: string): Promise<void> {
    return this.enqueue(async () => {
      if (this.goingAway) return;
      this.discardUntilEnd = false;
      if (this.reply) await this.endStreamedReply(this.reply);
      const r = this.openReply(interruptible, id === undefined ? undefined : { id });
      try {
        await r.writer.write(audio, sampleRateHz, r.ctl.signal);
      } catch (err) {
        this.d.boundary.fault('bot', 'output', err, 'BOT_BAD_AUDIO', true);
      }
      this.endReply(r);
    });
  }

  /** The bot's `clear`, in order with its other output. */
  clearQueued(): Promise<void> {
    return this.enqueue(async () => {
      this.clear();
      this.discardUntilEnd = false;
    });
  }

  /** End the reply being built (e.g. the bot hangs up after it), in order with the bot's other output. */
  endQueued(): Promise<void> {
    return this.enqueue(async () => {
      if (this.reply) await this.endStreamedReply(this.reply);
    });
  }

  /** Now (barge-in, goodbye): abort the reply being built and clear playback. */
  clear(): void {
    const r = this.reply;
    if (r) {
      r.ctl.abort();
      r.writer.abort();
      this.reply = undefined;
      // The rest of a reply the bot is still streaming belongs to the interrupted reply: drop it up to its end.
      this.discardUntilEnd = !r.endReceived;
    }
    this.d.pacer.clear();
  }

  /** The bot's id for reply `replyId` (once: it is forgotten as it is taken). */
  takeTag(replyId: number): string | undefined {
    const tag = this.tags.get(replyId);
    if (tag !== undefined) this.tags.delete(replyId);
    return tag;
  }

  /** Now (barge-in onset): stop sending playback; what is queued waits. `clear()` ends a pause too. */
  pause(): void {
    this.d.pacer.pause();
  }

  /** Now (the barge-in was not confirmed): playback continues from where it paused. */
  resume(): void {
    this.d.pacer.resume();
  }

  /**
   * The bot failed or did not answer: queue the apology (spoken with TTS, else a tone; not interruptible). A reply
   * the bot left half-streamed is ended first; bot output arriving meanwhile waits until the apology is written.
   */
  apology(why: string, failures: number): Promise<void> {
    this.d.metrics.adapterErrors.inc({ stage: 'bot', code: 'APOLOGY' });
    this.d.log.warn({ why, failures }, 'apologising to the caller');
    return this.enqueue(async () => {
      if (this.goingAway) return;
      if (this.reply) await this.endStreamedReply(this.reply);
      this.discardUntilEnd = false;
      await this.gatewayReply(APOLOGY_TEXT);
    });
  }

  /**
   * Say goodbye: bot output is dropped from now on, playback is cleared, and the goodbye is queued (spoken with TTS;
   * without, a tone when the bot failed, nothing at the drain). `beforeEnd` runs once it is written, before its reply ends.
   */
  goodbye(why: GoodbyeReason, text: string, beforeEnd: () => void): Promise<void> {
    const toneWithoutTts = why !== 'drain';
    this.d.log.info({ why }, why === 'drain' ? 'saying goodbye: gateway shutting down' : 'saying goodbye: the bot keeps failing');
    this.goingAway = true;
    this.clear();
    return this.enqueue(async () => {
      if (!this.d.tts && !toneWithoutTts) return beforeEnd();
      await this.gatewayReply(text, beforeEnd);
    });
  }

  /** The call ended: abort everything; queued jobs do nothing. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.goingAway = true;
    if (this.reply) this.reply.writer.abort();
    this.reply = undefined;
    this.tags.clear();
    this.d.pacer.close();
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    const run = () => (this.closed ? undefined : job());
    // Jobs catch adapter faults themselves; anything else is a bug of ours, logged, and never stops the queue.
    const p = this.tail.then(run).catch((err) => this.d.log.error({ err: { message: (err as Error)?.message ?? String(err) } }, 'speaker job failed'));
    this.tail = p;
    return p;
  }

  private async doSay(text: string, end: boolean, interruptible: boolean, opts: ReplyOptions | undefined): Promise<void> {
    if (this.goingAway) return;
    if (this.discardUntilEnd) {
      if (end) this.discardUntilEnd = false;
      return;
    }
    const r = this.reply ?? this.openReply(interruptible, opts);
    if (end) r.endReceived = true;
    if (this.d.tts) {
      this.owner.onSay(text);
      // A reply streamed in pieces goes through one text stream when the TTS takes streaming input.
      if (this.d.tts.openStream && (r.stream || !end)) this.streamPiece(text, r);
      else await this.speak(text, r);
    } else this.d.log.warn({ text }, 'no TTS adapter: text not spoken');
    if (end) await this.endStreamedReply(r);
  }

  /** Push one piece of a streamed reply into its TTS text stream, opened (with the task playing it) on the first. */
  private streamPiece(text: string, r: Reply): void {
    const tts = this.d.tts;
    if (!tts?.openStream) return;
    if (!r.stream) {
      const st: NonNullable<Reply['stream']> = { text: undefined, ended: false, pump: Promise.resolve() };
      r.stream = st;
      st.pump = this.speak(
        text,
        r,
        (signal) => {
          st.text = tts.openStream!({ call: r.ttsCall, voice: r.voice, signal });
          return st.text.audio;
        },
        () => st.ended,
      );
    }
    const st = r.stream;
    if (!st.text || st.ended || !text) return;
    try {
      st.text.push(text);
    } catch (err) {
      if (!r.ctl.signal.aborted) this.d.boundary.fault('tts', 'stream', err, 'TTS_FAILED', true);
    }
  }

  /** End reply `r`, once the audio of its text stream (if any) is all written. */
  private async endStreamedReply(r: Reply): Promise<void> {
    const st = r.stream;
    if (st && !st.ended) {
      st.ended = true;
      try {
        st.text?.end();
      } catch (err) {
        if (!r.ctl.signal.aborted) this.d.boundary.fault('tts', 'stream', err, 'TTS_FAILED', true);
      }
      await st.pump;
    }
    this.endReply(r);
  }

  /** An apology or goodbye: one non-interruptible reply of its own. */
  private async gatewayReply(text: string, beforeEnd?: () => void): Promise<void> {
    const r = this.openReply(false);
    r.endReceived = true;
    if (this.d.tts) await this.speak(text, r);
    else {
      const rate = this.d.call.sampleRateHz;
      await r.writer.write(apologyTone(rate), rate, r.ctl.signal);
    }
    beforeEnd?.();
    this.endReply(r);
  }

  private openReply(interruptible: boolean, opts?: ReplyOptions): Reply {
    const id = ++this.replyId;
    const call = this.d.call;
    if (opts?.id !== undefined) {
      if (this.tags.size >= MAX_TAGS) this.tags.delete(this.tags.keys().next().value as number);
      this.tags.set(id, opts.id);
    }
    const ctl = new AbortController();
    const callSignal = this.d.signal;
    const onAbort = () => ctl.abort(callSignal.reason);
    callSignal.addEventListener('abort', onAbort, { once: true });
    ctl.signal.addEventListener('abort', () => callSignal.removeEventListener('abort', onAbort), { once: true });
    const rate = this.d.call.sampleRateHz;
    const writer = new ReplyWriter(this.d.pacer, rate, frameBytesFor(rate), id);
    const ttsCall = opts?.language && opts.language !== call.language ? { ...call, language: opts.language } : call;
    const r: Reply = { id, ttsCall, voice: opts?.voice ?? call.voice, writer, ctl, interruptible, endReceived: false };
    this.reply = r;
    this.playbackInterruptible = interruptible;
    this.owner.onReplyOpened(id);
    return r;
  }

  private endReply(r: Reply): void {
    if (this.reply === r) this.reply = undefined;
    const aborted = r.ctl.signal.aborted;
    if (!aborted) r.writer.end();
    r.ctl.abort(REPLY_OVER); // releases the listener on the call's signal
    // A reply that produced no audio (TTS failed or returned nothing) never reaches the pacer: close it here.
    if (!aborted && r.writer.frames === 0) {
      this.d.log.warn({ replyId: r.id }, 'reply produced no audio');
      this.owner.onReplySilent(r.id);
    }
  }

  /**
   * Synthesise `text` into reply `r`, guarded; returns when done, failed, timed out or aborted. `open` replaces the
   * plain `synthesize` (a text stream's audio); `bounded` says when a wait for audio is bounded (a text stream waits
   * unbounded for the bot's next piece once its first audio came, until the stream is ended).
   */
  private async speak(text: string, r: Reply, open?: (signal: AbortSignal) => AsyncIterable<TtsChunk>, bounded?: () => boolean): Promise<void> {
    const { tts, clock, boundary } = this.d;
    if (!tts) return;
    const req = new AbortController();
    const onAbort = () => req.abort(r.ctl.signal.reason);
    r.ctl.signal.addEventListener('abort', onAbort, { once: true });
    const t0 = clock.now();
    let it: AsyncIterator<TtsChunk>;
    try {
      it = (open ? open(req.signal) : tts.synthesize({ text, call: r.ttsCall, voice: r.voice, signal: req.signal }))[Symbol.asyncIterator]();
    } catch (err) {
      r.ctl.signal.removeEventListener('abort', onAbort);
      if (!r.ctl.signal.aborted) boundary.fault('tts', 'synthesize', err, 'TTS_FAILED', true);
      return;
    }
    let chunks = 0;
    let early = true;
    try {
      for (;;) {
        const res = await this.next(it, r.ctl.signal, chunks === 0 || !bounded || bounded());
        if (res === ABORTED || r.ctl.signal.aborted) break;
        if (res === TIMEOUT) {
          const point = chunks === 0 ? 'first-audio-timeout' : 'stream-timeout';
          boundary.fault(
            'tts',
            point,
            new Error(`no audio from the TTS within ${this.ttsTimeoutMs} ms`),
            chunks === 0 ? 'TTS_FIRST_AUDIO_TIMEOUT' : 'TTS_STALLED',
            true,
          );
          break;
        }
        if (res.done) {
          early = false;
          break;
        }
        if (chunks++ === 0) {
          const now = clock.now();
          this.d.metrics.ttsFirstAudioLatency.observe((now - t0) / 1000);
          this.owner.onTiming?.('tts-first-audio', t0, now);
        }
        const c = res.value;
        await r.writer.write(c.audio, c.sampleRateHz, r.ctl.signal);
      }
    } catch (err) {
      // Adapters that know why (e.g. AZURE_AUTHENTICATION_FAILURE) say so in `code`; the rest count as TTS_FAILED.
      early = false;
      if (!r.ctl.signal.aborted) boundary.fault('tts', err instanceof TtsFirstAudioTimeout ? 'first-audio-timeout' : 'stream', err, 'TTS_FAILED', true);
    } finally {
      r.ctl.signal.removeEventListener('abort', onAbort);
      if (!req.signal.aborted) req.abort(REPLY_OVER);
    }
    // An abandoned iterator (timeout, abort) is told to stop; it may never answer, so nothing waits for it.
    if (early && it.return) {
      try {
        void Promise.resolve(it.return()).catch(() => {});
      } catch {
        /* adapter code: ignored, the request is over */
      }
    }
  }

  /** The iterator's next chunk, or TIMEOUT when none comes within the bound, or ABORTED when the reply is cut. */
  private next(it: AsyncIterator<TtsChunk>, signal: AbortSignal, bounded = true): Promise<IteratorResult<TtsChunk> | typeof TIMEOUT | typeof ABORTED> {
    const p = it.next();
    const ms = bounded ? this.ttsTimeoutMs : 0;
    const clock = this.d.clock;
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = ms > 0 ? clock.setTimer(() => finish(TIMEOUT), ms) : undefined;
      const onAbort = () => finish(ABORTED);
      signal.addEventListener('abort', onAbort, { once: true });
      function finish(v: IteratorResult<TtsChunk> | typeof TIMEOUT | typeof ABORTED, err?: unknown, failed = false): void {
        if (done) return;
        done = true;
        if (timer !== undefined) clock.clearTimer(timer);
        signal.removeEventListener('abort', onAbort);
        if (failed) reject(err);
        else resolve(v);
      }
      Promise.resolve(p).then(
        (v) => finish(v),
        (err) => finish(ABORTED, err, true),
      );
    });
  }
}
