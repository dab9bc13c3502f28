/**
 * One call: the ONLY place the stages are wired together.
 *
 *   leg ─► jitter buffer ─(20 ms tick)─► VAD ─► ASR stream ─► bot ─► TTS ─► reply writer ─► pacer ─► leg
 *
 * Owns one AbortController (aborted at close; every adapter gets its signal), and closes everything exactly once.
 * Per frame it does only: jitter-buffer push, VAD, ASR write, utterance capture. Everything else is per event.
 */
import { frameBytesFor, LANGUAGE_TAG, VOICE_NAME, type Config } from '../config/config.js';
import { CloseCode } from '../errors.js';
import { JitterBuffer, type JitterSink } from '../ingress/jitter-buffer.js';
import { Pacer, type PacerEvents } from '../egress/pacer.js';
import { ReplyWriter } from '../egress/reply-writer.js';
import type { VonageLeg, LegListener } from '../leg/leg.js';
import type { Handshake, LegEvent } from '../leg/handshake.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Clock } from '../util/clock.js';
import type { TickListener, Ticker } from '../util/ticker.js';
import { CallVad, VadEvent } from '../vad/vad.js';
import type { AsrAdapter } from '../asr/types.js';
import { AsrFeed, type AsrFeedOwner } from './asr-feed.js';
import type { BotAdapter, BotInput, BotOutput, BotSession } from '../bot/types.js';
import type { TtsAdapter } from '../tts/types.js';
import type { CallInfo } from './call-info.js';
import { UtteranceCapture } from './utterance-capture.js';
import type { CallRecording, RecordingStore } from '../recording/store.js';
import { RecordingPacerSink } from '../recording/pacer-tap.js';
import { APOLOGY_TEXT, GOODBYE_TEXT, apologyTone } from './apology.js';
import type { CallControl } from '../vonage/call-control.js';
import type { CallObserver } from './observer.js';

export interface SessionDeps {
  config: Config;
  clock: Clock;
  ticker: Ticker;
  metrics: Metrics;
  logger: Logger;
  asr: AsrAdapter | undefined;
  bot: BotAdapter;
  tts: TtsAdapter | undefined;
  /** Call recordings (RECORDING_DIR); undefined = off. */
  recordings?: RecordingStore;
  /** Vonage REST call control (transfer, dtmf, hangup); undefined when not configured. */
  callControl?: CallControl;
  /** Telemetry observer (the console); events are built only while it is `active`. */
  observer?: CallObserver;
}

export type CallState = 'starting' | 'listening' | 'thinking' | 'speaking' | 'closed';

/** What the session reports when it ends (also logged). */
export interface CallSummary {
  callId: string;
  durationMs: number;
  closeCode: number;
  closeReason: string;
  framesIn: number;
  framesOut: number;
  jitter: JitterBuffer['stats'];
  pacer: Pacer['stats'];
  turnLatenciesMs: number[];
  bargeIns: number;
  replies: Array<{ id: number; frames: number; heardFrames: number; interrupted: boolean }>;
}

const PREROLL_MS = 200;
const MAX_KEPT = 32;

export class CallSession implements LegListener, JitterSink, TickListener, PacerEvents, AsrFeedOwner {
  readonly info: CallInfo;
  readonly startedAtMs: number;
  state: CallState = 'starting';
  private readonly d: SessionDeps;
  private readonly leg: VonageLeg;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly jb: JitterBuffer;
  private readonly pacer: Pacer;
  private readonly vad: CallVad;
  private readonly capture: UtteranceCapture | undefined;
  private readonly asr: AsrFeed | undefined;
  private botSession: BotSession | undefined;
  private botBacklog: BotInput[] | undefined = [];
  private replyId = 0;
  private reply: { id: number; writer: ReplyWriter; ctl: AbortController; interruptible: boolean; endReceived: boolean } | undefined;
  private discardUntilEnd = false;
  /** Whether the audio now queued or playing may be interrupted (the flag of the newest reply written). */
  private playbackInterruptible = true;
  /** Arrival of the caller's last voiced frame (−1: none yet): where their speech really ended (before endpointing). */
  lastVoicedAtMs = -1;
  /** The caller spoke since the last reply started: the next reply's first frame closes the turn. */
  private turnOpen = false;
  /** Voiced ms of the current utterance when the playing reply started: only speech after that can barge in. */
  private speechMsAtReply = 0;
  private botInputAtMs = -1;
  private bargedThisUtterance = false;
  private hangupPending = false;
  private hangupCode: number = CloseCode.NORMAL;
  private hangupReason = 'bot hung up';
  /** The call's recording (caller left, bot right), when recording is on. */
  private readonly rec: CallRecording | undefined;
  /** A final transcript the bot has not answered since this time (−1: none); past BOT_REPLY_TIMEOUT_MS, apologise. */
  private botWaitSinceMs = -1;
  /** The drain deadline passed: the goodbye is playing; bot output is ignored. */
  private goingAway = false;
  private hangupSent = false;
  private closedFlag = false;
  private readonly turnLatenciesMs: number[] = [];
  private readonly replies: CallSummary['replies'] = [];
  private bargeIns = 0;
  /** Called once after the session has closed (the tracker forgets it). */
  onClosed: ((s: CallSession, summary: CallSummary) => void) | undefined;

