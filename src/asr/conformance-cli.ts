/** `vgw asr-conformance`: the ASR conformance suite from the command line, against any adapter (see conformance.ts). */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { loadAsrAdapter } from '../adapters.js';
import { loadForFlag, parseDuration, readAudioFile, UsageError } from '../cli.js';
import { formatConformance, runAsrConformance } from './conformance.js';

const DEFAULT_SPEECH = '/usr/share/pocketsphinx/test/data/goforward.raw';

export async function asrConformanceCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      adapter: { type: 'string' },
      wav: { type: 'string' },
      'raw-rate': { type: 'string', default: '16000' },
      rates: { type: 'string' },
      expect: { type: 'string' },
      'real-time': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '20s' },
    },
    strict: true,
  });
  if (!values.adapter) throw new UsageError('asr-conformance needs --adapter (a built-in name, a module path, or a chain)');
  const wav = values.wav ?? (existsSync(DEFAULT_SPEECH) ? DEFAULT_SPEECH : undefined);
  if (!wav) throw new UsageError(`no speech: pass --wav (the default ${DEFAULT_SPEECH} is not installed)`);
  const ratesHz = values.rates?.split(',').map((r) => Number(r.trim()));
  if (ratesHz?.some((r) => ![8000, 16000, 24000].includes(r))) throw new UsageError('--rates takes 8000, 16000 and/or 24000');
  const speech = readAudioFile(wav, Number(values['raw-rate']));
  // The suite plays clean speech resampled to each rate: at 8 kHz that is telephone band, which the offline recogniser
  // hears only with the band filled (ASR_BAND_FILL=auto fills 8 kHz legs), so that is the default here.
  const env = { ...process.env, ASR_ADAPTER: values.adapter, ASR_BAND_FILL: process.env.ASR_BAND_FILL ?? 'auto', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
  const adapter = await loadForFlag('ASR_ADAPTER', values.adapter, async () => {
    const config = loadConfig(env);
    const logger = createLogger(config.logLevel, { write: (s: string) => void process.stderr.write(s) });
    return loadAsrAdapter(config, logger, env);
  });
  if (!adapter) throw new UsageError(`--adapter ${values.adapter} gives no adapter here (none installed?)`);
  const checks = await runAsrConformance({
    adapter,
    speech,
    ratesHz,
    realTime: values['real-time'],
    expectText: values.expect ? new RegExp(values.expect, 'i') : undefined,
    finalTimeoutMs: parseDuration(values.timeout),
  });
  process.stdout.write(formatConformance(adapter.name, checks));
  return checks.every((c) => c.ok) ? 0 : 1;
}
