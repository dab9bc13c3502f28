/** What one call session is built from, and what it reports when it ends. */
import type { CallSettings } from '../config/sections.js';
import type { JitterBuffer } from '../ingress/jitter-buffer.js';
import type { Pacer } from '../egress/pacer.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Clock } from '../util/clock.js';
import type { Ticker } from '../util/ticker.js';
import type { AsrAdapter } from '../asr/types.js';
import type { BotAdapter } from '../bot/types.js';
import type { TtsAdapter } from '../tts/types.js';
import type { RecordingStore } from '../recording/store.js';
import type { CallControl } from '../vonage/call-control.js';
import type { CallObserver } from './observer.js';
import type { TurnDetector } from '../turn-detect/types.js';
import type { EchoGuardStats } from '../vad/echo-guard.js';
import type { S2sAdapter } from '../s2s/types.js';
import type { ProsodyJudge } from '../turn-detect/prosody-pool.js';

export interface SessionDeps {
  /** The settings one call reads (config/sections.ts `CallSettings`: jitter, pacer, VAD, turn-taking, bot and TTS bounds). */
  settings: CallSettings;
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
  /** End-of-turn detector for adaptive endpointing (`TURN_DETECTOR`); undefined = the built-in heuristic. */
  turnDetector?: TurnDetector;
  /** Judges the prosodic end-of-turn cue off the event loop (`ENDPOINT_PROSODY_WORKER`); undefined = in the session. */
  prosodyJudge?: ProsodyJudge;
  /** A speech-to-speech model (`BOT_ADAPTER=openai-realtime`): used instead of ASR, bot and TTS (TTS then speaks only the apology). */
  s2s?: S2sAdapter;
}

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
  /** The echo guard's estimate (delay, loss) and counts; absent when ECHO_GUARD=off. */
  echo?: EchoGuardStats;
}
