/**
 * What the echo guard costs per 20 ms frame, next to a same-run baseline (copying one frame) and the WebRTC VAD it
 * gates, on recorded speech: asleep (the bot silent), awake (one frame sent + one caller frame judged, the delay
 * estimation every 10th frame included), and one estimation on its own.
 * Run: `npm run build && node dist/bench/echo-guard.js` (prints a table; nothing is written).
 */
import { readFileSync } from 'node:fs';
import { loadVad } from '../src/vad/fvad.js';
import { CallVad } from '../src/vad/vad.js';
import { EchoGuard } from '../src/vad/echo-guard.js';
import { echoScratch, estimateEcho } from '../src/vad/echo-estimate.js';

const FRAMES = Number(process.env.MICRO_FRAMES ?? 100000);

function bench(name: string, frames: number, fn: (i: number) => void): { name: string; nsPerFrame: number } {
  for (let i = 0; i < Math.min(frames, 5000); i++) fn(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < frames; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / frames;
  return { name, nsPerFrame: Math.round(ns * 10) / 10 };
}

async function main(): Promise<void> {
  await loadVad();
  const speech = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
  const nFrames = Math.floor(speech.length / 640);
  const frames = Array.from({ length: nFrames }, (_, k) => speech.subarray(k * 640, k * 640 + 640));
  // The caller's line: the same speech 6 frames (120 ms) later at −20 dB.
  const echoes = frames.map((_, k) => {
    const src = frames[(k + nFrames - 6) % nFrames]!;
    const f = Buffer.alloc(640);
    for (let i = 0; i < 320; i++) f.writeInt16LE(Math.round(src.readInt16LE(i * 2) / 10), i * 2);
    return f;
  });
  const copyTarget = Buffer.alloc(640);
  const results = [bench('baseline: copy one 640-byte frame', FRAMES, (i) => frames[i % nFrames]!.copy(copyTarget))];
  const vad = new CallVad({ sampleRateHz: 16000, mode: 2, minSpeechMs: 120, silenceMs: 600 });
  results.push(bench('VAD (WebRTC): 16 kHz frame (for scale)', FRAMES, (i) => vad.push(echoes[i % nFrames]!)));
  let sink = 0;
  const asleep = new EchoGuard({ sampleRateHz: 16000, maxDelayMs: 400, marginDb: 6 });
  results.push(bench('echo guard asleep (bot silent): caller frame', FRAMES, (i) => (sink += asleep.onCallerFrame(echoes[i % nFrames]!, false) ? 1 : 0)));
  const awake = new EchoGuard({ sampleRateHz: 16000, maxDelayMs: 400, marginDb: 6 });
  results.push(
    bench('echo guard awake: frame sent + caller frame judged (estimation amortised)', FRAMES, (i) => {
      awake.reference(frames[i % nFrames]!);
      sink += awake.onCallerFrame(echoes[i % nFrames]!, false) ? 1 : 0;
    }),
  );
  const ring = 512;
  const ref = new Float64Array(ring).map((_, i) => 1000 + ((i * 7919) % 1000));
  const cal = new Float64Array(ring).map((_, i) => 10 + ((i * 104729) % 10));
  const scratch = echoScratch(300, 80);
  const out = { lagBlocks: 0, rho: 0, gain: 0, gainUpper: 0 };
  results.push(
    bench('one delay estimation (1.5 s window, lags to 400 ms)', FRAMES / 20, (i) => {
      estimateEcho(ref, cal, ring - 1, 400 + (i & 63), 300, 80, scratch, out);
      sink += out.lagBlocks;
    }),
  );
  const base = results[0]!.nsPerFrame;
  console.log(`echo guard stats after the awake run: ${JSON.stringify(awake.stats)}`);
  console.log('| step | ns / frame | × baseline copy | share of a 20 ms frame budget |');
  console.log('|---|---:|---:|---:|');
  for (const r of results)
    console.log(`| ${r.name} | ${r.nsPerFrame} | ${Math.round((r.nsPerFrame / base) * 10) / 10} | ${((r.nsPerFrame / 20e6) * 100).toFixed(4)} % |`);
  console.log(`(sink ${sink})`);
  vad.close();
}

void main();
