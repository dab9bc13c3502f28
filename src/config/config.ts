/**
 * The gateway's configuration: one schema, read from the environment once, validated, frozen.
 * This is the only module that reads `process.env` (main.ts passes it in).
 */
import { GatewayError } from '../errors.js';
import { bool, httpUrl, int, listFromFile, nonEmpty, oneOf, phraseList, type Env, type Spec } from './parsers.js';
import { PROVIDER_SPECS } from './provider-specs.js';
import { TRACING_SPECS, type TracingConfig } from './tracing-specs.js';
import { ADAPTER_SETTINGS } from './adapter-specs.js';
import { layerEnv, type ConfigFile } from './config-file.js';
import { autoWorkers } from '../cluster/cores.js';
import type { BandFillMode } from '../asr/band-fill.js';

export { DEFAULT_SYSTEM_PROMPT, autoLocalAsrProcesses } from './adapter-specs.js';

export const SUPPORTED_RATES = [8000, 16000, 24000] as const;
/** `ENDPOINT_ASR_FLUSH_MS=auto` with the local recogniser (docs/evals.md: measured, no transcript changed). */
export const AUTO_ASR_FLUSH_MS = 200;
/** The call's recogniser is the local one (`asrName`: the adapter's name; a fallback chain's is `first>second`). */
export function localAsrFirst(asrName: string | undefined): boolean {
  return asrName?.split('>')[0] === 'pocketsphinx';
}
/** `ENDPOINT_ASR_FLUSH_MS` for a call's ASR. */
export function asrFlushMsFor(setting: number | 'auto', asrName: string | undefined): number {
  if (setting !== 'auto') return setting;
  return localAsrFirst(asrName) ? AUTO_ASR_FLUSH_MS : 0;
}
export type SampleRateHz = (typeof SUPPORTED_RATES)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config extends TracingConfig {
  readonly port: number;
  readonly host: string;
  /** Externally reachable base URL, http(s)://, no trailing slash. */
  readonly publicUrl: string;
  /** `publicUrl` turned into ws(s)://, no trailing slash. */
  readonly publicWsUrl: string;
  /** PUBLIC_URL was not set: it follows the bound port (see `withBoundPort`). */
  readonly publicUrlFromPort: boolean;
  /** Path of the WebSocket endpoint Vonage connects to. */
  readonly wsPath: string;
  readonly audioRateHz: SampleRateHz;
  readonly logLevel: LogLevel;
  readonly language: string;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly pingIntervalMs: number;
  /** Inbound messages (audio, text, pings) a leg may send per second, sustained (token bucket; Vonage sends ~50). */
  readonly legMaxMessagesPerS: number;
  /** Messages a leg may send at once above the sustained rate (bucket size: catch-up after a network stall). */
  readonly legMessageBurst: number;
  /** Malformed text messages a leg may send in any minute before it is closed (4009); 0 = no limit. */
  readonly legMaxMalformedPerMin: number;
  readonly maxPayloadBytes: number;
  readonly legFastAudio: boolean;
  /** Admission work (upgrades) per turn of the event loop, ms; 0 = no slicing (leg/admission.ts). */
  readonly admissionSliceMs: number;
  readonly maxCalls: number;
  /** Gateway processes sharing the port (node:cluster); 1 = one process, no cluster primary. */
  readonly workers: number;
  /** Niceness of V8's helper threads (garbage collection, compilation) below the event loop's; 0 = unchanged. */
  readonly gcThreadNice: number;
  readonly jitterTargetMs: number;
  readonly jitterCapacityMs: number;
  readonly jitterFillSilence: boolean;
  readonly pacerLeadMs: number;
  readonly pacerWatermarkBytes: number;
  readonly drainTimeoutMs: number;
  readonly vadMode: 0 | 1 | 2 | 3;
  readonly vadMinSpeechMs: number;
  readonly vadSilenceMs: number;
  /** `adaptive`: transcripts are gated by an end-of-turn detector and the VAD ends utterances sooner; `fixed`: VAD_SILENCE_MS only. */
  readonly endpointing: 'adaptive' | 'fixed';
  /** Adaptive: the shortest silence that ends a turn (and the VAD silence that ends an utterance when there is ASR). */
  readonly endpointMinSilenceMs: number;
  /** `auto`: {@link AUTO_ASR_FLUSH_MS} with the local recogniser, 0 with any other ASR (resolved per call). */
  readonly endpointAsrFlushMs: number | 'auto';
  /** Adaptive: silence after which a final that reads unfinished is given to the bot anyway. */
  readonly endpointMaxSilenceMs: number;
  /** Adaptive: silence a turn that reads complete but sounds unfinished (prosodic cue) waits; 0 = off. */
  readonly endpointProsodyHoldMs: number;
  /** The prosodic cue judged in a worker thread (one per process) instead of on the event loop. */
  readonly endpointProsodyWorker: boolean;
  /** Adaptive, local recogniser on an 8 kHz leg: silence a turn ending in "and"/"but" waits; 0 = the long silence. */
  readonly endpointConjunctionHoldMs: number;
  /** End-of-turn detector: `builtin` (word-list heuristic) or a module path. */
  readonly turnDetector: string;
  /** A detector prediction not settled in this long falls back to the built-in heuristic. */
  readonly turnDetectorTimeoutMs: number;
  readonly bargeIn: boolean;
  readonly bargeInMinSpeechMs: number;
  /** Caller audio that is only the bot's own audio echoed back by the line never counts as speech (see vad/echo-guard.ts). */
  readonly echoGuard: boolean;
  /** Longest echo delay the guard searches, ms. */
  readonly echoGuardMaxDelayMs: number;
  /** A caller frame up to this much louder than the expected echo still counts as echo, dB. */
  readonly echoGuardMarginDb: number;
  readonly bargeInConfirmMs: number;
  readonly bargeInPauseMs: number;
  readonly bargeInResumeSilenceMs: number;
  readonly backchannelMaxMs: number;
  readonly backchannelWords: readonly string[];
  readonly backchannelMaxWords: number;
  readonly bargeInWords: readonly string[];
  readonly maxUtteranceMs: number;
  readonly asrAdapter: string;
  readonly botAdapter: string;
  readonly ttsAdapter: string;
  /** TTS voice; empty = the adapter's default for the leg rate and language. */
  readonly ttsVoice: string;
  readonly ttsWorkers: number;
  /** Niceness of the synthesis worker threads (0–19; Linux applies it per thread). */
  readonly ttsWorkerNice: number;
  readonly ttsCacheMb: number;
  /** ASR grammar (JSGF file) or keyphrase list file for the local ASR; empty = the full language model. */
  readonly asrGrammar: string;
  readonly asrKeyphrases: string;
  /** Telephone-band conditioning of the local ASR's input: `auto` (detect per call), `on`, `off`. */
  readonly asrBandFill: BandFillMode;
  /** Language (and optional TTS voice) per number dialled, keyed by the number's digits. */
  readonly languageByNumber: Readonly<Record<string, CallLanguage>>;
  /** Azure Speech (ASR_ADAPTER/TTS_ADAPTER=microsoft): subscription key, region, optional endpoint or host override. */
  readonly azureSpeechKey: string;
  readonly azureSpeechRegion: string;
  readonly azureSpeechEndpoint: string;
  readonly azureSpeechHost: string;
  /** Phrase list (boosted words and phrases), comma-separated. */
  readonly azureSpeechPhrases: readonly string[];
  readonly azureSpeechConnectTimeoutMs: number;
  readonly azureSpeechMaxRetries: number;
  /** Audio the SDK sends unthrottled before it paces at 2x real time (its `SPEECH-TransmitLengthBeforThrottleMs`). */
  readonly azureSpeechUnthrottledMs: number;
  /** Google Cloud Speech (`ASR_ADAPTER=google`): model; empty = the service default for the language. */
  readonly googleSpeechModel: string;
  readonly googleSpeechInterim: boolean;
  /** Phrase hints (speech context). */
  readonly googleSpeechPhrases: readonly string[];
  readonly googleSpeechSingleUtterance: boolean;
  /** `host:port` override of the Speech endpoint; empty = Google's. */
  readonly googleSpeechEndpoint: string;
  /** Plaintext, unauthenticated channel to `googleSpeechEndpoint` (tests, private endpoints). */
  readonly googleSpeechInsecure: boolean;
  /** Service-account key file; empty = GOOGLE_APPLICATION_CREDENTIALS / the SDK's default credentials. */
  readonly googleSpeechKeyFile: string;
  /** Each recognition stream is replaced after this long (Google caps streams at 305 s). */
  readonly googleSpeechRotateMs: number;
  /** Unacknowledged audio kept per call to replay into a new stream. */
  readonly googleSpeechReplayMs: number;
  /** Deepgram (`ASR_ADAPTER=deepgram`): API key (never logged), base URL, model, endpointing silence. */
  readonly deepgramApiKey: string;
  readonly deepgramUrl: string;
  readonly deepgramModel: string;
  readonly deepgramEndpointingMs: number;
  /** Cartesia (`TTS_ADAPTER=cartesia`): API key (never logged), base URL, model id, default voice id. */
  readonly cartesiaApiKey: string;
  readonly cartesiaUrl: string;
  readonly cartesiaModel: string;
  readonly cartesiaVoice: string;
  /** LLM bot (`BOT_ADAPTER=llm`): OpenAI-compatible API base URL, no trailing slash. */
  readonly llmBaseUrl: string;
  /** Bearer token for the LLM API; empty = no Authorization header. Never logged. */
  readonly llmApiKey: string;
  readonly llmModel: string;
  readonly llmSystemPrompt: string;
  /** Said at call start; empty = none. */
  readonly llmGreeting: string;
  /** Sampling temperature; null = the server's default (not sent). */
  readonly llmTemperature: number | null;
  /** Time allowed for the first token of a reply. */
  readonly llmTimeoutMs: number;
  /** Time allowed for a whole reply. */
  readonly llmTotalTimeoutMs: number;
  readonly llmMaxHistoryMessages: number;
  /** `max_tokens` per reply (0 = not sent); also caps the reply's characters. */
  readonly llmMaxTokens: number;
  /** Numbers the `transfer` tool may dial (digits, no "+"); `['*']` = any; empty = no transfer tool. */
  readonly llmTransferNumbers: readonly string[];
  /** Speech-to-speech (`BOT_ADAPTER=openai-realtime`): API key; empty = `LLM_API_KEY`. Never logged. */
  readonly openaiApiKey: string;
  /** The realtime WebSocket URL (`?model=` is added); ws:// reaches a local or private server. */
  readonly openaiRealtimeUrl: string;
  readonly openaiRealtimeModel: string;
  readonly openaiRealtimeVoice: string;
  /** Time allowed to open the model's WebSocket. */
  readonly openaiRealtimeConnectTimeoutMs: number;
  /** Directory for per-call stereo WAV recordings and their metadata; empty = recording off. */
  readonly recordingDir: string;
  /** A final transcript the bot has not begun to answer within this long gets a spoken apology; 0 = never. */
  readonly botReplyTimeoutMs: number;
  /** Bot failures (a throw, a rejection, a missed reply) a call tolerates: each gets an apology, the last a goodbye and hang-up. */
  readonly botMaxFailures: number;
  /** A TTS request with no first audio within this long counts as failed (next TTS, else apology); 0 = no bound. */
  readonly ttsFirstAudioTimeoutMs: number;
  /** Concurrent offline (pocketsphinx) recognisers; calls past it go on without ASR. Resolved from `auto` at load. */
  readonly localAsrMaxProcesses: number;
  /** Niceness of the offline recognisers (and their session groups), 0–19. */
  readonly localAsrNice: number;
  readonly localAsrPostspeechMs: number;
  /** Vonage signature secret (HS256); empty = webhooks are not signature-checked. Never logged. */
  readonly vonageSignatureSecret: string;
  /** Replay window: a signed webhook's (or a `vonage` leg's) `iat` may be at most this many seconds old. */
  readonly webhookMaxAgeS: number;
  /** How WebSocket upgrades are authenticated (and what the NCCO asks Vonage to send). */
  readonly wsAuth: 'none' | 'vonage' | 'custom';
  /** The exact `Authorization` value a `custom` leg must present. Never logged. */
  readonly wsAuthToken: string;
  /** WebSocket upgrades allowed per second per source address (token bucket; 0 = no limit). */
  readonly upgradeRatePerSource: number;
  /** Upgrades a source may make at once after a quiet spell (bucket size). */
  readonly upgradeBurstPerSource: number;
  /** Take the source address from the last `X-Forwarded-For` entry (only behind your own proxy). */
  readonly trustProxy: boolean;
  /** BOT_ADAPTER=remote: the bot's WebSocket URL (ws:// or wss://); empty otherwise. */
  readonly botUrl: string;
  /** BOT_ADAPTER=remote: sent as `Authorization: Bearer …` to the bot; empty = none. Never logged. */
  readonly botAuthToken: string;
  readonly botConnectTimeoutMs: number;
  /** Spoken when the remote bot cannot be reached or goes away mid-call, before hanging up. */
  readonly botApologyText: string;
  /** Vonage application id for REST call control; empty = call control off. */
  readonly vonageApplicationId: string;
  /** The application's private key: a PEM file path or the PEM text itself. Secret: never log it. */
  readonly vonagePrivateKey: string;
  /** Default Voice REST API base URL (a call's validated `region_url` overrides it). */
  readonly vonageApiUrl: string;
  readonly vonageApiTimeoutMs: number;
  readonly vonageApiRetries: number;
  /** Serve the live console and browser softphone at /console (refused on a non-loopback HOST without a token). */
  readonly consoleEnabled: boolean;
  /** Token the console requires (`?token=` once, then a cookie; or `Authorization: Bearer`); empty = none. Never logged. */
  readonly consoleToken: string;
}

