/**
 * The built-in adapters' own settings, grouped by the adapter that owns them. A group is validated only when one of its
 * adapters is selected (`ASR_ADAPTER`, `BOT_ADAPTER`, `TTS_ADAPTER`, fallback chains included): a bad
 * `GOOGLE_SPEECH_ROTATE_MS` does not stop a gateway that runs `ASR_ADAPTER=local`. Part of the one schema in config.ts;
 * docs/configuration.md lists each group under its adapter.
 */
import type { Config } from './config.js';
import { bool, httpUrl, int, listFromFile, nonEmpty, oneOf, phraseList, wsOnlyUrl, wsUrl, type Spec } from './parsers.js';
import { BAND_FILL_MODES } from '../asr/band-fill.js';
import { availableParallelism, totalmem } from 'node:os';

/** The LLM bot's default system prompt: short, plain, speakable replies. */
export const DEFAULT_SYSTEM_PROMPT =
  'You are a friendly voice assistant on a phone call. Everything you write is spoken aloud by a speech synthesiser, ' +
  'so answer in one to three short sentences of plain conversational text: no markdown, lists, emoji or URLs. ' +
  'If you did not understand the caller, ask them to repeat. When the caller wants to end the call, say a short goodbye and call hang_up.';

/**
 * `auto` for LOCAL_ASR_MAX_PROCESSES: pocketsphinx costs ~0.14 of a core and ~105 MB per call (GUIDE §3). Keep the
 * recognisers to 70 % of the cores and half of the memory, so the 20 ms loop, TTS and the process itself keep room.
 */
export function autoLocalAsrProcesses(cores = availableParallelism(), memBytes = totalmem()): number {
  const byCpu = Math.floor((cores * 0.7) / 0.14);
  const byMem = Math.floor((memBytes * 0.5) / (105 * 1024 * 1024));
  return Math.max(1, Math.min(byCpu, byMem));
}

/** One adapter's settings: the adapters (`kind:name`) that select them, and their specs. */
export interface AdapterSettingsGroup {
  readonly title: string;
  readonly owners: readonly string[];
  readonly specs: ReadonlyArray<Spec<keyof Config>>;
}

/** Stamp a group's owners on its specs (a spec that names its own owners keeps them). */
function group(title: string, owners: readonly string[], specs: Array<Spec<keyof Config>>): AdapterSettingsGroup {
  return Object.freeze({ title, owners, specs: Object.freeze(specs.map((s) => Object.freeze({ owners, ...s }))) });
}

const LLM_AND_REALTIME = ['bot:llm', 'bot:openai-realtime'] as const;

