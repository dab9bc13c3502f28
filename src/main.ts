/**
 * Process entry: read the environment once, build the gateway, listen, drain on SIGTERM/SIGINT. A start-up failure
 * (bad settings, an adapter factory that throws, a bad key) exits 1 with one clear line on stderr. Faults that escape
 * every guard later are logged, counted and survived (observability/last-resort.ts).
 */
import { loadConfig } from './config/config.js';
import { GatewayError } from './errors.js';
import { buildGateway } from './app.js';
import { LastResort } from './observability/last-resort.js';

const lastResort = new LastResort().install();

/** The start-up failure for stderr: the message, and where a user's code threw (the first lines of its stack). */
function startupError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const stack = cause instanceof Error && cause.stack ? `\n${cause.stack.split('\n').slice(0, 6).map((l) => `  ${l}`).join('\n')}` : '';
  return `gateway failed to start: ${msg}${stack}\n`;
}

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  process.stderr.write(`${err instanceof GatewayError ? err.message : String(err)}\n`);
  process.exit(1);
}

try {
  const gw = await buildGateway({ config, env: process.env });
  lastResort.attach(gw.metrics, gw.logger);
  const port = await gw.listen();
  const base = gw.config.publicUrl;
  gw.logger.info(
    {
      port,
      answerUrl: `${base}/webhooks/answer`,
      eventUrl: `${base}/webhooks/event`,
      fallbackUrl: `${base}/webhooks/fallback`,
      socket: `${gw.config.publicWsUrl}${config.wsPath}`,
      rate: config.audioRateHz,
      asr: gw.adapters.asr?.name ?? 'none',
      bot: gw.adapters.bot.name,
      tts: gw.adapters.tts?.name ?? 'none',
    },
    'gateway listening',
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      gw.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    gw.logger.info({ signal }, 'shutting down');
    gw.drain().then(
      () => process.exit(0),
      (err) => {
        gw.logger.error({ err: { message: (err as Error).message } }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  process.stderr.write(startupError(err));
  process.exit(1);
}