/** A call's language and TTS voice (undefined = the TTS adapter's default for the language). */
export interface CallLanguage {
  readonly language: string;
  readonly voice?: string;
}

/** BCP-47-shaped: `en`, `en-US`, `zh-Hant-TW`. */
export const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/;
/** A vendor voice name: `slt`, `en-GB-SoniaNeural`, `en-US-Neural2-F`. */
export const VOICE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** `447700900001=en-GB/en-GB-SoniaNeural,33170000000=fr-FR` → digits → language and voice. */
function languageMap(raw: string): Record<string, CallLanguage> {
  const out: Record<string, CallLanguage> = {};
  for (const item of raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const m = /^\+?([0-9 ]{3,20})=([^/\s]+)(?:\/(\S+))?$/.exec(item);
    if (!m || !LANGUAGE_TAG.test(m[2]!) || (m[3] !== undefined && !VOICE_NAME.test(m[3]))) {
      throw new Error('comma-separated number=language[/voice] entries, e.g. 447700900001=en-GB/en-GB-SoniaNeural,33170000000=fr-FR');
    }
    out[m[1]!.replace(/ /g, '')] = Object.freeze(m[3] ? { language: m[2]!, voice: m[3] } : { language: m[2]! }); // groups 1 and 2 always match
  }
  return Object.freeze(out);
}

