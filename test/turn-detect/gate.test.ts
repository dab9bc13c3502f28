/**
 * The adaptive endpointing gate on a manual clock: finals are held and joined, released once per turn after the short
 * silence when complete and the long one when not, released at once on barge-in, dropped on close; a failing,
 * hanging or malformed detector falls back to the heuristic. No sleeps, no timing asserts.
 */
import t from 'tap';
import { ManualClock } from '../../src/util/clock.js';
import { CUE_WAIT_MS, MAX_HOLD_MS, TurnGate, type TurnGateConfig, type TurnGateOwner } from '../../src/turn-detect/gate.js';
import { ProsodyPool, type ProsodyJudge } from '../../src/turn-detect/prosody-pool.js';
import { builtinTurnDetector } from '../../src/turn-detect/heuristic.js';
import type { TurnDetectInput, TurnDetector } from '../../src/turn-detect/types.js';
import { must } from '../helpers/must.js';

const MIN = 240; // a multiple of the 20 ms tick, so `run(MIN)` is exactly MIN
const MAX = 1500;
const TIMEOUT = 150;

class Owner implements TurnGateOwner {
  out: Array<[string, boolean]> = [];
  faults: string[] = [];
  lastVoicedAtMs = -1;
  speaking = false;
  lastUtteranceAudio: Int16Array | undefined;
  onGateTranscript(text: string, final: boolean): void {
    this.out.push([text, final]);
  }
  onDetectorFault(_err: unknown, code: string): void {
    this.faults.push(code);
  }
  get finals(): string[] {
    return this.out.filter((o) => o[1]).map((o) => o[0]);
  }
}

function setup(detector: TurnDetector = builtinTurnDetector, more: Partial<TurnGateConfig> = {}) {
  const clock = new ManualClock(1000);
  const owner = new Owner();
  const gate = new TurnGate(
    { minSilenceMs: MIN, maxSilenceMs: MAX, timeoutMs: TIMEOUT, callId: 'c1', language: 'en-US', sampleRateHz: 16000, ...more },
    detector,
    clock,
    owner,
  );
  /** The caller spoke until now, then fell silent. */
  const speakUntilNow = () => {
    owner.lastVoicedAtMs = clock.now();
    owner.speaking = false;
  };
  /** Advance in 20 ms ticks. */
  const run = (ms: number) => {
    for (let i = 0; i < ms / 20; i++) {
      clock.advance(20);
      gate.tick();
    }
  };
  return { clock, owner, gate, speakUntilNow, run };
}

const flush = () => new Promise((r) => setImmediate(r));

t.test('a final that reads complete is released at once after the short silence', async (t) => {
  const { owner, gate, speakUntilNow, run } = setup();
  speakUntilNow();
  run(MIN); // the VAD's short silence, then the ASR's final
  gate.transcript('I would like a table for four people', true);
  t.same(owner.finals, ['I would like a table for four people'], 'released on arrival');
  t.notOk(gate.holding);
  t.equal(gate.released, 1);
});

t.test('a complete final that arrives before the short silence waits for it', async (t) => {
  const { owner, gate, speakUntilNow, run } = setup();
  speakUntilNow();
  gate.transcript('yes', true);
  t.same(owner.finals, [], 'held while the silence is shorter than the minimum');
  run(MIN);
  t.same(owner.finals, ['yes'], 'released once the minimum silence passed');
});

t.test('an unfinished final is held, and joined with the next into ONE final', async (t) => {
  const { owner, gate, speakUntilNow, run } = setup();
  speakUntilNow();
  run(MIN);
  gate.transcript("I'd like to book a table for", true);
  run(600);
  t.same(owner.finals, [], 'held through an 850 ms pause');
  t.ok(gate.holding);
  // The caller goes on: speaking, then silent again; the next final comes.
  owner.speaking = true;
  owner.lastVoicedAtMs = -1;
  gate.transcript('four', false);
  t.same(owner.out.at(-1), ["I'd like to book a table for four", false], 'an interim is prefixed with the held text');
  run(800);
  t.same(owner.finals, [], 'nothing released while the caller speaks');
  speakUntilNow();
  run(MIN);
  gate.transcript('four people', true);
  t.same(owner.finals, ["I'd like to book a table for four people"], 'one final for the whole turn');
  t.equal(gate.joined, 1);
  t.equal(gate.released, 1);
});

