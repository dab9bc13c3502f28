/** The ASR fallback chain: a call moves to the next adapter on an unrecoverable failure without losing audio. */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { createFallbackAsr } from '../../src/asr/fallback.js';
import { PcmRing } from '../../src/audio/pcm-ring.js';
import type { AsrEvent, AsrStream } from '../../src/asr/types.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { scriptedAsr } from '../fixtures/scripted-asr.js';
import { startGateway, metricValue, untilEvent, untilLog } from '../helpers/gateway.js';
import { openRawLeg } from '../helpers/raw-leg.js';
import { readFileSync } from 'node:fs';
import { must } from '../helpers/must.js';

const RATE = 16000;
const FB = 640;
const call: CallInfo = Object.freeze({
  callId: 'c1',
  conversationUuid: undefined,
  from: undefined,
  to: undefined,
  sampleRateHz: RATE,
  language: 'en-US',
  metadata: {},
});

/** Frame i: every sample is i (so any loss, duplicate or reordering shows). */
const frame = (i: number): Buffer => {
  const b = Buffer.alloc(FB);
  for (let k = 0; k < FB; k += 2) b.writeInt16LE(i, k);
  return b;
};
const framesOf = (buf: Buffer): number[] => {
  const out: number[] = [];
  for (let off = 0; off < buf.length; off += FB) out.push(buf.readInt16LE(off));
  return out;
};
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

async function collect(s: AsrStream): Promise<AsrEvent[]> {
  const out: AsrEvent[] = [];
  for await (const e of s.events) out.push(e);
  return out;
}
const tick = () => new Promise((r) => setImmediate(r));

t.test('PcmRing matches a model: absolute positions, ack, overwrite past capacity', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }).map((n) => n * 2),
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('a' as const), n: fc.integer({ min: 0, max: 150 }).map((n) => n * 2) }),
            fc.record({ op: fc.constant('k' as const), n: fc.integer({ min: 0, max: 400 }) }),
          ),
          { maxLength: 60 },
        ),
        (cap, ops) => {
          const ring = new PcmRing(cap);
          const all: number[] = [];
          let ack = 0;
          let v = 0;
          for (const o of ops) {
            if (o.op === 'a') {
              const b = Buffer.alloc(o.n);
              for (let i = 0; i < o.n; i++) b[i] = (v + i) & 0xff;
              for (let i = 0; i < o.n; i++) all.push((v + i) & 0xff);
              v += o.n;
              ring.append(b);
            } else {
              ack = Math.max(ack, Math.min(o.n, all.length));
              ring.ack(o.n);
            }
            const start = Math.max(ack, all.length - cap);
            if (ring.end !== all.length || ring.start !== start) return false;
            if (!ring.pending().equals(Buffer.from(all.slice(start)))) return false;
          }
          return true;
        },
      ),
      { numRuns: 500 },
    ),
  );
});

t.test('fatal error mid-call: the next adapter gets exactly the unfinalised audio, then everything after', async (t) => {
  const a = scriptedAsr({ name: 'a', finalEveryFrames: 25, failAfterFrames: 60 });
  const b = scriptedAsr({ name: 'b', finalEveryFrames: 25 });
  const chain = createFallbackAsr([a, b]);
  t.equal(chain.name, 'a>b');
  const ctl = new AbortController();
  const s = await chain.start({ call, signal: ctl.signal });
  const events = collect(s);
  for (let i = 0; i < 100; i++) {
    s.write(frame(i), 0);
    if (i % 10 === 0) await tick();
  }
  await tick();
  s.close();
  const ev = await events;
  t.same(framesOf(must(a.streams[0]).bytes), range(0, 60), 'a got frames 0..59');
  // a finalised up to frame 50 (its second final): b starts there, with nothing lost or repeated after it.
  t.same(framesOf(must(b.streams[0]).bytes), range(50, 100), 'b got frames 50..99, in order');
  const fo = ev.find((e) => e.type === 'failover');
  // Frames 50..59 were never finalised, and frame 60 arrived as `a` failed: 11 frames are replayed.
  t.match(fo, { type: 'failover', from: 'a', to: 'b', replayedMs: 220 });
  t.match(
    ev.find((e) => e.type === 'error'),
    { code: 'SCRIPTED_FATAL', recoverable: true },
    'the failure is reported, recoverable for the call',
  );
  const finals = ev.filter((e): e is Extract<AsrEvent, { type: 'final' }> => e.type === 'final');
  t.same(
    finals.map((f) => f.endMs),
    [500, 1000, 1500, 2000],
    'final offsets are absolute in the call and continuous across the failover',
  );
  t.ok(must(a.streams[0]).closed && must(b.streams[0]).closed, 'both streams closed');
});

