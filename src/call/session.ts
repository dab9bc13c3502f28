/**
 * One call: the ONLY place the stages are wired together, and the call's lifecycle.
 *
 *   leg ─► jitter buffer ─(20 ms tick)─► Hearing (VAD, AsrFeed) ─► BotLink ─► Speaker (TTS, reply writer) ─► pacer ─► leg
 *                                          └──── Turn (pure turn state: barge-in, latency, apology, goodbye, hang-up)
 *
 * With a speech-to-speech model (`deps.s2s`), S2sLink stands in for ASR, bot and TTS: the AsrFeed feeds it the frames,
 * the BotLink carries its call actions, and it writes the model's audio into the pacer itself.
 *
 * Owns one AbortController (aborted at close; every adapter gets its signal) and the adapter boundary (faults counted
 * and logged once per call), implements the leg, ticker and pacer listeners by delegating, carries out what the turn
 * state decides, and closes everything exactly once. Every call into adapter code happens in AsrFeed, BotLink or Speaker.
 */
import { asrFlushMsFor, frameBytesFor, localAsrFirst } from '../config/config.js';
import { CloseCode } from '../errors.js';
import { JitterBuffer } from '../ingress/jitter-buffer.js';
import type { Logger } from '../observability/logger.js';
import { Pacer, type PacerEvents, type PacerSink } from '../egress/pacer.js';
import type { VonageLeg, LegListener } from '../leg/leg.js';
import type { CallLegEvent, Handshake } from '../leg/handshake.js';
import type { TickListener } from '../util/ticker.js';
import { CALLER_HUNG_UP, type BotOutput } from '../bot/types.js';
import type { CallRecording } from '../recording/store.js';
import { RecordingPacerSink } from '../recording/pacer-tap.js';
import { EchoGuard } from '../vad/echo-guard.js';
import { EchoReferenceSink } from '../vad/echo-reference.js';
import { AsrFeed, type AsrFeedOwner } from './asr-feed.js';
import { AdapterBoundary } from './boundary.js';
import { BotLink, type BotLinkOwner } from './bot-link.js';
import { callInfoFrom, type CallInfo } from './call-info.js';
import type { CallSummary, SessionDeps } from './session-types.js';
import { BOT_FAILED_GOODBYE_TEXT, GOODBYE_TEXT } from './apology.js';
import type { CallObserverEvent, TimingKind } from './observer.js';
import type { MachineDetection } from '../webhooks/amd.js';
import { Speaker, type SpeakerOwner } from './speaker.js';
import { Turn, type CallState, type GoodbyeReason, type ResumeReason, type TurnActions } from './turn.js';
import { BackchannelWords } from './backchannel.js';
import { Hearing } from './hearing.js';
import { CallReport } from './report.js';
import { botOutput } from './call-actions.js';
import { TurnGate, type TurnGateOwner } from '../turn-detect/gate.js';
import { builtinTurnDetector } from '../turn-detect/heuristic.js';
import { S2sLink, type S2sLinkOwner } from './s2s-link.js';

export type { CallState } from './turn.js';
export type { CallSummary, SessionDeps } from './session-types.js';

export class CallSession implements LegListener, TickListener, PacerEvents, AsrFeedOwner, BotLinkOwner, SpeakerOwner, TurnActions, TurnGateOwner, S2sLinkOwner {
  readonly info: CallInfo;
  readonly startedAtMs: number;
  private readonly d: SessionDeps;
  private readonly leg: VonageLeg;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly boundary: AdapterBoundary;
  // The parts, in the order a frame meets them (see the diagram above).
  private readonly jb: JitterBuffer;
  private readonly hearing: Hearing;
  private readonly asr: AsrFeed | undefined;
  /** Adaptive endpointing (ENDPOINTING=adaptive with ASR): holds finals until the turn reads complete. */
  private readonly gate: TurnGate | undefined;
  private readonly bot: BotLink;
  /** The speech-to-speech model, when one is configured (it replaces ASR, bot and TTS). */
  private readonly s2s: S2sLink | undefined;
  private readonly turn: Turn;
  private readonly speaker: Speaker;
  private readonly pacer: Pacer;
  /** The call's recording (caller left, bot right), when recording is on. */
  private readonly rec: CallRecording | undefined;
  private hangupSent = false;
  private closedFlag = false;
  private goodbyeText = GOODBYE_TEXT;
  private readonly report: CallReport;
  /** Called once after the session has closed (the tracker forgets it). */
  onClosed: ((s: CallSession, summary: CallSummary) => void) | undefined;