/** LANGUAGE_BY_NUMBER in the config file: a map `447700900001: en-GB/en-GB-SoniaNeural` or `…: { language, voice }`. */
function languageMapFromFile(value: unknown): string {
  if (value === null || typeof value === 'string') return value ?? '';
  const shape = 'a map of number: language[/voice] (or number: { language, voice })';
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(shape);
  return Object.entries(value as Record<string, unknown>)
    .map(([num, v]) => {
      if (typeof v === 'string') return `${num}=${v}`;
      const o = v as { language?: unknown; voice?: unknown } | null;
      if (!o || typeof o.language !== 'string' || (o.voice !== undefined && typeof o.voice !== 'string')) throw new Error(shape);
      return `${num}=${o.language}${o.voice ? `/${o.voice}` : ''}`;
    })
    .join(',');
}

/** Every variable the gateway reads, in README order. */
export const CONFIG_SPECS: ReadonlyArray<Spec<keyof Config>> = [
  { key: 'port', env: 'PORT', def: '8080', doc: 'HTTP and WebSocket port (0 picks a free one)', parse: int(0, 65535) },
  { key: 'host', env: 'HOST', def: '0.0.0.0', doc: 'Interface to listen on', parse: nonEmpty },
  {
    key: 'publicUrl',
    env: 'PUBLIC_URL',
    def: 'http://localhost:$PORT',
    doc: 'Externally reachable base URL; NCCO websocket `uri` (ws/wss) and `eventUrl` are built from it',
    parse: httpUrl,
  },
  {
    key: 'wsPath',
    env: 'WS_PATH',
    def: '/socket',
    doc: 'Path Vonage opens the WebSocket on',
    parse: (r) => {
      if (!/^\/[A-Za-z0-9/_.-]*$/.test(r.trim())) throw new Error('a path starting with / (letters, digits, / _ . -)');
      return r.trim();
    },
  },
  { key: 'audioRateHz', env: 'AUDIO_RATE', def: '16000', doc: 'Sample rate asked of Vonage in the NCCO (`audio/l16;rate=…`)', parse: oneOf(SUPPORTED_RATES) },
  { key: 'logLevel', env: 'LOG_LEVEL', def: 'info', doc: 'pino log level', parse: oneOf(LOG_LEVELS) },
  { key: 'language', env: 'LANGUAGE', def: 'en-US', doc: 'Default BCP-47 language passed to ASR and TTS adapters', parse: nonEmpty },
  {
    key: 'handshakeTimeoutMs',
    env: 'HANDSHAKE_TIMEOUT_MS',
    def: '5000',
    doc: 'Time allowed for `websocket:connected` after the upgrade',
    parse: int(100, 60000),
  },
  {
    key: 'idleTimeoutMs',
    env: 'IDLE_TIMEOUT_MS',
    def: '600000',
    doc: 'A leg that sends no message at all (no audio, no text) for this long is closed (4004). A caller who only listens is silence, not death: liveness is ping/pong, and gaps in the audio are counted as silence',
    parse: int(1000, 86400000),
  },
  {
    key: 'pingIntervalMs',
    env: 'PING_INTERVAL_MS',
    def: '10000',
    doc: 'WebSocket ping interval; no pong by the next ping closes the leg (4005)',
    parse: int(1000, 600000),
  },
  {
    key: 'legMaxMessagesPerS',
    env: 'LEG_MAX_MESSAGES_PER_S',
    def: '250',
    doc: 'Inbound messages (audio, text, pings) one leg may send per second, sustained (token bucket; Vonage sends about 50); past it the leg is closed (4008)',
    parse: int(60, 100000),
  },
  {
    key: 'legMessageBurst',
    env: 'LEG_MESSAGE_BURST',
    def: '500',
    doc: 'Messages a leg may send at once above that rate (catch-up after a network stall: 500 = 10 s of audio)',
    parse: int(50, 1000000),
  },
  {
    key: 'legMaxMalformedPerMin',
    env: 'LEG_MAX_MALFORMED_PER_MIN',
    def: '20',
    doc: 'Malformed text messages (not JSON, not an event object) a leg may send in any minute before it is closed (4009); 0 = no limit',
    parse: int(0, 1000000),
  },
  {
    key: 'maxPayloadBytes',
    env: 'MAX_PAYLOAD_BYTES',
    def: '32768',
    doc: 'Largest WebSocket message accepted; larger closes the leg with 1009',
    parse: int(4096, 1048576),
  },
  {
    key: 'legFastAudio',
    env: 'LEG_FAST_AUDIO',
    def: 'true',
    doc: "Read each leg's binary audio messages straight from the socket's chunks and write its audio frames pre-framed to the socket (no per-message objects either way); text, pings, close and any frame the reader does not judge stay ws's. false = ws reads and sends everything",
    parse: bool,
  },
  {
    key: 'admissionSliceMs',
    env: 'ADMISSION_SLICE_MS',
    def: '4',
    doc: "Main-thread time new legs' upgrades (auth, the WebSocket handshake, the leg) may take per turn of the event loop; a burst of calls beyond it waits for the next turn, so the live calls' 20 ms tick runs between slices. Waiting legs count towards `MAX_CALLS`. 0 = admit each at once",
    parse: int(0, 1000),
  },
  {
    key: 'maxCalls',
    env: 'MAX_CALLS',
    def: '1000',
    doc: 'Concurrent legs; beyond it the answer webhook returns a spoken busy NCCO and upgrades get 503',
    parse: int(1, 100000),
  },
  {
    key: 'workers',
    env: 'WORKERS',
    def: 'auto',
    doc: 'Gateway processes sharing the port (node:cluster); webhooks and legs are spread over them. `auto` = the cores available (`os.availableParallelism()`, capped by a cgroup v2 CPU quota), `1` = one process, no cluster primary. `MAX_CALLS`, `/readyz`, `/metrics` and the console mean the whole gateway. Kubernetes manifests set 1 (see *Scaling*)',
    parse: (r) => (r.trim() === 'auto' ? autoWorkers() : int(1, 256)(r)),
  },
  {
    key: 'gcThreadNice',
    env: 'GC_THREAD_NICE',
    def: '10',
    doc: "Scheduling niceness of V8's helper threads (concurrent garbage collection, background compilation; Linux: per thread; 0 = as the event loop, up to 19): on a core they share with the event loop (one CPU, or every core busy), they run in its idle time instead of taking the core while every call's 20 ms tick waits",
    parse: int(0, 19),
  },
  {
    key: 'jitterTargetMs',
    env: 'JITTER_TARGET_MS',
    def: '60',
    doc: 'Jitter buffer depth before playout starts (multiple of 20; 0 = pass-through: lowest latency, no smoothing)',
    parse: (r) => {
      const n = int(0, 1000)(r);
      if (n % 20) throw new Error('a multiple of 20 from 0 to 1000');
      return n;
    },
  },
  {
    key: 'jitterCapacityMs',
    env: 'JITTER_CAPACITY_MS',
    def: '1000',
    doc: 'Jitter buffer capacity; the oldest frame is dropped past it',
    parse: int(40, 10000),
  },
  { key: 'jitterFillSilence', env: 'JITTER_FILL_SILENCE', def: 'false', doc: 'Hand silence to the ASR on underrun instead of skipping the slot', parse: bool },
  {
    key: 'pacerLeadMs',
    env: 'PACER_LEAD_MS',
    def: '100',
    doc: 'Audio kept queued at Vonage ahead of playout (bounds barge-in delay). A reply starts with two frames at once and the lead grows by one frame a tick to this',
    parse: int(20, 2000),
  },
  {
    key: 'pacerWatermarkBytes',
    env: 'PACER_WATERMARK_BYTES',
    def: '65536',
    doc: 'Socket `bufferedAmount` past which outbound frames are dropped and counted',
    parse: int(1024, 16777216),
  },
  {
    key: 'drainTimeoutMs',
    env: 'DRAIN_TIMEOUT_MS',
    def: '30000',
    doc: 'On SIGTERM, live calls may run this long before they are closed',
    parse: int(0, 3600000),
  },
  { key: 'vadMode', env: 'VAD_MODE', def: '2', doc: 'WebRTC VAD aggressiveness 0 (least) to 3 (most)', parse: (r) => oneOf([0, 1, 2, 3] as const)(r) },
  { key: 'vadMinSpeechMs', env: 'VAD_MIN_SPEECH_MS', def: '120', doc: 'Voiced audio needed before speech counts as started', parse: int(20, 5000) },
  { key: 'vadSilenceMs', env: 'VAD_SILENCE_MS', def: '600', doc: 'Silence that ends an utterance (endpointing)', parse: int(60, 10000) },
  {
    key: 'endpointing',
    env: 'ENDPOINTING',
    def: 'adaptive',
    doc: "End of the caller's turn: `adaptive` (with ASR, a final transcript that reads complete ends the turn after `ENDPOINT_MIN_SILENCE_MS`, one that reads unfinished is held up to `ENDPOINT_MAX_SILENCE_MS` and joined with what follows; see *How audio flows*) or `fixed` (`VAD_SILENCE_MS` and the ASR's own endpointing only). Without ASR both are `fixed`",
    parse: (r) => oneOf(['adaptive', 'fixed'] as const)(r),
  },
  {
    key: 'endpointMinSilenceMs',
    env: 'ENDPOINT_MIN_SILENCE_MS',
    def: '400',
    doc: "Adaptive endpointing: the shortest silence that ends a turn; also the VAD silence that ends an utterance (speech-end, the ASR's end of speech) when there is ASR",
    parse: int(60, 10000),
  },
  {
    key: 'endpointAsrFlushMs',
    env: 'ENDPOINT_ASR_FLUSH_MS',
    def: 'auto',
    doc: "Adaptive endpointing: silence inside the caller's utterance after which the ASR is told the speech ended (`endOfSpeech()`: the local recogniser prints its final now), while the VAD waits `ENDPOINT_MIN_SILENCE_MS` to end the utterance: the final is under way while the turn is decided, so a turn is answered up to that difference sooner. Only while the bot is silent; speech that goes on is transcribed as the next final and joined to the turn. `auto` (the default) = 200 with the local recogniser (`local` first in `ASR_ADAPTER`), 0 with any other (a cloud recogniser told to finalise at every 200 ms gap would cut its own context; set a number to try it). `0` or at least `ENDPOINT_MIN_SILENCE_MS` = at the end of the utterance. Measured with the local recogniser (docs/evals.md, 2026-12-03, quiet machine): call-eval turn latency p50 −190 ms at 8 kHz, −180 ms at 16 kHz; `npm run bench:asr` (fill auto and the IVR menu) word for word the same finals with 200 as with 0",
    parse: (r) => (r.trim() === 'auto' ? 'auto' : int(0, 10000)(r)),
  },
  {
    key: 'endpointMaxSilenceMs',
    env: 'ENDPOINT_MAX_SILENCE_MS',
    def: '1500',
    doc: 'Adaptive endpointing: silence after which a final transcript that reads unfinished (trailing "and", "to", a half-said number) goes to the bot anyway',
    parse: int(100, 30000),
  },
  {
    key: 'endpointProsodyHoldMs',
    env: 'ENDPOINT_PROSODY_HOLD_MS',
    def: '900',
    doc: 'Adaptive endpointing, prosodic cue: a final transcript that reads complete, but whose audio sounds unfinished (the end of the caller\'s utterance still loud and its pitch level, as before a pause inside a sentence), ends the turn after this much silence instead of `ENDPOINT_MIN_SILENCE_MS` (capped at `ENDPOINT_MAX_SILENCE_MS`). Judged once per utterance from its last second of audio (docs/evals.md, *The prosodic end-of-turn cue*, says what it catches and what it costs). `0`, or not above `ENDPOINT_MIN_SILENCE_MS`, = off (the text alone decides). With the default the eval\'s 800 ms mid-sentence pause is not answered inside the pause (2 of 2 → 0 of 2 at 8 and 16 kHz); the cost: the cue also hears about a third of the short finished answers of pocketsphinx-testdata ("ten of clubs"), and every Flite-spoken answer, as unfinished, and those wait 500 ms more. On a noisy line (< 25 dB SNR) it gives no verdict',
    parse: int(0, 30000),
  },
  {
    key: 'endpointProsodyWorker',
    env: 'ENDPOINT_PROSODY_WORKER',
    def: 'true',
    doc: "Judge the prosodic cue (`ENDPOINT_PROSODY_HOLD_MS`) in one worker thread per process, at niceness 10, instead of on the event loop that paces every call: ~0.4 ms of pitch tracking per utterance end, which at a few hundred calls was a fifth of the event loop's work. The turn waits for the verdict (normally within a millisecond; at most 200 ms, then no verdict). A full queue or a failed worker computes it on the event loop. false = on the event loop",
    parse: bool,
  },
  {
    key: 'endpointConjunctionHoldMs',
    env: 'ENDPOINT_CONJUNCTION_HOLD_MS',
    def: '950',
    doc: 'Adaptive endpointing with the local recogniser on an 8 kHz leg: a final that reads unfinished only because its last word is "and" or "but" ends the turn after this much silence instead of `ENDPOINT_MAX_SILENCE_MS`. At telephone band pocketsphinx appends such a word to finals the caller had finished ("but i\'m sure in years and"); longer than a pause inside a sentence, so a caller who goes on after a real "and" is still joined. Used only between `ENDPOINT_MIN_SILENCE_MS` and `ENDPOINT_MAX_SILENCE_MS`; `0` = off (the long silence, as for any unfinished final)',
    parse: int(0, 30000),
  },
  {
    key: 'turnDetector',
    env: 'TURN_DETECTOR',
    def: 'builtin',
    doc: 'End-of-turn detector for adaptive endpointing: `builtin` (word list and rules) or a module path exporting a detector `{ name, predict }` or a factory of one (see *End-of-turn detectors*)',
    parse: nonEmpty,
  },
  {
    key: 'turnDetectorTimeoutMs',
    env: 'TURN_DETECTOR_TIMEOUT_MS',
    def: '150',
    doc: "A custom detector's prediction not settled in this long falls back to the built-in heuristic (counted, logged once per call)",
    parse: int(10, 5000),
  },
  { key: 'bargeIn', env: 'BARGE_IN', def: 'true', doc: 'Caller speech interrupts bot playback', parse: bool },
  { key: 'bargeInMinSpeechMs', env: 'BARGE_IN_MIN_SPEECH_MS', def: '200', doc: 'Speech needed before it interrupts playback', parse: int(20, 5000) },
  {
    key: 'echoGuard',
    env: 'ECHO_GUARD',
    def: 'on',
    doc: "Echo guard: caller audio no louder than the line's echo of what the bot just said (delay and loss estimated per call) does not count as speech for barge-in or utterance start, and reaches the ASR as silence while the caller is not speaking (`on`/`off`)",
    parse: bool,
  },
  {
    key: 'echoGuardMaxDelayMs',
    env: 'ECHO_GUARD_MAX_DELAY_MS',
    def: '400',
    doc: 'Longest echo delay the echo guard searches, from a frame played at Vonage to its echo leaving the jitter buffer (PSTN round trips are < 300 ms, plus `JITTER_TARGET_MS`)',
    parse: int(60, 1000),
  },
  {
    key: 'echoGuardMarginDb',
    env: 'ECHO_GUARD_MARGIN_DB',
    def: '6',
    doc: 'Caller audio up to this much louder than the expected echo still counts as echo (higher: fewer false barge-ins, double talk needs to be louder)',
    parse: int(0, 30),
  },
  {
    key: 'bargeInPauseMs',
    env: 'BARGE_IN_PAUSE_MS',
    def: '120',
    doc: "Pause, then decide: new caller speech this long (voiced ms, counted from the VAD's speech start) pauses an interruptible reply at once (Vonage drops its lead, so the caller hears silence now; undone on silence). Only with `BARGE_IN_CONFIRM_MS` > 0; without a pause `BARGE_IN_MIN_SPEECH_MS` interrupts",
    parse: int(20, 5000),
  },
  {
    key: 'bargeInConfirmMs',
    env: 'BARGE_IN_CONFIRM_MS',
    def: '900',
    doc: 'Pause, then decide: at barge-in onset playback pauses; this much voiced speech (or a transcript with words that are not backchannels) confirms the barge-in, else playback resumes where it stopped. Keep it above `BACKCHANNEL_MAX_MS`. `0` = no pause: interrupt at onset',
    parse: int(0, 10000),
  },
  {
    key: 'bargeInResumeSilenceMs',
    env: 'BARGE_IN_RESUME_SILENCE_MS',
    def: '300',
    doc: 'Caller silence that undoes a barge-in pause before it is confirmed (playback resumes; also resumed after 2 × `BARGE_IN_CONFIRM_MS` at most)',
    parse: int(20, 10000),
  },
  {
    key: 'backchannelMaxMs',
    env: 'BACKCHANNEL_MAX_MS',
    def: '700',
    doc: 'An utterance begun while the bot speaks, not interrupting, with at most this much voiced speech (with ASR: and a transcript of only `BACKCHANNEL_WORDS` or none; or any length of only those words) is a backchannel: told to the bot as a `backchannel` event, never as a transcript. `0` = off',
    parse: int(0, 10000),
  },
  {
    key: 'backchannelWords',
    fromFile: listFromFile,
    env: 'BACKCHANNEL_WORDS',
    def: 'uh-huh,uh huh,mm-hmm,mhm,hmm,huh,uh,um,mm,ah,oh,okay,ok,yeah,yep,yes,right,sure,i see,got it,alright',
    doc: 'Comma-separated acknowledgements and fillers (the offline recogniser often hears "uh-huh" as "huh"): a transcript made only of these does not interrupt the bot',
    parse: phraseList,
  },
  {
    key: 'backchannelMaxWords',
    env: 'BACKCHANNEL_MAX_WORDS',
    def: '2',
    doc: 'With ASR: a final of at most this many words, none of them in `BARGE_IN_WORDS`, from an utterance no longer than `BACKCHANNEL_MAX_MS`, is a backchannel even when its words are not in `BACKCHANNEL_WORDS` (the offline recogniser hears a synthetic "okay" as "again"); `0` = only listed words. A short answer said over the bot (a menu choice) then reaches the bot as a backchannel with its text: add such words to `BARGE_IN_WORDS` to make them interrupt',
    parse: int(0, 20),
  },
  {
    key: 'bargeInWords',
    fromFile: listFromFile,
    env: 'BARGE_IN_WORDS',
    def: 'stop,wait,no,nope,hold on,hang on,sorry,excuse me,pardon,hello,help,cancel,operator,agent',
    doc: 'Comma-separated words and phrases that always interrupt the bot, however short the utterance (see `BACKCHANNEL_MAX_WORDS`)',
    parse: phraseList,
  },
  {
    key: 'maxUtteranceMs',
    env: 'MAX_UTTERANCE_MS',
    def: '15000',
    doc: 'Longest utterance kept for the bot (audio echo); longer ones are cut',
    parse: int(1000, 120000),
  },
  {
    key: 'asrAdapter',
    env: 'ASR_ADAPTER',
    def: 'auto',
    doc: 'ASR adapter: `auto` (`local` if pocketsphinx is installed, else `none`), `local`, `google`, `microsoft`, `deepgram`, `none`, a module path exporting a factory, or a comma-separated fallback chain (`google,microsoft,local`)',
    parse: nonEmpty,
  },
  {
    key: 'botAdapter',
    env: 'BOT_ADAPTER',
    def: 'echo',
    doc: 'Bot adapter: `echo`, `llm` (OpenAI-compatible chat completions, see *LLM bot*), `remote` (a bot in another process over the sidecar protocol, see `BOT_URL`), `openai-realtime` (a speech-to-speech model instead of ASR, bot and TTS, see *Speech-to-speech*), or a module path exporting a factory',
    parse: nonEmpty,
  },
  {
    key: 'ttsAdapter',
    env: 'TTS_ADAPTER',
    def: 'flite',
    doc: 'TTS adapter: `flite` (offline), `microsoft`, `cartesia`, `none`, or a module path exporting a factory; a comma-separated list falls back to the next when one fails before producing audio',
    parse: nonEmpty,
  },
  {
    key: 'ttsVoice',
    env: 'TTS_VOICE',
    def: '',
    doc: 'TTS voice (flite: slt, kal, kal16, awb, rms); empty = slt for 16/24 kHz legs, kal for 8 kHz',
    parse: (r) => r.trim(),
  },
  {
    key: 'languageByNumber',
    env: 'LANGUAGE_BY_NUMBER',
    def: '',
    doc: 'Language and optional TTS voice per number dialled: `447700900001=en-GB/en-GB-SoniaNeural,33170000000=fr-FR` (others get `LANGUAGE`)',
    parse: languageMap,
    fromFile: languageMapFromFile,
  },
  ...PROVIDER_SPECS,
  ...TRACING_SPECS,
  ...ADAPTER_SETTINGS.flatMap((g) => g.specs),
];

