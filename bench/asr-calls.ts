/**
 * Plays utterances through a real gateway, started in-process on a real port, with the real local ASR (pocketsphinx
 * child processes) and the Vonage simulator as the caller, and returns what the bot was told.
 *
 * How the transcripts are read: a bot (the SDK's `defineBot`) that records each final transcript it receives under
 * its call's id. That is exactly what any bot gets through the bot contract, after the whole pipeline (leg, jitter
 * buffer, ASR feed, the adapter's resampling and band fill); parsing log lines instead would couple the bench to log
 * wording, and the console's observer stream is an optional feature with its own bounds.
 */
import { buildGateway } from '../src/app.js';
import { loadAsrAdapter } from '../src/adapters.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/observability/logger.js';
import { defineBot } from '../src/sdk/define-bot.js';
import { simulateCall } from '../src/sim/simulator.js';

export interface CallJob {
  id: string;
  samples: Int16Array;
  sampleRateHz: number;
}

/** Silence before the utterance (the recogniser loads its model meanwhile; the adapter keeps that audio anyway). */
const LEAD_MS = 500;
/**
 * After the utterance: the call ends once a final has come after the audio ended (pocketsphinx ends an utterance only
 * on trailing silence, so the last part's final always comes after) and {@link SETTLE_MS} passed without another, or
 * at {@link MAX_TAIL_MS} (nothing heard). Under load the engine's final can take ~3 s after the speech, so a fixed
 * short tail would lose it, and a fixed long one would triple the run.
 */
// Recognisers outlive their call by up to 0.5 s (their last final), so the budget allows a few more than the calls.
const SETTLE_MS = 700;
const MAX_TAIL_MS = Number(process.env.MAX_TAIL_MS ?? 9000);

/**
 * One gateway with `env` (AUDIO_RATE, ASR_BAND_FILL, ASR_GRAMMAR, …); `jobs` played as calls, at most `concurrency`
 * at once. Returns call id → the final transcripts in order.
 */
export async function transcribeThroughGateway(
  env: Record<string, string>,
  jobs: readonly CallJob[],
  concurrency: number,
  onDone?: () => void,
): Promise<Map<string, string[]>> {
  const full = {
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    ASR_ADAPTER: 'local',
    TTS_ADAPTER: 'none',
    LOCAL_ASR_MAX_PROCESSES: String(concurrency * 4),
    ...env,
  };
  const config = loadConfig(full);
  const logger = createLogger(config.logLevel);
  const heard = new Map<string, string[]>();
  const lastFinalAt = new Map<string, number>();
  const bot = defineBot({
    name: 'bench-transcript-recorder',
    onTranscript: ({ text }, { call }) => {
      heard.get(call.callId)?.push(text);
      lastFinalAt.set(call.callId, performance.now());
    },
  })();
  const asr = await loadAsrAdapter(config, logger, full);
  const gw = await buildGateway({ config, logger, env: full, adapters: { asr, bot, tts: undefined } });
  const port = await gw.listen();
  const url = `http://127.0.0.1:${port}`;
  const queue = [...jobs];
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      heard.set(job.id, []);
      const lead = new Int16Array(Math.round((job.sampleRateHz * LEAD_MS) / 1000));
      const samples = new Int16Array(lead.length + job.samples.length);
      samples.set(job.samples, lead.length);
      const ctl = new AbortController();
      const audioEndAt = performance.now() + (samples.length / job.sampleRateHz) * 1000;
      const id = job.id;
      const watch = setInterval(() => {
        const last = lastFinalAt.get(id) ?? 0;
        if (last > audioEndAt && performance.now() - last >= SETTLE_MS) ctl.abort();
      }, 100);
      try {
        await simulateCall({ url, uuid: id, audio: { samples, sampleRateHz: job.sampleRateHz }, tailMs: MAX_TAIL_MS, signal: ctl.signal });
      } finally {
        clearInterval(watch);
      }
      onDone?.();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  } finally {
    await gw.close();
  }
  return heard;
}