  constructor(leg: VonageLeg, handshake: Handshake, deps: SessionDeps) {
    this.d = deps;
    this.leg = leg;
    this.startedAtMs = deps.clock.now();
    this.info = callInfoFrom(handshake, leg.id, deps.settings);
    const cfg = deps.settings;
    const log = (this.log = deps.logger.child({ call: this.info.callId, conv: this.info.conversationUuid, leg: leg.id }));
    leg.setLogger(log);
    const frameBytes = frameBytesFor(handshake.sampleRateHz);
    const { clock, metrics } = deps;
    const signal = this.abort.signal;
    const boundary = (this.boundary = new AdapterBoundary(metrics, log));
    this.report = new CallReport(metrics, log);
    this.rec = deps.recordings?.create(this.info, frameBytes, log);
    const pacerOpts = { frameBytes, leadFrames: Math.max(1, Math.round(cfg.pacerLeadMs / 20)), capacityFrames: 3000, watermarkBytes: cfg.pacerWatermarkBytes };
    // The echo guard hears what the pacer sends (what the caller will hear) through a tap on its sink.
    const echo = cfg.echoGuard
      ? new EchoGuard({ sampleRateHz: handshake.sampleRateHz, maxDelayMs: cfg.echoGuardMaxDelayMs, marginDb: cfg.echoGuardMarginDb }, metrics.hot)
      : undefined;
    let sink: PacerSink = this.rec ? new RecordingPacerSink(leg, this.rec) : leg;
    if (echo) sink = new EchoReferenceSink(sink, echo);
    this.pacer = new Pacer(pacerOpts, sink, deps.ticker, clock, this);
    const call = this.info;
    const s2s = (this.s2s = deps.s2s
      ? new S2sLink(
          {
            adapter: deps.s2s,
            call,
            signal,
            pacer: this.pacer,
            hasCallControl: !!deps.callControl,
            policy: { transferNumbers: cfg.llmTransferNumbers },
            log,
            boundary,
          },
          this,
        )
      : undefined);
    const asr = s2s ? s2s.asr : deps.asr;
    this.asr = asr ? new AsrFeed({ adapter: asr, call, signal, clock, metrics, log, boundary }, this) : undefined;
    this.bot = new BotLink(
      {
        adapter: s2s ? s2s.bot : deps.bot,
        call,
        signal,
        hasAsr: !!deps.asr,
        hasTts: !!deps.tts,
        hasCallControl: !!deps.callControl,
        clock,
        metrics,
        log,
        boundary,
      },
      this,
    );
    this.speaker = new Speaker(
      { tts: deps.tts, pacer: this.pacer, call, signal, clock, metrics, log, boundary, ttsFirstAudioTimeoutMs: cfg.ttsFirstAudioTimeoutMs },
      this,
    );
    const { bargeIn, bargeInMinSpeechMs, bargeInConfirmMs, backchannelMaxMs, botReplyTimeoutMs, botMaxFailures } = cfg;
    const backchannelWords = BackchannelWords.shared(cfg.backchannelWords, { interrupt: cfg.bargeInWords, maxWords: cfg.backchannelMaxWords });
    const turnCfg = {
      bargeIn,
      bargeInMinSpeechMs,
      bargeInConfirmMs,
      bargeInPauseMs: cfg.bargeInPauseMs,
      resumeSilenceMs: cfg.bargeInResumeSilenceMs,
      backchannelMaxMs,
      backchannelWords,
      echo,
    };
    // A speech-to-speech model answers when it decides to: no reply clock (hasTts false) for it.
    const turn = (this.turn = new Turn({ ...turnCfg, botReplyTimeoutMs, botMaxFailures, hasTts: !!deps.tts && !s2s, hasAsr: !!deps.asr }, this));
    // Adaptive endpointing needs transcripts: without ASR the VAD alone ends turns, as with ENDPOINTING=fixed.
    const detector = deps.turnDetector ?? builtinTurnDetector;
    if (deps.asr && cfg.endpointing === 'adaptive') {
      const g = {
        minSilenceMs: cfg.endpointMinSilenceMs,
        maxSilenceMs: cfg.endpointMaxSilenceMs,
        timeoutMs: cfg.turnDetectorTimeoutMs,
        callId: call.callId,
        language: call.language,
        sampleRateHz: call.sampleRateHz,
        prosodyHoldMs: cfg.endpointProsodyHoldMs,
        prosodyJudge: deps.prosodyJudge,
        maxUtteranceMs: cfg.maxUtteranceMs,
        // The local recogniser at telephone band appends "and"/"but" to finished turns (docs/evals.md).
        conjunctionHoldMs: localAsrFirst(deps.asr.name) && handshake.sampleRateHz === 8000 ? cfg.endpointConjunctionHoldMs : 0,
      };
      this.gate = new TurnGate(g, detector, clock, this, metrics.hot);
    }
    // With the gate, the VAD ends an utterance after the short silence: the ASR finalises sooner, the gate decides the turn.
    const vadSilenceMs = this.gate ? cfg.endpointMinSilenceMs : cfg.vadSilenceMs;
    const vad = { sampleRateHz: handshake.sampleRateHz, mode: cfg.vadMode, minSpeechMs: cfg.vadMinSpeechMs, silenceMs: vadSilenceMs };
    // The utterance audio is kept for a bot or detector that wants it, and for the gate's prosodic cue.
    const captureUtterances = deps.bot.capabilities.wantsUtteranceAudio || (!!this.gate && (!!detector.wantsAudio || this.gate.listens));
    const { maxUtteranceMs } = cfg;
    const flushSetting = asrFlushMsFor(cfg.endpointAsrFlushMs, deps.asr?.name);
    const asrFlushMs = this.gate && flushSetting < vadSilenceMs ? flushSetting : 0;
    this.hearing = new Hearing({
      vad,
      captureUtterances,
      maxUtteranceMs,
      frameBytes,
      vadSilenceMs,
      asrFlushMs,
      clock,
      asr: this.asr,
      rec: this.rec,
      bot: this.bot,
      speaker: this.speaker,
      turn,
      echo,
    });
    this.jb = new JitterBuffer(
      { frameBytes, targetFrames: cfg.jitterTargetMs / 20, capacityFrames: Math.floor(cfg.jitterCapacityMs / 20), fillSilence: cfg.jitterFillSilence },
      this.hearing,
    );
  }

