/** The call-eval scorer on synthetic timelines: each rule of score.ts, one case each (no gateway, no clock). */
import t from 'tap';
import { scoreCall } from '../../src/eval/score.js';
import type { CallTimeline, CallerEvent } from '../../src/eval/timeline.js';
import { must } from '../helpers/must.js';

/** A timeline of `durationMs`, with bot audio heard over `audio` ([startMs, endMs) ranges). */
function timeline(durationMs: number, audio: Array<[number, number]>, extra: Partial<CallTimeline> = {}): CallTimeline {
  const slots = durationMs / 20;
  const playing = new Uint8Array(slots);
  const arrivalMs = new Float64Array(slots).fill(NaN);
  for (const [s, e] of audio)
    for (let i = s / 20; i < e / 20; i++) {
      playing[i] = 1;
      arrivalMs[i] = i * 20 - 5; // frames arrive a little ahead of playout
    }
  return {
    sampleRateHz: 16000,
    playing,
    arrivalMs,
    clearsMs: [],
    pauseClearsMs: [],
    notifies: [],
    events: [],
    echo: false,
    heard: new Int16Array(slots * 320),
    durationMs,
    closeCode: 1000,
    closedBy: 'simulator',
    triggerTimeouts: 0,
    framesSent: slots,
    framesHeldByJitter: 0,
    ...extra,
  };
}
const ev = (index: number, kind: CallerEvent['kind'], onsetMs: number, endMs: number, pause?: CallerEvent['pause']): CallerEvent => ({
  index,
  kind,
  onsetMs,
  endMs,
  ...(pause ? { pause } : {}),
});
const done = (atMs: number) => ({ atMs, payload: { gw: 'seg', id: 1 } });

t.test('a finished reply, then a turn answered: turn latency from the end of speech to the first frame', async (t) => {
  const s = scoreCall(
    timeline(
      10_000,
      [
        [0, 2000],
        [5000, 8000],
      ],
      { events: [ev(0, 'turn', 2500, 4000)], notifies: [done(2000), done(8000)] },
    ),
  );
  t.equal(s.replies.length, 2);
  t.same(
    s.replies.map((r) => r.end),
    ['finished', 'finished'],
  );
  t.same(s.turnLatenciesMs, [995], 'reply 2 first frame arrived at 4995 ms; speech ended at 4000 ms');
  t.same(s.premature, { count: 0, chances: 1 });
  t.equal(s.unanswered, 0);
});

t.test('a clear after a backchannel during a reply is a false barge-in', async (t) => {
  const s = scoreCall(timeline(10_000, [[1000, 3240]], { events: [ev(1, 'backchannel', 3000, 3400)], clearsMs: [3250] }));
  t.equal(must(s.replies[0]).end, 'cleared');
  t.same(s.falseBargeIns, { count: 1, chances: 1 });
  t.same(s.missedBargeIns, { count: 0, chances: 0 });
});

t.test('a backchannel the reply plays through is not a false barge-in', async (t) => {
  const s = scoreCall(timeline(10_000, [[1000, 6000]], { events: [ev(1, 'backchannel', 3000, 3400)], notifies: [done(6000)] }));
  t.same(s.falseBargeIns, { count: 0, chances: 1 });
});

t.test('a cough that stops the audio for good (no clear, no notify) is a false barge-in too', async (t) => {
  const s = scoreCall(timeline(10_000, [[1000, 3300]], { events: [ev(1, 'noise', 3000, 3350)] }));
  t.equal(must(s.replies[0]).end, 'abandoned');
  t.same(s.falseBargeIns, { count: 1, chances: 1 });
});

t.test('a pause that resumes without a clear is one reply with a pause, and not a barge-in', async (t) => {
  const s = scoreCall(
    timeline(
      10_000,
      [
        [1000, 3100],
        [3500, 6000],
      ],
      { events: [ev(1, 'backchannel', 3000, 3300)], notifies: [done(6000)] },
    ),
  );
  t.equal(s.replies.length, 1);
  t.equal(s.pauses, 1);
  t.equal(must(s.replies[0]).end, 'finished');
  t.same(s.falseBargeIns, { count: 0, chances: 1 });
});