/** The core settings (validated always); the adapters' own are in ADAPTER_SETTINGS. */
export const CORE_SPECS: ReadonlyArray<Spec<keyof Config>> = CONFIG_SPECS.filter((s) => !s.owners);

/**
 * `kind:name` of every adapter the environment selects: `asr:google`, `bot:llm`, `tts:flite`; every member of a
 * fallback chain or list; `asr:auto` as given. Module paths are included as given (no built-in settings match them).
 */
export function selectedAdapters(env: Env): Set<string> {
  const out = new Set<string>();
  for (const [kind, name] of [
    ['asr', 'ASR_ADAPTER'],
    ['bot', 'BOT_ADAPTER'],
    ['tts', 'TTS_ADAPTER'],
  ] as const) {
    const raw = env[name]?.trim() || (CONFIG_SPECS.find((s) => s.env === name)?.def ?? '');
    for (const one of raw.split(',')) if (one.trim()) out.add(`${kind}:${one.trim()}`);
  }
  return out;
}

/**
 * Build the frozen config from an environment and an optional config file under it (see config-file.ts: a non-empty
 * variable wins over the file, the file over the default). Settings owned by adapters that are not selected are not
 * validated: a valid value is kept, an invalid one is ignored (the default stands; nothing reads it). Throws one
 * {@link GatewayError} `CONFIG_INVALID` whose message names every bad variable, where it came from and what it allows.
 */