export const ADAPTER_SETTINGS: readonly AdapterSettingsGroup[] = [
  group(
    'Offline ASR (`ASR_ADAPTER=local`, or `auto` with pocketsphinx installed)',
    ['asr:local', 'asr:auto'],
    [
      {
        key: 'asrGrammar',
        env: 'ASR_GRAMMAR',
        def: '',
        doc: 'JSGF grammar file for the local ASR (small vocabularies recognise far better)',
        parse: (r) => r.trim(),
      },
      {
        key: 'localAsrMaxProcesses',
        env: 'LOCAL_ASR_MAX_PROCESSES',
        def: 'auto',
        doc: 'Offline recognisers (pocketsphinx processes, ~0.14 core and ~105 MB each) running at once; calls past it go on without ASR, counted and logged once. `auto` = 70 % of the cores / 0.14, at most half the memory / 105 MB',
        parse: (r) => (r.trim() === 'auto' ? autoLocalAsrProcesses() : int(0, 100000)(r)),
      },
      {
        key: 'localAsrNice',
        env: 'LOCAL_ASR_NICE',
        def: '10',
        doc: "CPU niceness of each offline recogniser and of its session's scheduling group (0–19): above the gateway's 0, so the 20 ms audio loop keeps its core when the machine is busy. The cost: while processes at niceness 0 keep every core busy, a recogniser gets about a tenth of a core and its finals come seconds late. `0` = the gateway's own priority (a machine with cores to spare for ASR, or tests run side by side)",
        parse: int(0, 19),
      },
      {
        key: 'localAsrPostspeechMs',
        env: 'LOCAL_ASR_POSTSPEECH_MS',
        def: '500',
        doc: "Silence after speech the offline recogniser takes to end an utterance and print its final (its `-vad_postspeech`, in 10 ms frames). With adaptive endpointing the gateway writes that silence at once on its own end of speech, but the engine still decodes it: each 100 ms here is about 60 ms of the final's latency on a short answer (500 → 250 ms: goforward's final 426 → 49 ms after the end of speech). Lower also ends utterances at shorter pauses (more, shorter finals)",
        parse: int(100, 3000),
      },
      {
        key: 'asrKeyphrases',
        env: 'ASR_KEYPHRASES',
        def: '',
        doc: 'Keyphrase list file for the local ASR (one phrase per line, pocketsphinx -kws format)',
        parse: (r) => r.trim(),
      },
      {
        key: 'asrBandFill',
        env: 'ASR_BAND_FILL',
        def: 'auto',
        doc: "Telephone-band conditioning for the local ASR, so pocketsphinx understands phone-line audio (300–3400 Hz): low-level noise above 4 kHz plus the speech mirrored about 4 kHz, and the engine started for telephone band (its cepstral mean, no noise removal). `auto` (the default) conditions every 8 kHz leg, and a 16/24 kHz leg judged band-limited: one frame of speech with energy above 6 kHz (a fricative) makes a call wideband, 0.8 s of speech (or a shorter first utterance) without one band-limited; a band-limited 16/24 kHz call is then handled as an 8 kHz leg (its engine restarted once). Recorded wideband speech and Flite's 16 kHz voices measure wideband. `on` always (as band-limited), `off` never. `npm run bench:asr` (2026-12-03), word error rate `auto` vs `off`: telephone band 42.7 % vs 96.9 % in an 8 kHz leg, 42.7 % vs 76 % in a 16 kHz leg; wideband 31.3 % vs 35.4 %",
        parse: oneOf(BAND_FILL_MODES),
      },
    ],
  ),
  group(
    'Google Cloud Speech (`ASR_ADAPTER=google`)',
    ['asr:google'],
    [
      {
        key: 'googleSpeechModel',
        env: 'GOOGLE_SPEECH_MODEL',
        def: '',
        doc: 'Google Speech model (e.g. `telephony`, `phone_call`, `latest_short`); empty = the service default, which every language supports',
        parse: (r) => r.trim(),
      },
      { key: 'googleSpeechInterim', env: 'GOOGLE_SPEECH_INTERIM', def: 'true', doc: 'Ask Google for interim results', parse: bool },
      {
        key: 'googleSpeechPhrases',
        fromFile: listFromFile,
        env: 'GOOGLE_SPEECH_PHRASES',
        def: '',
        doc: 'Comma-separated phrase hints for Google (speech context), at most 5000 of 100 characters',
        parse: phraseList,
      },
      {
        key: 'googleSpeechSingleUtterance',
        env: 'GOOGLE_SPEECH_SINGLE_UTTERANCE',
        def: 'false',
        doc: 'Google single-utterance mode: a new stream after each utterance',
        parse: bool,
      },
      {
        key: 'googleSpeechEndpoint',
        env: 'GOOGLE_SPEECH_ENDPOINT',
        def: '',
        doc: 'Google Speech `host:port` (e.g. `eu-speech.googleapis.com:443`); empty = the global endpoint',
        parse: (r) => {
          const v = r.trim();
          if (v && !/^(\[[0-9a-fA-F:.]+\]|[^:\s/[\]]+)(:\d{1,5})?$/.test(v)) throw new Error('host:port');
          return v;
        },
      },
      {
        key: 'googleSpeechInsecure',
        env: 'GOOGLE_SPEECH_INSECURE',
        def: 'false',
        doc: 'Plaintext, unauthenticated gRPC to `GOOGLE_SPEECH_ENDPOINT` (local fakes, private sidecars)',
        parse: (r, env) => {
          const v = bool(r);
          if (v && !(env.GOOGLE_SPEECH_ENDPOINT ?? '').trim()) throw new Error('true only together with GOOGLE_SPEECH_ENDPOINT');
          return v;
        },
      },
      {
        key: 'googleSpeechKeyFile',
        env: 'GOOGLE_SPEECH_KEY_FILE',
        def: '',
        doc: 'Service-account key file for Google Speech; empty = `GOOGLE_APPLICATION_CREDENTIALS` or the platform credentials',
        parse: (r) => r.trim(),
      },
      {
        key: 'googleSpeechRotateMs',
        env: 'GOOGLE_SPEECH_ROTATE_MS',
        def: '290000',
        doc: 'Replace each Google stream after this long (Google ends streams at 305 s); unacknowledged audio is replayed',
        parse: int(100, 300000),
      },
      {
        key: 'googleSpeechReplayMs',
        env: 'GOOGLE_SPEECH_REPLAY_MS',
        def: '10000',
        doc: 'Unacknowledged audio kept per call for replay into a new Google stream (older audio is dropped)',
        parse: int(3000, 120000),
      },
    ],
  ),
  group(
    'Microsoft Azure Speech (`ASR_ADAPTER=microsoft`, `TTS_ADAPTER=microsoft`)',
    ['asr:microsoft', 'tts:microsoft'],
    [
      {
        key: 'azureSpeechKey',
        secret: true,
        env: 'AZURE_SPEECH_KEY',
        def: '',
        doc: 'Azure Speech subscription key (ASR/TTS adapter `microsoft`)',
        parse: (r) => r.trim(),
      },
      {
        key: 'azureSpeechRegion',
        env: 'AZURE_SPEECH_REGION',
        def: '',
        doc: 'Azure Speech region, e.g. `westeurope` (with the key; or set an endpoint or host)',
        parse: (r) => r.trim(),
      },
      {
        key: 'azureSpeechEndpoint',
        env: 'AZURE_SPEECH_ENDPOINT',
        def: '',
        doc: 'Azure Speech endpoint URL (`SpeechConfig.fromEndpoint`), instead of the region',
        parse: wsUrl,
      },
      {
        key: 'azureSpeechHost',
        env: 'AZURE_SPEECH_HOST',
        def: '',
        doc: 'Azure Speech host URL, e.g. `ws://localhost:5000` for a container (`SpeechConfig.fromHost`); wins over endpoint and region',
        parse: wsUrl,
      },
      {
        key: 'azureSpeechPhrases',
        fromFile: listFromFile,
        env: 'AZURE_SPEECH_PHRASES',
        def: '',
        doc: 'Comma-separated phrase list the Azure recogniser favours (names, jargon)',
        parse: (r) =>
          r
            .split(',')
            .map((p) => p.trim())
            .filter(Boolean),
      },
      {
        key: 'azureSpeechConnectTimeoutMs',
        env: 'AZURE_SPEECH_CONNECT_TIMEOUT_MS',
        def: '5000',
        doc: 'Time allowed for an Azure Speech connection before it counts as failed',
        parse: int(100, 120000),
      },
      {
        key: 'azureSpeechMaxRetries',
        env: 'AZURE_SPEECH_MAX_RETRIES',
        def: '5',
        doc: 'Azure ASR reconnects in a row (with backoff) after recoverable errors before the stream gives up',
        parse: int(0, 100),
      },
      {
        key: 'azureSpeechUnthrottledMs',
        env: 'AZURE_SPEECH_UNTHROTTLED_MS',
        def: '5000',
        doc: 'Audio the Azure SDK sends at once before pacing at 2x real time (raise it to replay or test faster than real time)',
        parse: int(0, 3600000),
      },
    ],
  ),
  group(
    'Deepgram (`ASR_ADAPTER=deepgram`)',
    ['asr:deepgram'],
    [
      {
        key: 'deepgramApiKey',
        env: 'DEEPGRAM_API_KEY',
        def: '',
        secret: true,
        doc: 'Deepgram API key (ASR adapter `deepgram`); sent as `Authorization: Token …`, never logged',
        parse: (r) => r.trim(),
      },
      {
        key: 'deepgramUrl',
        env: 'DEEPGRAM_URL',
        def: 'wss://api.deepgram.com',
        doc: 'Deepgram base URL (`/v1/listen` is appended); a `ws://` or `http://` URL reaches a local or self-hosted server',
        parse: wsUrl,
      },
      { key: 'deepgramModel', env: 'DEEPGRAM_MODEL', def: 'nova-3', doc: 'Deepgram model (`nova-3`, `nova-2-phonecall`, …)', parse: nonEmpty },
      {
        key: 'deepgramEndpointingMs',
        env: 'DEEPGRAM_ENDPOINTING_MS',
        def: '300',
        doc: 'Silence after which Deepgram ends an utterance (`endpointing`; its `speech_final` and `UtteranceEnd` events make the final)',
        parse: int(10, 10000),
      },
    ],
  ),
  group(
    'Offline TTS (`TTS_ADAPTER=flite`)',
    ['tts:flite'],
    [
      { key: 'ttsWorkers', env: 'TTS_WORKERS', def: '2', doc: 'Worker threads for offline synthesis', parse: int(1, 64) },
      {
        key: 'ttsWorkerNice',
        env: 'TTS_WORKER_NICE',
        def: '10',
        doc: 'Scheduling niceness of the synthesis threads (Linux: per thread; 0 = as the event loop, up to 19): on a busy core the event loop that paces every call runs first, so a burst of synthesis does not delay frames',
        parse: int(0, 19),
      },
      {
        key: 'ttsCacheMb',
        env: 'TTS_CACHE_MB',
        def: '16',
        doc: 'Memory for synthesised sentences shared by every call (least recently used out; 0 = no cache): a greeting or menu said to a hundred calls is synthesised once, and a sentence asked for while it is being synthesised joins that job',
        parse: int(0, 1024),
      },
    ],
  ),
  group(
    'Cartesia (`TTS_ADAPTER=cartesia`)',
    ['tts:cartesia'],
    [
      {
        key: 'cartesiaApiKey',
        env: 'CARTESIA_API_KEY',
        def: '',
        secret: true,
        doc: 'Cartesia API key (TTS adapter `cartesia`); never logged',
        parse: (r) => r.trim(),
      },
      {
        key: 'cartesiaUrl',
        env: 'CARTESIA_URL',
        def: 'https://api.cartesia.ai',
        doc: 'Cartesia base URL (`/tts/websocket` is appended); a `ws://` or `http://` URL reaches a local server without TLS',
        parse: wsUrl,
      },
      { key: 'cartesiaModel', env: 'CARTESIA_MODEL', def: 'sonic-3', doc: 'Cartesia model id (`sonic-3`, `sonic-3.5`, `sonic-latest`, …)', parse: nonEmpty },
      {
        key: 'cartesiaVoice',
        env: 'CARTESIA_VOICE',
        def: 'a0e99841-438c-4a64-b679-ae501e7d6091',
        doc: "Cartesia voice id (a per-number voice from `LANGUAGE_BY_NUMBER` wins when it is one); the default is the voice of Cartesia's API reference",
        parse: nonEmpty,
      },
    ],
  ),
  group(
    'LLM bot (`BOT_ADAPTER=llm`; the key, prompt, greeting and transfer numbers also serve `openai-realtime`)',
    ['bot:llm'],
    [
      {
        key: 'llmBaseUrl',
        env: 'LLM_BASE_URL',
        def: 'https://api.openai.com/v1',
        doc: 'OpenAI-compatible API base URL (`/chat/completions` is appended): OpenAI, vLLM, Ollama, llama.cpp server',
        parse: httpUrl,
      },
      {
        key: 'llmApiKey',
        secret: true,
        owners: LLM_AND_REALTIME,
        env: 'LLM_API_KEY',
        def: '',
        doc: 'Bearer token for the LLM API (empty: no Authorization header); never logged',
        parse: (r) => r.trim(),
      },
      { key: 'llmModel', env: 'LLM_MODEL', def: 'gpt-4o-mini', doc: 'Model name sent in each request', parse: nonEmpty },
      {
        key: 'llmSystemPrompt',
        owners: LLM_AND_REALTIME,
        env: 'LLM_SYSTEM_PROMPT',
        def: DEFAULT_SYSTEM_PROMPT,
        doc: 'System prompt of the LLM bot',
        parse: nonEmpty,
      },
      {
        key: 'llmGreeting',
        owners: LLM_AND_REALTIME,
        env: 'LLM_GREETING',
        def: '',
        doc: 'Said by the LLM bot when the call starts (empty: none, the caller speaks first)',
        parse: (r) => r.trim(),
      },
      {
        key: 'llmTemperature',
        env: 'LLM_TEMPERATURE',
        def: '',
        doc: 'Sampling temperature 0 to 2 (empty: the server default)',
        parse: (r) => {
          if (!r.trim()) return null;
          const n = Number(r);
          if (!/^\d+(\.\d+)?$/.test(r.trim()) || n > 2) throw new Error('a number from 0 to 2, or empty');
          return n;
        },
      },
      {
        key: 'llmTimeoutMs',
        env: 'LLM_TIMEOUT_MS',
        def: '10000',
        doc: 'Time allowed for the first token of an LLM reply; past it the bot apologises',
        parse: int(100, 600000),
      },
      { key: 'llmTotalTimeoutMs', env: 'LLM_TOTAL_TIMEOUT_MS', def: '60000', doc: 'Time allowed for a whole LLM reply (overall cap)', parse: int(100, 600000) },
      {
        key: 'llmMaxHistoryMessages',
        env: 'LLM_MAX_HISTORY_MESSAGES',
        def: '40',
        doc: 'Messages of call history sent with each request (oldest dropped first; the system prompt is extra)',
        parse: int(2, 1000),
      },
      {
        key: 'llmMaxTokens',
        env: 'LLM_MAX_TOKENS',
        def: '400',
        doc: '`max_tokens` per LLM reply (0: not sent); the reply is also cut at 8 characters per token',
        parse: int(0, 100000),
      },
      {
        key: 'llmTransferNumbers',
        fromFile: listFromFile,
        owners: LLM_AND_REALTIME,
        env: 'LLM_TRANSFER_NUMBERS',
        def: '',
        doc: 'Comma-separated E.164 numbers the `transfer` tool may dial; `*` = any number; empty = no transfer tool',
        parse: (r) => {
          const v = r.trim();
          if (!v) return [];
          if (v === '*') return ['*'];
          return v.split(',').map((x) => {
            const n = x
              .trim()
              .replace(/[\s().-]/g, '')
              .replace(/^\+/, '');
            if (!/^[1-9][0-9]{6,14}$/.test(n)) throw new Error(`E.164 phone numbers separated by commas, or * (bad: ${JSON.stringify(x.trim())})`);
            return n;
          });
        },
      },
    ],
  ),
  group(
    'Speech-to-speech (`BOT_ADAPTER=openai-realtime`)',
    ['bot:openai-realtime'],
    [
      {
        key: 'openaiApiKey',
        env: 'OPENAI_API_KEY',
        def: '',
        secret: true,
        doc: 'With `BOT_ADAPTER=openai-realtime`: the OpenAI API key (sent as `Authorization: Bearer …`, never logged); empty = `LLM_API_KEY`; required for `api.openai.com`',
        parse: (r) => r.trim(),
      },
      {
        key: 'openaiRealtimeUrl',
        env: 'OPENAI_REALTIME_URL',
        def: 'wss://api.openai.com/v1/realtime',
        doc: 'With `BOT_ADAPTER=openai-realtime`: the realtime WebSocket URL (`?model=` is added); a `ws://` URL reaches a local or private server',
        parse: wsOnlyUrl,
      },
      {
        key: 'openaiRealtimeModel',
        env: 'OPENAI_REALTIME_MODEL',
        def: 'gpt-realtime',
        doc: 'With `BOT_ADAPTER=openai-realtime`: the model (sent as `?model=`)',
        parse: nonEmpty,
      },
      {
        key: 'openaiRealtimeVoice',
        env: 'OPENAI_REALTIME_VOICE',
        def: 'marin',
        doc: 'With `BOT_ADAPTER=openai-realtime`: the voice the model speaks with (e.g. `marin`, `cedar`, `alloy`)',
        parse: (r) => {
          const v = r.trim();
          if (!/^[A-Za-z0-9_-]{1,64}$/.test(v)) throw new Error('a voice name of 1-64 letters, digits, _ or -');
          return v;
        },
      },
      {
        key: 'openaiRealtimeConnectTimeoutMs',
        env: 'OPENAI_REALTIME_CONNECT_TIMEOUT_MS',
        def: '5000',
        doc: "With `BOT_ADAPTER=openai-realtime`: time allowed to open the model's WebSocket; past it the caller hears the apology and the call ends",
        parse: int(100, 120000),
      },
    ],
  ),
  group(
    'Sidecar bot (`BOT_ADAPTER=remote`)',
    ['bot:remote'],
    [
      {
        key: 'botUrl',
        env: 'BOT_URL',
        def: '',
        doc: "With `BOT_ADAPTER=remote`: the bot's WebSocket URL, `ws://` or `wss://` (required then); one connection per call",
        parse: (r, env) => {
          const v = r.trim();
          if (!v) {
            if (env.BOT_ADAPTER?.trim() === 'remote') throw new Error('a ws:// or wss:// URL (required with BOT_ADAPTER=remote)');
            return '';
          }
          return wsOnlyUrl(v);
        },
      },
      {
        key: 'botAuthToken',
        secret: true,
        env: 'BOT_AUTH_TOKEN',
        def: '',
        doc: 'With `BOT_ADAPTER=remote`: sent as `Authorization: Bearer …` on the bot connection (never logged); empty = no header',
        parse: (r) => r.trim(),
      },
      {
        key: 'botConnectTimeoutMs',
        env: 'BOT_CONNECT_TIMEOUT_MS',
        def: '3000',
        doc: 'With `BOT_ADAPTER=remote`: time allowed to open the bot connection at call start; past it the caller hears `BOT_APOLOGY_TEXT`',
        parse: int(100, 60000),
      },
      {
        key: 'botApologyText',
        env: 'BOT_APOLOGY_TEXT',
        def: 'Sorry, our assistant is unavailable right now. Please call back later.',
        doc: 'Said before hanging up when the remote bot cannot be reached or goes away mid-call',
        parse: nonEmpty,
      },
    ],
  ),
];
