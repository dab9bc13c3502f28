/**
 * The settings grouped by the part of the gateway that owns them. The environment variables keep their names (the
 * interface); inside, a module declares the section it reads (`LegSettings`, `SecuritySettings`, …) and is handed that
 * section by the code that builds it (main.ts, app.ts, call/session.ts), never the whole {@link Config}.
 * Every setting is in exactly one section (test/config/sections.test.ts).
 */
import type { Config } from './config.js';

export const SECTION_KEYS = {
  /** The process: where it listens, how it is reached, how many calls and processes, logs, default language. */
  server: [
    'port',
    'host',
    'publicUrl',
    'publicWsUrl',
    'publicUrlFromPort',
    'wsPath',
    'audioRateHz',
    'logLevel',
    'language',
    'languageByNumber',
    'maxCalls',
    'workers',
    'gcThreadNice',
    'drainTimeoutMs',
  ],
  /** One Vonage WebSocket leg: handshake, liveness, inbound limits. */
  leg: [
    'handshakeTimeoutMs',
    'idleTimeoutMs',
    'pingIntervalMs',
    'legMaxMessagesPerS',
    'legMessageBurst',
    'legMaxMalformedPerMin',
    'maxPayloadBytes',
    'legFastAudio',
    'admissionSliceMs',
  ],
  jitter: ['jitterTargetMs', 'jitterCapacityMs', 'jitterFillSilence'],
  pacer: ['pacerLeadMs', 'pacerWatermarkBytes'],
  /** Speech detection and the echo guard in front of it. */
  vad: ['vadMode', 'vadMinSpeechMs', 'vadSilenceMs', 'echoGuard', 'echoGuardMaxDelayMs', 'echoGuardMarginDb'],
  /** Turn-taking: endpointing, the end-of-turn detector, barge-in, backchannels, utterance bounds. */
  turn: [
    'endpointing',
    'endpointMinSilenceMs',
    'endpointMaxSilenceMs',
    'endpointProsodyHoldMs',
    'endpointProsodyWorker',
    'endpointConjunctionHoldMs',
    'turnDetector',
    'turnDetectorTimeoutMs',
    'bargeIn',
    'bargeInMinSpeechMs',
    'bargeInConfirmMs',
    'bargeInPauseMs',
    'bargeInResumeSilenceMs',
    'backchannelMaxMs',
    'backchannelWords',
    'backchannelMaxWords',
    'bargeInWords',
    'endpointAsrFlushMs',
    'maxUtteranceMs',
  ],
  /** ASR selection and the built-in ASR adapters' own settings (Azure's are in `azure`, shared with TTS). */
  asr: [
    'asrAdapter',
    'asrGrammar',
    'asrKeyphrases',
    'asrBandFill',
    'localAsrMaxProcesses',
    'localAsrNice',
    'localAsrPostspeechMs',
    'googleSpeechModel',
    'googleSpeechInterim',
    'googleSpeechPhrases',
    'googleSpeechSingleUtterance',
    'googleSpeechEndpoint',
    'googleSpeechInsecure',
    'googleSpeechKeyFile',
    'googleSpeechRotateMs',
    'googleSpeechReplayMs',
    'deepgramApiKey',
    'deepgramUrl',
    'deepgramModel',
    'deepgramEndpointingMs',
  ],
  /** Azure Speech, used by both `ASR_ADAPTER=microsoft` and `TTS_ADAPTER=microsoft`. */
  azure: [
    'azureSpeechKey',
    'azureSpeechRegion',
    'azureSpeechEndpoint',
    'azureSpeechHost',
    'azureSpeechPhrases',
    'azureSpeechConnectTimeoutMs',
    'azureSpeechMaxRetries',
    'azureSpeechUnthrottledMs',
  ],
  /** Bot selection, the gateway's bounds on any bot, and the built-in bots' own settings. */
  bot: [
    'botAdapter',
    'botReplyTimeoutMs',
    'botMaxFailures',
    'llmBaseUrl',
    'llmApiKey',
    'llmModel',
    'llmSystemPrompt',
    'llmGreeting',
    'llmTemperature',
    'llmTimeoutMs',
    'llmTotalTimeoutMs',
    'llmMaxHistoryMessages',
    'llmMaxTokens',
    'llmTransferNumbers',
    'openaiApiKey',
    'openaiRealtimeUrl',
    'openaiRealtimeModel',
    'openaiRealtimeVoice',
    'openaiRealtimeConnectTimeoutMs',
    'botUrl',
    'botAuthToken',
    'botConnectTimeoutMs',
    'botApologyText',
  ],
  /** TTS selection, the gateway's bound on any TTS, and the built-in TTS adapters' own settings. */
  tts: [
    'ttsAdapter',
    'ttsVoice',
    'ttsWorkers',
    'ttsWorkerNice',
    'ttsCacheMb',
    'ttsFirstAudioTimeoutMs',
    'cartesiaApiKey',
    'cartesiaUrl',
    'cartesiaModel',
    'cartesiaVoice',
  ],
  /** Signed webhooks, authenticated legs, upgrade rate limits. */
  security: ['vonageSignatureSecret', 'webhookMaxAgeS', 'wsAuth', 'wsAuthToken', 'upgradeRatePerSource', 'upgradeBurstPerSource', 'trustProxy'],
  recording: ['recordingDir'],
  console: ['consoleEnabled', 'consoleToken'],
  /** Vonage REST call control, and outbound calls' machine detection. */
  vonage: ['vonageApplicationId', 'vonagePrivateKey', 'vonageApiUrl', 'vonageApiTimeoutMs', 'vonageApiRetries', 'amdMode', 'amdBeepTimeoutS', 'voicemailText'],
  tracing: ['otelEndpoint', 'otelTracesUrl', 'otelHeaders', 'otelServiceName', 'otelSampler', 'otelSamplerArg'],
} as const satisfies Record<string, ReadonlyArray<keyof Config>>;

