/**
 * Builds the configured ASR, bot and TTS adapters once per process: a built-in by name, or a user's module by path.
 * Built-ins are imported lazily, so an unused vendor SDK costs nothing.
 */
import { CONFIG_SPECS, type Config } from './config/config.js';
import { fileKeyProblems, invalidConfig, type ConfigFile } from './config/config-file.js';
import { parseAdapterSettings } from './config/custom-settings.js';
import type { Env } from './config/parsers.js';
import { sectionsOf } from './config/sections.js';
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

/** A user's module among ASR_ADAPTER, BOT_ADAPTER, TTS_ADAPTER (anything not a built-in name): it may declare settings. */
export function selectsCustomAdapter(config: Pick<Config, 'asrAdapter' | 'botAdapter' | 'ttsAdapter'>): boolean {
  const custom = (spec: string, ...builtins: Array<Record<string, unknown>>) =>
    members(spec).some((n) => !builtins.some((b) => Object.prototype.hasOwnProperty.call(b, n)));
  return custom(config.asrAdapter, ASR_BUILTINS) || custom(config.botAdapter, BOT_BUILTINS, S2S_BUILTINS) || custom(config.ttsAdapter, TTS_BUILTINS);
}

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
    if (err instanceof GatewayError)
      throw err.message.includes(ENV_OF[kind]) ? err : new GatewayError(err.code, `${where}: ${err.message}`, { httpStatus: err.httpStatus, cause: err.cause });
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
  if (!value || typeof value !== 'object')
    throw new GatewayError('ADAPTER_LOAD_FAILED', `${where}: the factory returned ${value === null ? 'null' : typeof value}, not an adapter object`);
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
    const hint = sessionShaped
      ? ' (this looks like a bot session: the factory must return { name, start(opts) } and start() returns { input(event), output, close() })'
      : '';
    throw new GatewayError('ADAPTER_LOAD_FAILED', `${where}: ${missing.join('; ')}${hint}`);
  }
  return value as T;
}

/** One adapter to build: its setting's value, the factory it resolved to, and its declared settings once validated. */
interface Planned<F> {
  readonly kind: AdapterKind;
  readonly spec: string;
  readonly factory: F;
  settings?: Readonly<Record<string, unknown>>;
}

async function plan<F extends (...args: never[]) => unknown>(kind: AdapterKind, spec: string, builtins: Readonly<Record<string, F>>): Promise<Planned<F>> {
  return { kind, spec, factory: await resolveFactory<F>(kind, spec, builtins) };
}

