/**
 * Builds the configured ASR, bot and TTS adapters once per process: a built-in by name, or a user's module by path.
 * Built-ins are imported lazily, so an unused vendor SDK costs nothing.
 */
import type { Config } from './config/config.js';
import type { Logger } from './observability/logger.js';
import type { AsrAdapter } from './asr/types.js';
import type { BotAdapter, BotAdapterFactory } from './bot/types.js';
import type { TtsAdapter } from './tts/types.js';
import type { S2sAdapter } from './s2s/types.js';
import type { AdapterContext } from './util/adapter-context.js';
import { resolveFactory } from './util/load-adapter.js';
import { GatewayError, type AdapterKind } from './errors.js';

export interface Adapters {
  asr: AsrAdapter | undefined;
  bot: BotAdapter;
  tts: TtsAdapter | undefined;
  /** A speech-to-speech model (`BOT_ADAPTER=openai-realtime`): it stands in for ASR, bot and TTS on every call. */
  s2s?: S2sAdapter;
}

type Maybe<T> = (ctx: AdapterContext) => T | undefined | Promise<T | undefined>;
const none = () => undefined;

const ASR_BUILTINS: Record<string, Maybe<AsrAdapter>> = {
  none,
  local: async (ctx) => (await import('./asr/pocketsphinx.js')).createPocketsphinxAsr(ctx),
  microsoft: async (ctx) => (await import('./asr/microsoft.js')).createMicrosoftAsr(ctx),
  google: async (ctx) => (await import('./asr/google.js')).createGoogleAsr(ctx),
  deepgram: async (ctx) => (await import('./asr/deepgram.js')).createDeepgramAsr(ctx),
  /** `local` when pocketsphinx is installed, else none (the echo bot then plays utterances back). */
  auto: async (ctx) => {
    const ps = await import('./asr/pocketsphinx.js');
    if (ps.findPocketsphinx(ctx.env.PATH ?? process.env.PATH)) return ps.createPocketsphinxAsr(ctx);
    ctx.logger.warn('no offline ASR found (apt-get install pocketsphinx pocketsphinx-en-us): running without ASR');
    return undefined;
  },
};
const BOT_BUILTINS: Record<string, BotAdapterFactory> = {
  echo: async (ctx) => (await import('./bot/echo.js')).createEchoBot(ctx),
  llm: async (ctx) => (await import('./bot/llm.js')).createLlmBot(ctx),
  /** A bot in another process over the sidecar protocol (docs/sidecar-protocol.md). */
  remote: async (ctx) => (await import('./bot/remote.js')).createRemoteBot(ctx),
};
const TTS_BUILTINS: Record<string, Maybe<TtsAdapter>> = {
  none,
  flite: async (ctx) => (await import('./tts/flite.js')).createFliteTts(ctx),
  microsoft: async (ctx) => (await import('./tts/microsoft.js')).createMicrosoftTts(ctx),
  cartesia: async (ctx) => (await import('./tts/cartesia.js')).createCartesiaTts(ctx),
};

/** Speech-to-speech models, selected with BOT_ADAPTER: the call then has no ASR, and TTS only speaks the gateway's apology. */
const S2S_BUILTINS: Record<string, (ctx: AdapterContext) => S2sAdapter | Promise<S2sAdapter>> = {
  'openai-realtime': async (ctx) => (await import('./s2s/openai-realtime.js')).createOpenAiRealtime(ctx),
};

const ENV_OF: Record<AdapterKind, string> = { asr: 'ASR_ADAPTER', bot: 'BOT_ADAPTER', tts: 'TTS_ADAPTER' };

/** What the adapter must have besides a `name`: the methods the gateway calls. */
const REQUIRED: Record<AdapterKind, readonly string[]> = { asr: ['start'], bot: ['start'], tts: ['synthesize'] };

function describeCause(err: unknown): string {
  if (err instanceof Error) return `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`;
  try {
    return String(err);
  } catch {
    return 'unprintable value';
  }
}

/**
 * Run a factory at start-up. A throw or a rejection is a start-up failure that names the setting, the module and the
 * cause (the gateway then exits non-zero), never an unexplained crash.
 */
async function build<T>(kind: AdapterKind, spec: string, factory: Maybe<T>, ctx: AdapterContext): Promise<T | undefined> {
  try {
    return await factory(ctx);
  } catch (err) {
    const where = `${ENV_OF[kind]}=${spec}`;
    // A built-in's own start-up error (a missing key, a bad URL) already says what to fix: name the setting, keep the code.
    if (err instanceof GatewayError) throw err.message.includes(ENV_OF[kind]) ? err : new GatewayError(err.code, `${where}: ${err.message}`, { httpStatus: err.httpStatus, cause: err.cause });
    // The cause (and so its stack, on stderr) only for a user's module: a built-in's message says what to set.
    const builtin = kind === 'asr' ? ASR_BUILTINS : kind === 'bot' ? BOT_BUILTINS : TTS_BUILTINS;
    const own = Object.prototype.hasOwnProperty.call(builtin, spec);
    throw new GatewayError('ADAPTER_LOAD_FAILED', `${where}: the adapter factory failed: ${describeCause(err).slice(0, 500)}`, own ? {} : { cause: err });
  }
}

/**
 * Refuse at load what would fail on the first call: not an object, no `name` (a non-empty string: logs and metrics
 * are labelled with it), a required method missing, or a `close` that is not a function.
 */
