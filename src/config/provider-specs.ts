/**
 * Settings of the optional components, in README order after the core ones: vendor speech (Azure, Google), the LLM and
 * sidecar bots, recordings, security, Vonage call control and the console. Part of the one schema in config.ts.
 */
import type { Config } from './config.js';
import { bool, httpUrl, int, oneOf, type Spec } from './parsers.js';

export const PROVIDER_SPECS: ReadonlyArray<Spec<keyof Config>> = [
  {
    key: 'recordingDir',
    env: 'RECORDING_DIR',
    def: '',
    doc: 'Directory for per-call stereo WAV recordings (caller left, bot right) and metadata JSON, named by call uuid; empty = off',
    parse: (r) => r.trim(),
  },
  {
    key: 'botReplyTimeoutMs',
    env: 'BOT_REPLY_TIMEOUT_MS',
    def: '10000',
    doc: 'A final transcript the bot has not started answering within this long gets a spoken apology (a tone without TTS); 0 = never',
    parse: int(0, 600000),
  },
  {
    key: 'botMaxFailures',
    env: 'BOT_MAX_FAILURES',
    def: '3',
    doc: "Bot failures one call tolerates (a throw or rejection from the bot's code, a reply missed past `BOT_REPLY_TIMEOUT_MS`): each is answered with an apology; the last with a goodbye and a hang-up",
    parse: int(1, 1000),
  },
  {
    key: 'ttsFirstAudioTimeoutMs',
    env: 'TTS_FIRST_AUDIO_TIMEOUT_MS',
    def: '5000',
    doc: 'A TTS request that yields no audio within this long counts as failed (the next TTS of the list, else the reply produces no audio); 0 = no bound',
    parse: int(0, 600000),
  },
  {
    key: 'vonageSignatureSecret',
    env: 'VONAGE_SIGNATURE_SECRET',
    def: '',
    secret: true,
    doc: 'Vonage signature secret: when set, every webhook must carry a valid HS256 `Authorization: Bearer` JWT (see Security)',
    parse: (r) => {
      if (r !== '' && !/^[\x21-\x7E]{16,256}$/.test(r)) throw new Error('16-256 printable ASCII characters without spaces');
      return r;
    },
  },
  {
    key: 'webhookMaxAgeS',
    env: 'WEBHOOK_MAX_AGE_S',
    def: '300',
    doc: 'Replay window: oldest signed-token `iat` accepted, in seconds (webhooks and `vonage` legs)',
    parse: int(10, 86400),
  },
  {
    key: 'wsAuth',
    env: 'WS_AUTH',
    def: 'none',
    doc: 'WebSocket leg authentication: `none`, `vonage` (Vonage JWT, needs `VONAGE_SIGNATURE_SECRET`) or `custom` (`WS_AUTH_TOKEN`)',
    parse: oneOf(['none', 'vonage', 'custom'] as const),
  },
  {
    key: 'wsAuthToken',
    env: 'WS_AUTH_TOKEN',
    def: '',
    secret: true,
    doc: 'The exact `Authorization` header value `custom` legs must send (printable ASCII, at most 8191 characters)',
    parse: (r) => {
      if (r !== '' && !/^[\x21-\x7E](?:[\x20-\x7E]{0,8189}[\x21-\x7E])?$/.test(r))
        throw new Error('1-8191 printable ASCII characters, no leading or trailing space');
      return r;
    },
  },
  {
    key: 'upgradeRatePerSource',
    env: 'UPGRADE_RATE_PER_SOURCE',
    def: '50',
    doc: 'WebSocket upgrades per second allowed from one source address (token bucket; 0 = no limit); more get 429',
    parse: int(0, 100000),
  },
  {
    key: 'upgradeBurstPerSource',
    env: 'UPGRADE_BURST_PER_SOURCE',
    def: '100',
    doc: 'Upgrades one source may make at once (the bucket size)',
    parse: int(1, 100000),
  },
  {
    key: 'trustProxy',
    env: 'TRUST_PROXY',
    def: 'false',
    doc: 'Take the source address from the last `X-Forwarded-For` entry (set only behind your own proxy)',
    parse: bool,
  },
  {
    key: 'vonageApplicationId',
    env: 'VONAGE_APPLICATION_ID',
    def: '',
    doc: 'Vonage application id; with VONAGE_PRIVATE_KEY it turns on REST call control (bot transfer, dtmf, hangup; `vgw call`)',
    parse: (r) => r.trim(),
  },
  {
    key: 'vonagePrivateKey',
    secret: true,
    env: 'VONAGE_PRIVATE_KEY',
    def: '',
    doc: "The application's private key: path to a PEM file, or the PEM text itself (never logged)",
    parse: (r) => r.trim(),
  },
  {
    key: 'vonageApiUrl',
    env: 'VONAGE_API_URL',
    def: 'https://api.nexmo.com',
    doc: "Voice REST API base URL; a call's `region_url` on a Vonage host (or this exact origin: protocol, host and port) overrides it for that call",
    parse: httpUrl,
  },
  { key: 'vonageApiTimeoutMs', env: 'VONAGE_API_TIMEOUT_MS', def: '5000', doc: 'Timeout of one Vonage REST request', parse: int(100, 60000) },
  {
    key: 'vonageApiRetries',
    env: 'VONAGE_API_RETRIES',
    def: '2',
    doc: 'Retries of a Vonage REST request answered 429, 503 or 504 (or not reached)',
    parse: int(0, 5),
  },
  {
    key: 'consoleEnabled',
    env: 'CONSOLE_ENABLED',
    def: 'false',
    doc: 'Serve the live console and browser softphone at `/console` (on a non-loopback `HOST` only with `CONSOLE_TOKEN`)',
    parse: bool,
  },
  {
    key: 'consoleToken',
    env: 'CONSOLE_TOKEN',
    def: '',
    secret: true,
    doc: 'Token the console requires: `/console?token=…` once (sets an HttpOnly cookie) or `Authorization: Bearer …`; never logged',
    parse: (r) => {
      if (r !== '' && !/^[\x21-\x7E]{16,256}$/.test(r)) throw new Error('16-256 printable ASCII characters without spaces');
      return r;
    },
  },
];