t.test('an unfinished final is released after the long silence when nothing follows', async (t) => {
  const { owner, gate, speakUntilNow, run } = setup();
  speakUntilNow();
  run(MIN);
  gate.transcript('it costs twenty', true);
  run(MAX - MIN - 40);
  t.same(owner.finals, [], 'still held just before the long silence');
  run(60);
  t.same(owner.finals, ['it costs twenty'], 'released after the long silence');
  t.notOk(gate.holding);
});

t.test('a recogniser that invents conjunctions: a trailing "and"/"but" waits conjunctionHoldMs, not the long silence', async (t) => {
  const mid = 900;
  const { owner, gate, speakUntilNow, run } = setup(builtinTurnDetector, { conjunctionHoldMs: mid });
  speakUntilNow();
  run(MIN);
  gate.transcript("but i'm sure in years and", true);
  run(mid - MIN - 40);
  t.same(owner.finals, [], 'held just before the hold');
  run(60);
  t.same(owner.finals, ["but i'm sure in years and"], 'released after the hold');
  t.equal(gate.doubtfulReleases, 1);
  // Other unfinished endings still wait the long silence; so does "and" without the hold, or with one not below it.
  for (const [text, more] of [
    ['it costs twenty', { conjunctionHoldMs: mid }],
    ['i want to', { conjunctionHoldMs: mid }],
    ['go forward and', {}],
    ['go forward and', { conjunctionHoldMs: MAX + 100 }],
  ] as const) {
    const g = setup(builtinTurnDetector, more);
    g.speakUntilNow();
    g.run(MIN);
    g.gate.transcript(text, true);
    g.run(MAX - MIN - 40);
    t.same(g.owner.finals, [], `"${text}" held past ${mid} ms`);
    g.run(60);
    t.same(g.owner.finals, [text], `"${text}" released after the long silence`);
  }
});

t.test('a recogniser that invents conjunctions: a caller who goes on after the "and" within the middle silence is joined', async (t) => {
  const { owner, gate, clock, speakUntilNow, run } = setup(builtinTurnDetector, { conjunctionHoldMs: 900 });
  speakUntilNow();
  run(MIN);
  gate.transcript('go forward and', true);
  run(800 - MIN); // an 800 ms pause after the last voiced frame, then the caller goes on
  t.same(owner.finals, [], 'held through the pause');
  owner.speaking = true;
  owner.lastVoicedAtMs = clock.now();
  run(600);
  speakUntilNow();
  run(MIN);
  gate.transcript('ten meters', true);
  t.same(owner.finals, ['go forward and ten meters'], 'one turn');
});

t.test(
  "a complete final that comes in the utterance's trailing silence (the ASR flushed early) is released at the VAD's end, not after the long silence",
  async (t) => {
    const { owner, gate, clock, run } = setup();
    owner.lastVoicedAtMs = clock.now();
    owner.speaking = true; // the VAD's utterance is still open: its silence has not reached the minimum yet
    run(100);
    gate.transcript('go forward ten meters', true);
    run(100);
    t.same(owner.finals, [], 'held while the utterance is open');
    owner.speaking = false; // the VAD ends the utterance; no voice came after the final
    run(MIN);
    t.same(owner.finals, ['go forward ten meters'], 'released after the short silence');
  },
);

t.test('a complete final while the caller speaks again is held and joined', async (t) => {
  const { owner, gate, speakUntilNow, run } = setup();
  speakUntilNow();
  run(MIN);
  owner.speaking = true; // the caller went on before the final came
  gate.transcript('yes', true);
  run(400);
  t.same(owner.finals, []);
  speakUntilNow();
  run(MIN);
  gate.transcript('and a window seat please', true);
  t.same(owner.finals, ['yes and a window seat please']);
});

t.test('nothing is held longer than MAX_HOLD_MS, even while the VAD says speaking', async (t) => {
  const { owner, gate, speakUntilNow, run } = setup();
  speakUntilNow();
  gate.transcript('and', true);
  owner.speaking = true;
  run(MAX_HOLD_MS - 20);
  t.same(owner.finals, []);
  run(40);
  t.same(owner.finals, ['and'], 'released at the cap');
});

t.test('barge-in releases the held text now; close drops it', async (t) => {
  const a = setup();
  a.speakUntilNow();
  a.gate.transcript('I want to', true);
  a.gate.flush();
  t.same(a.owner.finals, ['I want to'], 'barge-in: released at once');
  a.gate.flush();
  t.equal(a.owner.finals.length, 1, 'flush with nothing held does nothing');

  const b = setup();
  b.speakUntilNow();
  b.gate.transcript('I want to', true);
  b.gate.close();
  b.run(MAX_HOLD_MS + 100);
  b.gate.transcript('go', true);
  b.gate.flush();
  t.same(b.owner.out, [], 'close: dropped, and nothing given after it');
});

