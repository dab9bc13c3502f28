/**
 * Micro-benchmarks of the per-frame hot path, in ns per 20 ms frame (16 kHz unless noted), each next to a baseline
 * measured in the same run (a plain Buffer copy of one frame), so the ratio survives a noisy machine.
 * Run: `npm run bench:micro`. Writes bench/results/micro.json.
 *
 * Every case runs in a Node process of its own (`--case=N`), so its figure cannot depend on what ran before it (V8's
 * tiering and inline caches are per process), and is warmed up for as many frames as it is timed.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Reframer } from '../src/audio/reframer.js';
import { loadResampler, StreamResampler } from '../src/audio/resampler.js';
import { JitterBuffer } from '../src/ingress/jitter-buffer.js';
import { Pacer } from '../src/egress/pacer.js';
import { FastReceiver, nativeUnmask } from '../src/leg/fast-audio.js';
import { Ticker } from '../src/util/ticker.js';
import { ManualClock } from '../src/util/clock.js';
import { loadVad } from '../src/vad/fvad.js';
import { CallVad } from '../src/vad/vad.js';

const FRAMES = Number(process.env.MICRO_FRAMES ?? 200000);

interface Case {
  name: string;
  /** Frames timed (the slow steps fewer). */
  frames: number;
  /** Builds the step (after the WebAssembly modules are loaded); `sink` keeps results from being optimised away. */
  setup(frame: Buffer, sink: { n: number }): (i: number) => void;
}

/** The leg's reader of one masked binary message (unmasked in place: reading the chunk again masks it back, same cost). */
function legReader(frame: Buffer, sink: { n: number }, unmask: typeof nativeUnmask | null): () => void {
  const wire = Buffer.alloc(8 + 640);
  wire[0] = 0x82;
  wire[1] = 0x80 | 126;
  wire.writeUInt16BE(640, 2);
  wire.set([0x12, 0x34, 0x56, 0x78], 4);
  frame.copy(wire, 8);
  const reader = new FastReceiver(
    () => true,
    (p) => (sink.n += p.length),
    4096,
    () => {},
    () => false,
    unmask,
  );
  return () => reader.write(wire);
}

const samples24 = () => new Int16Array(480).map((_, i) => Math.round(8000 * Math.sin(i / 7)));

const CASES: Case[] = [
  {
    name: 'baseline: copy one 640-byte frame',
    frames: FRAMES,
    setup: (frame) => {
      const copyTarget = Buffer.alloc(640);
      return () => frame.copy(copyTarget);
    },
  },
  {
    name: "leg: read one masked 640-byte message (bufferutil's native unmask, the default)",
    frames: FRAMES,
    setup: (frame, sink) => legReader(frame, sink, nativeUnmask ?? null),
  },
  {
    name: 'leg: read one masked 640-byte message (the JavaScript unmask loop)',
    frames: FRAMES,
    setup: (frame, sink) => legReader(frame, sink, null),
  },
  {
    name: 'reframer: aligned frame (pass-through)',
    frames: FRAMES,
    setup: (frame, sink) => {
      const rf = new Reframer(640, { onFrame: (f) => (sink.n += f.length) });
      return () => rf.push(frame);
    },
  },
  {
    name: 'reframer: 600-byte chunks (re-assembly)',
    frames: FRAMES,
    setup: (frame, sink) => {
      const rf = new Reframer(640, { onFrame: (f) => (sink.n += f.length) });
      const odd = frame.subarray(0, 600);
      return () => rf.push(odd);
    },
  },
  {
    name: 'jitter buffer: push + tick',
    frames: FRAMES,
    setup: (frame, sink) => {
      const jb = new JitterBuffer(
        { frameBytes: 640, targetFrames: 3, capacityFrames: 50, fillSilence: false },
        { onFrame: () => sink.n++, onGap: () => sink.n-- },
      );
      return (i) => {
        jb.push(frame, i * 20);
        jb.tick(1);
      };
    },
  },
  {
    name: 'pacer: enqueue + tick (one frame out)',
    frames: FRAMES,
    setup: (frame, sink) => {
      const clock = new ManualClock();
      const ticker = new Ticker(clock);
      const pacerSink = { sendFrame: () => sink.n++, sendText: () => sink.n++, bufferedAmount: 0 };
      const events = { onSegmentStart: () => {}, onSegmentPlayed: () => {}, onSegmentInterrupted: () => {} };
      const pacer = new Pacer({ frameBytes: 640, leadFrames: 5, capacityFrames: 3000, watermarkBytes: 65536 }, pacerSink, ticker, clock, events);
      pacer.beginSegment(1);
      return () => {
        pacer.enqueue(frame);
        pacer.onTick(0, 1);
      };
    },
  },
  {
    name: 'resampler: 24 kHz → 16 kHz, 20 ms',
    frames: FRAMES / 4,
    setup: () => {
      const r = new StreamResampler(24000, 16000);
      const s = samples24();
      return () => r.process(s);
    },
  },
  {
    name: 'resampler: 16 kHz → 8 kHz, 20 ms',
    frames: FRAMES / 4,
    setup: () => {
      const r = new StreamResampler(16000, 8000);
      const s = new Int16Array(320).map((_, i) => Math.round(8000 * Math.sin(i / 5)));
      return () => r.process(s);
    },
  },
  {
    name: 'VAD (WebRTC): 16 kHz frame',
    frames: FRAMES / 4,
    setup: (frame) => {
      const vad = new CallVad({ sampleRateHz: 16000, mode: 2, minSpeechMs: 120, silenceMs: 600 });
      return () => vad.push(frame);
    },
  },
  {
    name: 'VAD (WebRTC): 24 kHz frame (resampled)',
    frames: FRAMES / 4,
    setup: () => {
      const vad = new CallVad({ sampleRateHz: 24000, mode: 2, minSpeechMs: 120, silenceMs: 600 });
      const frame24 = Buffer.from(samples24().buffer);
      return () => vad.push(frame24);
    },
  },
];

