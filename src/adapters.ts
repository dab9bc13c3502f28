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
  /** A bot in another process over the sidecar protocol (docs/sidecar-protocol.md). */
  remote: async (ctx) => (await import('./bot/remote.js')).createRemoteBot(ctx),
};
const TTS_BUILTINS: Record<string, Maybe<TtsAdapter>> = {
  none,
  flite: async (ctx) => (await import('./tts/flite.js')).createFliteTts(ctx),
};

function check<T extends object>(kind: string, spec: string, value: unknown, methods: string[]): T {
  if (!value || typeof value !== 'object') throw new GatewayError('ADAPTER_LOAD_FAILED', `${kind} adapter ${spec}: factory returned ${typeof value}, not an adapter object`);
  for (const m of methods) {
    if (typeof (value as Record<string, unknown>)[m] !== 'function') throw new GatewayError('ADAPTER_LOAD_FAILED', `${kind} adapter ${spec}: missing method ${m}()`);
  }
  return value as T;
}

export async function loadAdapters(config: Config, logger: Logger, env: Readonly<Record<string, string | undefined>>): Promise<Adapters> {
  const ctx = (name: string): AdapterContext => ({ config, env, logger: logger.child({ adapter: name }) });
  const asrF = await resolveFactory<Maybe<AsrAdapter>>('asr', config.asrAdapter, ASR_BUILTINS);
  const botF = await resolveFactory<BotAdapterFactory>('bot', config.botAdapter, BOT_BUILTINS);
  const ttsF = await resolveFactory<Maybe<TtsAdapter>>('tts', config.ttsAdapter, TTS_BUILTINS);
  const asrRaw = await asrF(ctx(`asr:${config.asrAdapter}`));
  const botRaw = await botF(ctx(`bot:${config.botAdapter}`));
  const ttsRaw = await ttsF(ctx(`tts:${config.ttsAdapter}`));
  const asr = asrRaw === undefined ? undefined : check<AsrAdapter>('ASR', config.asrAdapter, asrRaw, ['start']);
  const bot = check<BotAdapter>('bot', config.botAdapter, botRaw, ['start']);
  if (!bot.capabilities) (bot as { capabilities: BotAdapter['capabilities'] }).capabilities = { wantsUtteranceAudio: false };
  const tts = ttsRaw === undefined ? undefined : check<TtsAdapter>('TTS', config.ttsAdapter, ttsRaw, ['synthesize']);
  return { asr, bot, tts };
}

export async function closeAdapters(a: Adapters): Promise<void> {
  await Promise.allSettled([a.asr?.close?.(), a.bot.close?.(), a.tts?.close?.()]);
}