t.test('empty finals end nothing; alone they pass through as before', async (t) => {
  const { owner, gate, speakUntilNow, run } = setup();
  speakUntilNow();
  run(MIN);
  gate.transcript('  ', true);
  t.same(owner.out, [['  ', true]], 'alone: passed through');
  gate.transcript('to the', true);
  gate.transcript('', true);
  run(MIN);
  t.equal(owner.finals.length, 1, 'with text held: no release');
  t.ok(gate.holding);
});

t.test('the detector is asked about the whole turn, with the silence and the call', async (t) => {
  const seen: TurnDetectInput[] = [];
  const { owner, gate, speakUntilNow, run } = setup({ name: 'spy', predict: (i) => (seen.push(i), { complete: 0.9 }) });
  speakUntilNow();
  run(300);
  owner.speaking = true;
  gate.transcript('book a table', true);
  run(20); // the caller goes on speaking after that final: their voice comes after it
  speakUntilNow();
  run(MIN);
  gate.transcript('for two', true);
  t.same(
    seen.map((s) => s.text),
    ['book a table', 'book a table for two'],
  );
  t.equal(must(seen[0]).silenceMs, 0, 'speaking: no silence');
  t.equal(must(seen[1]).silenceMs, MIN);
  t.equal(must(seen[1]).callId, 'c1');
  t.equal(must(seen[1]).language, 'en-US');
  t.equal(must(seen[1]).sampleRateHz, 16000);
  t.equal(must(seen[1]).final, true);
  t.same(owner.finals, ['book a table for two']);
});

t.test('a custom detector overrides the heuristic both ways', async (t) => {
  const never = setup({ name: 'never', predict: () => ({ complete: 0 }) });
  never.speakUntilNow();
  never.run(MIN);
  never.gate.transcript('I would like a table for four people', true);
  never.run(MAX - MIN - 40);
  t.same(never.owner.finals, [], 'complete text held: the detector says unfinished');
  never.run(60);
  t.equal(never.owner.finals.length, 1, 'released at the long silence');

  const always = setup({ name: 'always', predict: async () => ({ complete: 1 }) });
  always.speakUntilNow();
  always.run(MIN);
  always.gate.transcript('book a table for', true);
  t.same(always.owner.finals, [], 'waiting for the async answer');
  await flush();
  t.same(always.owner.finals, ['book a table for'], 'released when the async answer came');
  t.same(always.owner.faults, []);
});

t.test('a throwing, rejecting or malformed detector falls back to the heuristic', async (t) => {
  const cases: Array<[string, TurnDetector, string]> = [
    [
      'throws',
      {
        name: 'x',
        predict: () => {
          throw new Error('boom');
        },
      },
      'TURN_DETECT_FAILED',
    ],
    ['rejects', { name: 'x', predict: () => Promise.reject(new Error('boom')) }, 'TURN_DETECT_FAILED'],
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the case under test: a rejection without an Error
    ['rejects with nothing', { name: 'x', predict: () => Promise.reject(undefined) }, 'TURN_DETECT_FAILED'],
    ['NaN', { name: 'x', predict: () => ({ complete: NaN }) }, 'TURN_DETECT_MALFORMED'],
    ['out of range', { name: 'x', predict: async () => ({ complete: 7 }) }, 'TURN_DETECT_MALFORMED'],
    ['a string', { name: 'x', predict: () => 'yes' as never }, 'TURN_DETECT_MALFORMED'],
    [
      'a throwing getter',
      {
        name: 'x',
        predict: () => ({
          get complete(): number {
            throw new Error('getter');
          },
        }),
      },
      'TURN_DETECT_MALFORMED',
    ],
  ];
  for (const [what, det, code] of cases) {
    const { owner, gate, speakUntilNow, run } = setup(det);
    speakUntilNow();
    run(MIN);
    gate.transcript('send it to', true); // the heuristic: unfinished
    await flush();
    run(20);
    t.same(owner.faults, [code], `${what}: one fault, ${code}`);
    t.same(owner.finals, [], `${what}: the heuristic holds the unfinished text`);
    run(MAX);
    t.same(owner.finals, ['send it to'], `${what}: released at the long silence`);
    gate.transcript('yes', true);
    await flush();
    run(20);
    t.same(owner.finals, ['send it to', 'yes'], `${what}: the heuristic releases a complete one; the gate goes on`);
  }
});

