/**
 * What the gateway hears of the caller, per 20 ms frame from the jitter buffer (the hot path): the frame goes to the
 * ASR feed, the utterance capture and the recording, then through the VAD, whose speech start/end and ongoing speech
 * are passed on to the turn state (barge-in, turn latency) and the bot. No allocation per frame beyond the VAD's own.
 *
 * With the echo guard on, a frame that is only the bot's own audio coming back down the line counts as unvoiced, so it
 * can neither barge in nor open an utterance. While the caller is not speaking, such a frame reaches the ASR and the
 * utterance capture as silence, as a telephone echo suppressor would do, so the bot never transcribes and answers its
 * own words; the recording keeps the real line. Once the caller speaks, the ASR hears everything (double talk).
 */
import type { JitterSink } from '../ingress/jitter-buffer.js';
import type { CallRecording } from '../recording/store.js';
import type { Clock } from '../util/clock.js';
import { CallVad, VadEvent, type VadOptions } from '../vad/vad.js';
import type { EchoGuard, EchoGuardStats } from '../vad/echo-guard.js';
import type { AsrFeed } from './asr-feed.js';
import type { BotLink } from './bot-link.js';
import type { Speaker } from './speaker.js';
import type { Turn } from './turn.js';
import { UtteranceCapture } from './utterance-capture.js';

const PREROLL_MS = 200;

export interface HearingDeps {
  vad: VadOptions;
  /** Keep the utterance audio for the bot (its capabilities ask for it). */
  captureUtterances: boolean;
  maxUtteranceMs: number;
  frameBytes: number;
  /** VAD silence that ends an utterance: the capture drops most of it. */
  vadSilenceMs: number;
  /**
   * Silence inside an utterance after which the ASR is told the speech ended (`ENDPOINT_ASR_FLUSH_MS`), before the VAD
   * ends the utterance, so the recogniser's final is under way while the turn is decided; 0 = at the VAD's end. Only
   * while no reply plays (a turn's latency; an utterance over the bot is decided as before).
   */
  asrFlushMs: number;
  clock: Clock;
  asr: AsrFeed | undefined;
  rec: CallRecording | undefined;
  bot: BotLink;
  speaker: Speaker;
  turn: Turn;
  /** The call's echo guard (ECHO_GUARD=on), fed what the pacer sends by the session; undefined = off. */
  echo: EchoGuard | undefined;
}

export class Hearing implements JitterSink {
  private readonly d: HearingDeps;
  private readonly vad: CallVad;
  private readonly capture: UtteranceCapture | undefined;
  /** The last finished utterance's audio (when captured): what an end-of-turn detector that wants audio reads. */
  lastUtteranceAudio: Int16Array | undefined;
  /** What the ASR and the capture get instead of an echo-only frame (never written). */
  private readonly silence: Buffer | undefined;
  /** The ASR was told this utterance's speech ended (early flush); reset by the next voiced frame. */
  private asrFlushed = false;

  constructor(deps: HearingDeps) {
    this.d = deps;
    this.vad = new CallVad(deps.vad);
    if (deps.captureUtterances) this.capture = new UtteranceCapture(PREROLL_MS, deps.maxUtteranceMs, deps.frameBytes);
    if (deps.echo) this.silence = Buffer.alloc(deps.frameBytes);
  }

  /** The echo guard's figures (delay, loss, frames judged echo), for the call summary; undefined when it is off. */
  get echoStats(): EchoGuardStats | undefined {
    return this.d.echo?.stats;
  }

  /** The caller is speaking now (VAD, after the minimum speech duration). */
  get speaking(): boolean {
    return this.vad.endpointer.speaking;
  }

  /** Voiced ms in the current utterance. */
  get speechMs(): number {
    return this.vad.endpointer.speechMs;
  }

  onFrame(frame: Buffer, receivedAtMs: number): void {
    const { asr, rec, turn, bot, speaker, echo: guard } = this.d;
    const ep = this.vad.endpointer;
    const echo = guard !== undefined && guard.onCallerFrame(frame, ep.speaking);
    const heard = echo && !ep.speaking && guard?.locked === true ? (this.silence as Buffer) : frame;
    if (heard !== frame) guard?.countMuted();
    asr?.write(heard, receivedAtMs);
    this.capture?.push(heard);
    rec?.pushIn(frame);
    const ev = this.vad.push(frame, echo);
    if (this.vad.voiced && echo) guard?.countEchoFrame();
    if (this.vad.voiced && !echo) {
      turn.voiced(receivedAtMs);
      guard?.callerVoice();
    }
    if (ev === VadEvent.SpeechStart) {
      this.capture?.start();
      bot.input({ type: 'speech-start' }, false);
      turn.speechStart(ep.speechMs, speaker.playing, speaker.interruptible);
    } else if (ev === VadEvent.SpeechEnd) {
      if (!this.asrFlushed) asr?.endOfSpeech();
      this.asrFlushed = false;
      const audio = (this.lastUtteranceAudio = this.capture?.finish(this.d.vadSilenceMs - 100));
      // The turn decides first: a backchannel known now (no ASR) is flagged, so the bot does not answer it as a turn.
      const backchannel = turn.speechEnd(ep.speechMs, receivedAtMs, speaker.playing, speaker.interruptible);
      const sampleRateHz = this.d.vad.sampleRateHz;
      bot.input(
        backchannel
          ? { type: 'speech-end', durationMs: ep.utteranceMs, audio, sampleRateHz, backchannel }
          : { type: 'speech-end', durationMs: ep.utteranceMs, audio, sampleRateHz },
        !backchannel,
      );
    } else if (ep.speaking) {
      if (!turn.bargedThisUtterance) turn.speech(ep.speechMs, speaker.playing, speaker.interruptible);
      const silentMs = ep.trailingSilenceMs;
      if (silentMs === 0) this.asrFlushed = false;
      else if (!this.asrFlushed && this.d.asrFlushMs > 0 && silentMs >= this.d.asrFlushMs && !speaker.playing) {
        this.asrFlushed = true;
        asr?.endOfSpeech();
      }
    }
  }

  onGap(silence: Buffer | undefined): void {
    if (silence) this.onFrame(silence, this.d.clock.now());
  }

  close(): void {
    this.vad.close();
    this.capture?.clear();
  }
}