  constructor(leg: VonageLeg, handshake: Handshake, deps: SessionDeps) {
    this.d = deps;
    this.leg = leg;
    this.startedAtMs = deps.clock.now();
    const m = handshake.metadata;
    const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
    const cfg = deps.config;
    this.info = Object.freeze({
      callId: str(m.uuid) ?? leg.id,
      conversationUuid: str(m.conversation_uuid),
      from: str(m.from),
      to: str(m.to),
      sampleRateHz: handshake.sampleRateHz,
      // The handshake is network input: a language or voice that is not well-formed falls back to the defaults.
      language: LANGUAGE_TAG.test(str(m.language) ?? '') ? (m.language as string) : cfg.language,
      voice: VOICE_NAME.test(str(m.voice) ?? '') ? (m.voice as string) : cfg.ttsVoice || undefined,
      metadata: m,
    });
    this.log = deps.logger.child({ call: this.info.callId, conv: this.info.conversationUuid, leg: leg.id });
    leg.setLogger(this.log);
    const frameBytes = frameBytesFor(handshake.sampleRateHz);
    this.rec = deps.recordings?.create(this.info, frameBytes, this.log);
    this.jb = new JitterBuffer(
      { frameBytes, targetFrames: cfg.jitterTargetMs / 20, capacityFrames: Math.floor(cfg.jitterCapacityMs / 20), fillSilence: cfg.jitterFillSilence },
      this,
    );
    this.pacer = new Pacer(
      { frameBytes, leadFrames: Math.max(1, Math.round(cfg.pacerLeadMs / 20)), capacityFrames: 3000, watermarkBytes: cfg.pacerWatermarkBytes },
      this.rec ? new RecordingPacerSink(leg, this.rec) : leg, deps.ticker, deps.clock, this,
    );
    this.vad = new CallVad({ sampleRateHz: handshake.sampleRateHz, mode: cfg.vadMode, minSpeechMs: cfg.vadMinSpeechMs, silenceMs: cfg.vadSilenceMs });
    if (deps.bot.capabilities.wantsUtteranceAudio) this.capture = new UtteranceCapture(PREROLL_MS, cfg.maxUtteranceMs, frameBytes);
    this.asr = deps.asr ? new AsrFeed({ adapter: deps.asr, call: this.info, signal: this.abort.signal, clock: deps.clock, metrics: deps.metrics, log: this.log }, this) : undefined;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The call's child logger. */
  get logger(): Logger {
    return this.log;
  }

  /** Live per-call counters (metrics scrapes sum them over live calls). */
  get jitter(): JitterBuffer['stats'] {
    return this.jb.stats;
  }

  get pacerStats(): Pacer['stats'] {
    return this.pacer.stats;
  }

  /** Start the adapters and the 20 ms playout. Failures are logged; the call goes on with what started. */
  start(): void {
    this.d.ticker.add(this);
    this.rec?.start();
    this.log.info({ from: this.info.from, to: this.info.to, rate: this.info.sampleRateHz, language: this.info.language, voice: this.info.voice }, 'call started');
    if (this.d.observer?.active) this.d.observer.event(this, { type: 'call-start' });
    const signal = this.abort.signal;
    this.asr?.start();
    Promise.resolve()
      .then(() => this.d.bot.start({ call: this.info, signal, hasAsr: !!this.d.asr, hasTts: !!this.d.tts }))
      .then((bot) => {
        if (this.closedFlag) return bot.close();
        this.botSession = bot;
        bot.input({ type: 'start' });
        for (const e of this.botBacklog ?? []) bot.input(e);
        this.botBacklog = undefined;
        this.setState('listening');
        void this.runBot(bot);
      })
      .catch((err) => {
        this.adapterError('bot', 'BOT_START_FAILED', err, false);
        this.close(CloseCode.ADAPTER_FAILED, 'bot adapter failed to start');
      });
  }

  // ── leg → ingress ────────────────────────────────────────────────────────────
  onAudio(frame: Buffer, arrivalMs: number): void {
    this.jb.push(frame, arrivalMs);
  }

  onEvent(e: LegEvent): void {
    const label = e.kind === 'unknown' ? 'unknown' : e.kind;
    this.d.metrics.legEvents.inc({ event: label });
    switch (e.kind) {
      case 'dtmf':
        this.log.info({ digit: e.digit, durationMs: e.durationMs }, 'dtmf');
        if (this.d.observer?.active) this.d.observer.event(this, { type: 'dtmf', digit: e.digit, durationMs: e.durationMs });
        this.toBot({ type: 'dtmf', digit: e.digit, durationMs: e.durationMs }, true);
        return;
      case 'notify':
        if (!this.pacer.onNotify(e.payload)) this.log.debug({ payload: e.payload }, 'notify not ours');
        return;
      case 'cleared':
        this.log.debug('vonage cleared its buffer');
        return;
      case 'unknown':
        this.log.info({ event: e.event }, 'unknown leg event ignored');
        return;
      case 'malformed':
        this.log.warn({ reason: e.reason }, 'malformed text message ignored');
        return;
    }
  }

  onClose(code: number, reason: string, byGateway: boolean): void {
    this.log.info({ code, reason, byGateway }, 'leg closed');
    this.close(code, reason);
  }

  // ── 20 ms playout ─────────────────────────────────────────────────────────────
  onTick(nowMs: number, periods: number): void {
    this.jb.tick(periods);
    this.rec?.tick(periods);
    const wait = this.botWaitSinceMs;
    if (wait >= 0 && nowMs - wait >= this.d.config.botReplyTimeoutMs) this.apologise('the bot did not answer in time');
  }

  onFrame(frame: Buffer, receivedAtMs: number): void {
    this.asr?.write(frame, receivedAtMs);
    this.capture?.push(frame);
    this.rec?.pushIn(frame);
    const ev = this.vad.push(frame);
    if (this.vad.voiced) this.lastVoicedAtMs = receivedAtMs;
    if (ev === VadEvent.SpeechStart) this.onSpeechStart();
    else if (ev === VadEvent.SpeechEnd) this.onSpeechEnd();
    else if (this.vad.endpointer.speaking && !this.bargedThisUtterance) this.maybeBargeIn();
  }

  onGap(silence: Buffer | undefined): void {
    if (silence) this.onFrame(silence, this.d.clock.now());
  }

  private onSpeechStart(): void {
    this.bargedThisUtterance = false;
    this.turnOpen = true;
    this.speechMsAtReply = 0;
    this.capture?.start();
    this.toBot({ type: 'speech-start' }, false);
    this.maybeBargeIn();
  }

  private onSpeechEnd(): void {
    const ep = this.vad.endpointer;
    this.asr?.endOfSpeech();
    const audio = this.capture?.finish(this.d.config.vadSilenceMs - 100);
    this.toBot({ type: 'speech-end', durationMs: ep.utteranceMs, audio, sampleRateHz: this.info.sampleRateHz }, true);
    if (this.state === 'listening') this.setState('thinking');
  }

  private maybeBargeIn(): void {
    const cfg = this.d.config;
    // Only speech newer than the reply counts: the tail of the utterance being answered must not cut its own answer.
    if (!cfg.bargeIn || this.vad.endpointer.speechMs - this.speechMsAtReply < cfg.bargeInMinSpeechMs) return;
    const r = this.reply;
    // Something to interrupt: audio queued or playing, or a reply being synthesised.
    if (!this.pacer.active && !r) return;
    if (!(r ? r.interruptible : this.playbackInterruptible)) return;
    this.bargedThisUtterance = true;
    this.bargeIns++;
    this.d.metrics.bargeIns.inc();
    this.log.info({ replyId: r?.id ?? this.replyId }, 'barge-in');
    if (this.d.observer?.active) this.d.observer.event(this, { type: 'barge-in', replyId: r?.id ?? this.replyId });
    this.interruptReply();
  }

  /** Speech already under way when a reply begins cannot interrupt it; only what comes after counts. */
  private markSpeechAtReply(): void {
    const ep = this.vad.endpointer;
    this.speechMsAtReply = ep.speaking ? ep.speechMs : 0;
  }

  private interruptReply(): void {
    const r = this.reply;
    if (r) {
      r.ctl.abort();
      r.writer.abort();
      this.reply = undefined;
      // The rest of a reply the bot is still streaming belongs to the interrupted reply: drop it up to its end.
      this.discardUntilEnd = !r.endReceived;
    }
    this.pacer.clear();
    this.setState('listening');
  }

  // ── pacer → session ──────────────────────────────────────────────────────────
  onSegmentStart(id: number, atMs: number): void {
    this.markSpeechAtReply();
    let turnMs: number | undefined;
    // Turn latency counts the endpointing silence too: it is silence the caller hears.
    if (this.turnOpen && this.lastVoicedAtMs >= 0) {
      const ms = atMs - this.lastVoicedAtMs;
      this.turnOpen = false;
      this.d.metrics.turnLatency.observe(ms / 1000);
      if (this.turnLatenciesMs.length < MAX_KEPT) this.turnLatenciesMs.push(Math.round(ms));
      this.log.info({ replyId: id, turnLatencyMs: Math.round(ms) }, 'reply started');
      turnMs = Math.round(ms);
    }
    if (this.d.observer?.active) this.d.observer.event(this, { type: 'reply-start', replyId: id, turnLatencyMs: turnMs });
    this.setState('speaking');
  }

  onSegmentPlayed(id: number, frames: number): void {
    this.replyDone(id, frames, frames, false);
  }

  onSegmentInterrupted(id: number, heardFrames: number, frames: number): void {
    this.replyDone(id, heardFrames, frames, true);
  }

  private replyDone(id: number, heard: number, frames: number, interrupted: boolean): void {
    if (this.replies.length < MAX_KEPT) this.replies.push({ id, frames, heardFrames: heard, interrupted });
    this.log.info({ replyId: id, heardMs: heard * 20, totalMs: frames * 20, interrupted }, interrupted ? 'reply interrupted' : 'reply played');
    this.toBot({ type: 'playback', replyId: id, interrupted, heardMs: heard * 20, totalMs: frames * 20 }, false);
    if (!this.pacer.active && !this.reply && !this.closedFlag) {
      this.setState('listening');
      if (this.hangupPending) this.hangUp();
    }
  }

  // ── ASR and bot loops ────────────────────────────────────────────────────────
  /** From the ASR feed: a transcript goes to the bot (and the console); a final starts the bot's reply clock. */
  onTranscript(text: string, final: boolean): void {
    if (this.closedFlag) return;
    if (final && this.d.tts && this.d.config.botReplyTimeoutMs > 0 && this.botWaitSinceMs < 0 && text.trim()) this.botWaitSinceMs = this.d.clock.now();
    if (this.d.observer?.active) this.d.observer.event(this, { type: 'transcript', text, final });
    this.toBot({ type: 'transcript', text, final }, final);
  }

  onAdapterError(code: string, err: unknown, recoverable: boolean): void {
    this.adapterError('asr', code, err, recoverable);
  }

  private async runBot(bot: BotSession): Promise<void> {
    try {
      for await (const out of bot.output) {
        if (this.closedFlag) break;
        this.botWaitSinceMs = -1;
        if (this.botInputAtMs >= 0) {
          this.d.metrics.botFirstTextLatency.observe((this.d.clock.now() - this.botInputAtMs) / 1000);
          this.botInputAtMs = -1;
        }
        await this.handleBotOutput(out);
      }
    } catch (err) {
      this.adapterError('bot', 'BOT_FAILED', err, false);
      this.apologise('the bot failed');
    }
  }

  /** The bot failed or did not answer: tell the caller (spoken with TTS, else a tone). The call goes on. */
  private apologise(why: string): void {
    this.botWaitSinceMs = -1;
    if (this.closedFlag || this.goingAway) return;
    this.d.metrics.adapterErrors.inc({ stage: 'bot', code: 'APOLOGY' });
    this.log.warn({ why }, 'apologising to the caller');
    if (this.reply) this.endReply(this.reply); // a reply a stalled bot left half-streamed
    this.discardUntilEnd = false;
    const rate = this.info.sampleRateHz;
    const out: BotOutput = this.d.tts
      ? { type: 'say', text: APOLOGY_TEXT, end: true, interruptible: false }
      : { type: 'play', audio: apologyTone(rate), sampleRateHz: rate, interruptible: false };
    this.handleBotOutput(out).catch((err) => this.adapterError('tts', 'APOLOGY_FAILED', err, true));
  }

  /**
   * The drain deadline passed: stop the bot, say a closing message (when TTS is on), and close with 1001 once it has
   * played (at once without TTS). The gateway bounds the wait and closes whatever is left.
   */
  goodbye(text = GOODBYE_TEXT): void {
    if (this.closedFlag || this.goingAway) return;
    this.goingAway = true;
    this.botWaitSinceMs = -1;
    this.hangupCode = CloseCode.GOING_AWAY;
    this.hangupReason = 'gateway shutting down';
    this.botSession?.close();
    this.interruptReply();
    if (!this.d.tts) return this.close(CloseCode.GOING_AWAY, this.hangupReason);
    this.log.info('saying goodbye: gateway shutting down');
    const r = this.openReply(false);
    r.endReceived = true;
    void this.speak(text, r).then(() => {
      this.hangupPending = true;
      this.endReply(r);
      if (!this.closedFlag && !this.pacer.active && !this.reply) this.close(this.hangupCode, this.hangupReason);
    });
  }

  private async handleBotOutput(out: BotOutput): Promise<void> {
    if (this.goingAway) return;
    switch (out.type) {
      case 'say': {
        if (this.discardUntilEnd) {
          if (out.end) this.discardUntilEnd = false;
          return;
        }
        const r = this.reply ?? this.openReply(out.interruptible !== false);
        if (out.end) r.endReceived = true;
        if (this.d.observer?.active && this.d.tts) this.d.observer.event(this, { type: 'bot-say', text: out.text });
        if (this.d.tts) await this.speak(out.text, r);
        else this.log.warn({ text: out.text }, 'no TTS adapter: text not spoken');
        if (out.end) this.endReply(r);
        return;
      }
      case 'play': {
        this.discardUntilEnd = false;
        if (this.reply) this.endReply(this.reply);
        const r = this.openReply(out.interruptible !== false);
        await r.writer.write(out.audio, out.sampleRateHz, r.ctl.signal);
        this.endReply(r);
        return;
      }
      case 'clear':
        this.interruptReply();
        this.discardUntilEnd = false;
        return;
      case 'hangup':
        if (this.reply) this.endReply(this.reply);
        this.log.info({ reason: out.reason, immediate: !!out.immediate }, 'bot hangup');
        if (out.immediate || !this.pacer.active) this.hangUp();
        else this.hangupPending = true;
        return;
      case 'transfer':
      case 'dtmf':
        if (this.d.callControl) {
          if (out.type === 'transfer') await this.d.callControl.transfer(this.info, out.ncco, this.log);
          else await this.d.callControl.dtmf(this.info, out.digits, this.log);
          return;
        }
        this.log.warn({ action: out.type }, 'bot action needs Vonage call control (not configured): ignored');
        this.d.metrics.adapterErrors.inc({ stage: 'bot', code: 'ACTION_UNSUPPORTED' });
        return;
    }
  }

  /** End the call: with call control, a REST hangup first (ends the whole call, not just our leg), then the leg. */
  private hangUp(): void {
    const cc = this.d.callControl;
    // A goodbye at the drain deadline (1001) just closes the leg; a bot's hangup ends the call over REST when it can.
    if (!cc || this.hangupCode !== CloseCode.NORMAL) return this.close(this.hangupCode, this.hangupReason);
    if (this.hangupSent) return;
    this.hangupSent = true;
    void cc.hangup(this.info, this.log).then(() => this.close(this.hangupCode, this.hangupReason));
  }

  private openReply(interruptible: boolean) {
    const id = ++this.replyId;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    this.abort.signal.addEventListener('abort', onAbort, { once: true });
    ctl.signal.addEventListener('abort', () => this.abort.signal.removeEventListener('abort', onAbort), { once: true });
    const writer = new ReplyWriter(this.pacer, this.info.sampleRateHz, frameBytesFor(this.info.sampleRateHz), id);
    this.reply = { id, writer, ctl, interruptible, endReceived: false };
    this.playbackInterruptible = interruptible;
    this.markSpeechAtReply();
    if (this.state !== 'speaking') this.setState('thinking');
    return this.reply;
  }

  private endReply(r: NonNullable<CallSession['reply']>): void {
    if (this.reply === r) this.reply = undefined;
    const aborted = r.ctl.signal.aborted;
    if (!aborted) r.writer.end();
    r.ctl.abort(); // releases the listener on the call's signal
    // A reply that produced no audio (TTS failed or returned nothing) never reaches the pacer: close it here.
    if (!aborted && r.writer.frames === 0) {
      this.log.warn({ replyId: r.id }, 'reply produced no audio');
      this.replyDone(r.id, 0, 0, false);
    }
  }

  private async speak(text: string, r: NonNullable<CallSession['reply']>): Promise<void> {
    const tts = this.d.tts as TtsAdapter;
    const t0 = this.d.clock.now();
    let first = true;
    try {
      for await (const chunk of tts.synthesize({ text, call: this.info, voice: this.info.voice, signal: r.ctl.signal })) {
        if (r.ctl.signal.aborted) break;
        if (first) {
          first = false;
          this.d.metrics.ttsFirstAudioLatency.observe((this.d.clock.now() - t0) / 1000);
        }
        await r.writer.write(chunk.audio, chunk.sampleRateHz, r.ctl.signal);
      }
    } catch (err) {
      // Adapters that know why (e.g. AZURE_AUTHENTICATION_FAILURE) say so in `code`; the rest count as TTS_FAILED.
      const code = (err as { code?: unknown })?.code;
      if (!r.ctl.signal.aborted) this.adapterError('tts', typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(code) ? code : 'TTS_FAILED', err, true);
    }
  }

  private toBot(e: BotInput, expectsReply: boolean): void {
    if (expectsReply) this.botInputAtMs = this.d.clock.now();
    if (this.botSession) this.botSession.input(e);
    else if (this.botBacklog && this.botBacklog.length < MAX_KEPT) this.botBacklog.push(e);
  }

  private adapterError(stage: string, code: string, err: unknown, recoverable: boolean): void {
    if (this.closedFlag) return;
    this.d.metrics.adapterErrors.inc({ stage, code });
    this.log.error({ stage, code, recoverable, err: { message: (err as Error)?.message ?? String(err) } }, `${stage} adapter error`);
  }

  private setState(s: CallState): void {
    if (this.state === s || this.state === 'closed') return;
    this.state = s;
    if (this.d.observer?.active) this.d.observer.event(this, { type: 'state', state: s });
  }

  /** Snapshot for the console, logs and tests. */
  summary(code = 0, reason = ''): CallSummary {
    return {
      callId: this.info.callId,
      durationMs: Math.round(this.d.clock.now() - this.startedAtMs),
      closeCode: code,
      closeReason: reason,
      framesIn: this.jb.stats.framesIn,
      framesOut: this.pacer.stats.framesSent,
      jitter: { ...this.jb.stats },
      pacer: { ...this.pacer.stats },
      turnLatenciesMs: [...this.turnLatenciesMs],
      bargeIns: this.bargeIns,
      replies: [...this.replies],
    };
  }

  /** End the call: close the leg (if open) and every stage. Idempotent. */
  close(code: number = CloseCode.NORMAL, reason = 'call ended'): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.d.ticker.delete(this);
    this.abort.abort();
    if (this.reply) this.reply.writer.abort();
    this.reply = undefined;
    this.pacer.close();
    if (!this.leg.closed) this.leg.close(code, reason);
    this.asr?.close();
    this.botSession?.close(reason);
    this.vad.close();
    this.capture?.clear();
    void this.rec?.end(code, reason);
    const s = this.jb.stats;
    const hot = this.d.metrics.hot;
    hot.jitterUnderruns += s.underruns;
    hot.jitterOverruns += s.overruns;
    hot.jitterLateFrames += s.lateFrames;
    const p = this.pacer.stats;
    hot.pacerLateSends += p.lateSends;
    hot.pacerDroppedBackpressure += p.framesDroppedBackpressure;
    hot.pacerRejectedFull += p.framesRejectedFull;
    this.jb.clear();
    this.state = 'closed';
    const summary = this.summary(code, reason);
    this.d.metrics.callJitter.observe(s.jitterMs);
    this.d.metrics.callDuration.observe(summary.durationMs / 1000);
    this.log.info({ summary: { ...summary, replies: summary.replies.length } }, 'call ended');
    if (this.d.observer?.active) this.d.observer.event(this, { type: 'call-end', summary });
    this.onClosed?.(this, summary);
  }
}
