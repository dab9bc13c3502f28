/**
 * Offline turn latency: the default pipeline (WebRTC VAD, pocketsphinx, echo bot, Flite) answering recorded speech,
 * measured at the caller by the Vonage simulator: end of the caller's speech (last loud frame sent) → first reply
 * frame received. Run: `npm run bench:turn`. By default both endpointing modes run over the same files, one after the
 * other in one process (`ENDPOINTING=fixed`: today's VAD_SILENCE_MS and pocketsphinx's own endpointing;
 * `ENDPOINTING=adaptive`: the end-of-turn gate and the engine flushed on the VAD's short silence).
 *
 * `ENDPOINTING=fixed|adaptive` runs one mode, `RUNS=n` changes the count (default 10 per mode); either makes it a
 * partial run, written to bench/results/quick/ (not committed); so does `--set=KEY=VALUE,…` (settings for both modes). Only a full run (both modes, the default count)
 * writes bench/results/turn-latency.json. `--out=DIR` writes there instead.
 */
import { settingsFromArgs } from './settings-env.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGateway } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/observability/logger.js';
import { readWavFile } from '../src/audio/wav.js';
import { simulateCall } from '../src/sim/simulator.js';
import { benchOutDir } from './out-dir.js';

const DATA = '/usr/share/pocketsphinx/test/data';
const FILES = ['cards/001.wav', 'cards/002.wav', 'cards/003.wav', 'cards/004.wav', 'cards/005.wav'];
const DEFAULT_RUNS = 10;
const RUNS = Number(process.env.RUNS ?? DEFAULT_RUNS);
/** `--set=KEY=VALUE,…`: gateway settings for both modes (an A/B of one setting; a partial run, to results/quick/). */
const SET = settingsFromArgs(process.argv);
const MODES = process.env.ENDPOINTING ? [process.env.ENDPOINTING] : ['fixed', 'adaptive'];

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface ModeResult {
  answered: number;
  turnLatencyMs: { p50: number; p90: number; min: number; max: number };
  includes: string;
}

async function runMode(mode: string): Promise<ModeResult> {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ASR_ADAPTER: 'local', TTS_ADAPTER: 'flite', ...SET, ENDPOINTING: mode });
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
    process.stderr.write(`\r${mode}: call ${i + 1}/${RUNS}: ${answer?.latencyMs ?? 'no answer'} ms   `);
  }
  process.stderr.write('\n');
  await gw.close();
  latencies.sort((a, b) => a - b);
  const includes =
    mode === 'fixed'
      ? `pocketsphinx's own endpointing (500 ms of silence, read in 128 ms blocks) and its final, Flite first sentence, 20 ms pacing (VAD_SILENCE_MS ${config.vadSilenceMs} ms ends the VAD utterance but is not on the transcript's path)`
      : `VAD silence ENDPOINT_MIN_SILENCE_MS ${config.endpointMinSilenceMs} ms, then pocketsphinx flushed and its final, the end-of-turn gate (${config.turnDetector}), Flite first sentence, 20 ms pacing`;
  return {
    answered: latencies.length,
    turnLatencyMs: { p50: pct(latencies, 50), p90: pct(latencies, 90), min: latencies[0]!, max: latencies[latencies.length - 1]! },
    includes,
  };
}

async function main(): Promise<void> {
  const modes: Record<string, ModeResult> = {};
  for (const m of MODES) {
    const r = (modes[m] = await runMode(m));
    console.log(
      `ENDPOINTING=${m}: offline turn latency over ${r.answered}/${RUNS} calls: p50 ${r.turnLatencyMs.p50} ms, p90 ${r.turnLatencyMs.p90} ms (min ${r.turnLatencyMs.min}, max ${r.turnLatencyMs.max})`,
    );
  }
  const result = { node: process.version, runs: RUNS, files: FILES, modes };
  const full = !process.env.ENDPOINTING && RUNS === DEFAULT_RUNS && Object.keys(SET).length === 0;
  const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  const dir = benchOutDir(full ? process.argv : [...process.argv, '--quick'], resultsDir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'turn-latency.json'), JSON.stringify(result, null, 2) + '\n');
}

void main();
