/**
 * The bot adapter contract: a bot gets what happened on the call and answers with text to speak, audio to play and
 * call actions. One {@link BotSession} per call. Users plug in their own with `BOT_ADAPTER=./my-bot.js`.
 */
import type { CallInfo } from '../call/call-info.js';
import type { AdapterContext } from '../util/adapter-context.js';

export type BotInput =
  /** The leg is up (sent once, first). */
  | { type: 'start' }
  | { type: 'transcript'; text: string; final: boolean }
  | { type: 'dtmf'; digit: string; durationMs: number }
  /** VAD: the caller started speaking (after the minimum speech duration). */
  | { type: 'speech-start' }
  /**
   * VAD: the caller stopped speaking. `audio` (16-bit PCM at `sampleRateHz`) is the utterance, given only to bots whose
   * capabilities ask for it. `backchannel: true`: the utterance was a backchannel (a `backchannel` event follows); do not
   * answer it as a turn.
   */
  | { type: 'speech-end'; durationMs: number; audio?: Int16Array; sampleRateHz: number; backchannel?: boolean }
  /**
   * The caller acknowledged while the bot spoke ("uh-huh", "okay", a short sound): nothing was interrupted, playback
   * went on. `durationMs` is its voiced speech; `text` its transcript when the ASR gave words. Its transcript is NOT
   * also sent as a `transcript`: a bot should not answer it. `speech-end` of such an utterance has `backchannel: true`
   * when the gateway knew at once (no ASR); with ASR this event follows once the transcript has come. Bots may ignore it.
   */
  | { type: 'backchannel'; text?: string; durationMs: number }
  /**
   * A reply finished playing (`interrupted: false`) or was cut by barge-in; `heardMs` is what the caller heard.
   * `id` is the id the bot's `say`/`play` gave the reply, if any (absent on the gateway's own apology and goodbye).
   */
  | { type: 'playback'; replyId: number; interrupted: boolean; heardMs: number; totalMs: number; id?: string }
  /**
   * What became of a call action the bot asked for (`transfer`, `dtmf`): `ok`, or not carried out, with a stable `code`
   * (`NO_CALL_CONTROL`: Vonage call control is not configured, or the call has no Vonage uuid; `ACTION_FAILED`: Vonage
   * refused or could not be reached) and a `reason` for people. Bots that do not care ignore it.
   */
  | { type: 'action-result'; action: 'transfer' | 'dtmf'; ok: boolean; code?: ActionErrorCode; reason?: string }
  /**
   * Vonage's answering-machine detection (outbound calls placed with `vgw call --amd`): a `human` answered, a
   * `machine` (voicemail) did, its `beep` was heard (leave your message now), or no beep came in time (`beep-timeout`).
   * `subState` is Vonage's own `sub_state`, when it sent one. May arrive before `start` (then right after it).
   */
  | { type: 'machine-detection'; result: MachineDetectionResult; subState?: string };

/** What answering-machine detection found. */
export type MachineDetectionResult = 'human' | 'machine' | 'beep' | 'beep-timeout';

/** Why a bot's call action was not carried out. */
export type ActionErrorCode = 'NO_CALL_CONTROL' | 'ACTION_FAILED';

export type BotOutput =
  /**
   * Text to speak. Consecutive `say`s form one reply until one has `end: true` (or a non-say output comes): stream
   * tokens or sentences as they come. `interruptible: false` makes the reply immune to barge-in.
   */
  | {
      type: 'say';
      text: string;
      end?: boolean;
      interruptible?: boolean;
      /** The bot's id for the reply, echoed in its `playback` input. A streamed reply takes it from its first piece. */
      id?: string;
      /** BCP-47 language / TTS voice of this reply (default: the call's). A streamed reply takes them from its first piece. */
      language?: string;
      voice?: string;
    }
  /** Raw audio to play as one reply: 16-bit mono PCM at any rate (resampled to the leg's). `id` as for `say`. */
  | { type: 'play'; audio: Int16Array; sampleRateHz: number; interruptible?: boolean; id?: string }
  /** Stop playback now (like a barge-in). */
  | { type: 'clear' }
  /** End the call (after the queued audio has played, unless `immediate`). */
  | { type: 'hangup'; immediate?: boolean; reason?: string }
  /** Move the call to another NCCO (Vonage REST transfer). */
  | { type: 'transfer'; ncco: readonly object[] }
  /** Send DTMF digits into the call. */
  | { type: 'dtmf'; digits: string };

export interface BotCapabilities {
  /** Give this bot the caller's utterance audio with each `speech-end`. */
  wantsUtteranceAudio: boolean;
}

export interface BotSessionOptions {
  call: CallInfo;
  signal: AbortSignal;
  /** True when an ASR adapter is active for this call (transcripts will come). */
  hasAsr: boolean;
  /** True when a TTS adapter is active (`say` will be spoken). */
  hasTts: boolean;
  /** True when Vonage REST call control is configured (`transfer` and `dtmf` can be carried out). */
  hasCallControl?: boolean;
}

/** The reason a session's `close` gets when the Vonage side ended the leg (the caller hung up, or Vonage ended the call). */
export const CALLER_HUNG_UP = 'caller hung up';

export interface BotSession {
  /** Deliver one input. Must not throw or block: queue and return. */
  input(event: BotInput): void;
  /** What the bot wants done, in order; ends when the session closes. */
  readonly output: AsyncIterable<BotOutput>;
  /** Idempotent. `reason` says why the call ended, when the session knows (e.g. the leg's close reason). */
  close(reason?: string): void;
}

export interface BotAdapter {
  readonly name: string;
  readonly capabilities: BotCapabilities;
  start(opts: BotSessionOptions): BotSession | Promise<BotSession>;
  close?(): void | Promise<void>;
}

export type BotAdapterFactory = (ctx: AdapterContext) => BotAdapter | Promise<BotAdapter>;