t.test('events simply ending counts as a failure; frames written while the next adapter starts are kept in order', async (t) => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const a = scriptedAsr({ name: 'a', failAfterFrames: 10, failBy: 'end' });
  const b = scriptedAsr({ name: 'b', startGate: gate });
  const s = await createFallbackAsr([a, b]).start({ call, signal: new AbortController().signal });
  const events = collect(s);
  for (let i = 0; i < 10; i++) s.write(frame(i), 0);
  await tick();
  for (let i = 10; i < 30; i++) s.write(frame(i), 0); // b is still starting
  open();
  await tick();
  await tick();
  for (let i = 30; i < 40; i++) s.write(frame(i), 0);
  s.close();
  const ev = await events;
  t.same(framesOf(must(b.streams[0]).bytes), range(0, 40), 'nothing was finalised, so b gets the whole call in order');
  t.match(
    ev.find((e) => e.type === 'failover'),
    { from: 'a', to: 'b', reason: /ASR_STREAM_ENDED/ },
  );
});

t.test('an adapter that cannot start is skipped; when every adapter fails the call gets one unrecoverable error', async (t) => {
  const a = scriptedAsr({ name: 'a', failStart: true });
  const b = scriptedAsr({ name: 'b', failAfterFrames: 5 });
  const s = await createFallbackAsr([a, b]).start({ call, signal: new AbortController().signal });
  const events = collect(s);
  for (let i = 0; i < 8; i++) s.write(frame(i), 0);
  const ev = await events;
  t.match(ev[0], { type: 'error', code: 'ASR_START_FAILED', recoverable: true });
  t.match(ev[1], { type: 'failover', from: 'a', to: 'b' });
  const last = ev[ev.length - 1];
  t.match(last, { type: 'error', recoverable: false, message: /every ASR adapter failed/ }, 'the chain ends with a fatal error');
  t.same(framesOf(must(b.streams[0]).bytes), range(0, 5));
  const none = scriptedAsr({ name: 'x', failStart: true });
  await t.rejects(
    Promise.resolve(createFallbackAsr([none, scriptedAsr({ name: 'y', failStart: true })]).start({ call, signal: new AbortController().signal })),
    /no ASR adapter could start/,
  );
});

t.test('aborting the call closes the live inner stream and ends events', async (t) => {
  const a = scriptedAsr({ name: 'a' });
  const ctl = new AbortController();
  const s = await createFallbackAsr([a, scriptedAsr({ name: 'b' })]).start({ call, signal: ctl.signal });
  const events = collect(s);
  s.write(frame(1), 0);
  ctl.abort();
  await events;
  t.ok(must(a.streams[0]).closed);
  t.doesNotThrow(() => s.write(frame(2), 0));
});

/** One call of real speech through a real gateway; returns the final transcript the (last) ASR adapter produced. */
async function callWith(t: Test, asr: string) {
  const g = await startGateway(t, { ASR_ADAPTER: asr, SCRIPTED_ASR_FAIL_AFTER_FRAMES: '40', JITTER_TARGET_MS: '0' });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'fallback-e2e' });
  // The burst below is faster than real time: let the ASR start first (the session backlogs only 1 s before it).
  await untilLog(g, (l) => l.msg === 'asr started', 10000, 'asr started');
  const speech = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
  const pcm = Buffer.concat([speech, Buffer.alloc(FB * 60)]);
  for (let off = 0; off + FB <= pcm.length; off += FB) leg.ws.send(pcm.subarray(off, off + FB));
  const heard = await untilEvent(g, 'transcript', (e) => e.final, 15000, 'final transcript');
  leg.ws.close();
  return { g, text: heard.text };
}

t.test('end to end: a real call fails over from one adapter module to the next, losing no audio; metrics record it', async (t) => {
  const direct = await callWith(t, './dist/test/fixtures/counting-asr.js');
  const chained = await callWith(t, './dist/test/fixtures/scripted-asr.js,./dist/test/fixtures/counting-asr.js');
  t.match(direct.text, /^heard \d+ frames/);
  // The first adapter failed after 40 frames with nothing finalised: the second must have been given every frame.
  t.equal(chained.text, direct.text, 'the second adapter heard exactly what a lone adapter hears');
  t.ok(
    chained.g.logs.some((l) => l.msg === 'asr failover' && l.from === 'scripted' && l.to === 'counting' && Number(l.replayedMs) >= 800),
    'failover logged, replaying at least the 40 unfinalised frames',
  );
  const m = await chained.g.metrics();
  t.equal(metricValue(m, 'gateway_asr_failovers_total{from="scripted",to="counting"}'), 1);
  t.equal(metricValue(m, 'gateway_adapter_errors_total{stage="asr",code="SCRIPTED_FATAL"}'), 1);
  t.ok(metricValue(m, 'gateway_asr_final_latency_seconds_count{adapter="counting"}') >= 1, 'final latency labelled by the adapter that produced it');
});
