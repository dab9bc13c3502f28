/** Pacer on a manual clock with the shared ticker: lead, cadence, notify marks, clear, back-pressure, catch-up. */
import t from 'tap';
import { ManualClock } from '../../src/util/clock.js';
import { Ticker } from '../../src/util/ticker.js';
import fc from 'fast-check';
import { Pacer, type PacerEvents, type PacerSink } from '../../src/egress/pacer.js';

function setup(opts: Partial<{ lead: number; cap: number; watermark: number }> = {}) {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  const sent: Array<{ at: number; frame?: number; text?: string }> = [];
  const sink: PacerSink & { bufferedAmount: number } = {
    bufferedAmount: 0,
    sendFrame: (f) => sent.push({ at: clock.now(), frame: f.readUInt16LE(0) }),
    sendText: (x) => sent.push({ at: clock.now(), text: x }),
  };
  const ev: string[] = [];
  const events: PacerEvents = {
    onSegmentStart: (id, at) => ev.push(`start ${id}@${at}`),
    onSegmentPlayed: (id, n) => ev.push(`played ${id} ${n}`),
    onSegmentInterrupted: (id, heard, n) => ev.push(`interrupted ${id} ${heard}/${n}`),
  };
  const pacer = new Pacer({ frameBytes: 2, leadFrames: opts.lead ?? 5, capacityFrames: opts.cap ?? 100, watermarkBytes: opts.watermark ?? 1000 }, sink, ticker, clock, events);
  const f = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(n);
    return b;
  };
  return { clock, ticker, sent, sink, ev, pacer, f };
}

t.test('sends the lead at once, then exactly one frame per tick, then the notify mark', async (t) => {
  const { clock, sent, ev, pacer, f, ticker } = setup();
  pacer.beginSegment(1);
  for (let i = 0; i < 20; i++) pacer.enqueue(f(i));
  pacer.endSegment();
  t.equal(sent.length, 5, 'lead of 5 frames sent immediately');
  t.same(ev, ['start 1@0']);
  for (let k = 1; k <= 15; k++) {
    clock.advance(20);
    t.equal(sent.filter((s) => s.frame !== undefined).length, 5 + k, `tick ${k}: one more frame`);
    t.ok(pacer.leadFrames <= 5, 'never more than the lead outstanding');
  }
  const frames = sent.filter((s) => s.frame !== undefined).map((s) => s.frame);
  t.same(frames, [...Array(20).keys()], 'in order, none lost');
  const last = sent[sent.length - 1];
  t.equal(last.text, '{"action":"notify","payload":{"gw":"seg","id":1}}', 'notify right after the last frame');
  t.ok(pacer.onNotify({ gw: 'seg', id: 1 }));
  t.same(ev, ['start 1@0', 'played 1 20']);
  t.notOk(pacer.onNotify({ other: true }), 'foreign payloads are not ours');
  clock.advance(200);
  t.equal(ticker.size, 0, 'idle pacer leaves the shared clock');
});

t.test('clear drops the queue, tells Vonage, reports what was heard', async (t) => {
  const { clock, sent, ev, pacer, f } = setup();
  pacer.beginSegment(7);
  for (let i = 0; i < 50; i++) pacer.enqueue(f(i));
  pacer.endSegment();
  clock.advance(200); // 10 ticks: 15 frames sent, 10 played by the model
  const dropped = pacer.clear();
  t.equal(dropped, 35);
  t.equal(sent[sent.length - 1].text, '{"action":"clear"}');
  t.same(ev[ev.length - 1], 'interrupted 7 10/50', 'heard = frames played by the model');
  const count = sent.length;
  clock.advance(200);
  t.equal(sent.length, count, 'nothing more is sent');
  t.equal(pacer.stats.framesCleared, 35);
});

t.test('socket back-pressure: frames past the watermark are dropped and counted', async (t) => {
  const { sink, pacer, f, sent } = setup({ watermark: 100 });
  sink.bufferedAmount = 500;
  pacer.beginSegment(1);
  for (let i = 0; i < 3; i++) pacer.enqueue(f(i));
  t.equal(sent.length, 0);
  t.equal(pacer.stats.framesDroppedBackpressure, 3);
});

t.test('full queue rejects new frames; waitForSpace resolves as it drains', async (t) => {
  const { clock, pacer, f } = setup({ cap: 10, lead: 1 });
  pacer.beginSegment(1);
  let accepted = 0;
  for (let i = 0; i < 15; i++) if (pacer.enqueue(f(i))) accepted++;
  t.equal(accepted, 11, '1 sent at once + 10 queued');
  t.equal(pacer.stats.framesRejectedFull, 4);
  let resolved = false;
  void pacer.waitForSpace(5).then(() => (resolved = true));
  clock.advance(80);
  await Promise.resolve();
  t.notOk(resolved, 'still 6 queued');
  clock.advance(40);
  await Promise.resolve();
  t.ok(resolved);
});