export function loadConfig(environment: Env, file?: ConfigFile): Config {
  const env = layerEnv(environment, file);
  const selected = selectedAdapters(env);
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const spec of CONFIG_SPECS) {
    let raw = env[spec.env];
    if (raw === undefined || (raw === '' && spec.def !== '')) {
      if (spec.key === 'publicUrl') continue; // derived below from the port
      raw = spec.def;
    }
    try {
      out[spec.key] = spec.parse(raw, env);
    } catch (e) {
      if (spec.owners && !spec.owners.some((o) => selected.has(o))) {
        out[spec.key] = spec.parse(spec.def, env);
        continue;
      }
      const where = file && !environment[spec.env] && file.values[spec.env] !== undefined ? ` (from ${file.path})` : '';
      problems.push(`${spec.env}=${spec.secret ? '(secret, not shown)' : JSON.stringify(raw)}${where} is invalid: expected ${(e as Error).message}`);
    }
  }
  if (problems.length) throw new GatewayError('CONFIG_INVALID', `Invalid configuration:\n  ${problems.join('\n  ')}`);
  out.publicUrlFromPort = out.publicUrl === undefined;
  if (out.publicUrl === undefined) out.publicUrl = `http://localhost:${out.port as number}`;
  out.publicWsUrl = (out.publicUrl as string).replace(/^http/, 'ws');
  if (!out.vonageApplicationId !== !out.vonagePrivateKey) {
    throw new GatewayError(
      'CONFIG_INVALID',
      'Invalid configuration:\n  VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY must be set together (or both left empty)',
    );
  }
  if ((out.jitterCapacityMs as number) < (out.jitterTargetMs as number) + 40) {
    throw new GatewayError(
      'CONFIG_INVALID',
      `Invalid configuration:\n  JITTER_CAPACITY_MS must be at least JITTER_TARGET_MS + 40 (${(out.jitterTargetMs as number) + 40})`,
    );
  }
  if ((out.endpointMaxSilenceMs as number) < (out.endpointMinSilenceMs as number)) {
    throw new GatewayError('CONFIG_INVALID', 'Invalid configuration:\n  ENDPOINT_MAX_SILENCE_MS must be at least ENDPOINT_MIN_SILENCE_MS');
  }
  if (out.wsAuth === 'vonage' && !out.vonageSignatureSecret)
    throw new GatewayError('CONFIG_INVALID', 'Invalid configuration:\n  WS_AUTH=vonage requires VONAGE_SIGNATURE_SECRET');
  if (out.wsAuth === 'custom' && !out.wsAuthToken) throw new GatewayError('CONFIG_INVALID', 'Invalid configuration:\n  WS_AUTH=custom requires WS_AUTH_TOKEN');
  return Object.freeze(out) as unknown as Config;
}

/** The config once the server is bound: with `PORT=0` and no PUBLIC_URL, the URLs name the real port. */
export function withBoundPort(config: Config, port: number): Config {
  if (config.port === port) return config;
  const publicUrl = config.publicUrlFromPort ? `http://localhost:${port}` : config.publicUrl;
  return Object.freeze({ ...config, port, publicUrl, publicWsUrl: publicUrl.replace(/^http/, 'ws') });
}

/** 20 ms of 16-bit mono PCM at `rateHz`. */
export function frameBytesFor(rateHz: number): number {
  return (rateHz / 50) * 2;
}
