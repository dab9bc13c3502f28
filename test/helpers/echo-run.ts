/** Drives an EchoGuard frame by frame like the session does (reference sent, then the caller frame heard). */
import { EchoGuard, type EchoGuardOptions } from '../../src/vad/echo-guard.js';
import { Fvad } from '../../src/vad/fvad.js';
import { Endpointer, VadEvent } from '../../src/vad/endpointer.js';
import { frameAt } from './echo-audio.js';
import { must } from './must.js';

export interface FrameResult {
  /** The raw WebRTC VAD's decision. */
  voiced: boolean;
  /** The guard judged the frame echo-only. */
  echo: boolean;
}

export interface GuardRun {
  frames: FrameResult[];
  guard: EchoGuard;
  /** Speech starts of an endpointer fed the guarded decision (voiced and not echo), by frame. */
  guardedStarts: number[];
  /** Speech starts of an endpointer fed the raw VAD (today's behaviour), by frame. */
  rawStarts: number[];
  /** Frame at which the guarded utterance first reached `bargeInMs` of voiced audio (−1: never). */
  bargeInFrame: number;
  /** The same for the raw VAD. */
  rawBargeInFrame: number;
}

/**
 * `afterFrame(k, guard)` runs after caller frame `k` has been judged (where the session would hand a transcript that
 * arrived then to the turn state).
 */
export function runGuard(
  rateHz: 8000 | 16000,
  ref: Int16Array,
  caller: Int16Array,
  o: Partial<EchoGuardOptions> = {},
  bargeInMs = 200,
  afterFrame?: (k: number, guard: EchoGuard) => void,
): GuardRun {
  const guard = new EchoGuard({ sampleRateHz: rateHz, maxDelayMs: 400, marginDb: 6, ...o }, { echoFrames: 0, echoTranscriptsDropped: 0 });
  const vad = new Fvad(rateHz, 2);
  const guarded = new Endpointer({ frameMs: 20, minSpeechMs: 120, silenceMs: 600 });
  const raw = new Endpointer({ frameMs: 20, minSpeechMs: 120, silenceMs: 600 });
  const n = rateHz / 50;
  const total = Math.ceil(caller.length / n);
  const frames: FrameResult[] = [];
  const guardedStarts: number[] = [];
  const rawStarts: number[] = [];
  let bargeInFrame = -1;
  let rawBargeInFrame = -1;
  for (let k = 0; k < total; k++) {
    if (k * n < ref.length) guard.reference(frameAt(ref, rateHz, k));
    const cf = frameAt(caller, rateHz, k);
    const echo = guard.onCallerFrame(cf, guarded.speaking);
    const voiced = vad.isSpeech(cf);
    if (voiced && !echo) guard.callerVoice();
    if (voiced && echo) guard.countEchoFrame();
    if (guarded.push(voiced && !echo) === VadEvent.SpeechStart) guardedStarts.push(k);
    if (raw.push(voiced) === VadEvent.SpeechStart) rawStarts.push(k);
    if (bargeInFrame < 0 && guarded.speaking && guarded.speechMs >= bargeInMs) bargeInFrame = k;
    if (rawBargeInFrame < 0 && raw.speaking && raw.speechMs >= bargeInMs) rawBargeInFrame = k;
    frames.push({ voiced, echo });
    afterFrame?.(k, guard);
  }
  vad.close();
  return { frames, guard, guardedStarts, rawStarts, bargeInFrame, rawBargeInFrame };
}

/** Of the frames in [from, to) the raw VAD called voiced, the share judged echo. */
export function echoShare(r: GuardRun, from = 0, to = r.frames.length): { voiced: number; echo: number; share: number } {
  let voiced = 0;
  let echo = 0;
  for (let k = from; k < Math.min(to, r.frames.length); k++) {
    if (!must(r.frames[k]).voiced) continue;
    voiced++;
    if (must(r.frames[k]).echo) echo++;
  }
  return { voiced, echo, share: voiced ? echo / voiced : 1 };
}
