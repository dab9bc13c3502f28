/** Process entry: read the environment once, build the gateway, listen, drain on SIGTERM/SIGINT. */
import { loadConfig } from './config/config.js';
import { GatewayError } from './errors.js';
import { buildGateway } from './app.js';

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  process.stderr.write(`${err instanceof GatewayError ? err.message : String(err)}\n`);
  process.exit(1);
}

try {
  const gw = await buildGateway({ config, env: process.env });
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
  process.stderr.write(`gateway failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
