/** Pacer on a manual clock with the shared ticker: lead, cadence, notify marks, clear, back-pressure, catch-up. */
import t from 'tap';
import { ManualClock } from '../../src/util/clock.js';
import { Ticker } from '../../src/util/ticker.js';
import fc from 'fast-check';
import { Pacer, type PacerEvents, type PacerSink } from '../../src/egress/pacer.js';
import { must } from '../helpers/must.js';

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
  const pacer = new Pacer(
    { frameBytes: 2, leadFrames: opts.lead ?? 5, capacityFrames: opts.cap ?? 100, watermarkBytes: opts.watermark ?? 1000 },
    sink,
    ticker,
    clock,
    events,
  );
  const f = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(n);
    return b;
  };
  return { clock, ticker, sent, sink, ev, pacer, f };
}

/**
 * What the caller hears, by a model of Vonage fed the sink's log: frames queue in arrival order, one plays per 20 ms
 * tick while any are queued (a tick plays before the sends of the same instant), `clear` drops the queue.
 */
function vonageHeard(sent: Array<{ at: number; frame?: number; text?: string }>): number[] {
  const heard: number[] = [];
  const queue: number[] = [];
  let tick = 0;
  for (const e of sent) {
    while (tick + 20 <= e.at) {
      tick += 20;
      const v = queue.shift();
      if (v !== undefined) heard.push(v);
    }
    if (e.frame !== undefined) queue.push(e.frame);
    else if (e.text === '{"action":"clear"}') queue.length = 0;
  }
  heard.push(...queue);
  return heard;
}

t.test('sends two frames at once, grows the lead by one a tick, then exactly one frame per tick, then the notify mark', async (t) => {
  const { clock, sent, ev, pacer, f, ticker } = setup();
  pacer.beginSegment(1);
  for (let i = 0; i < 20; i++) pacer.enqueue(f(i));
  pacer.endSegment();
  t.equal(sent.length, 2, 'the first frame (and one more) sent immediately, not the whole lead');
  t.same(ev, ['start 1@0']);
  for (let k = 1; k <= 15; k++) {
    clock.advance(20);
    // One frame per tick keeps the lead, one more grows it, until it is 5 (after 3 ticks).
    t.equal(sent.filter((s) => s.frame !== undefined).length, Math.min(2 + 2 * k, 5 + k), `tick ${k}`);
    t.equal(pacer.leadFrames, Math.min(k + 2, 5), 'the lead grows by one a tick to 5, never more');
  }
  const frames = sent.filter((s) => s.frame !== undefined).map((s) => s.frame);
  t.same(frames, [...Array(20).keys()], 'in order, none lost');
  const last = must(sent[sent.length - 1]);
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
  t.equal(must(sent[sent.length - 1]).text, '{"action":"clear"}');
  t.same(ev[ev.length - 1], 'interrupted 7 10/50', 'heard = frames played by the model');
  const count = sent.length;
  clock.advance(200);
  t.equal(sent.length, count, 'nothing more is sent');
  t.equal(pacer.stats.framesCleared, 35);
});

