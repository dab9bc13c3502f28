/**
 * The gateway's configuration: one schema, read from the environment once, validated, frozen.
 * This is the only module that reads `process.env` (main.ts passes it in).
 */
import { GatewayError } from '../errors.js';

export const SUPPORTED_RATES = [8000, 16000, 24000] as const;
export type SampleRateHz = (typeof SUPPORTED_RATES)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
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
  readonly maxPayloadBytes: number;
  readonly maxCalls: number;
  readonly jitterTargetMs: number;
  readonly jitterCapacityMs: number;
  readonly jitterFillSilence: boolean;
  readonly pacerLeadMs: number;
  readonly pacerWatermarkBytes: number;
  readonly drainTimeoutMs: number;
  readonly vadMode: 0 | 1 | 2 | 3;
  readonly vadMinSpeechMs: number;
  readonly vadSilenceMs: number;
  readonly bargeIn: boolean;
  readonly bargeInMinSpeechMs: number;
  readonly maxUtteranceMs: number;
  readonly asrAdapter: string;
  readonly botAdapter: string;
  readonly ttsAdapter: string;
  /** TTS voice; empty = the adapter's default for the leg rate and language. */
  readonly ttsVoice: string;
  readonly ttsWorkers: number;
  /** ASR grammar (JSGF file) or keyphrase list file for the local ASR; empty = the full language model. */
  readonly asrGrammar: string;
  readonly asrKeyphrases: string;
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
  /** Directory for per-call stereo WAV recordings and their metadata; empty = recording off. */
  readonly recordingDir: string;
  /** A final transcript the bot has not begun to answer within this long gets a spoken apology; 0 = never. */
  readonly botReplyTimeoutMs: number;
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
  for (const item of raw.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^\+?([0-9 ]{3,20})=([^/\s]+)(?:\/(\S+))?$/.exec(item);
    if (!m || !LANGUAGE_TAG.test(m[2]) || (m[3] !== undefined && !VOICE_NAME.test(m[3]))) {
      throw new Error('comma-separated number=language[/voice] entries, e.g. 447700900001=en-GB/en-GB-SoniaNeural,33170000000=fr-FR');
    }
    out[m[1].replace(/ /g, '')] = Object.freeze(m[3] ? { language: m[2], voice: m[3] } : { language: m[2] });
  }
  return Object.freeze(out);
}

type Env = Readonly<Record<string, string | undefined>>;

interface Spec<K extends keyof Config> {
  key: K;
  env: string;
  doc: string;
  /** Default as it appears in the README. */
  def: string;
  parse: (raw: string, env: Env) => Config[K];
  /** A secret: an invalid value is never echoed in the error message. */
  secret?: boolean;
}

function int(min: number, max: number) {
  return (raw: string): number => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error(`an integer from ${min} to ${max}`);
    const n = Number(raw);
    if (n < min || n > max) throw new Error(`an integer from ${min} to ${max}`);
    return n;
  };
}
function oneOf<T extends string | number>(values: readonly T[]) {
  return (raw: string): T => {
    const v = values.find((x) => String(x) === raw.trim());
    if (v === undefined) throw new Error(`one of ${values.join(', ')}`);
    return v;
  };
}
function bool(raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new Error('one of true, false (also 1/0, yes/no, on/off)');
}
function phraseList(raw: string): readonly string[] {
  const list = raw.split(',').map((p) => p.trim()).filter(Boolean);
  if (list.length > 5000 || list.some((p) => p.length > 100)) throw new Error('at most 5000 comma-separated phrases of at most 100 characters');
  return Object.freeze(list);
}
function nonEmpty(raw: string): string {
  if (!raw.trim()) throw new Error('a non-empty string');
  return raw.trim();
}
function wsUrl(raw: string): string {
  const v = raw.trim();
  if (!v) return '';
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new Error('an absolute ws://, wss://, http:// or https:// URL');
  }
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(u.protocol)) throw new Error('an absolute ws://, wss://, http:// or https:// URL');
  return v;
}
function httpUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new Error('an absolute http:// or https:// URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('an absolute http:// or https:// URL');
  if (u.search || u.hash) throw new Error('an absolute http:// or https:// URL without query or fragment');
  return u.toString().replace(/\/+$/, '');
}

