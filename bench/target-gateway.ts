/**
 * Benchmark target: the real gateway (handshake, jitter buffer, VAD, echo bot, pacer, metrics, info-level logs to
 * /dev/null) with a loopback pipeline: an ASR adapter that records ingress latency (socket receive → ASR write) and
 * answers every utterance, and a TTS that answers each reply with REPLY_FRAMES frames of tone. Controlled over IPC.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readdirSync } from 'node:fs';
import { pino } from 'pino';
import { buildGateway } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/observability/logger.js';
import { createEchoBot } from '../src/bot/echo.js';
import { Channel } from '../src/util/channel.js';
import type { AsrAdapter, AsrEvent, AsrStream } from '../src/asr/types.js';
import type { TtsAdapter } from '../src/tts/types.js';
import { Hist } from './hist.js';
import { AllocProfiler } from './alloc-profile.js';
import { settingsFromJson } from './settings-env.js';
import { TailDiag } from './tail-diag.js';
import { adapterContext } from '../src/adapters.js';
import { niceV8Workers } from '../src/util/thread-nice.js';

export const REPLY_FRAMES = 50;

const ingress = new Hist(200, 0.01);
let asrFrames = 0;

class BenchAsrStream implements AsrStream {
  readonly events = new Channel<AsrEvent>(16);
  write(_frame: Buffer, receivedAtMs: number): void {
    ingress.record(performance.now() - receivedAtMs);
    asrFrames++;
  }
  endOfSpeech(): void {
    this.events.push({ type: 'final', text: 'bench' });
  }
  close(): void {
    this.events.close();
  }
}

const asr: AsrAdapter = { name: 'bench', capabilities: { interim: false, sampleRatesHz: [8000, 16000, 24000] }, start: () => new BenchAsrStream() };
const tones = new Map<number, Int16Array>();
function toneFor(rate: number): Int16Array {
  let t = tones.get(rate);
  if (!t) {
    t = new Int16Array((rate / 50) * REPLY_FRAMES);
    for (let i = 0; i < t.length; i++) t[i] = Math.round(4000 * Math.sin((2 * Math.PI * 440 * i) / rate));
    tones.set(rate, t);
  }
  return t;
}

const tts: TtsAdapter = {
  name: 'bench-tone',
  async *synthesize(req) {
    // A real TTS synthesises off the event loop (Flite runs in workers); the stand-in must not compute on it either,
    // so the tone is computed once per rate (each reply still gets its own copy, as a real synthesis would).
    const rate = req.call.sampleRateHz;
    yield { audio: toneFor(rate).slice(), sampleRateHz: rate };
  },
};

/** `BENCH_GATEWAY_ENV` (a JSON object of settings, e.g. `{"ECHO_GUARD":"off"}`) for same-run A/B of a feature. */
const extraSettings = (): Record<string, string> => settingsFromJson(process.env.BENCH_GATEWAY_ENV, 'BENCH_GATEWAY_ENV');

async function main(): Promise<void> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    BARGE_IN: 'false',
    JITTER_TARGET_MS: process.env.JITTER_TARGET_MS ?? '0',
    MAX_CALLS: '5000',
    RECORDING_DIR: process.env.BENCH_RECORDING_DIR ?? '',
    UPGRADE_RATE_PER_SOURCE: '0',
    ...extraSettings(),
  });
  niceV8Workers(config.gcThreadNice); // as src/main.ts does
  const logger = createLogger('info', pino.destination({ dest: '/dev/null', sync: true }));
  const gw = await buildGateway({ config, logger, adapters: { asr, bot: await createEchoBot(adapterContext(config, logger)), tts } });
  const port = await gw.listen();
  // The gateway's own view of its 20 ms clock: the interval between consecutive ticks (what the pacer can do at best).
  const tickIntervals = new Hist(500, 0.1);
  // And where a late tick's time went: the main thread on the CPU, waiting for it, or in a GC pause (bench/tail-diag.ts).
  const tail = new TailDiag();
  let prevTick = 0;
  gw.ticker.add({
    onTick: (now) => {
      if (prevTick) tickIntervals.record(now - prevTick);
      prevTick = now;
      tail.onTick(now);
    },
  });
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  const alloc = new AllocProfiler();
  let allocFrom = { framesIn: 0, framesOut: 0 };
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'alloc-start') {
      allocFrom = { framesIn: gw.metrics.hot.framesIn, framesOut: gw.metrics.hot.framesOut };
      void alloc.start().then(() => process.send?.({ cmd: 'alloc-started' }));
    } else if (m.cmd === 'alloc-stop') {
      void alloc.stop().then((summary) =>
        process.send?.({
          cmd: 'alloc',
          ...summary,
          framesIn: gw.metrics.hot.framesIn - allocFrom.framesIn,
          framesOut: gw.metrics.hot.framesOut - allocFrom.framesOut,
        }),
      );
    } else if (m.cmd === 'stats') {
      const hot = gw.metrics.hot;
      let pacerDrops = 0;
      for (const s of gw.tracker.sessions()) pacerDrops += s.pacerStats.framesDroppedBackpressure + s.pacerStats.framesRejectedFull;
      process.send?.({
        cmd: 'stats',
        ingress: ingress.toJSON(),
        asrFrames,
        framesIn: hot.framesIn,
        framesOut: hot.framesOut,
        pacerDrops,
        calls: gw.tracker.size,
        cpu: process.cpuUsage(),
        rss: process.memoryUsage().rss,
        eldP99Ms: eld.percentile(99) / 1e6,
        eldMaxMs: eld.max / 1e6,
        lateTicks: gw.ticker.stats.lateTicks,
        tickIntervalP99Ms: tickIntervals.percentile(99),
        tickIntervalMaxMs: tickIntervals.max,
        tail: tail.report(),
      });
      tickIntervals.reset();
      ingress.reset();
      eld.reset();
    } else if (m.cmd === 'sample') {
      // Memory and handles for the soak test; a full GC first (when exposed) so heap figures are live data only.
      (globalThis as { gc?: () => void }).gc?.();
      const handles: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) handles[r] = (handles[r] ?? 0) + 1;
      const mem = process.memoryUsage();
      process.send?.({
        cmd: 'sample',
        calls: gw.tracker.size,
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        heapTotal: mem.heapTotal,
        external: mem.external,
        arrayBuffers: mem.arrayBuffers,
        handles,
        fds: readdirSync('/proc/self/fd').length,
        recordingsOpen: gw.recordings?.open ?? 0,
      });
    } else if (m.cmd === 'exit') {
      tail.close();
      void gw.close().then(() => process.exit(0));
    }
  });
  process.send?.({ cmd: 'ready', port, wsPath: config.wsPath });
}

void main();