t.test('a hanging detector times out on the tick and the late answer is ignored', async (t) => {
  let resolveLate: ((v: { complete: number }) => void) | undefined;
  let aborted = false;
  const det: TurnDetector = {
    name: 'slow',
    predict: (_i, signal) => {
      signal.addEventListener('abort', () => (aborted = true));
      return new Promise((r) => (resolveLate = r));
    },
  };
  const { owner, gate, speakUntilNow, run } = setup(det);
  speakUntilNow();
  run(MIN);
  gate.transcript('yes please', true);
  run(TIMEOUT - 20);
  t.same(owner.finals, [], 'waiting within the timeout');
  run(40);
  t.same(owner.faults, ['TURN_DETECT_TIMEOUT']);
  t.ok(aborted, 'the detector was told to stop');
  t.same(owner.finals, ['yes please'], 'the heuristic answered: complete, released');
  resolveLate?.({ complete: 0 });
  await flush();
  t.equal(owner.finals.length, 1, 'the late answer changes nothing');
  t.equal(gate.fallbacks, 1);
});

/** A voiced tone at 16 kHz: `ms` at `f0From` Hz gliding to `f0To` over the last 400 ms, steady loudness. */
function voiced(ms: number, f0From: number, f0To: number): Int16Array {
  const rate = 16000;
  const n = (ms * rate) / 1000;
  const out = new Int16Array(n + rate / 10);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const k = Math.max(0, (i - (n - 0.4 * rate)) / (0.4 * rate));
    phase += (2 * Math.PI * (f0From + (f0To - f0From) * k)) / rate;
    out[i] = Math.round(6000 * (Math.sin(phase) + Math.sin(2 * phase) / 2 + Math.sin(3 * phase) / 3));
  }
  return out;
}
const HOLD = 1000;

t.test('prosodic cue: a complete final whose audio sounds unfinished waits the hold, once per utterance', async (t) => {
  const { owner, gate, speakUntilNow, run } = setup(builtinTurnDetector, { prosodyHoldMs: HOLD });
  t.ok(gate.listens, 'the gate reads the utterance audio');
  owner.lastUtteranceAudio = voiced(1000, 140, 140); // level pitch, loud to the end
  speakUntilNow();
  run(MIN);
  gate.transcript('go forward', true);
  t.same(owner.finals, [], 'reads complete, sounds unfinished: held past the short silence');
  t.equal(gate.prosodyHolds, 1);
  run(HOLD - MIN - 20);
  t.same(owner.finals, [], 'still held just before the hold');
  run(20);
  t.same(owner.finals, ['go forward'], 'released after the hold');
  t.equal(gate.prosodyHolds, 1, 'judged once');
});

t.test('prosodic cue: the caller goes on inside the hold, the turn is joined and ends when it sounds finished', async (t) => {
  const { owner, gate, speakUntilNow, run, clock } = setup(builtinTurnDetector, { prosodyHoldMs: HOLD });
  owner.lastUtteranceAudio = voiced(1000, 140, 140);
  speakUntilNow();
  run(MIN);
  gate.transcript('go forward', true);
  run(400);
  owner.speaking = true; // the caller goes on after 640 ms of pause
  owner.lastVoicedAtMs = clock.now();
  run(600);
  speakUntilNow();
  owner.lastUtteranceAudio = voiced(800, 150, 90); // the second half falls
  run(MIN);
  gate.transcript('ten meters', true);
  t.same(owner.finals, ['go forward ten meters'], 'one turn, released at the short silence: it sounds finished');
  t.equal(gate.prosodyHolds, 1, 'only the first utterance was held');
});

t.test('prosodic cue: a falling end, no audio, a cut capture or the setting off end the turn at the short silence', async (t) => {
  const cases: Array<[string, Partial<TurnGateConfig>, Int16Array | undefined]> = [
    ['a fall', { prosodyHoldMs: HOLD }, voiced(1000, 160, 90)],
    ['no audio kept', { prosodyHoldMs: HOLD }, undefined],
    ['the capture hit its limit', { prosodyHoldMs: HOLD, maxUtteranceMs: 1000 }, voiced(1000, 140, 140)],
    ['ENDPOINT_PROSODY_HOLD_MS=0', { prosodyHoldMs: 0 }, voiced(1000, 140, 140)],
    ['a hold not above the short silence', { prosodyHoldMs: MIN }, voiced(1000, 140, 140)],
  ];
  for (const [what, cfg, audio] of cases) {
    const { owner, gate, speakUntilNow, run } = setup(builtinTurnDetector, cfg);
    owner.lastUtteranceAudio = audio;
    speakUntilNow();
    run(MIN);
    gate.transcript('go forward', true);
    t.same(owner.finals, ['go forward'], `${what}: released at once`);
    t.equal(gate.prosodyHolds, 0, what);
  }
});

