/**
 * Builds the configured ASR, bot and TTS adapters once per process: a built-in by name, or a user's module by path.
 * Built-ins are imported lazily, so an unused vendor SDK costs nothing.
 */
import type { Config } from './config/config.js';
import type { Logger } from './observability/logger.js';
import type { AsrAdapter } from './asr/types.js';
import type { BotAdapter, BotAdapterFactory } from './bot/types.js';
import type { TtsAdapter } from './tts/types.js';
import type { AdapterContext } from './util/adapter-context.js';
import { resolveFactory } from './util/load-adapter.js';
import { GatewayError } from './errors.js';

export interface Adapters {
  asr: AsrAdapter | undefined;
  bot: BotAdapter;
  tts: TtsAdapter | undefined;
}

type Maybe<T> = (ctx: AdapterContext) => T | undefined | Promise<T | undefined>;
const none = () => undefined;

const ASR_BUILTINS: Record<string, Maybe<AsrAdapter>> = {
  none,
  local: async (ctx) => (await import('./asr/pocketsphinx.js')).createPocketsphinxAsr(ctx),
  microsoft: async (ctx) => (await import('./asr/microsoft.js')).createMicrosoftAsr(ctx),
  google: async (ctx) => (await import('./asr/google.js')).createGoogleAsr(ctx),
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
};

function check<T extends object>(kind: string, spec: string, value: unknown, methods: string[]): T {
  if (!value || typeof value !== 'object') throw new GatewayError('ADAPTER_LOAD_FAILED', `${kind} adapter ${spec}: factory returned ${typeof value}, not an adapter object`);
  for (const m of methods) {
    if (typeof (value as Record<string, unknown>)[m] !== 'function') throw new GatewayError('ADAPTER_LOAD_FAILED', `${kind} adapter ${spec}: missing method ${m}()`);
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
  for (const one of specs) {
    const f = await resolveFactory<Maybe<AsrAdapter>>('asr', one, ASR_BUILTINS);
    const raw = await f(ctx(`asr:${one}`));
    if (raw !== undefined) chain.push(check<AsrAdapter>('ASR', one, raw, ['start']));
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
  const botF = await resolveFactory<BotAdapterFactory>('bot', config.botAdapter, BOT_BUILTINS);
  const botRaw = await botF(ctx(`bot:${config.botAdapter}`));
  const asr = await loadAsr(config.asrAdapter, ctx);
  const bot = check<BotAdapter>('bot', config.botAdapter, botRaw, ['start']);
  if (!bot.capabilities) (bot as { capabilities: BotAdapter['capabilities'] }).capabilities = { wantsUtteranceAudio: false };
  // TTS_ADAPTER may list several (`microsoft,flite`): each is built, and more than one are wrapped in a fallback.
  const ttsList: TtsAdapter[] = [];
  for (const spec of config.ttsAdapter.split(',').map((x) => x.trim()).filter(Boolean)) {
    const ttsF = await resolveFactory<Maybe<TtsAdapter>>('tts', spec, TTS_BUILTINS);
    const ttsRaw = await ttsF(ctx(`tts:${spec}`));
    if (ttsRaw !== undefined) ttsList.push(check<TtsAdapter>('TTS', spec, ttsRaw, ['synthesize']));
  }
  const tts = ttsList.length > 1 ? new (await import('./tts/fallback.js')).FallbackTts(ttsList, logger.child({ adapter: 'tts:fallback' }), { firstAudioTimeoutMs: config.ttsFirstAudioTimeoutMs }) : ttsList[0];
  return { asr, bot, tts };
}

export async function closeAdapters(a: Adapters): Promise<void> {
  await Promise.allSettled([a.asr?.close?.(), a.bot.close?.(), a.tts?.close?.()]);
}