  get closed(): boolean {
    return this.closedFlag;
  }
  get state(): CallState {
    return this.turn.state;
  }
  /** Arrival of the caller's last voiced frame (−1: none yet). */
  get lastVoicedAtMs(): number {
    return this.turn.lastVoicedAtMs;
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
    this.log.info(
      { from: this.info.from, to: this.info.to, rate: this.info.sampleRateHz, language: this.info.language, voice: this.info.voice },
      'call started',
    );
    this.observe({ type: 'call-start' });
    this.s2s?.start();
    this.asr?.start();
    this.bot.start();
  }

  // ── leg → ingress ────────────────────────────────────────────────────────────
  onAudio(frame: Buffer, arrivalMs: number): void {
    this.jb.push(frame, arrivalMs);
  }

  onEvent(e: CallLegEvent): void {
    this.d.metrics.legEvents.inc({ event: e.kind });
    switch (e.kind) {
      case 'dtmf':
        this.log.info({ digit: e.digit, durationMs: e.durationMs }, 'dtmf');
        this.observe({ type: 'dtmf', digit: e.digit, durationMs: e.durationMs });
        return this.bot.input({ type: 'dtmf', digit: e.digit, durationMs: e.durationMs }, true);
      case 'notify':
        if (!this.pacer.onNotify(e.payload)) this.log.debug({ payload: e.payload }, 'notify not ours');
        return;
      case 'cleared':
        return this.log.debug('vonage cleared its buffer');
    }
  }