/** Time one case in this process: warm-up, then `frames` calls. */
async function runCase(c: Case): Promise<{ name: string; nsPerFrame: number; sink: number }> {
  await Promise.all([loadResampler(), loadVad()]);
  const frame = Buffer.alloc(640);
  for (let i = 0; i < 320; i++) frame.writeInt16LE(Math.round(8000 * Math.sin(i / 5)), i * 2);
  const sink = { n: 0 };
  const fn = c.setup(frame, sink);
  for (let i = 0; i < c.frames; i++) fn(i); // warm-up: as long as the timed run (every tier reached)
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < c.frames; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / c.frames;
  return { name: c.name, nsPerFrame: Math.round(ns * 10) / 10, sink: sink.n };
}

async function main(): Promise<void> {
  const one = process.argv.find((a) => a.startsWith('--case='));
  if (one !== undefined) {
    const c = CASES[Number(one.slice('--case='.length))];
    if (!c) throw new Error(`no such case: ${one}`);
    process.stdout.write(JSON.stringify(await runCase(c)) + '\n');
    process.exit(0); // the resampler's and the VAD's modules hold nothing that needs closing in a throw-away process
  }
  const self = fileURLToPath(import.meta.url);
  const results: { name: string; nsPerFrame: number }[] = [];
  let sink = 0;
  for (let i = 0; i < CASES.length; i++) {
    const r = spawnSync(process.execPath, [...process.execArgv, self, `--case=${i}`], { encoding: 'utf8', env: process.env });
    if (r.status !== 0) throw new Error(`case ${i} (${CASES[i]!.name}) failed: ${r.stderr}`);
    const row = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { name: string; nsPerFrame: number; sink: number };
    sink += row.sink;
    results.push({ name: row.name, nsPerFrame: row.nsPerFrame });
  }
  const base = results[0]!.nsPerFrame;
  const rows = results.map((r) => ({ ...r, vsBaseline: Math.round((r.nsPerFrame / base) * 10) / 10 }));
  const budgetNs = 20e6;
  console.log('| hot-path step | ns / frame | × baseline copy | share of a 20 ms frame budget |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.name} | ${r.nsPerFrame} | ${r.vsBaseline} | ${((r.nsPerFrame / budgetNs) * 100).toFixed(4)} % |`);
  mkdirSync(new URL('./results/', import.meta.url).pathname.replace('/dist/bench/', '/bench/'), { recursive: true });
  const out = new URL('./results/micro.json', import.meta.url).pathname.replace('/dist/bench/', '/bench/');
  writeFileSync(out, JSON.stringify({ node: process.version, frames: FRAMES, isolated: true, results: rows, sink }, null, 2) + '\n');
  console.error(`wrote ${out}`);
}

void main();
