/**
 * Offline turn latency: the default pipeline (WebRTC VAD, pocketsphinx, echo bot, Flite) answering recorded speech,
 * measured at the caller by the Vonage simulator: end of the caller's speech (last loud frame sent) → first reply
 * frame received. Run: `npm run bench:turn` (RUNS=n to change the count). Writes bench/results/turn-latency.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { buildGateway } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/observability/logger.js';
import { readWavFile } from '../src/audio/wav.js';
import { simulateCall } from '../src/sim/simulator.js';

const DATA = '/usr/share/pocketsphinx/test/data';
const FILES = ['cards/001.wav', 'cards/002.wav', 'cards/003.wav', 'cards/004.wav', 'cards/005.wav'];
const RUNS = Number(process.env.RUNS ?? 10);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function main(): Promise<void> {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ASR_ADAPTER: 'local', TTS_ADAPTER: 'flite' });
  const gw = await buildGateway({ config, logger: createLogger('warn'), env: process.env });
  const port = await gw.listen();
  const url = `http://127.0.0.1:${port}`;
  const latencies: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const wav = readWavFile(`${DATA}/${FILES[i % FILES.length]}`);
    // 2.5 s of silence first so the greeting has played; then the utterance; then time for the answer.
    const lead = new Int16Array(wav.sampleRateHz * 2.5);
    const samples = new Int16Array(lead.length + wav.samples.length);
    samples.set(wav.samples, lead.length);
    const s = await simulateCall({ url, audio: { samples, sampleRateHz: wav.sampleRateHz }, tailMs: 4000 });
    const answer = s.replies.find((r) => r.startMs > 2500 && r.latencyMs !== null);
    if (answer?.latencyMs != null) latencies.push(answer.latencyMs);
    process.stderr.write(`\rcall ${i + 1}/${RUNS}: ${answer?.latencyMs ?? 'no answer'} ms   `);
  }
  process.stderr.write('\n');
  await gw.close();
  latencies.sort((a, b) => a - b);
  const result = {
    node: process.version,
    runs: RUNS,
    answered: latencies.length,
    turnLatencyMs: { p50: pct(latencies, 50), p90: pct(latencies, 90), min: latencies[0], max: latencies[latencies.length - 1] },
    includes: 'VAD endpointing silence (600 ms), pocketsphinx final, Flite first sentence, 20 ms pacing',
  };
  const dir = new URL('../../bench/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('turn-latency.json', dir), JSON.stringify(result, null, 2) + '\n');
  console.log(`offline turn latency over ${latencies.length}/${RUNS} calls: p50 ${result.turnLatencyMs.p50} ms, p90 ${result.turnLatencyMs.p90} ms (min ${result.turnLatencyMs.min}, max ${result.turnLatencyMs.max})`);
}

void main();