export type SectionName = keyof typeof SECTION_KEYS;
/** Every section, each the settings it names (frozen). */
export type ConfigSections = { readonly [S in SectionName]: Readonly<Pick<Config, (typeof SECTION_KEYS)[S][number]>> };

export type ServerSettings = ConfigSections['server'];
export type LegSettings = ConfigSections['leg'];
export type JitterSettings = ConfigSections['jitter'];
export type PacerSettings = ConfigSections['pacer'];
export type VadSettings = ConfigSections['vad'];
export type TurnSettings = ConfigSections['turn'];
export type AsrSettings = ConfigSections['asr'];
export type AzureSettings = ConfigSections['azure'];
export type BotSettings = ConfigSections['bot'];
export type TtsSettings = ConfigSections['tts'];
export type SecuritySettings = ConfigSections['security'];
export type RecordingSettings = ConfigSections['recording'];
export type ConsoleSettings = ConfigSections['console'];
export type VonageSettings = ConfigSections['vonage'];
export type TracingSettings = ConfigSections['tracing'];

/**
 * What one call session reads (call/session.ts), flat: the leg's media path (jitter, pacer, VAD, turn-taking) and the
 * per-call bounds of the bot and the TTS, plus the server's default language. One object, so the session reads
 * `settings.jitterTargetMs` as before; built once per config by {@link callSettingsOf}.
 */
export const CALL_SECTIONS = ['server', 'jitter', 'pacer', 'vad', 'turn', 'bot', 'tts'] as const satisfies ReadonlyArray<SectionName>;
export type CallSettings = ServerSettings & JitterSettings & PacerSettings & VadSettings & TurnSettings & BotSettings & TtsSettings;
/** What the webhooks (answer NCCO, event correlation) and outbound calls read: where the gateway is reached, how legs authenticate. */
export type WebhookSettings = Pick<ConfigSections, 'server' | 'security'>;
/** What the WebSocket upgrade pipeline (leg/upgrade.ts) reads: the path and MAX_CALLS, the leg's limits, the upgrade checks. */
export type UpgradeSettings = Pick<ConfigSections, 'server' | 'leg' | 'security'>;

const cache = new WeakMap<Config, ConfigSections>();
const callCache = new WeakMap<Config, CallSettings>();

/** The sections of `config`, built once per config object (a handful of small frozen objects), then shared. */
export function sectionsOf(config: Config): ConfigSections {
  let s = cache.get(config);
  if (!s) {
    const out: Record<string, unknown> = {};
    for (const [name, keys] of Object.entries(SECTION_KEYS) as Array<[SectionName, ReadonlyArray<keyof Config>]>) {
      const section: Record<string, unknown> = {};
      for (const k of keys) section[k] = config[k];
      out[name] = Object.freeze(section);
    }
    s = Object.freeze(out) as ConfigSections;
    cache.set(config, s);
  }
  return s;
}

/** The {@link CallSettings} of `config`: the {@link CALL_SECTIONS} merged into one frozen object, built once per config object. */
export function callSettingsOf(config: Config): CallSettings {
  let c = callCache.get(config);
  if (!c) {
    const s = sectionsOf(config);
    c = Object.freeze(Object.assign({}, ...CALL_SECTIONS.map((name) => s[name])) as CallSettings);
    callCache.set(config, c);
  }
  return c;
}
