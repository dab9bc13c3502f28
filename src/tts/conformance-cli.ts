/** `vgw tts-conformance`: the TTS conformance suite from the command line, against any adapter (see conformance.ts). */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { loadAdapters } from '../adapters.js';
import { loadForFlag, parseDuration, UsageError } from '../cli.js';
import { formatChecks } from '../sdk/conformance-kit.js';
import { runTtsConformance } from './conformance.js';

export async function ttsConformanceCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        adapter: { type: 'string' },
        text: { type: 'string' },
        rates: { type: 'string' },
        'first-audio-timeout': { type: 'string', default: '5s' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (!values.adapter) throw new UsageError('tts-conformance needs --adapter (a built-in name, a module path, or a list)');
  const ratesHz = values.rates?.split(',').map((r) => Number(r.trim()));
  if (ratesHz?.some((r) => ![8000, 16000, 24000].includes(r))) throw new UsageError('--rates takes 8000, 16000 and/or 24000');
  // Only the TTS is under test: the cheapest bot, no ASR.
  const env = { ...process.env, TTS_ADAPTER: values.adapter, ASR_ADAPTER: 'none', BOT_ADAPTER: 'echo', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
  const { tts } = await loadForFlag('TTS_ADAPTER', values.adapter, async () => {
    const config = loadConfig(env);
    const logger = createLogger(config.logLevel, { write: (s: string) => void process.stderr.write(s) });
    return loadAdapters(config, logger, env);
  });
  if (!tts) throw new UsageError(`--adapter ${values.adapter} gives no adapter`);
  const checks = await runTtsConformance({ adapter: tts, text: values.text, ratesHz, firstAudioTimeoutMs: parseDuration(values['first-audio-timeout']) });
  process.stdout.write(formatChecks(tts.name, checks));
  return checks.every((c) => c.ok) ? 0 : 1;
}