export function checkAdapter<T extends object>(kind: AdapterKind, spec: string, value: unknown): T {
  const where = `${ENV_OF[kind]}=${spec}`;
  if (!value || typeof value !== 'object') throw new GatewayError('ADAPTER_LOAD_FAILED', `${where}: the factory returned ${value === null ? 'null' : typeof value}, not an adapter object`);
  const v = value as Record<string, unknown>;
  // Every problem in one message: a newcomer fixes them all at once instead of one restart each.
  const missing: string[] = [];
  if (typeof v.name !== 'string' || !v.name.trim()) missing.push('the adapter has no name (a non-empty string property `name`)');
  for (const m of REQUIRED[kind]) {
    if (typeof v[m] !== 'function') missing.push(`the adapter is missing method ${m}()`);
  }
  if (v.close !== undefined && typeof v.close !== 'function') missing.push('close is not a function');
  if (missing.length) {
    // A common first attempt: the factory returns the per-call session (input/output) instead of the adapter.
    const sessionShaped = kind === 'bot' && typeof v.start !== 'function' && ('output' in v || typeof v.input === 'function');
    const hint = sessionShaped ? ' (this looks like a bot session: the factory must return { name, start(opts) } and start() returns { input(event), output, close() })' : '';
    throw new GatewayError('ADAPTER_LOAD_FAILED', `${where}: ${missing.join('; ')}${hint}`);
  }
  return value as T;
}

/**
 * `ASR_ADAPTER` is one adapter or an ordered fallback chain (`google,microsoft,local`): each is built once; a chain
 * becomes one adapter that moves a call to the next on an unrecoverable failure (see asr/fallback.ts).
 */
async function loadAsr(spec: string, ctx: (name: string) => AdapterContext): Promise<AsrAdapter | undefined> {
  const specs = spec.split(',').map((s) => s.trim()).filter(Boolean);
  const chain: AsrAdapter[] = [];
  try {
    for (const one of specs) {
      const f = await resolveFactory<Maybe<AsrAdapter>>('asr', one, ASR_BUILTINS);
      const raw = await build('asr', one, f, ctx(`asr:${one}`));
      if (raw !== undefined) chain.push(checkAdapter<AsrAdapter>('asr', one, raw));
    }
  } catch (err) {
    await Promise.allSettled(chain.map(async (a) => a.close?.()));
    throw err;
  }
  if (chain.length <= 1) return chain[0];
  return (await import('./asr/fallback.js')).createFallbackAsr(chain);
}

/** Only the ASR adapter (or chain) from config: for `vgw asr-conformance`. */
export async function loadAsrAdapter(config: Config, logger: Logger, env: Readonly<Record<string, string | undefined>>): Promise<AsrAdapter | undefined> {
  return loadAsr(config.asrAdapter, (name) => ({ config, env, logger: logger.child({ adapter: name }) }));
}

export async function loadAdapters(config: Config, logger: Logger, env: Readonly<Record<string, string | undefined>>): Promise<Adapters> {
  const ctx = (name: string): AdapterContext => ({ config, env, logger: logger.child({ adapter: name }) });
  // What was built before a later one failed is closed again: a failed start leaves nothing running.
  const built: Partial<Adapters> & { ttsList: TtsAdapter[] } = { ttsList: [] };
  try {
    if (Object.prototype.hasOwnProperty.call(S2S_BUILTINS, config.botAdapter)) {
      const s2s = checkAdapter<S2sAdapter>('bot', config.botAdapter, await build('bot', config.botAdapter, S2S_BUILTINS[config.botAdapter]!, ctx(`s2s:${config.botAdapter}`)));
      // The call session talks to the model through its own link; this bot only names the adapter (logs, metrics).
      built.bot = { name: s2s.name, capabilities: { wantsUtteranceAudio: false }, start: () => Promise.reject(new Error('speech-to-speech calls are wired by the session')), close: () => s2s.close?.() };
      const tts = await loadTts(config, logger, ctx, built.ttsList);
      return { asr: undefined, bot: built.bot, tts, s2s };
    }
    const botF = await resolveFactory<BotAdapterFactory>('bot', config.botAdapter, BOT_BUILTINS);
    const botRaw = await build('bot', config.botAdapter, botF, ctx(`bot:${config.botAdapter}`));
    const bot = checkAdapter<BotAdapter>('bot', config.botAdapter, botRaw);
    built.bot = bot;
    if (!bot.capabilities) (bot as { capabilities: BotAdapter['capabilities'] }).capabilities = { wantsUtteranceAudio: false };
    built.asr = await loadAsr(config.asrAdapter, ctx);
    const tts = await loadTts(config, logger, ctx, built.ttsList);
    return { asr: built.asr, bot, tts };
  } catch (err) {
    await Promise.allSettled([built.asr, built.bot, ...built.ttsList].map(async (a) => a?.close?.()));
    throw err;
  }
}

/** TTS_ADAPTER may list several (`microsoft,flite`): each is built (into `list`), and more than one are wrapped in a fallback. */
async function loadTts(config: Config, logger: Logger, ctx: (name: string) => AdapterContext, list: TtsAdapter[]): Promise<TtsAdapter | undefined> {
  for (const spec of config.ttsAdapter.split(',').map((x) => x.trim()).filter(Boolean)) {
    const ttsF = await resolveFactory<Maybe<TtsAdapter>>('tts', spec, TTS_BUILTINS);
    const ttsRaw = await build('tts', spec, ttsF, ctx(`tts:${spec}`));
    if (ttsRaw !== undefined) list.push(checkAdapter<TtsAdapter>('tts', spec, ttsRaw));
  }
  return list.length > 1 ? new (await import('./tts/fallback.js')).FallbackTts(list, logger.child({ adapter: 'tts:fallback' }), { firstAudioTimeoutMs: config.ttsFirstAudioTimeoutMs }) : list[0];
}

export async function closeAdapters(a: Adapters): Promise<void> {
  await Promise.allSettled([a.asr?.close?.(), a.bot.close?.(), a.tts?.close?.()]);
}
