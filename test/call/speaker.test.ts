/**
 * The speaker's one queue, at unit level (manual clock, a spy on the pacer, a scripted TTS whose audio says which text
 * it is): replies never interleave — an apology ends a half-streamed bot reply first, a bot reply arriving while the
 * apology is being synthesised waits for it — a goodbye drops later bot output, and a TTS that never yields is given
 * up on at the first-audio bound (on the injected clock).
 */
import t from 'tap';
import { ManualClock } from '../../src/util/clock.js';
import { Ticker } from '../../src/util/ticker.js';
import { Pacer, type PacerEvents } from '../../src/egress/pacer.js';
import { Metrics } from '../../src/observability/metrics.js';
import { createLogger } from '../../src/observability/logger.js';
import { AdapterBoundary } from '../../src/call/boundary.js';
import { Speaker, type SpeakerOwner } from '../../src/call/speaker.js';
import type { TtsAdapter, TtsChunk, TtsRequest } from '../../src/tts/types.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { loadResampler } from '../../src/audio/resampler.js';

await loadResampler();

const RATE = 16000;
const call: CallInfo = { callId: 'c1', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: RATE, language: 'en-US', metadata: {} };

/** The sample value a text is spoken with: the apology +8000, a text starting "late" −8000, anything else +4000. */
const valueOf = (text: string) => (/^sorry/i.test(text) ? 8000 : /^late/i.test(text) ? -8000 : 4000);

function classify(f: Buffer): string {
  let sum = 0;
  for (let i = 0; i < f.length; i += 2) sum += f.readInt16LE(i);
  const mean = sum / (f.length / 2);
  return mean > 6000 ? 'A' : mean < -6000 ? 'L' : mean > 2000 ? 'B' : '';
}

function setup(tts: TtsAdapter, ttsFirstAudioTimeoutMs = 0) {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  const trace: string[] = [];
  const sink = { bufferedAmount: 0, sendFrame: () => {}, sendText: () => {} };
  const events: PacerEvents = { onSegmentStart: () => {}, onSegmentPlayed: () => {}, onSegmentInterrupted: () => {} };
  class SpyPacer extends Pacer {
    override beginSegment(id: number): void {
      trace.push(`[${id}`);
      super.beginSegment(id);
    }
    override enqueue(frame: Buffer): boolean {
      const c = classify(frame);
      // Runs of one class are one entry: the trace reads as the order of voices.
      if (c && trace[trace.length - 1] !== c) trace.push(c);
      return super.enqueue(frame);
    }
    override endSegment(): void {
      trace.push(']');
      super.endSegment();
    }
  }
  const pacer = new SpyPacer({ frameBytes: 640, leadFrames: 5, capacityFrames: 3000, watermarkBytes: 1 << 20 }, sink, ticker, clock, events);
  const metrics = new Metrics();
  const lines: string[] = [];
  const log = createLogger('info', { write: (s: string) => void lines.push(s) });
  const boundary = new AdapterBoundary(metrics, log);
  const owner = { opened: [] as number[], silent: [] as number[], said: [] as string[] };
  const o: SpeakerOwner = { onReplyOpened: (id) => owner.opened.push(id), onReplySilent: (id) => owner.silent.push(id), onSay: (x) => owner.said.push(x) };
  const ctl = new AbortController();
  const speaker = new Speaker({ tts, pacer, call, signal: ctl.signal, clock, metrics, log, boundary, ttsFirstAudioTimeoutMs }, o);
  return { clock, trace, speaker, owner, boundary, metrics, lines };
}

/** A TTS whose requests for texts matching `gated` wait for `release()` before each 100 ms word. */
function gatedTts(gated: RegExp) {
  let open: () => void = () => {};
  let gate = new Promise<void>((r) => (open = r));
  const tts: TtsAdapter = {
    name: 'gated',
    async *synthesize(req: TtsRequest): AsyncIterable<TtsChunk> {
      const n = req.text.split(/\s+/).length;
      for (let w = 0; w < n; w++) {
        if (gated.test(req.text)) await gate;
        else await new Promise((r) => setImmediate(r));
        yield { audio: new Int16Array(RATE / 10).fill(valueOf(req.text)), sampleRateHz: RATE };
      }
    },
  };
  return { tts, release: () => open(), reset: () => (gate = new Promise<void>((r) => (open = r))) };
}