t.test('a late tick catches up: several frames sent, counted as a late send', async (t) => {
  const { clock, pacer, f, sent } = setup({ lead: 2 });
  pacer.beginSegment(1);
  for (let i = 0; i < 20; i++) pacer.enqueue(f(i));
  t.equal(sent.length, 2);
  clock.advance(20);
  t.equal(sent.length, 3);
  // The event loop stalls for 60 ms: the single timer fires once, reporting 3 periods.
  const id = (clock as unknown as { timers: Array<{ at: number }> }).timers[0];
  id.at += 40;
  clock.advance(60);
  // Vonage held only the 2-frame lead, so the stall starved it: the pacer refills the lead (2 frames in one tick), and
  // never sends more than the lead ahead, even after a stall.
  t.equal(sent.length, 5, 'two frames in one tick');
  t.equal(pacer.leadFrames, 2);
  t.equal(pacer.stats.lateSends, 1);
});

t.test('close reports open segments as interrupted and is idempotent', async (t) => {
  const { pacer, f, ev, ticker } = setup();
  pacer.beginSegment(3);
  pacer.enqueue(f(1));
  pacer.close();
  pacer.close();
  t.same(ev, ['start 3@0', 'interrupted 3 0/1']);
  t.equal(ticker.size, 0);
  t.notOk(pacer.enqueue(f(2)));
});

t.test('queued audio is copied in; a frame the socket still holds is never overwritten by later frames', async (t) => {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  // A socket that keeps the last 9 frames unflushed (by reference, as a real socket does) and reports them as buffered.
  const held: Array<{ view: Buffer; value: number }> = [];
  let corrupted = 0;
  let flushed = 0;
  const sink: PacerSink = {
    get bufferedAmount() {
      return held.length * 2;
    },
    sendFrame(view) {
      held.push({ view, value: view.readUInt16LE(0) });
      while (held.length > 9) {
        const h = held.shift()!;
        if (h.view.readUInt16LE(0) !== h.value) corrupted++;
        flushed++;
      }
    },
    sendText() {},
  };
  const none = () => {};
  const pacer = new Pacer({ frameBytes: 2, leadFrames: 5, capacityFrames: 40, watermarkBytes: 20 }, sink, ticker, clock, { onSegmentStart: none, onSegmentPlayed: none, onSegmentInterrupted: none });
  pacer.beginSegment(1);
  let next = 0;
  const input = Buffer.alloc(2);
  for (let round = 0; round < 200; round++) {
    // Keep the queue full, reusing one input buffer: the pacer must have copied each frame.
    while (pacer.queuedFrames < 40) {
      input.writeUInt16LE(next++);
      if (!pacer.enqueue(input)) break;
    }
    clock.advance(20);
    if (round === 100) pacer.clear(); // abandoning queued slots must not rewind onto held views either
    if (round === 100) pacer.beginSegment(2);
  }
  t.ok(flushed > 150, `the socket flushed ${flushed} frames`);
  t.equal(corrupted, 0, 'no view was overwritten while the socket held it');
  t.equal(pacer.stats.framesDroppedBackpressure, 0, 'the watermark was never crossed');
});

t.test('pause: the lead plays out, nothing new is sent; resume continues with the next frame', async (t) => {
  const { clock, sent, ev, pacer, f, ticker } = setup();
  pacer.beginSegment(1);
  for (let i = 0; i < 30; i++) pacer.enqueue(f(i));
  pacer.endSegment();
  clock.advance(100); // 5 ticks: 10 frames sent, 5 played
  pacer.pause();
  t.ok(pacer.paused);
  const before = sent.length;
  clock.advance(60);
  t.equal(sent.length, before, 'nothing sent while paused');
  t.equal(pacer.leadFrames, 2, 'the lead keeps playing out');
  clock.advance(200);
  t.equal(pacer.leadFrames, 0, 'the lead has drained: played stops at sent');
  t.equal(ticker.size, 0, 'a paused pacer with a drained lead leaves the shared clock');
  t.ok(pacer.active, 'still active: frames wait for resume');
  pacer.resume();
  t.equal(sent.length, before + 5, 'resume refills the lead at once');
  clock.advance(20 * 30);
  const frames = sent.filter((s) => s.frame !== undefined).map((s) => s.frame);
  t.same(frames, [...Array(30).keys()], 'every frame once, in order');
  t.ok(pacer.onNotify({ gw: 'seg', id: 1 }));
  t.same(ev, ['start 1@0', 'played 1 30']);
  t.same([pacer.stats.pauses, pacer.stats.resumes], [1, 1]);
});