  onClose(code: number, reason: string, byGateway: boolean): void {
    this.log.info({ code, reason, byGateway }, 'leg closed');
    // The bot learns who ended the call: the Vonage side closing the leg is the caller hanging up (or Vonage ending it).
    if (!byGateway) this.bot.close(CALLER_HUNG_UP);
    this.close(code, reason);
  }

  // ── 20 ms playout ─────────────────────────────────────────────────────────────
  onTick(nowMs: number, periods: number): void {
    this.jb.tick(periods);
    this.rec?.tick(periods);
    this.turn.tick(nowMs);
    this.gate?.tick();
  }

  // ── pacer and speaker → turn ─────────────────────────────────────────────────
  onSegmentStart(id: number, atMs: number): void {
    this.turn.replyStarted(id, atMs, this.hearing.speaking, this.hearing.speechMs);
  }
  onSegmentPlayed(id: number, frames: number): void {
    this.replyDone(id, frames, frames, false);
  }
  onSegmentInterrupted(id: number, heardFrames: number, frames: number): void {
    this.replyDone(id, heardFrames, frames, true);
  }
  onReplyOpened(): void {
    this.turn.replyOpened(this.hearing.speaking, this.hearing.speechMs);
  }
  onReplySilent(id: number): void {
    this.replyDone(id, 0, 0, false);
  }
  onSay(text: string): void {
    this.observe({ type: 'bot-say', text });
  }
  /** A latency measured by the ASR feed, bot link or speaker (already observed in its histogram). */
  onTiming(what: TimingKind, startMs: number, endMs: number): void {
    if (this.d.observer?.active) this.observe({ type: 'timing', what, startMs, endMs });
  }

  private replyDone(id: number, heard: number, frames: number, interrupted: boolean): void {
    this.report.replyDone(id, heard, frames, interrupted);
    this.s2s?.replyDone(id, heard, interrupted);
    if (this.d.observer?.active)
      this.observe({ type: 'reply-done', replyId: id, heardMs: heard * 20, totalMs: frames * 20, interrupted, atMs: this.d.clock.now() });
    const tag = this.speaker.takeTag(id);
    this.bot.input({ type: 'playback', replyId: id, interrupted, heardMs: heard * 20, totalMs: frames * 20, ...(tag === undefined ? {} : { id: tag }) }, false);
    if (!this.closedFlag) this.turn.replyDone(this.speaker.idle);
  }

  // ── ASR and bot ──────────────────────────────────────────────────────────────
  /** From the ASR feed: through the adaptive endpointing gate (if on) to {@link onGateTranscript}. */
  onTranscript(text: string, final: boolean): void {
    if (this.closedFlag) return;
    const sp = this.speaker;
    const asTranscript = this.turn.transcript(final, text, this.d.clock.now(), sp.playing, sp.interruptible);
    this.observe({ type: 'transcript', text, final });
    // A backchannel's transcript reaches the bot as the backchannel's text (onBackchannel), never as a turn.
    if (!asTranscript) return;
    if (this.gate) this.gate.transcript(text, final);
    else this.onGateTranscript(text, final);
  }
  /** A transcript goes to the bot; a final (one per turn with the gate) is the caller's turn. */
  onGateTranscript(text: string, final: boolean): void {
    if (this.closedFlag) return;
    this.bot.input({ type: 'transcript', text, final }, final);
  }
  onDetectorFault(err: unknown, code: string): void {
    this.boundary.fault('turn', 'predict', err, code, true);
  }
  get speaking(): boolean {
    return this.hearing.speaking;
  }
  get lastUtteranceAudio(): Int16Array | undefined {
    return this.hearing.lastUtteranceAudio;
  }
  onBotReady(): void {
    this.turn.botReady();
  }
  onBotFailed(why: string): void {
    this.turn.botFailed(why);
  }
  onBotStartFailed(): void {
    this.close(CloseCode.ADAPTER_FAILED, 'bot adapter failed to start');
  }

