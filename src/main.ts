/**
 * Process entry: read the environment once (over the optional config file: `--config gateway.yaml` or `CONFIG_FILE`,
 * see config/config-file.ts), build the gateway, listen, drain on SIGTERM/SIGINT. A start-up failure
 * (bad settings, an adapter factory that throws, a bad key) exits 1 with one clear line on stderr. Faults that escape
 * every guard later are logged, counted and survived (observability/last-resort.ts).
 *
 * `WORKERS` > 1: this process becomes the cluster primary (cluster/primary.ts), which forks that many copies of this
 * file as workers; each builds a gateway linked to the primary (cluster/worker.ts). `WORKERS=1`: one process, as
 * before, with no primary at all.
 */
import cluster from 'node:cluster';
import { CONFIG_SPECS, loadConfig, type Config } from './config/config.js';
import { checkFileKeys, configFileArg, layerEnv, readConfigFile, type ConfigFile } from './config/config-file.js';
import { sectionsOf } from './config/sections.js';
import { selectsCustomAdapter } from './adapters.js';
import { GatewayError } from './errors.js';
import { buildGateway } from './app.js';
import { LastResort } from './observability/last-resort.js';
import { createLogger } from './observability/logger.js';
import { printBanner } from './observability/banner.js';
import { runPrimary } from './cluster/primary.js';
import { createWorkerLink } from './cluster/worker.js';
import { niceV8Workers } from './util/thread-nice.js';

const lastResort = new LastResort().install();

/** The start-up failure for stderr: the message, and where a user's code threw (the first lines of its stack). */
function startupError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const stack =
    cause instanceof Error && cause.stack
      ? `\n${cause.stack
          .split('\n')
          .slice(0, 6)
          .map((l) => `  ${l}`)
          .join('\n')}`
      : '';
  return `gateway failed to start: ${msg}${stack}\n`;
}

let config: Config;
let configFile: ConfigFile | undefined;
/** The environment adapters read: the process's, with the config file's values under it. */
let env: Readonly<Record<string, string | undefined>> = process.env;
try {
  // `vgw serve --config …` imports this module: its arguments follow the command.
  const args = process.argv.slice(2);
  if (args[0] === 'serve') args.shift();
  const path = configFileArg(args, process.env);
  configFile = path === undefined ? undefined : readConfigFile(path, CONFIG_SPECS);
  config = loadConfig(process.env, configFile);
  env = layerEnv(process.env, configFile);
  // Keys only a custom adapter could declare are checked once its module is loaded (adapters.ts); otherwise now.
  if (!selectsCustomAdapter(config)) checkFileKeys(configFile, new Set(CONFIG_SPECS.map((s) => s.env)));
} catch (err) {
  process.stderr.write(`${err instanceof GatewayError ? err.message : String(err)}\n`);
  process.exit(1);
}

if (config.workers > 1 && cluster.isPrimary) {
  runPrimary({
    server: sectionsOf(config).server,
    workers: config.workers,
    logger: createLogger(config.logLevel, undefined, { role: 'primary', pid: process.pid }),
  });
} else {
  await startGateway(config);
}

async function startGateway(cfg: Config): Promise<void> {
  const link = cluster.isWorker && cluster.worker ? createWorkerLink(cluster.worker.id) : undefined;
  const asrBudget = env.LOCAL_ASR_MAX_PROCESSES?.trim();
  if (link && (!asrBudget || asrBudget === 'auto')) {
    // `auto` sizes the offline recognisers for the machine: each worker gets its share.
    cfg = Object.freeze({ ...cfg, localAsrMaxProcesses: Math.max(1, Math.floor(cfg.localAsrMaxProcesses / cfg.workers)) });
  }
  // V8's GC and compiler threads yield the core to the event loop that paces every call (src/util/thread-nice.ts).
  niceV8Workers(cfg.gcThreadNice);
  try {
    const logger = link ? createLogger(cfg.logLevel, undefined, { worker: link.workerId, pid: process.pid }) : undefined;
    const gw = await buildGateway({ config: cfg, env, configFile, logger, cluster: link });
    lastResort.attach(gw.metrics, gw.logger);
    const port = await gw.listen();
    const base = gw.config.publicUrl;
    const info = {
      port,
      answerUrl: `${base}/webhooks/answer`,
      eventUrl: `${base}/webhooks/event`,
      fallbackUrl: `${base}/webhooks/fallback`,
      socket: `${gw.config.publicWsUrl}${cfg.wsPath}`,
      rate: cfg.audioRateHz,
      asr: gw.adapters.asr?.name ?? 'none',
      bot: gw.adapters.bot.name,
      tts: gw.adapters.tts?.name ?? 'none',
    };
    // A worker tells the primary, which logs the one start-up line once every worker listens.
    if (link) link.ready(port, info);
    else {
      gw.logger.info(info, 'gateway listening');
      printBanner({ ...info, host: cfg.host });
    }
    let draining = false;
    const drain = () => {
      if (draining) return;
      draining = true;
      gw.drain().then(
        () => process.exit(0),
        (err) => {
          gw.logger.error({ err: { message: (err as Error).message } }, 'drain failed');
          process.exit(1);
        },
      );
    };
    let signalled = false;
    const stop = (signal: string) => {
      if (signalled) {
        gw.logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      signalled = true;
      gw.logger.info({ signal }, 'shutting down');
      drain();
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    if (link) {
      link.onDrain = () => {
        gw.logger.info('shutting down: the primary asked every worker to drain');
        drain();
      };
    }
  } catch (err) {
    process.stderr.write(startupError(err));
    process.exit(1);
  }
}