t.test('clear while paused: Vonage is told, heard = what was sent before the pause (the lead played out), and the pause ends', async (t) => {
  const { clock, sent, ev, pacer, f } = setup();
  pacer.beginSegment(2);
  for (let i = 0; i < 40; i++) pacer.enqueue(f(i));
  pacer.endSegment();
  clock.advance(100); // 10 sent
  pacer.pause();
  clock.advance(200); // lead drained: 10 played
  t.equal(pacer.clear(), 30);
  t.equal(sent[sent.length - 1].text, '{"action":"clear"}');
  t.equal(ev[ev.length - 1], 'interrupted 2 10/40');
  t.notOk(pacer.paused, 'a clear ends the pause');
  pacer.beginSegment(3);
  pacer.enqueue(f(99));
  t.equal(sent[sent.length - 1].frame, 99, 'the next reply plays at once');
});

t.test('a reply queued while paused waits; frames enqueued while paused do not register the pacer on the clock', async (t) => {
  const { clock, sent, pacer, f, ticker } = setup();
  pacer.pause();
  pacer.beginSegment(1);
  for (let i = 0; i < 3; i++) pacer.enqueue(f(i));
  pacer.endSegment();
  t.equal(sent.length, 0);
  t.equal(ticker.size, 0, 'idle while paused: no tick cost');
  pacer.resume();
  clock.advance(20);
  t.same(sent.filter((s) => s.frame !== undefined).map((s) => s.frame), [0, 1, 2]);
  t.equal(sent[sent.length - 1].text, '{"action":"notify","payload":{"gw":"seg","id":1}}');
});

t.test('property: any sequence of enqueue/tick/pause/resume/clear sends frames in order, never twice, heard ≤ sent', async (t) => {
  type Op = { k: 'enq'; n: number } | { k: 'tick'; n: number } | { k: 'pause' } | { k: 'resume' } | { k: 'clear' } | { k: 'end' };
  const op = fc.oneof(
    fc.record({ k: fc.constant('enq' as const), n: fc.integer({ min: 1, max: 12 }) }),
    fc.record({ k: fc.constant('tick' as const), n: fc.integer({ min: 1, max: 8 }) }),
    fc.constant({ k: 'pause' as const }),
    fc.constant({ k: 'resume' as const }),
    fc.constant({ k: 'clear' as const }),
    fc.constant({ k: 'end' as const }),
  );
  let runs = 0;
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 6 }), (ops: Op[], lead: number) => {
      runs++;
      const { clock, sent, pacer, f, ticker } = setup({ lead, cap: 50 });
      const heard = new Map<number, { heard: number; frames: number }>();
      // Re-wire events to capture heard counts (the setup's strings are for the other tests).
      (pacer as unknown as { events: PacerEvents }).events = {
        onSegmentStart: () => {},
        onSegmentPlayed: (id, n) => heard.set(id, { heard: n, frames: n }),
        onSegmentInterrupted: (id, h, n) => heard.set(id, { heard: h, frames: n }),
      };
      let next = 0;
      let seg = 0;
      let open = false;
      const accepted: number[] = [];
      const segOf = new Map<number, number>();
      for (const o of ops) {
        if (o.k === 'enq') {
          if (!open) {
            pacer.beginSegment(++seg);
            open = true;
          }
          for (let i = 0; i < o.n; i++) {
            const v = next++;
            if (pacer.enqueue(f(v))) {
              accepted.push(v);
              segOf.set(v, seg);
            }
          }
        } else if (o.k === 'tick') clock.advance(20 * o.n);
        else if (o.k === 'pause') pacer.pause();
        else if (o.k === 'resume') pacer.resume();
        else if (o.k === 'clear') {
          pacer.clear();
          open = false;
        } else if (o.k === 'end' && open) {
          pacer.endSegment();
          open = false;
        }
        if (pacer.leadFrames > lead || pacer.leadFrames < 0) return false;
        if (pacer.paused && pacer.leadFrames === 0 && ticker.size !== 0) return false; // idle while paused
      }
      const frames = sent.filter((s) => s.frame !== undefined).map((s) => s.frame as number);
      // In order and never duplicated: strictly increasing, and each one was accepted.
      for (let i = 1; i < frames.length; i++) if (frames[i] <= frames[i - 1]) return false;
      const ok = new Set(accepted);
      if (frames.some((v) => !ok.has(v))) return false;
      // Nothing cleared is lost unless a clear happened: without clear, resume + ticks deliver every accepted frame.
      if (!ops.some((o) => o.k === 'clear')) {
        pacer.resume();
        clock.advance(20 * (accepted.length + lead + 2));
        const all = sent.filter((s) => s.frame !== undefined).map((s) => s.frame as number);
        if (all.length !== accepted.length) return false;
      }
      // Heard ≤ sent, per segment: the playout model never credits the caller with a frame that never left.
      const sentOf = new Map<number, number>();
      for (const s of sent) if (s.frame !== undefined) sentOf.set(segOf.get(s.frame)!, (sentOf.get(segOf.get(s.frame)!) ?? 0) + 1);
      for (const [id, h] of heard) if (h.heard < 0 || h.heard > h.frames || h.heard > (sentOf.get(id) ?? 0)) return false;
      return pacer.stats.framesSent <= accepted.length;
    }),
    { numRuns: 300 },
  );
  t.equal(runs, 300, 'every case held');
});