  onBotOutput(out: BotOutput): Promise<void> {
    if (this.closedFlag || this.turn.goingAway) return Promise.resolve();
    this.turn.botOutput();
    // What became of a call action goes back to the bot (sidecar bots get an `error` when it was not carried out).
    return botOutput(out, this.speaker, this.turn, this.pacer, this.d.callControl, this.info, this.log, this.d.metrics).then((r) => {
      if (r && !this.closedFlag) this.bot.input(r, false);
    });
  }

  // ── speech-to-speech model ───────────────────────────────────────────────────
  onS2sReply(): void {
    this.turn.botOutput();
    this.onReplyOpened();
  }
  /** The model heard the caller: its reply (if one is playing) is cut now; the link tells it what was heard. */
  onS2sSpeechStart(): void {
    if (!this.speaker.playing || !this.speaker.interruptible || this.turn.goingAway) return;
    this.onBargeIn();
    this.turn.cleared();
  }
  onS2sTranscript(role: 'caller' | 'bot', text: string): void {
    this.observe(role === 'caller' ? { type: 'transcript', text, final: true } : { type: 'bot-say', text });
  }
  onS2sLost(why: string): void {
    this.turn.botLost(why);
  }

  // ── turn → actions ───────────────────────────────────────────────────────────
  onState(s: CallState): void {
    this.observe({ type: 'state', state: s });
  }
  onBargeIn(): void {
    const id = this.speaker.currentReplyId;
    this.d.metrics.bargeIns.inc();
    this.log.info({ replyId: id }, 'barge-in');
    this.observe({ type: 'barge-in', replyId: id, atMs: this.d.clock.now() });
    this.speaker.clear();
    this.gate?.flush();
  }
  /** Barge-in onset: stop sending now (the decision follows). */
  onPause(): void {
    this.d.metrics.bargeInPauses.inc();
    this.log.info({ replyId: this.speaker.currentReplyId }, 'barge-in pause');
    if (this.d.observer?.active) this.observe({ type: 'barge-in-pause', replyId: this.speaker.currentReplyId, atMs: this.d.clock.now() });
    this.speaker.pause();
  }
  /** The pause was not confirmed: playback goes on; the bot is told nothing (nothing was interrupted). */
  onResume(why: ResumeReason): void {
    this.d.metrics.bargeInResumes.inc({ reason: why });
    this.log.info({ replyId: this.speaker.currentReplyId, why }, 'barge-in resumed');
    if (this.d.observer?.active) this.observe({ type: 'barge-in-resume', replyId: this.speaker.currentReplyId, atMs: this.d.clock.now() });
    this.speaker.resume();
  }
  onBackchannel(durationMs: number, text: string | undefined): void {
    this.d.metrics.backchannels.inc();
    this.log.info({ durationMs, text }, 'backchannel');
    if (this.d.observer?.active) this.observe(text === undefined ? { type: 'backchannel', durationMs } : { type: 'backchannel', text, durationMs });
    this.bot.input(text === undefined ? { type: 'backchannel', durationMs } : { type: 'backchannel', text, durationMs }, false);
  }
  /** The ASR transcribed the bot's own echo (before the echo guard had the line's echo path): dropped, not a turn. */
  onEchoTranscript(text: string): void {
    this.log.info({ text }, 'echo transcript dropped');
    this.observe({ type: 'echo-transcript', text });
  }
  onHeldTranscript(text: string): void {
    if (this.gate) this.gate.transcript(text, true);
    else this.onGateTranscript(text, true);
  }
  onReplyStarted(id: number, turnLatencyMs: number | undefined, atMs: number): void {
    const rounded = this.report.replyStarted(id, turnLatencyMs);
    if (!this.d.observer?.active) return;
    this.observe({ type: 'reply-start', replyId: id, turnLatencyMs: rounded, atMs });
    if (turnLatencyMs !== undefined) this.observe({ type: 'timing', what: 'first-frame', startMs: atMs - turnLatencyMs, endMs: atMs });
  }
  /** Vonage's answering-machine detection result for this call (event webhook): told to the bot, which decides. */
  machineDetected(r: MachineDetection): void {
    if (this.closedFlag) return;
    this.log.info({ result: r.result, subState: r.subState }, 'machine detection');
    this.bot.input(
      r.subState === undefined ? { type: 'machine-detection', result: r.result } : { type: 'machine-detection', result: r.result, subState: r.subState },
      false,
    );
  }
  /** The bot failed or did not answer: tell the caller (spoken with TTS, else a tone). The call goes on. */
  onApologise(why: string, failures: number): void {
    this.observe({ type: 'apology', why, failures });
    void this.speaker.apology(why, failures);
  }
  onGoodbye(why: GoodbyeReason): void {
    const drain = why === 'drain';
    this.s2s?.mute();
    this.bot.close(drain ? undefined : this.turn.hangupReason);
    this.turn.cleared();
    if (drain && !this.d.tts) {
      this.speaker.clear();
      return this.close(CloseCode.GOING_AWAY, this.turn.hangupReason);
    }
    void this.speaker.goodbye(why, drain ? this.goodbyeText : BOT_FAILED_GOODBYE_TEXT, () => this.turn.goodbyeWritten(this.speaker.idle));
  }
  /** End the call: with call control, a REST hangup first (ends the whole call, not just our leg), then the leg. */
  onHangUp(code: number, reason: string): void {
    const cc = this.d.callControl;
    // A goodbye at the drain deadline (1001) just closes the leg; a bot's hangup (or its failing) ends the call over REST.
    if (!cc || code === CloseCode.GOING_AWAY) return this.close(code, reason);
    const end = () => this.close(code, reason);
    if (!this.hangupSent) void cc.hangup(this.info, this.log).then(end, end);
    this.hangupSent = true;
  }