t.test('socket back-pressure: frames past the watermark are dropped and counted', async (t) => {
  const { clock, sink, pacer, f, sent } = setup({ watermark: 100 });
  sink.bufferedAmount = 500;
  pacer.beginSegment(1);
  for (let i = 0; i < 3; i++) pacer.enqueue(f(i));
  t.equal(sent.length, 0);
  t.equal(pacer.stats.framesDroppedBackpressure, 2, 'the two frames due now were dropped');
  clock.advance(20);
  t.equal(sent.length, 0);
  t.equal(pacer.stats.framesDroppedBackpressure, 3, 'and the third at the next tick');
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
  const id = must((clock as unknown as { timers: Array<{ at: number }> }).timers[0]);
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
  const pacer = new Pacer({ frameBytes: 2, leadFrames: 5, capacityFrames: 40, watermarkBytes: 20 }, sink, ticker, clock, {
    onSegmentStart: none,
    onSegmentPlayed: none,
    onSegmentInterrupted: none,
  });
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

t.test('pause: Vonage drops the lead at once, nothing new is sent; resume sends from the first frame not heard', async (t) => {
  const { clock, sent, ev, pacer, f, ticker } = setup();
  pacer.beginSegment(1);
  for (let i = 0; i < 30; i++) pacer.enqueue(f(i));
  pacer.endSegment();
  clock.advance(100); // 5 ticks: 10 frames sent, 5 played
  pacer.pause();
  t.ok(pacer.paused);
  t.equal(sent[sent.length - 1]!.text, '{"action":"clear"}', 'Vonage is told to drop the lead: the caller hears silence now');
  t.equal(pacer.leadFrames, 0, 'nothing left playing at Vonage');
  t.equal(pacer.stats.leadTakenBack, 5, 'the 5 unplayed frames went back to the queue');
  t.equal(ticker.size, 0, 'a paused pacer leaves the shared clock at once');
  const before = sent.length;
  clock.advance(260);
  t.equal(sent.length, before, 'nothing sent while paused');
  t.ok(pacer.active, 'still active: frames wait for resume');
  pacer.resume();
  t.same(
    sent.slice(before).map((s) => s.frame),
    [5, 6],
    'resume re-sends from the first frame the caller did not hear at once (the lead refills over the next ticks)',
  );
  clock.advance(20 * 30);
  t.same(vonageHeard(sent), [...Array(30).keys()], 'the caller hears every frame once, in order');
  t.ok(pacer.onNotify({ gw: 'seg', id: 1 }));
  t.same(ev, ['start 1@0', 'played 1 30']);
  t.same([pacer.stats.pauses, pacer.stats.resumes], [1, 1]);
});

t.test('pause after a short reply was marked: the marker dropped with the lead is sent again after its last frame', async (t) => {
  const { clock, sent, ev, pacer, f } = setup();
  pacer.beginSegment(1);
  for (let i = 0; i < 3; i++) pacer.enqueue(f(i));
  pacer.endSegment();
  clock.advance(20); // 2 sent at once, the third at this tick, then the notify marker; 1 played
  t.equal(sent[sent.length - 1]!.text, '{"action":"notify","payload":{"gw":"seg","id":1}}');
  pacer.pause();
  pacer.resume();
  const tail = sent.slice(-3);
  t.same(
    tail.map((s) => s.frame ?? s.text),
    [1, 2, '{"action":"notify","payload":{"gw":"seg","id":1}}'],
    'frames 1-2 again, then the marker',
  );
  t.ok(pacer.onNotify({ gw: 'seg', id: 1 }));
  t.ok(pacer.onNotify({ gw: 'seg', id: 1 }), 'a second echo (the first marker was not dropped after all) is ignored');
  t.same(ev, ['start 1@0', 'played 1 3']);
});

t.test('a lead longer than the ring keeps behind its head: the pause is soft (the lead plays out)', async (t) => {
  const { clock, sent, pacer, f } = setup({ lead: 5, watermark: 2 }); // reserve = 1 + 2 slots < lead
  pacer.beginSegment(1);
  for (let i = 0; i < 20; i++) pacer.enqueue(f(i));
  clock.advance(60); // the lead is full after 3 ticks
  pacer.pause();
  t.notOk(
    sent.some((s) => s.text === '{"action":"clear"}'),
    'no clear',
  );
  t.equal(pacer.leadFrames, 5, 'the lead plays out');
  clock.advance(100);
  t.equal(pacer.leadFrames, 0);
  pacer.resume();
  clock.advance(20 * 20);
  t.same(vonageHeard(sent), [...Array(20).keys()]);
});

t.test('clear while paused: Vonage is told, heard = what played before the pause, and the pause ends', async (t) => {
  const { clock, sent, ev, pacer, f } = setup();
  pacer.beginSegment(2);
  for (let i = 0; i < 40; i++) pacer.enqueue(f(i));
  pacer.endSegment();
  clock.advance(100); // 10 sent, 5 played
  pacer.pause(); // the 5 unplayed go back to the queue
  clock.advance(200);
  t.equal(pacer.clear(), 35);
  t.equal(sent[sent.length - 1]!.text, '{"action":"clear"}');
  t.equal(ev[ev.length - 1], 'interrupted 2 5/40');
  t.notOk(pacer.paused, 'a clear ends the pause');
  pacer.beginSegment(3);
  pacer.enqueue(f(99));
  t.equal(sent[sent.length - 1]!.frame, 99, 'the next reply plays at once');
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
  t.same(
    sent.filter((s) => s.frame !== undefined).map((s) => s.frame),
    [0, 1, 2],
  );
  t.equal(must(sent[sent.length - 1]).text, '{"action":"notify","payload":{"gw":"seg","id":1}}');
});

t.test('a pause after the ring grew resends the lead it took back intact (found by the property below)', async (t) => {
  // Lead 1, 34 frames: the ring grows while frame 0 is at Vonage; the pause takes frame 0 back, so the grown ring must
  // still hold its bytes (it once held uninitialised memory there: the caller heard a click of garbage).
  const { clock, sent, pacer, f } = setup({ lead: 1, cap: 50 });
  pacer.beginSegment(1);
  for (let i = 0; i < 34; i++) pacer.enqueue(f(i));
  pacer.pause();
  t.equal(pacer.stats.leadTakenBack, 1, 'the frame at Vonage was taken back');
  pacer.resume();
  clock.advance(20 * 40);
  const afterClear = sent.slice(sent.findIndex((s) => s.text === '{"action":"clear"}') + 1);
  t.same(
    afterClear.filter((s) => s.frame !== undefined).map((s) => s.frame),
    Array.from({ length: 34 }, (_, i) => i),
    'every frame once more from frame 0, bytes intact',
  );
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
      // What the caller hears (a model of Vonage: pauses drop the lead, resumes send it again): in order and never
      // twice, strictly increasing, and each one was accepted.
      const ok = new Set(accepted);
      const inOrder = (h: number[]) => h.every((v, i) => ok.has(v) && (i === 0 || v > h[i - 1]!));
      if (!inOrder(vonageHeard(sent))) return false;
      // Nothing is lost unless a clear happened: without clear, resume + ticks deliver every accepted frame.
      if (!ops.some((o) => o.k === 'clear')) {
        pacer.resume();
        clock.advance(20 * (accepted.length + lead + 2));
        const all = vonageHeard(sent);
        if (all.length !== accepted.length || !inOrder(all)) return false;
      }
      // Heard ≤ sent, per segment: the playout model never credits the caller with a frame that never left.
      const sentOf = new Map<number, Set<number>>();
      for (const s of sent)
        if (s.frame !== undefined) {
          const id = segOf.get(s.frame)!;
          sentOf.set(id, (sentOf.get(id) ?? new Set()).add(s.frame));
        }
      for (const [id, h] of heard) if (h.heard < 0 || h.heard > h.frames || h.heard > (sentOf.get(id)?.size ?? 0)) return false;
      return pacer.stats.framesSent <= accepted.length + pacer.stats.leadTakenBack;
    }),
    { numRuns: 300 },
  );
  t.equal(runs, 300, 'every case held');
});
