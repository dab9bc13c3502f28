/**
 * Micro-benchmarks of the per-frame hot path, in ns per 20 ms frame (16 kHz unless noted), each next to a baseline
 * measured in the same run (a plain Buffer copy of one frame), so the ratio survives a noisy machine.
 * Run: `npm run bench:micro`. Writes bench/results/micro.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Reframer } from '../src/audio/reframer.js';
import { loadResampler, StreamResampler } from '../src/audio/resampler.js';
import { JitterBuffer } from '../src/ingress/jitter-buffer.js';
import { Pacer } from '../src/egress/pacer.js';
import { Ticker } from '../src/util/ticker.js';
import { ManualClock } from '../src/util/clock.js';
import { loadVad } from '../src/vad/fvad.js';
import { CallVad } from '../src/vad/vad.js';

const FRAMES = Number(process.env.MICRO_FRAMES ?? 200000);

function bench(name: string, frames: number, fn: (i: number) => void): { name: string; nsPerFrame: number } {
  for (let i = 0; i < Math.min(frames, 5000); i++) fn(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < frames; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / frames;
  return { name, nsPerFrame: Math.round(ns * 10) / 10 };
}

async function main(): Promise<void> {
  await Promise.all([loadResampler(), loadVad()]);
  const frame = Buffer.alloc(640);
  for (let i = 0; i < 320; i++) frame.writeInt16LE(Math.round(8000 * Math.sin(i / 5)), i * 2);
  const copyTarget = Buffer.alloc(640);
  const results = [];
  results.push(bench('baseline: copy one 640-byte frame', FRAMES, () => frame.copy(copyTarget)));

  let sink = 0;
  const rf = new Reframer(640, { onFrame: (f) => (sink += f.length) });
  results.push(bench('reframer: aligned frame (pass-through)', FRAMES, () => rf.push(frame)));
  const odd = frame.subarray(0, 600);
  results.push(bench('reframer: 600-byte chunks (re-assembly)', FRAMES, () => rf.push(odd)));

  const jb = new JitterBuffer({ frameBytes: 640, targetFrames: 3, capacityFrames: 50, fillSilence: false }, { onFrame: () => sink++, onGap: () => sink-- });
  results.push(
    bench('jitter buffer: push + tick', FRAMES, (i) => {
      jb.push(frame, i * 20);
      jb.tick(1);
    }),
  );

  const clock = new ManualClock();
  const ticker = new Ticker(clock);
  const pacerSink = { sendFrame: () => sink++, sendText: () => sink++, bufferedAmount: 0 };
  const events = { onSegmentStart: () => {}, onSegmentPlayed: () => {}, onSegmentInterrupted: () => {} };
  const pacer = new Pacer({ frameBytes: 640, leadFrames: 5, capacityFrames: 3000, watermarkBytes: 65536 }, pacerSink, ticker, clock, events);
  pacer.beginSegment(1);
  results.push(
    bench('pacer: enqueue + tick (one frame out)', FRAMES, () => {
      pacer.enqueue(frame);
      pacer.onTick(0, 1);
    }),
  );

  const samples24 = new Int16Array(480).map((_, i) => Math.round(8000 * Math.sin(i / 7)));
  const samples16 = new Int16Array(320).map((_, i) => Math.round(8000 * Math.sin(i / 5)));
  const r2416 = new StreamResampler(24000, 16000);
  results.push(bench('resampler: 24 kHz → 16 kHz, 20 ms', FRAMES / 4, () => r2416.process(samples24)));
  const r168 = new StreamResampler(16000, 8000);
  results.push(bench('resampler: 16 kHz → 8 kHz, 20 ms', FRAMES / 4, () => r168.process(samples16)));

  const vad = new CallVad({ sampleRateHz: 16000, mode: 2, minSpeechMs: 120, silenceMs: 600 });
  results.push(bench('VAD (WebRTC): 16 kHz frame', FRAMES / 4, () => vad.push(frame)));
  const vad24 = new CallVad({ sampleRateHz: 24000, mode: 2, minSpeechMs: 120, silenceMs: 600 });
  const frame24 = Buffer.from(samples24.buffer);
  results.push(bench('VAD (WebRTC): 24 kHz frame (resampled)', FRAMES / 4, () => vad24.push(frame24)));

  const base = results[0]!.nsPerFrame;
  const rows = results.map((r) => ({ ...r, vsBaseline: Math.round((r.nsPerFrame / base) * 10) / 10 }));
  const budgetNs = 20e6;
  console.log('| hot-path step | ns / frame | × baseline copy | share of a 20 ms frame budget |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.name} | ${r.nsPerFrame} | ${r.vsBaseline} | ${((r.nsPerFrame / budgetNs) * 100).toFixed(4)} % |`);
  mkdirSync(new URL('./results/', import.meta.url).pathname.replace('/dist/bench/', '/bench/'), { recursive: true });
  const out = new URL('./results/micro.json', import.meta.url).pathname.replace('/dist/bench/', '/bench/');
  writeFileSync(out, JSON.stringify({ node: process.version, frames: FRAMES, results: rows, sink }, null, 2) + '\n');
  console.error(`wrote ${out}`);
  r2416.close();
  r168.close();
  vad.close();
  vad24.close();
  ticker.close();
}

void main();