t.test('prosodic cue: a final that reads unfinished still waits the long silence', async (t) => {
  const { owner, gate, speakUntilNow, run } = setup(builtinTurnDetector, { prosodyHoldMs: HOLD });
  owner.lastUtteranceAudio = voiced(1000, 160, 90); // sounds finished
  speakUntilNow();
  run(MIN);
  gate.transcript('I want to', true);
  run(HOLD);
  t.same(owner.finals, [], 'the text decides: held past the prosodic hold');
  run(MAX - HOLD - MIN);
  t.same(owner.finals, ['I want to'], 'released after the long silence');
});

t.test('prosodic cue judged in a worker thread: the turn waits for the verdict, then holds or goes as in-process', async (t) => {
  const pool = new ProsodyPool(0);
  t.teardown(() => pool.close());
  await pool.unfinished(voiced(300, 140, 140), 16000); // the worker loaded (a loaded machine takes seconds)
  /** The worker's answer until `pred` (bounded, generously: tap runs test files side by side). */
  const until = async (pred: () => boolean) => {
    for (let i = 0; i < 3000 && !pred(); i++) await new Promise((r) => setTimeout(r, 5));
  };
  // Sounds unfinished: held for the hold once the worker's verdict is in.
  const a = setup(builtinTurnDetector, { prosodyHoldMs: HOLD, prosodyJudge: pool });
  a.owner.lastUtteranceAudio = voiced(1000, 140, 140);
  a.speakUntilNow();
  a.run(MIN);
  a.gate.transcript('go forward', true);
  t.same(a.owner.finals, [], 'not released while the worker judges');
  await until(() => a.gate.prosodyHolds > 0);
  t.equal(a.gate.prosodyHolds, 1, "the worker's verdict: sounds unfinished");
  t.same(a.owner.finals, [], 'held');
  a.run(HOLD - MIN);
  t.same(a.owner.finals, ['go forward'], 'released after the hold');
  // Sounds finished: released as soon as the verdict comes, no tick waited for.
  const b = setup(builtinTurnDetector, { prosodyHoldMs: HOLD, prosodyJudge: pool });
  b.owner.lastUtteranceAudio = voiced(1000, 160, 90);
  b.speakUntilNow();
  b.run(MIN);
  b.gate.transcript('go forward', true);
  await until(() => b.owner.finals.length > 0);
  t.same(b.owner.finals, ['go forward'], 'released when the verdict came (sounds finished)');
  t.equal(b.gate.prosodyHolds, 0);
  t.equal(pool.judged, 3, 'all judged by the worker');
  t.equal(pool.fallbacks, 0);
});

t.test('prosodic cue judged elsewhere: a verdict that never comes costs at most CUE_WAIT_MS, a late one is ignored', async (t) => {
  let answer: ((v: boolean) => void) | undefined;
  let late = 0;
  const judge: ProsodyJudge = { unfinished: () => new Promise<boolean>((r) => (answer = r)), noteLate: () => late++ };
  const { owner, gate, speakUntilNow, run } = setup(builtinTurnDetector, { prosodyHoldMs: HOLD, prosodyJudge: judge });
  owner.lastUtteranceAudio = voiced(1000, 140, 140);
  speakUntilNow();
  run(MIN);
  gate.transcript('go forward', true);
  run(CUE_WAIT_MS - 20);
  t.same(owner.finals, [], 'waiting for the verdict');
  run(20);
  t.same(owner.finals, ['go forward'], 'no verdict in time: released as if finished');
  t.equal(gate.prosodyLate, 1, 'counted');
  t.equal(late, 1, 'and told to the judge (the gateway counts it in /metrics)');
  must(answer)(true);
  await flush();
  t.equal(gate.prosodyHolds, 0, 'the late verdict changes nothing');
  t.same(owner.finals, ['go forward']);
});

t.test('the prosody pool: a verdict the same as in-process, and the event loop as fallback when the worker cannot', async (t) => {
  const pool = new ProsodyPool(0);
  const level = voiced(1000, 140, 140);
  const fall = voiced(1000, 160, 90);
  t.same([await pool.unfinished(level, 16000), await pool.unfinished(fall, 16000)], [true, false], 'worker verdicts');
  t.equal(level.length, 17600, "the caller's audio is left as it was");
  t.equal(pool.judged, 2);
  await pool.close();
  t.equal(await pool.unfinished(level, 16000), true, 'closed: computed here, same verdict');
  t.equal(pool.fallbacks, 1, 'and counted');
});
