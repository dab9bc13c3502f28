/**
 * The speaker's per-reply choices (sidecar protocol 1.1), at unit level: a reply's language and voice reach its TTS
 * requests (and only its own), the bot's id for a reply is kept until the session takes it for the playback event,
 * and a reply cut before any of its audio was made is reported once, as interrupted (its segment is open from the
 * start), so a bot waiting for a playback event of its id always gets one.
 */
import t from 'tap';
import { ManualClock } from '../../src/util/clock.js';
import { Ticker } from '../../src/util/ticker.js';
import { Pacer } from '../../src/egress/pacer.js';
import { Metrics } from '../../src/observability/metrics.js';
import { createLogger } from '../../src/observability/logger.js';
import { AdapterBoundary } from '../../src/call/boundary.js';
import { Speaker } from '../../src/call/speaker.js';
import type { TtsAdapter, TtsChunk, TtsRequest } from '../../src/tts/types.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { loadResampler } from '../../src/audio/resampler.js';

await loadResampler();

const RATE = 16000;
const call: CallInfo = {
  callId: 'c1',
  conversationUuid: undefined,
  from: undefined,
  to: undefined,
  sampleRateHz: RATE,
  language: 'en-US',
  voice: 'call-voice',
  metadata: {},
};

/** A TTS that records each request and, for texts starting "slow", waits for `release()` before its audio. */
function recordingTts() {
  const requests: Array<{ text: string; language: string; voice: string | undefined }> = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const tts: TtsAdapter = {
    name: 'recording',
    async *synthesize(req: TtsRequest): AsyncIterable<TtsChunk> {
      requests.push({ text: req.text, language: req.call.language, voice: req.voice });
      if (/^slow/.test(req.text)) await gate;
      if (req.signal.aborted) return;
      yield { audio: new Int16Array(RATE / 10).fill(3000), sampleRateHz: RATE };
    },
  };
  return { tts, requests, release: () => release() };
}

function setup(tts: TtsAdapter) {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  const sink = { bufferedAmount: 0, sendFrame: () => {}, sendText: () => {} };
  const ended: Array<[number, string]> = [];
  const pacer = new Pacer({ frameBytes: 640, leadFrames: 5, capacityFrames: 3000, watermarkBytes: 1 << 20 }, sink, ticker, clock, {
    onSegmentStart: () => {},
    onSegmentPlayed: (id) => ended.push([id, 'played']),
    onSegmentInterrupted: (id) => ended.push([id, 'interrupted']),
  });
  const metrics = new Metrics();
  const log = createLogger('error', { write: () => {} });
  const speaker = new Speaker(
    { tts, pacer, call, signal: new AbortController().signal, clock, metrics, log, boundary: new AdapterBoundary(metrics, log), ttsFirstAudioTimeoutMs: 0 },
    { onReplyOpened: () => {}, onReplySilent: (id) => ended.push([id, 'silent']), onSay: () => {} },
  );
  return { speaker, ended };
}

t.test('language and voice per reply; the next reply is back to the call defaults', async (t) => {
  const r = recordingTts();
  const { speaker } = setup(r.tts);
  await speaker.say('bonjour tout le monde.', true, true, { id: 'fr', language: 'fr-FR', voice: 'fr-FR-DeniseNeural' });
  await speaker.say('first sentence.', false, true, { id: 'de', language: 'de-DE' });
  await speaker.say('second sentence.', true, true); // a later piece of the same reply: the reply's choices hold
  await speaker.say('hello again.', true, true);
  t.same(r.requests, [
    { text: 'bonjour tout le monde.', language: 'fr-FR', voice: 'fr-FR-DeniseNeural' },
    { text: 'first sentence.', language: 'de-DE', voice: 'call-voice' },
    { text: 'second sentence.', language: 'de-DE', voice: 'call-voice' },
    { text: 'hello again.', language: 'en-US', voice: 'call-voice' },
  ]);
  t.equal(speaker.takeTag(1), 'fr', "reply 1's id");
  t.equal(speaker.takeTag(1), undefined, 'taken once');
  t.equal(speaker.takeTag(2), 'de');
  t.equal(speaker.takeTag(3), undefined, 'a reply without an id has none');
});

t.test('a play keeps its id; a reply cut before any audio is reported as interrupted', async (t) => {
  const r = recordingTts();
  const { speaker, ended } = setup(r.tts);
  await speaker.play(new Int16Array(1600).fill(1000), RATE, true, 'beep');
  t.equal(speaker.takeTag(1), 'beep');
  const pending = speaker.say('slow reply.', true, true, { id: 'slow' });
  await new Promise((res) => setImmediate(res));
  t.ok(
    r.requests.some((q) => q.text === 'slow reply.'),
    'synthesis under way',
  );
  speaker.clear(); // barge-in while the TTS has produced nothing yet
  r.release();
  await pending;
  t.same(
    ended.filter(([id]) => id === 2),
    [[2, 'interrupted']],
    'reply 2 ended exactly once, as interrupted',
  );
  t.same(
    ended.filter(([id]) => id === 1),
    [[1, 'interrupted']],
    'the play (queued, not yet played) was reported by the pacer',
  );
  t.equal(speaker.takeTag(2), 'slow', 'its id is there for its playback event');
});
