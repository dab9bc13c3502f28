/**
 * The adapter SDK: `import { defineBot, AdapterError } from 'vonage-voicebot-gateway/sdk'`.
 *
 * Everything a user needs to write an ASR, a bot or a TTS for the gateway: the three contracts and their event types,
 * what each adapter is told about the call ({@link CallInfo}) and the process ({@link AdapterContext}), the bounded
 * {@link Channel}, the one failure model ({@link AdapterError}), and helpers that turn plain functions into adapters
 * ({@link defineBot}, {@link defineTts}, {@link defineAsr}, and {@link defineTurnDetector} for an end-of-turn detector).
 * A module that default-exports what a helper returns is a complete `BOT_ADAPTER` / `TTS_ADAPTER` / `ASR_ADAPTER` /
 * `TURN_DETECTOR`. The conformance suites are in
 * `vonage-voicebot-gateway/conformance`, and on the command line: `vgw asr-conformance`, `vgw tts-conformance`,
 * `vgw bot-conformance`, each with `--adapter ./my-adapter.mjs`.
 *
 * ## The one failure model
 * Every adapter kind reports failures as an {@link AdapterError}: an `Error` with a stable `code` (upper case, e.g.
 * `MY_BACKEND_DOWN`) and `recoverable` (whether the call can go on with the same adapter). The gateway wraps anything
 * else it catches at the adapter boundary with {@link toAdapterError}, keeping a well-formed `code` it carries.
 * - **ASR**: `start()` throws (rejects) an AdapterError when the stream cannot open; during the call, failures are
 *   `{ type: 'error', code, message, recoverable }` events (never thrown from `write()`, which runs in the 20 ms
 *   loop). A recoverable error keeps the stream; an unrecoverable one ends it, and the call moves to the next ASR of
 *   the chain (or goes on without ASR).
 * - **TTS**: the request's iterator throws an AdapterError; the gateway tries the next TTS of the list, else the reply
 *   plays without audio. A request that yields no first audio within `TTS_FIRST_AUDIO_TIMEOUT_MS` counts as failed.
 * - **Bot**: `output` throws (rejects `next()` with) an AdapterError — `input()` must never throw; the gateway answers
 *   the caller with a spoken apology (see `BOT_MAX_FAILURES`: repeated failures end in a goodbye and a hang-up). With
 *   {@link defineBot}, a handler's throw or rejection is thrown from `output` this way.
 */
export type { AsrAdapter, AsrAdapterFactory, AsrCapabilities, AsrEvent, AsrStream, AsrStreamOptions } from '../asr/types.js';
export type { BotAdapter, BotAdapterFactory, BotCapabilities, BotInput, BotOutput, BotSession, BotSessionOptions } from '../bot/types.js';
export type { TtsAdapter, TtsAdapterFactory, TtsChunk, TtsRequest } from '../tts/types.js';
export type { CallInfo } from '../call/call-info.js';
export type { AdapterContext, AdapterSetting, AdapterSettings, AdapterSettingValues } from '../util/adapter-context.js';
export { Channel, type OverflowPolicy } from '../util/channel.js';
export { AdapterError, toAdapterError, ADAPTER_CODE, type AdapterKind } from '../errors.js';
export { defineBot, type BotContext, type BotDefinition, type DefinedBotSession, type Reply, type ReplyItem } from './define-bot.js';
export { defineTts, type TtsDefinition, type TtsPiece, type TtsResult } from './define-tts.js';
export { defineAsr, type AsrDefinition, type AsrEmitter, type AsrHandlers, type DefinedAsrStream } from './define-asr.js';
export {
  defineTurnDetector,
  type TurnAnswer,
  type TurnDetectorDefinition,
  type TurnDetectInput,
  type TurnDetector,
  type TurnPrediction,
} from './define-turn-detector.js';