/** The members of a comma-separated chain or list (`google,microsoft,local`). */
const members = (spec: string): string[] =>
  spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * Before any factory runs: validate the settings custom adapters declare (a `settings` property on the factory, which
 * the SDK's define* functions set), and the config file's keys against the gateway's settings and those. Every problem
 * in one `CONFIG_INVALID` error.
 */
function settle(planned: ReadonlyArray<Planned<unknown>>, env: Env, file: ConfigFile | undefined): void {
  const problems: string[] = [];
  const known = new Set(CONFIG_SPECS.map((s) => s.env));
  for (const p of planned) {
    const declared = (p.factory as { settings?: unknown }).settings;
    if (declared === undefined) continue;
    const r = parseAdapterSettings(`${ENV_OF[p.kind]}=${p.spec}`, declared, env);
    problems.push(...r.problems);
    p.settings = r.values;
    for (const n of r.names) known.add(n);
  }
  problems.push(...fileKeyProblems(file, known));
  if (problems.length) throw invalidConfig(problems);
}

/**
 * `ASR_ADAPTER` is one adapter or an ordered fallback chain (`google,microsoft,local`): each is built once; a chain
 * becomes one adapter that moves a call to the next on an unrecoverable failure (see asr/fallback.ts).
 */
async function buildAsr(planned: ReadonlyArray<Planned<Maybe<AsrAdapter>>>, ctx: CtxOf, chain: AsrAdapter[]): Promise<AsrAdapter | undefined> {
  for (const p of planned) {
    const raw = await build('asr', p.spec, p.factory, ctx(`asr:${p.spec}`, p.settings));
    if (raw !== undefined) chain.push(checkAdapter<AsrAdapter>('asr', p.spec, raw));
  }
  if (chain.length <= 1) return chain[0];
  return (await import('./asr/fallback.js')).createFallbackAsr(chain);
}

type CtxOf = (name: string, settings?: Readonly<Record<string, unknown>>) => AdapterContext;

function contextFor(config: Config, logger: Logger, env: Env): CtxOf {
  return (name, settings) => adapterContext(config, logger.child({ adapter: name }), env, settings);
}

/**
 * What an adapter factory is called with: the settings by owner (`sections`), the deprecated flat `config`, the
 * logger, the environment and the adapter's own declared settings. Also for tests and tools that build an adapter.
 */
export function adapterContext(config: Config, logger: Logger, env: Env = {}, settings?: Readonly<Record<string, unknown>>): AdapterContext {
  return { config, sections: sectionsOf(config), env, logger, ...(settings ? { settings } : {}) };
}

/** Only the ASR adapter (or chain) from config: for `vgw asr-conformance`. */
export async function loadAsrAdapter(config: Config, logger: Logger, env: Env): Promise<AsrAdapter | undefined> {
  const planned: Array<Planned<Maybe<AsrAdapter>>> = [];
  for (const one of members(config.asrAdapter)) planned.push(await plan('asr', one, ASR_BUILTINS));
  settle(planned, env, undefined);
  const chain: AsrAdapter[] = [];
  try {
    return await buildAsr(planned, contextFor(config, logger, env), chain);
  } catch (err) {
    await Promise.allSettled(chain.map(async (a) => a.close?.()));
    throw err;
  }
}

export interface LoadAdaptersOptions {
  /** The config file the settings were read with: its keys must be known to the gateway or a selected adapter. */
  configFile?: ConfigFile;
}

/**
 * Build the selected adapters: resolve every factory (a built-in, or a user's module), validate what custom adapters
 * declare and the config file's keys, then run the factories (bot, ASR, TTS). A failed start leaves nothing running.
 */
export async function loadAdapters(config: Config, logger: Logger, env: Env, opts: LoadAdaptersOptions = {}): Promise<Adapters> {
  const ctx = contextFor(config, logger, env);
  const s2sF = Object.prototype.hasOwnProperty.call(S2S_BUILTINS, config.botAdapter) ? S2S_BUILTINS[config.botAdapter] : undefined;
  const botP = s2sF ? undefined : await plan<BotAdapterFactory>('bot', config.botAdapter, BOT_BUILTINS);
  const asrP: Array<Planned<Maybe<AsrAdapter>>> = [];
  if (!s2sF) for (const one of members(config.asrAdapter)) asrP.push(await plan('asr', one, ASR_BUILTINS));
  const ttsP: Array<Planned<Maybe<TtsAdapter>>> = [];
  for (const one of members(config.ttsAdapter)) ttsP.push(await plan('tts', one, TTS_BUILTINS));
  settle([...(botP ? [botP] : []), ...asrP, ...ttsP], env, opts.configFile);
  // What was built before a later one failed is closed again: a failed start leaves nothing running.
  const built: Partial<Adapters> & { ttsList: TtsAdapter[]; asrChain: AsrAdapter[] } = { ttsList: [], asrChain: [] };
  try {
    if (s2sF) {
      const s2s = checkAdapter<S2sAdapter>('bot', config.botAdapter, await build('bot', config.botAdapter, s2sF, ctx(`s2s:${config.botAdapter}`)));
      // The call session talks to the model through its own link; this bot only names the adapter (logs, metrics).
      built.bot = {
        name: s2s.name,
        capabilities: { wantsUtteranceAudio: false },
        start: () => Promise.reject(new Error('speech-to-speech calls are wired by the session')),
        close: () => s2s.close?.(),
      };
      const tts = await buildTts(config, logger, ttsP, ctx, built.ttsList);
      return { asr: undefined, bot: built.bot, tts, s2s };
    }
    const p = botP as Planned<BotAdapterFactory>;
    const botRaw = await build('bot', p.spec, p.factory, ctx(`bot:${p.spec}`, p.settings));
    const bot = checkAdapter<BotAdapter>('bot', p.spec, botRaw);
    built.bot = bot;
    if (!bot.capabilities) (bot as { capabilities: BotAdapter['capabilities'] }).capabilities = { wantsUtteranceAudio: false };
    built.asr = await buildAsr(asrP, ctx, built.asrChain);
    const tts = await buildTts(config, logger, ttsP, ctx, built.ttsList);
    return { asr: built.asr, bot, tts };
  } catch (err) {
    await Promise.allSettled([...(built.asr ? [built.asr] : built.asrChain), built.bot, ...built.ttsList].map(async (a) => a?.close?.()));
    throw err;
  }
}

/** TTS_ADAPTER may list several (`microsoft,flite`): each is built (into `list`), and more than one are wrapped in a fallback. */
async function buildTts(
  config: Config,
  logger: Logger,
  planned: ReadonlyArray<Planned<Maybe<TtsAdapter>>>,
  ctx: CtxOf,
  list: TtsAdapter[],
): Promise<TtsAdapter | undefined> {
  for (const p of planned) {
    const ttsRaw = await build('tts', p.spec, p.factory, ctx(`tts:${p.spec}`, p.settings));
    if (ttsRaw !== undefined) list.push(checkAdapter<TtsAdapter>('tts', p.spec, ttsRaw));
  }
  return list.length > 1
    ? new (await import('./tts/fallback.js')).FallbackTts(list, logger.child({ adapter: 'tts:fallback' }), {
        firstAudioTimeoutMs: config.ttsFirstAudioTimeoutMs,
      })
    : list[0];
}

export async function closeAdapters(a: Adapters): Promise<void> {
  await Promise.allSettled([a.asr?.close?.(), a.bot.close?.(), a.tts?.close?.()]);
}
