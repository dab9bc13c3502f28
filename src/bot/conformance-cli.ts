/** `vgw bot-conformance`: the bot conformance suite from the command line, against any adapter (see conformance.ts). */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { loadAdapters } from '../adapters.js';
import { loadForFlag, parseDuration, UsageError } from '../cli.js';
import { formatChecks } from '../sdk/conformance-kit.js';
import { runBotConformance } from './conformance.js';

export async function botConformanceCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        adapter: { type: 'string' },
        'reply-timeout': { type: 'string', default: '10s' },
        'no-output-ok': { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (!values.adapter) throw new UsageError('bot-conformance needs --adapter (a built-in name or a module path)');
  // Only the bot is under test: no ASR, no TTS built.
  const env = { ...process.env, BOT_ADAPTER: values.adapter, ASR_ADAPTER: 'none', TTS_ADAPTER: 'none', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
  const { bot } = await loadForFlag('BOT_ADAPTER', values.adapter, async () => {
    const config = loadConfig(env);
    const logger = createLogger(config.logLevel, { write: (s: string) => void process.stderr.write(s) });
    return loadAdapters(config, logger, env);
  });
  const checks = await runBotConformance({ adapter: bot, replyTimeoutMs: parseDuration(values['reply-timeout']), expectOutput: !values['no-output-ok'] });
  process.stdout.write(formatChecks(bot.name, checks));
  return checks.every((c) => c.ok) ? 0 : 1;
}