t.test('an interruption the bot stops for: stop latency from onset to the last heard slot', async (t) => {
  const s = scoreCall(
    timeline(
      10_000,
      [
        [1000, 3200],
        [5000, 6000],
      ],
      { events: [ev(1, 'turn', 3000, 4200)], clearsMs: [3210], notifies: [done(6000)] },
    ),
  );
  t.same(s.missedBargeIns, { count: 0, chances: 1 });
  t.same(s.stopLatenciesMs, [200]);
  t.same(s.turnLatenciesMs, [795], 'and it was answered');
});

t.test('an interruption paused at once and cleared later: stop latency counts to the pause', async (t) => {
  const s = scoreCall(timeline(10_000, [[1000, 3100]], { events: [ev(1, 'turn', 3000, 4200)], clearsMs: [3400] }));
  t.equal(must(s.replies[0]).end, 'cleared');
  t.same(s.stopLatenciesMs, [100]);
});

t.test('an interruption the bot talks through is a missed barge-in', async (t) => {
  const s = scoreCall(timeline(10_000, [[1000, 7000]], { events: [ev(1, 'turn', 3000, 4200)], notifies: [done(7000)] }));
  t.same(s.missedBargeIns, { count: 1, chances: 1 });
  t.same(s.stopLatenciesMs, []);
});

t.test('a reply that starts inside the caller mid-sentence pause is a premature cut-off', async (t) => {
  const s = scoreCall(
    timeline(
      10_000,
      [
        [2200, 3000],
        [4500, 6000],
      ],
      { events: [ev(0, 'turn', 1000, 3500, { startMs: 1800, endMs: 2600 })], clearsMs: [3000] },
    ),
  );
  t.same(s.premature, { count: 1, chances: 1 });
  t.same(s.turnLatenciesMs, [995], 'the real answer after the end still has a latency');
});

t.test('on a line with echo, a reply cut off with no caller speech is a false barge-in', async (t) => {
  const s = scoreCall(
    timeline(
      10_000,
      [
        [0, 1500],
        [2500, 5000],
      ],
      { echo: true, clearsMs: [1500], notifies: [done(5000)] },
    ),
  );
  t.same(s.falseBargeIns, { count: 1, chances: 2 });
  t.equal(s.clears, 1);
});

t.test('a turn nobody answers is counted as unanswered', async (t) => {
  const s = scoreCall(timeline(8000, [], { events: [ev(0, 'turn', 1000, 2000)] }));
  t.equal(s.unanswered, 1);
  t.same(s.turnLatenciesMs, []);
});

t.test('on a line with echo, a reply that answered no caller speech is counted as echo answered', async (t) => {
  // The greeting, then (back to back, 100 ms apart) an answer to its own echo, then the caller's turn and its answer.
  const s = scoreCall(
    timeline(
      20_000,
      [
        [0, 3000],
        [3100, 6000],
        [9000, 12_000],
      ],
      { echo: true, events: [ev(0, 'turn', 6500, 8000)], notifies: [done(3000), { atMs: 6000, payload: { gw: 'seg', id: 2 } }, done(12_000)] },
    ),
  );
  t.equal(s.replies.length, 3, 'the answer queued behind the greeting is a reply of its own (told apart by the notify)');
  t.same(s.echoAnswered, { count: 1, chances: 2 });
  t.same(s.turnLatenciesMs, [995]);
});

t.test('echo answered: replies that answer the caller (after it, or interrupted by it) are not; no echo, no chances', async (t) => {
  const audio: Array<[number, number]> = [
    [0, 3000],
    [5000, 7000],
    [9000, 12_000],
  ];
  const extra = { events: [ev(0, 'turn', 3500, 4500), ev(1, 'turn', 6000, 7500)], clearsMs: [7010], notifies: [done(3000), done(12_000)] };
  t.same(scoreCall(timeline(20_000, audio, { echo: true, ...extra })).echoAnswered, { count: 0, chances: 2 });
  t.same(scoreCall(timeline(20_000, audio, extra)).echoAnswered, { count: 0, chances: 0 });
});