const turnOfEvents = () => new Promise((r) => setImmediate(r));

/** Await `p` while the pacer plays (the clock advancing 20 ms a turn): the writer hands audio over as it is needed. */
async function playing<T>(clock: ManualClock, p: Promise<T>): Promise<T> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 10000 && !done; i++) {
    clock.advance(20);
    await turnOfEvents();
  }
  return p;
}

t.test('an apology ends a half-streamed bot reply first; a bot reply arriving during the apology waits its turn', async (t) => {
  const g = gatedTts(/^sorry/i);
  const { clock, trace, speaker, owner } = setup(g.tts);
  await speaker.say('bot part one', false, true); // streamed: no end yet, the reply stays open
  t.same(trace, ['[1', 'B'], 'reply 1 is open');
  const apology = speaker.apology('the bot did not answer in time', 1);
  await turnOfEvents();
  const late = speaker.say('late reply from the bot', true, true); // the stalled bot wakes up now
  for (let i = 0; i < 5; i++) await turnOfEvents();
  t.same(trace, ['[1', 'B', ']', '[2'], 'the half reply is ended; the apology has begun; the late reply waits');
  g.release();
  await playing(clock, apology);
  await playing(clock, late);
  t.same(trace, ['[1', 'B', ']', '[2', 'A', ']', '[3', 'L', ']'], 'apology, then the late reply: never mixed');
  t.same(owner.opened, [1, 2, 3]);
  t.same(owner.said, ['bot part one', 'late reply from the bot'], 'the apology is not the bot speaking');
});

t.test('two bot replies queued back to back stay in order', async (t) => {
  const g = gatedTts(/^bot/);
  const { trace, speaker } = setup(g.tts);
  const a = speaker.say('bot first', true, true);
  const b = speaker.say('late second', true, true);
  await turnOfEvents();
  g.release();
  await Promise.all([a, b]);
  t.same(trace, ['[1', 'B', ']', '[2', 'L', ']']);
});

t.test('a goodbye drops bot output that comes after it', async (t) => {
  const g = gatedTts(/^$/);
  const { trace, speaker } = setup(g.tts);
  let written = 0;
  const bye = speaker.goodbye('bot-failures', 'Sorry, goodbye.', () => written++);
  const late = speaker.say('late reply', true, true);
  const apology = speaker.apology('x', 2);
  await Promise.all([bye, late, apology]);
  t.equal(written, 1, 'the goodbye was written');
  t.same(trace, ['[1', 'A', ']'], 'only the goodbye reached the pacer');
});

t.test('clear() cuts the reply being built and drops the rest of it up to its end', async (t) => {
  const g = gatedTts(/^$/);
  const { trace, speaker } = setup(g.tts);
  await speaker.say('bot part one', false, true);
  speaker.clear();
  await speaker.say('bot part two', true, true); // the rest of the interrupted reply: dropped
  await speaker.say('late next reply', true, true);
  t.same(trace, ['[1', 'B', '[2', 'L', ']'], 'part two never reaches the pacer; the next reply does');
});

t.test('a TTS that never yields is given up at the first-audio bound: counted once, reply silent, queue free', async (t) => {
  const hung: TtsAdapter = {
    name: 'hung',
    synthesize: () => ({ [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<TtsChunk>>(() => {}) }) }),
  };
  const { clock, speaker, owner, boundary, metrics, lines } = setup(hung, 500);
  const first = speaker.say('hello there', true, true);
  await turnOfEvents();
  clock.advance(499);
  await turnOfEvents();
  t.same(owner.silent, [], 'not before the bound');
  clock.advance(1);
  await first;
  t.same(owner.silent, [1], 'the reply produced no audio');
  const second = speaker.say('again', true, true);
  await turnOfEvents();
  clock.advance(500);
  await second;
  t.same(owner.silent, [1, 2], 'the next reply is not stuck behind the hung one');
  t.equal(boundary.faults, 2);
  const text = await metrics.registry.metrics();
  t.match(text, /gateway_adapter_faults_total\{kind="tts",point="first-audio-timeout"\} 2/);
  t.equal(lines.filter((l) => l.includes('"tts adapter error"')).length, 1, 'logged once');
});
