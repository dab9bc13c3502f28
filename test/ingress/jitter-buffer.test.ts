/** Jitter buffer on a manual clock: priming, steady cadence from bursts, underrun, overflow, late frames, RFC 3550. */
import t from 'tap';
import { JitterBuffer, STANDING_WINDOW_TICKS, type JitterSink } from '../../src/ingress/jitter-buffer.js';

function frame(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function recorder(): JitterSink & { out: Array<number | 'gap' | 'silence'> } {
  const out: Array<number | 'gap' | 'silence'> = [];
  return {
    out,
    onFrame: (f) => out.push(f.readUInt32LE(0)),
    onGap: (s) => out.push(s ? 'silence' : 'gap'),
  };
}

t.test('primes to the target depth, then one frame per tick even from bursts', async (t) => {
  const r = recorder();
  const jb = new JitterBuffer({ frameBytes: 4, targetFrames: 3, capacityFrames: 50, fillSilence: false }, r);
  let n = 0;
  // Frames arrive in bursts of 5 every 100 ms; the buffer ticks every 20 ms.
  for (let ms = 0; ms < 2000; ms += 20) {
    if (ms % 100 === 0) for (let i = 0; i < 5; i++) jb.push(frame(n++), ms);
    jb.tick(1);
  }
  t.same(r.out.slice(0, 5), [0, 1, 2, 3, 4], 'in order');
  t.notOk(r.out.includes('gap'), 'no gaps once primed');
  t.equal(r.out.length, 100, 'exactly one frame per tick (the first tick already had 5 ≥ target)');
  t.same(r.out, [...Array(100).keys()], 'every frame, in order, none lost or repeated');
  t.equal(jb.stats.underruns, 0);
  t.ok(jb.stats.jitterMs > 5, `bursty arrival shows jitter (${jb.stats.jitterMs.toFixed(1)} ms)`);
});

t.test('waits for the target before playing', async (t) => {
  const r = recorder();
  const jb = new JitterBuffer({ frameBytes: 4, targetFrames: 3, capacityFrames: 10, fillSilence: false }, r);
  jb.push(frame(0), 0);
  jb.tick();
  jb.push(frame(1), 20);
  jb.tick();
  t.same(r.out, [], 'nothing before 3 frames are queued');
  jb.push(frame(2), 40);
  jb.tick();
  t.same(r.out, [0]);
});

t.test('underrun: counted, reported as a gap (or silence), then re-primes', async (t) => {
  for (const fill of [false, true]) {
    const r = recorder();
    const jb = new JitterBuffer({ frameBytes: 4, targetFrames: 2, capacityFrames: 10, fillSilence: fill }, r);
    jb.push(frame(0), 0);
    jb.push(frame(1), 0);
    jb.tick();
    jb.tick();
    jb.tick(); // empty: underrun
    jb.tick(); // re-priming
    jb.push(frame(2), 80);
    jb.tick(); // still below target 2
    jb.push(frame(3), 100);
    jb.tick();
    t.same(r.out, fill ? [0, 1, 'silence', 'silence', 'silence', 2] : [0, 1, 'gap', 2], `fillSilence=${fill}`);
    t.equal(jb.stats.underruns, 1);
    t.equal(jb.stats.gapFrames, 1);
    t.equal(jb.stats.lateFrames, 1, 'the frame that missed its slot is late');
  }
});

t.test('overflow drops the oldest frames and counts them', async (t) => {
  const r = recorder();
  const jb = new JitterBuffer({ frameBytes: 4, targetFrames: 2, capacityFrames: 4, fillSilence: false }, r);
  for (let i = 0; i < 7; i++) jb.push(frame(i), 0);
  t.equal(jb.stats.overruns, 3);
  t.equal(jb.depth, 4);
  jb.tick();
  t.equal(r.out[0], 3, 'the oldest three were dropped: playout resumes at frame 3');
});

t.test('excess depth is shed one extra frame per tick', async (t) => {
  const r = recorder();
  const jb = new JitterBuffer({ frameBytes: 4, targetFrames: 2, capacityFrames: 50, fillSilence: false }, r);
  // A burst of 10, then steady arrival of one frame per tick: depth must come down to target + 2 and stay.
  let n = 0;
  for (; n < 10; n++) jb.push(frame(n), 0);
  jb.push(frame(n++), 0);
  jb.tick();
  t.equal(r.out.length, 2, 'two frames out on a tick with excess depth');
  for (let i = 0; i < 10; i++) {
    jb.push(frame(n++), 20 * (i + 1));
    jb.tick();
  }
  t.equal(jb.depth, 4, 'settles at target + 2');
  t.same(r.out, [...Array(r.out.length).keys()], 'nothing lost or reordered while shedding');
  t.equal(jb.stats.drainedFrames, 6, 'depth 11 → 4 with one arrival per tick: 6 extra frames');
});

t.test('a standing excess below target + 2 is shed one frame per window; jitter that dips the depth is not', async (t) => {
  const r = recorder();
  const jb = new JitterBuffer({ frameBytes: 4, targetFrames: 3, capacityFrames: 50, fillSilence: false }, r);
  let n = 0;
  // Primed at the target, then one burst of two extra frames, then steady arrival of one frame per tick.
  for (; n < 3; n++) jb.push(frame(n), 0);
  jb.tick();
  jb.push(frame(n++), 20);
  jb.push(frame(n++), 20);
  jb.push(frame(n++), 20);
  const depths: number[] = [];
  for (let i = 0; i < 5 * STANDING_WINDOW_TICKS; i++) {
    jb.tick();
    depths.push(jb.depth);
    jb.push(frame(n++), 40 + 20 * i);
  }
  t.equal(depths[0], 4, 'the burst leaves the depth at target + 1 (below the per-tick shedding line)');
  t.equal(depths[STANDING_WINDOW_TICKS - 3], 4, 'and it stands there for most of a window');
  t.equal(depths.at(-1), 2, 'two windows later it is back at target − 1, where steady playout leaves it');
  t.equal(jb.stats.drainedFrames, 2, 'one extra frame per window, two in all');
  t.equal(jb.stats.underruns, 0, 'no gap from shedding');
  t.same(r.out, [...Array(r.out.length).keys()], 'nothing lost or reordered');

  // Arrival that jitters: two frames, then none, alternately. The depth dips every other tick: nothing is shed.
  const r2 = recorder();
  const jb2 = new JitterBuffer({ frameBytes: 4, targetFrames: 3, capacityFrames: 50, fillSilence: false }, r2);
  let m = 0;
  for (; m < 3; m++) jb2.push(frame(m), 0);
  for (let i = 0; i < 5 * STANDING_WINDOW_TICKS; i++) {
    jb2.tick();
    if (i % 2 === 0) {
      jb2.push(frame(m++), 20 * i);
      jb2.push(frame(m++), 20 * i);
    }
  }
  t.equal(jb2.stats.drainedFrames, 0, 'jittery arrival: nothing shed');
  t.equal(jb2.stats.underruns, 0, 'and no gap');
});

t.test('catch-up when the clock reports several periods', async (t) => {
  const r = recorder();
  const jb = new JitterBuffer({ frameBytes: 4, targetFrames: 1, capacityFrames: 50, fillSilence: false }, r);
  for (let i = 0; i < 4; i++) jb.push(frame(i), i * 20);
  jb.tick(3);
  t.same(r.out, [0, 1, 2]);
});

t.test('RFC 3550 jitter: zero for periodic arrival, analytic for alternating offsets', async (t) => {
  const periodic = new JitterBuffer({ frameBytes: 4, targetFrames: 0, capacityFrames: 2000, fillSilence: false }, recorder());
  for (let i = 0; i < 500; i++) periodic.push(frame(i), 1000 + i * 20);
  t.equal(periodic.stats.jitterMs, 0);
  // Arrivals alternate 0 / +10 ms late: |D| = 10 every packet, so J converges to 10.
  const alt = new JitterBuffer({ frameBytes: 4, targetFrames: 0, capacityFrames: 2000, fillSilence: false }, recorder());
  for (let i = 0; i < 500; i++) alt.push(frame(i), i * 20 + (i % 2 ? 10 : 0));
  t.ok(Math.abs(alt.stats.jitterMs - 10) < 0.01, `J = ${alt.stats.jitterMs}`);
});

t.test('target 0 is pass-through: frames go on at arrival; empty slots are gaps', async (t) => {
  const r = recorder();
  const jb = new JitterBuffer({ frameBytes: 4, targetFrames: 0, capacityFrames: 10, fillSilence: false }, r);
  jb.push(frame(0), 0);
  t.same(r.out, [0], 'delivered on arrival, before any tick');
  jb.tick();
  jb.push(frame(1), 20);
  jb.push(frame(2), 21); // a burst: no smoothing in pass-through
  t.same(r.out, [0, 1, 2]);
  jb.tick();
  jb.tick(); // nothing arrived in this slot
  jb.tick();
  t.same(r.out, [0, 1, 2, 'gap', 'gap']);
  t.equal(jb.stats.underruns, 1, 'one starvation episode');
  t.equal(jb.stats.gapFrames, 2);
  jb.push(frame(3), 100);
  t.equal(jb.stats.lateFrames, 1);
  t.equal(jb.depth, 0);
});