/** The LLM bot's default system prompt: short, plain, speakable replies. */
export const DEFAULT_SYSTEM_PROMPT =
  'You are a friendly voice assistant on a phone call. Everything you write is spoken aloud by a speech synthesiser, ' +
  'so answer in one to three short sentences of plain conversational text: no markdown, lists, emoji or URLs. ' +
  'If you did not understand the caller, ask them to repeat. When the caller wants to end the call, say a short goodbye and call hang_up.';

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
  { key: 'wsPath', env: 'WS_PATH', def: '/socket', doc: 'Path Vonage opens the WebSocket on', parse: (r) => {
      if (!/^\/[A-Za-z0-9/_.-]*$/.test(r.trim())) throw new Error('a path starting with / (letters, digits, / _ . -)');
      return r.trim();
    } },
  { key: 'audioRateHz', env: 'AUDIO_RATE', def: '16000', doc: 'Sample rate asked of Vonage in the NCCO (`audio/l16;rate=…`)', parse: oneOf(SUPPORTED_RATES) },
  { key: 'logLevel', env: 'LOG_LEVEL', def: 'info', doc: 'pino log level', parse: oneOf(LOG_LEVELS) },
  { key: 'language', env: 'LANGUAGE', def: 'en-US', doc: 'Default BCP-47 language passed to ASR and TTS adapters', parse: nonEmpty },
  { key: 'handshakeTimeoutMs', env: 'HANDSHAKE_TIMEOUT_MS', def: '5000', doc: 'Time allowed for `websocket:connected` after the upgrade', parse: int(100, 60000) },
  { key: 'idleTimeoutMs', env: 'IDLE_TIMEOUT_MS', def: '15000', doc: 'A leg that sends nothing for this long is closed (4004)', parse: int(1000, 3600000) },
  { key: 'pingIntervalMs', env: 'PING_INTERVAL_MS', def: '10000', doc: 'WebSocket ping interval; no pong by the next ping closes the leg (4005)', parse: int(1000, 600000) },
  { key: 'maxPayloadBytes', env: 'MAX_PAYLOAD_BYTES', def: '32768', doc: 'Largest WebSocket message accepted; larger closes the leg with 1009', parse: int(4096, 1048576) },
  { key: 'maxCalls', env: 'MAX_CALLS', def: '1000', doc: 'Concurrent legs; beyond it the answer webhook returns a spoken busy NCCO and upgrades get 503', parse: int(1, 100000) },
  { key: 'jitterTargetMs', env: 'JITTER_TARGET_MS', def: '60', doc: 'Jitter buffer depth before playout starts (multiple of 20; 0 = pass-through: lowest latency, no smoothing)', parse: (r) => {
      const n = int(0, 1000)(r);
      if (n % 20) throw new Error('a multiple of 20 from 0 to 1000');
      return n;
    } },
  { key: 'jitterCapacityMs', env: 'JITTER_CAPACITY_MS', def: '1000', doc: 'Jitter buffer capacity; the oldest frame is dropped past it', parse: int(40, 10000) },
  { key: 'jitterFillSilence', env: 'JITTER_FILL_SILENCE', def: 'false', doc: 'Hand silence to the ASR on underrun instead of skipping the slot', parse: bool },
  { key: 'pacerLeadMs', env: 'PACER_LEAD_MS', def: '100', doc: 'Audio kept queued at Vonage ahead of playout (bounds barge-in delay)', parse: int(20, 2000) },
  { key: 'pacerWatermarkBytes', env: 'PACER_WATERMARK_BYTES', def: '65536', doc: 'Socket `bufferedAmount` past which outbound frames are dropped and counted', parse: int(1024, 16777216) },
  { key: 'drainTimeoutMs', env: 'DRAIN_TIMEOUT_MS', def: '30000', doc: 'On SIGTERM, live calls may run this long before they are closed', parse: int(0, 3600000) },
  { key: 'vadMode', env: 'VAD_MODE', def: '2', doc: 'WebRTC VAD aggressiveness 0 (least) to 3 (most)', parse: (r) => oneOf([0, 1, 2, 3] as const)(r) },
  { key: 'vadMinSpeechMs', env: 'VAD_MIN_SPEECH_MS', def: '120', doc: 'Voiced audio needed before speech counts as started', parse: int(20, 5000) },
  { key: 'vadSilenceMs', env: 'VAD_SILENCE_MS', def: '600', doc: 'Silence that ends an utterance (endpointing)', parse: int(60, 10000) },
  { key: 'bargeIn', env: 'BARGE_IN', def: 'true', doc: 'Caller speech interrupts bot playback', parse: bool },
  { key: 'bargeInMinSpeechMs', env: 'BARGE_IN_MIN_SPEECH_MS', def: '200', doc: 'Speech needed before it interrupts playback', parse: int(20, 5000) },
  { key: 'maxUtteranceMs', env: 'MAX_UTTERANCE_MS', def: '15000', doc: 'Longest utterance kept for the bot (audio echo); longer ones are cut', parse: int(1000, 120000) },
  { key: 'asrAdapter', env: 'ASR_ADAPTER', def: 'auto', doc: 'ASR adapter: `auto` (`local` if pocketsphinx is installed, else `none`), `local`, `google`, `microsoft`, `none`, a module path exporting a factory, or a comma-separated fallback chain (`google,microsoft,local`)', parse: nonEmpty },
  { key: 'botAdapter', env: 'BOT_ADAPTER', def: 'echo', doc: 'Bot adapter: `echo`, `llm` (OpenAI-compatible chat completions, see *LLM bot*), `remote` (a bot in another process over the sidecar protocol, see `BOT_URL`), or a module path exporting a factory', parse: nonEmpty },
  { key: 'ttsAdapter', env: 'TTS_ADAPTER', def: 'flite', doc: 'TTS adapter: `flite` (offline), `microsoft`, `none`, or a module path exporting a factory; a comma-separated list falls back to the next when one fails before producing audio', parse: nonEmpty },
  { key: 'ttsVoice', env: 'TTS_VOICE', def: '', doc: 'TTS voice (flite: slt, kal, kal16, awb, rms); empty = slt for 16/24 kHz legs, kal for 8 kHz', parse: (r) => r.trim() },
  { key: 'ttsWorkers', env: 'TTS_WORKERS', def: '2', doc: 'Worker threads for offline synthesis', parse: int(1, 64) },
  { key: 'asrGrammar', env: 'ASR_GRAMMAR', def: '', doc: 'JSGF grammar file for the local ASR (small vocabularies recognise far better)', parse: (r) => r.trim() },
  { key: 'asrKeyphrases', env: 'ASR_KEYPHRASES', def: '', doc: 'Keyphrase list file for the local ASR (one phrase per line, pocketsphinx -kws format)', parse: (r) => r.trim() },
  {
    key: 'languageByNumber',
    env: 'LANGUAGE_BY_NUMBER',
    def: '',
    doc: 'Language and optional TTS voice per number dialled: `447700900001=en-GB/en-GB-SoniaNeural,33170000000=fr-FR` (others get `LANGUAGE`)',
    parse: languageMap,
  },
  { key: 'azureSpeechKey', env: 'AZURE_SPEECH_KEY', def: '', doc: 'Azure Speech subscription key (ASR/TTS adapter `microsoft`)', parse: (r) => r.trim() },
  { key: 'azureSpeechRegion', env: 'AZURE_SPEECH_REGION', def: '', doc: 'Azure Speech region, e.g. `westeurope` (with the key; or set an endpoint or host)', parse: (r) => r.trim() },
  { key: 'azureSpeechEndpoint', env: 'AZURE_SPEECH_ENDPOINT', def: '', doc: 'Azure Speech endpoint URL (`SpeechConfig.fromEndpoint`), instead of the region', parse: wsUrl },
  { key: 'azureSpeechHost', env: 'AZURE_SPEECH_HOST', def: '', doc: 'Azure Speech host URL, e.g. `ws://localhost:5000` for a container (`SpeechConfig.fromHost`); wins over endpoint and region', parse: wsUrl },
  { key: 'azureSpeechPhrases', env: 'AZURE_SPEECH_PHRASES', def: '', doc: 'Comma-separated phrase list the Azure recogniser favours (names, jargon)', parse: (r) => r.split(',').map((p) => p.trim()).filter(Boolean) },
  { key: 'azureSpeechConnectTimeoutMs', env: 'AZURE_SPEECH_CONNECT_TIMEOUT_MS', def: '5000', doc: 'Time allowed for an Azure Speech connection before it counts as failed', parse: int(100, 120000) },
  { key: 'azureSpeechMaxRetries', env: 'AZURE_SPEECH_MAX_RETRIES', def: '5', doc: 'Azure ASR reconnects in a row (with backoff) after recoverable errors before the stream gives up', parse: int(0, 100) },
  { key: 'azureSpeechUnthrottledMs', env: 'AZURE_SPEECH_UNTHROTTLED_MS', def: '5000', doc: 'Audio the Azure SDK sends at once before pacing at 2x real time (raise it to replay or test faster than real time)', parse: int(0, 3600000) },
  { key: 'googleSpeechModel', env: 'GOOGLE_SPEECH_MODEL', def: '', doc: 'Google Speech model (e.g. `telephony`, `phone_call`, `latest_short`); empty = the service default, which every language supports', parse: (r) => r.trim() },
  { key: 'googleSpeechInterim', env: 'GOOGLE_SPEECH_INTERIM', def: 'true', doc: 'Ask Google for interim results', parse: bool },
  { key: 'googleSpeechPhrases', env: 'GOOGLE_SPEECH_PHRASES', def: '', doc: 'Comma-separated phrase hints for Google (speech context), at most 5000 of 100 characters', parse: phraseList },
  { key: 'googleSpeechSingleUtterance', env: 'GOOGLE_SPEECH_SINGLE_UTTERANCE', def: 'false', doc: 'Google single-utterance mode: a new stream after each utterance', parse: bool },
  { key: 'googleSpeechEndpoint', env: 'GOOGLE_SPEECH_ENDPOINT', def: '', doc: 'Google Speech `host:port` (e.g. `eu-speech.googleapis.com:443`); empty = the global endpoint', parse: (r) => {
      const v = r.trim();
      if (v && !/^(\[[0-9a-fA-F:.]+\]|[^:\s/[\]]+)(:\d{1,5})?$/.test(v)) throw new Error('host:port');
      return v;
    } },
  { key: 'googleSpeechInsecure', env: 'GOOGLE_SPEECH_INSECURE', def: 'false', doc: 'Plaintext, unauthenticated gRPC to `GOOGLE_SPEECH_ENDPOINT` (local fakes, private sidecars)', parse: (r, env) => {
      const v = bool(r);
      if (v && !(env.GOOGLE_SPEECH_ENDPOINT ?? '').trim()) throw new Error('true only together with GOOGLE_SPEECH_ENDPOINT');
      return v;
    } },
  { key: 'googleSpeechKeyFile', env: 'GOOGLE_SPEECH_KEY_FILE', def: '', doc: 'Service-account key file for Google Speech; empty = `GOOGLE_APPLICATION_CREDENTIALS` or the platform credentials', parse: (r) => r.trim() },
  { key: 'googleSpeechRotateMs', env: 'GOOGLE_SPEECH_ROTATE_MS', def: '290000', doc: 'Replace each Google stream after this long (Google ends streams at 305 s); unacknowledged audio is replayed', parse: int(100, 300000) },
  { key: 'googleSpeechReplayMs', env: 'GOOGLE_SPEECH_REPLAY_MS', def: '10000', doc: 'Unacknowledged audio kept per call for replay into a new Google stream (older audio is dropped)', parse: int(3000, 120000) },
  // ── LLM bot (BOT_ADAPTER=llm) ──
  { key: 'llmBaseUrl', env: 'LLM_BASE_URL', def: 'https://api.openai.com/v1', doc: 'OpenAI-compatible API base URL (`/chat/completions` is appended): OpenAI, vLLM, Ollama, llama.cpp server', parse: httpUrl },
  { key: 'llmApiKey', env: 'LLM_API_KEY', def: '', doc: 'Bearer token for the LLM API (empty: no Authorization header); never logged', parse: (r) => r.trim() },
  { key: 'llmModel', env: 'LLM_MODEL', def: 'gpt-4o-mini', doc: 'Model name sent in each request', parse: nonEmpty },
  { key: 'llmSystemPrompt', env: 'LLM_SYSTEM_PROMPT', def: DEFAULT_SYSTEM_PROMPT, doc: 'System prompt of the LLM bot', parse: nonEmpty },
  { key: 'llmGreeting', env: 'LLM_GREETING', def: '', doc: 'Said by the LLM bot when the call starts (empty: none, the caller speaks first)', parse: (r) => r.trim() },
  { key: 'llmTemperature', env: 'LLM_TEMPERATURE', def: '', doc: 'Sampling temperature 0 to 2 (empty: the server default)', parse: (r) => {
      if (!r.trim()) return null;
      const n = Number(r);
      if (!/^\d+(\.\d+)?$/.test(r.trim()) || n > 2) throw new Error('a number from 0 to 2, or empty');
      return n;
    } },
  { key: 'llmTimeoutMs', env: 'LLM_TIMEOUT_MS', def: '10000', doc: 'Time allowed for the first token of an LLM reply; past it the bot apologises', parse: int(100, 600000) },
  { key: 'llmTotalTimeoutMs', env: 'LLM_TOTAL_TIMEOUT_MS', def: '60000', doc: 'Time allowed for a whole LLM reply (overall cap)', parse: int(100, 600000) },
  { key: 'llmMaxHistoryMessages', env: 'LLM_MAX_HISTORY_MESSAGES', def: '40', doc: 'Messages of call history sent with each request (oldest dropped first; the system prompt is extra)', parse: int(2, 1000) },
  { key: 'llmMaxTokens', env: 'LLM_MAX_TOKENS', def: '400', doc: '`max_tokens` per LLM reply (0: not sent); the reply is also cut at 8 characters per token', parse: int(0, 100000) },
  { key: 'llmTransferNumbers', env: 'LLM_TRANSFER_NUMBERS', def: '', doc: 'Comma-separated E.164 numbers the `transfer` tool may dial; `*` = any number; empty = no transfer tool', parse: (r) => {
      const v = r.trim();
      if (!v) return [];
      if (v === '*') return ['*'];
      return v.split(',').map((x) => {
        const n = x.trim().replace(/[\s().-]/g, '').replace(/^\+/, '');
        if (!/^[1-9][0-9]{6,14}$/.test(n)) throw new Error(`E.164 phone numbers separated by commas, or * (bad: ${JSON.stringify(x.trim())})`);
        return n;
      });
    } },
  { key: 'recordingDir', env: 'RECORDING_DIR', def: '', doc: 'Directory for per-call stereo WAV recordings (caller left, bot right) and metadata JSON, named by call uuid; empty = off', parse: (r) => r.trim() },
  { key: 'botReplyTimeoutMs', env: 'BOT_REPLY_TIMEOUT_MS', def: '10000', doc: 'A final transcript the bot has not started answering within this long gets a spoken apology (a tone without TTS); 0 = never', parse: int(0, 600000) },
  { key: 'vonageSignatureSecret', env: 'VONAGE_SIGNATURE_SECRET', def: '', secret: true, doc: 'Vonage signature secret: when set, every webhook must carry a valid HS256 `Authorization: Bearer` JWT (see Security)', parse: (r) => {
      if (r !== '' && !/^[\x21-\x7E]{16,256}$/.test(r)) throw new Error('16-256 printable ASCII characters without spaces');
      return r;
    } },
  { key: 'webhookMaxAgeS', env: 'WEBHOOK_MAX_AGE_S', def: '300', doc: 'Replay window: oldest signed-token `iat` accepted, in seconds (webhooks and `vonage` legs)', parse: int(10, 86400) },
  { key: 'wsAuth', env: 'WS_AUTH', def: 'none', doc: 'WebSocket leg authentication: `none`, `vonage` (Vonage JWT, needs `VONAGE_SIGNATURE_SECRET`) or `custom` (`WS_AUTH_TOKEN`)', parse: oneOf(['none', 'vonage', 'custom'] as const) },
  { key: 'wsAuthToken', env: 'WS_AUTH_TOKEN', def: '', secret: true, doc: 'The exact `Authorization` header value `custom` legs must send (printable ASCII, at most 8191 characters)', parse: (r) => {
      if (r !== '' && !/^[\x21-\x7E](?:[\x20-\x7E]{0,8189}[\x21-\x7E])?$/.test(r)) throw new Error('1-8191 printable ASCII characters, no leading or trailing space');
      return r;
    } },
  { key: 'upgradeRatePerSource', env: 'UPGRADE_RATE_PER_SOURCE', def: '50', doc: 'WebSocket upgrades per second allowed from one source address (token bucket; 0 = no limit); more get 429', parse: int(0, 100000) },
  { key: 'upgradeBurstPerSource', env: 'UPGRADE_BURST_PER_SOURCE', def: '100', doc: 'Upgrades one source may make at once (the bucket size)', parse: int(1, 100000) },
  { key: 'trustProxy', env: 'TRUST_PROXY', def: 'false', doc: 'Take the source address from the last `X-Forwarded-For` entry (set only behind your own proxy)', parse: bool },
  { key: 'botUrl', env: 'BOT_URL', def: '', doc: 'With `BOT_ADAPTER=remote`: the bot\'s WebSocket URL, `ws://` or `wss://` (required then); one connection per call', parse: (r, env) => {
      const v = r.trim();
      if (!v) {
        if (env.BOT_ADAPTER?.trim() === 'remote') throw new Error('a ws:// or wss:// URL (required with BOT_ADAPTER=remote)');
        return '';
      }
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        throw new Error('a ws:// or wss:// URL');
      }
      if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error('a ws:// or wss:// URL');
      return v;
    } },
  { key: 'botAuthToken', env: 'BOT_AUTH_TOKEN', def: '', doc: 'With `BOT_ADAPTER=remote`: sent as `Authorization: Bearer …` on the bot connection (never logged); empty = no header', parse: (r) => r.trim() },
  { key: 'botConnectTimeoutMs', env: 'BOT_CONNECT_TIMEOUT_MS', def: '3000', doc: 'With `BOT_ADAPTER=remote`: time allowed to open the bot connection at call start; past it the caller hears `BOT_APOLOGY_TEXT`', parse: int(100, 60000) },
  { key: 'botApologyText', env: 'BOT_APOLOGY_TEXT', def: 'Sorry, our assistant is unavailable right now. Please call back later.', doc: 'Said before hanging up when the remote bot cannot be reached or goes away mid-call', parse: nonEmpty },
  { key: 'vonageApplicationId', env: 'VONAGE_APPLICATION_ID', def: '', doc: 'Vonage application id; with VONAGE_PRIVATE_KEY it turns on REST call control (bot transfer, dtmf, hangup; `vgw call`)', parse: (r) => r.trim() },
  { key: 'vonagePrivateKey', env: 'VONAGE_PRIVATE_KEY', def: '', doc: 'The application\'s private key: path to a PEM file, or the PEM text itself (never logged)', parse: (r) => r.trim() },
  { key: 'vonageApiUrl', env: 'VONAGE_API_URL', def: 'https://api.nexmo.com', doc: 'Voice REST API base URL; a call\'s `region_url` on a Vonage host (or this host) overrides it for that call', parse: httpUrl },
  { key: 'vonageApiTimeoutMs', env: 'VONAGE_API_TIMEOUT_MS', def: '5000', doc: 'Timeout of one Vonage REST request', parse: int(100, 60000) },
  { key: 'vonageApiRetries', env: 'VONAGE_API_RETRIES', def: '2', doc: 'Retries of a Vonage REST request answered 429, 503 or 504 (or not reached)', parse: int(0, 5) },
  { key: 'consoleEnabled', env: 'CONSOLE_ENABLED', def: 'false', doc: 'Serve the live console and browser softphone at `/console` (on a non-loopback `HOST` only with `CONSOLE_TOKEN`)', parse: bool },
  { key: 'consoleToken', env: 'CONSOLE_TOKEN', def: '', secret: true, doc: 'Token the console requires: `/console?token=…` once (sets an HttpOnly cookie) or `Authorization: Bearer …`; never logged', parse: (r) => {
      if (r !== '' && !/^[\x21-\x7E]{16,256}$/.test(r)) throw new Error('16-256 printable ASCII characters without spaces');
      return r;
    } },
];