  /**
   * The drain deadline passed: stop the bot, say a closing message (when TTS is on), and close with 1001 once it has
   * played (at once without TTS). The gateway bounds the wait and closes whatever is left.
   */
  goodbye(text = GOODBYE_TEXT): void {
    if (this.closedFlag) return;
    this.goodbyeText = text;
    this.turn.drain();
  }

  private observe(e: CallObserverEvent): void {
    if (this.d.observer?.active) this.d.observer.event(this, e);
  }

  /** Snapshot for the console, logs and tests. */
  summary(code = 0, reason = ''): CallSummary {
    const s = this.report.summary(this.info.callId, this.d.clock.now() - this.startedAtMs, this.jb, this.pacer, this.turn.bargeIns, code, reason);
    const echo = this.hearing.echoStats;
    if (echo) s.echo = { ...echo };
    return s;
  }

  /** End the call: close the leg (if open) and every stage. Idempotent. */
  close(code: number = CloseCode.NORMAL, reason = 'call ended'): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.d.ticker.delete(this);
    this.abort.abort();
    this.speaker.close();
    if (!this.leg.closed) this.leg.close(code, reason);
    this.asr?.close();
    this.s2s?.close();
    this.gate?.close();
    this.bot.close(reason);
    this.boundary.closed = true;
    this.hearing.close();
    void this.rec?.end(code, reason);
    this.turn.closed();
    const summary = this.summary(code, reason);
    this.jb.clear();
    this.report.ended(summary, this.boundary.faults);
    this.observe({ type: 'call-end', summary });
    this.onClosed?.(this, summary);
  }
}
