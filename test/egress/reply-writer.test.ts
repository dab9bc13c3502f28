/**
 * The reply writer on a manual clock with a real pacer and the real resampler: a long chunk (a cached greeting comes
 * whole) is handed to the pacer as it needs it, never all at once; every frame still arrives, in order; an interrupted
 * reply reports its whole length; the writer never writes into the audio it is given (a cache shares it across calls).
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { ManualClock } from '../../src/util/clock.js';
import { Ticker } from '../../src/util/ticker.js';
import { Pacer, type PacerEvents } from '../../src/egress/pacer.js';
import { AHEAD_FRAMES, ReplyWriter, START_AHEAD_FRAMES } from '../../src/egress/reply-writer.js';
import { loadResampler } from '../../src/audio/resampler.js';

await loadResampler();

function setup(legRateHz: number) {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  const frameBytes = (legRateHz / 50) * 2;
  const frames: Buffer[] = [];
  const texts: string[] = [];
  const done: Array<{ id: number; heard: number; frames: number; interrupted: boolean }> = [];
  const events: PacerEvents = {
    onSegmentStart: () => {},
    onSegmentPlayed: (id, n) => done.push({ id, heard: n, frames: n, interrupted: false }),
    onSegmentInterrupted: (id, heard, n) => done.push({ id, heard, frames: n, interrupted: true }),
  };
  const sink = { bufferedAmount: 0, sendFrame: (f: Buffer) => frames.push(Buffer.from(f)), sendText: (x: string) => texts.push(x) };
  const pacer = new Pacer({ frameBytes, leadFrames: 5, capacityFrames: 3000, watermarkBytes: 65536 }, sink, ticker, clock, events);
  return { clock, pacer, frames, texts, done, frameBytes };
}

/** A ramp, so frames out of order or repeated show; `seconds` of it at `rateHz`. */
function ramp(seconds: number, rateHz: number): Int16Array {
  const a = new Int16Array(Math.round(seconds * rateHz));
  for (let i = 0; i < a.length; i++) a[i] = (i % 20000) - 10000;
  return a;
}

const sha = (a: Int16Array) =>
  createHash('sha256')
    .update(Buffer.from(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

t.test('a 6.5 s chunk is handed over as the pacer needs it; every sample arrives once, in order', async (t) => {
  const { clock, pacer, frames, done, frameBytes } = setup(16000);
  const audio = ramp(6.5, 16000);
  const writer = new ReplyWriter(pacer, 16000, frameBytes, 1);
  let finished = false;
  const writing = writer.write(audio, 16000, new AbortController().signal).then(() => (finished = true));
  await Promise.resolve();
  let most = 0;
  for (let i = 0; i < 400 && !finished; i++) {
    most = Math.max(most, pacer.queuedFrames);
    clock.advance(20);
    await new Promise((r) => setImmediate(r));
  }
  await writing;
  writer.end();
  clock.advance(20 * 400);
  // One second ahead plus one 250 ms piece, whatever the constant says: a whole reply (325) or the old 5 s (250) fails.
  t.ok(most <= 63, `at most ${most} frames queued at once (a whole reply would be 325)`);
  t.ok(AHEAD_FRAMES <= 50, 'the writer keeps at most a second ahead');
  t.ok(most > 0, 'audio was queued');
  const out = Buffer.concat(frames);
  t.equal(out.length, audio.byteLength, 'every sample, once (6.5 s is a whole number of frames)');
  t.ok(out.equals(Buffer.from(audio.buffer)), 'in order, unchanged');
  t.same(done, [{ id: 1, heard: 325, frames: 325, interrupted: false }]);
});

t.test('a reply starts with one piece queued, fills up over the next ticks, and the pacer never runs dry', async (t) => {
  // Random depths decide when each writer refills: many replies, so a draw that starves the pacer shows.
  for (let run = 0; run < 12; run++) {
    const { clock, pacer, frames, frameBytes } = setup(run % 2 ? 8000 : 16000);
    const legRate = run % 2 ? 8000 : 16000;
    const audio = ramp(3, 16000);
    const writer = new ReplyWriter(pacer, legRate, frameBytes, 1);
    let finished = false;
    const writing = writer.write(audio, 16000, new AbortController().signal).then(() => (finished = true));
    await Promise.resolve();
    const atStart = pacer.queuedFrames;
    let most = atStart;
    let dry = 0;
    for (let i = 0; i < 400 && !finished; i++) {
      const before = frames.length;
      clock.advance(20);
      await new Promise((r) => setImmediate(r));
      if (frames.length === before) dry++;
      most = Math.max(most, pacer.queuedFrames);
    }
    await writing;
    writer.end();
    clock.advance(20 * 200);
    if (atStart > 13 || atStart <= START_AHEAD_FRAMES || dry > 0 || most < 30 || frames.length < 150 || frames.length > 151) {
      t.fail(
        `run ${run}: ${atStart} frames queued at the start, ${dry} ticks with nothing to send, at most ${most} queued, ${frames.length} frames sent of 150 (151 with a resampled tail)`,
      );
      return;
    }
  }
  t.pass('every reply started with one 250 ms piece queued (not a second), grew past 30 frames, and sent a frame every tick');
});

t.test('interrupted while the writer still holds most of the reply: the report gives the whole length', async (t) => {
  const { clock, pacer, done, frameBytes } = setup(8000);
  const audio = ramp(6.0, 16000);
  const writer = new ReplyWriter(pacer, 8000, frameBytes, 7);
  const ctl = new AbortController();
  const writing = writer.write(audio, 16000, ctl.signal);
  for (let i = 0; i < 50; i++) {
    clock.advance(20);
    await new Promise((r) => setImmediate(r));
  }
  ctl.abort();
  pacer.clear();
  writer.abort();
  await writing;
  t.equal(done.length, 1);
  const d = done[0]!;
  t.ok(d.interrupted);
  t.ok(Math.abs(d.frames - 300) <= 2, `the reply's length is its whole 6 s (${d.frames} frames), not what was queued`);
  t.ok(d.heard >= 40 && d.heard <= 55, `about a second heard (${d.heard} frames)`);
});

t.test('the writer never writes into the audio it is handed (same rate, resampled, and odd-sized chunks)', async (t) => {
  for (const [inRate, legRate] of [
    [16000, 16000],
    [16000, 8000],
    [22050, 16000],
  ] as const) {
    const { clock, pacer, frameBytes } = setup(legRate);
    const writer = new ReplyWriter(pacer, legRate, frameBytes, 1);
    const chunks = [ramp(0.0137, inRate), ramp(1.3, inRate), ramp(0.02, inRate).subarray(1)];
    const before = chunks.map(sha);
    for (const c of chunks) {
      const w = writer.write(c, inRate, new AbortController().signal);
      for (let i = 0; i < 100; i++) {
        clock.advance(20);
        await new Promise((r) => setImmediate(r));
      }
      await w;
    }
    writer.end();
    t.same(chunks.map(sha), before, `${inRate} → ${legRate} Hz: the input is untouched`);
  }
});