/**
 * Build the frozen config from an environment. Throws one {@link GatewayError} `CONFIG_INVALID` whose message names
 * every bad variable and what it allows.
 */
export function loadConfig(env: Env): Config {
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
      problems.push(`${spec.env}=${spec.secret ? '(secret, not shown)' : JSON.stringify(raw)} is invalid: expected ${(e as Error).message}`);
    }
  }
  if (problems.length) throw new GatewayError('CONFIG_INVALID', `Invalid configuration:\n  ${problems.join('\n  ')}`);
  out.publicUrlFromPort = out.publicUrl === undefined;
  if (out.publicUrl === undefined) out.publicUrl = `http://localhost:${out.port as number}`;
  out.publicWsUrl = (out.publicUrl as string).replace(/^http/, 'ws');
  if (!out.vonageApplicationId !== !out.vonagePrivateKey) {
    throw new GatewayError('CONFIG_INVALID', 'Invalid configuration:\n  VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY must be set together (or both left empty)');
  }
  if ((out.jitterCapacityMs as number) < (out.jitterTargetMs as number) + 40) {
    throw new GatewayError(
      'CONFIG_INVALID',
      `Invalid configuration:\n  JITTER_CAPACITY_MS must be at least JITTER_TARGET_MS + 40 (${(out.jitterTargetMs as number) + 40})`,
    );
  }
  if (out.wsAuth === 'vonage' && !out.vonageSignatureSecret) throw new GatewayError('CONFIG_INVALID', 'Invalid configuration:\n  WS_AUTH=vonage requires VONAGE_SIGNATURE_SECRET');
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
