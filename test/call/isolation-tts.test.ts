/**
 * A faulty TTS on one of two live calls: a `synthesize` that throws, an iterator that throws mid-stream, and one that
 * never yields (bounded by TTS_FIRST_AUDIO_TIMEOUT_MS) reach neither the process nor the other call. With one TTS the
 * reply ends with what was heard (or "produced no audio") and the call goes on; with a list, an adapter that fails
 * before audio (a timeout included) hands the text to the next one.
 */
import t, { type Test } from 'tap';
import { eventsOf, metricSum, metricValue, startGateway, until, untilEvent, type TestGateway } from '../helpers/gateway.js';
import { goertzel } from '../helpers/raw-leg.js';
import { FAULTY, bystanderUnharmed, press, sample, twoCalls } from '../helpers/isolation.js';
import { FallbackTts } from '../../src/tts/fallback.js';

const TTS = './dist/test/fixtures/faulty-tts.js';
const SINE = './dist/test/fixtures/sine-tts.js';
const BOT = './dist/test/fixtures/isolation-bot.js';
/** The faulty call's bot says this at start (10 words: 50 frames from the tone TTS). */
const TEXT = 'one two three four five six seven eight nine ten';

function env(mode: string, extra: Record<string, string> = {}): Record<string, string> {
  return { TTS_ADAPTER: TTS, ISO_TTS_MODE: mode, ISO_FAULTY_CALL: FAULTY, BOT_ADAPTER: BOT, ISO_BOT_MODE: 'say', ISO_REPLY_TEXT: TEXT, ...extra };
}

async function countedOnce(t: Test, g: TestGateway, point: string, code: string, n = 1): Promise<void> {
  const m = await g.metrics();
  t.equal(sample(m, 'gateway_adapter_faults_total', { kind: 'tts', point }), n, `counted: gateway_adapter_faults_total{kind="tts",point="${point}"} = ${n}`);
  t.equal(sample(m, 'gateway_adapter_errors_total', { stage: 'tts', code }), n, `and by code ${code}`);
  const lines = g.logs.filter((l) => l.msg === 'tts adapter error');
  t.equal(lines.length, 1, 'one log line');
  t.match(lines[0], { call: FAULTY, point, code }, 'naming the call, the point and the code');
}

t.test('TTS iterator throws mid-stream: the reply ends with what was heard, the call goes on', async (t) => {
  const g = await startGateway(t, env('throw-mid'));
  const { bystander, faulty } = await twoCalls(t, g);
  const played = await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.totalMs > 0 && e.call === FAULTY, 10000, 'the cut reply played');
  t.equal(played.totalMs, 300, 'three words were synthesised before the throw, and they were played');
  t.equal(faulty.leg.binary.length, 15);
  await countedOnce(t, g, 'stream', 'FIXTURE_TTS_BROKE');
  press(faulty.leg, '1'); // the bot says the text again: fails the same way, counted, not logged again
  await until(() => eventsOf(g, 'reply-done', FAULTY).filter((e) => !e.interrupted && e.totalMs > 0).length === 2, 10000, 'a second reply');
  await countedOnce(t, g, 'stream', 'FIXTURE_TTS_BROKE', 2);
  t.equal(faulty.leg.ws.readyState, faulty.leg.ws.OPEN, 'the faulty call goes on');
  await bystanderUnharmed(t, g, bystander);
});

t.test('TTS synthesize() throws: the reply produced no audio, the call goes on', async (t) => {
  const g = await startGateway(t, env('sync-throw'));
  const { bystander, faulty } = await twoCalls(t, g);
  await untilEvent(g, 'reply-done', (e) => e.totalMs === 0 && e.call === FAULTY, 10000, 'the failed reply (no audio)');
  await countedOnce(t, g, 'synthesize', 'TTS_FAILED');
  t.equal(faulty.leg.binary.length, 0);
  t.equal(faulty.leg.ws.readyState, faulty.leg.ws.OPEN, 'the faulty call goes on');
  await bystanderUnharmed(t, g, bystander);
});

t.test('a TTS that never yields: after TTS_FIRST_AUDIO_TIMEOUT_MS the reply produced no audio; the call goes on', async (t) => {
  const g = await startGateway(t, env('never', { TTS_FIRST_AUDIO_TIMEOUT_MS: '300' }));
  const { bystander, faulty } = await twoCalls(t, g);
  await untilEvent(g, 'reply-done', (e) => e.totalMs === 0 && e.call === FAULTY, 10000, 'the timed-out reply (no audio)');
  await countedOnce(t, g, 'first-audio-timeout', 'TTS_FIRST_AUDIO_TIMEOUT');
  press(faulty.leg, '1'); // the call is not stuck behind the hung request: the next reply is tried (and times out too)
  await until(() => eventsOf(g, 'reply-done', FAULTY).filter((e) => e.totalMs === 0).length === 2, 10000, 'a second reply');
  await countedOnce(t, g, 'first-audio-timeout', 'TTS_FIRST_AUDIO_TIMEOUT', 2);
  t.equal(faulty.leg.ws.readyState, faulty.leg.ws.OPEN, 'the faulty call goes on');
  await bystanderUnharmed(t, g, bystander);
});

t.test('in a TTS list, one that never yields times out and the next one speaks', async (t) => {
  const g = await startGateway(t, env('never', { TTS_ADAPTER: `${TTS},${SINE}`, TTS_FIRST_AUDIO_TIMEOUT_MS: '300' }));
  const { bystander, faulty } = await twoCalls(t, g);
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.totalMs > 0 && e.call === FAULTY, 10000, 'the reply played');
  t.equal((g.gw.adapters.tts as FallbackTts).stats.fallbacks, 1, 'the timeout is a failure before audio: next adapter');
  t.equal(metricValue(await g.metrics(), 'gateway_tts_fallbacks_total{adapter="faulty-tts"}'), 1, 'counted for the adapter that timed out');
  t.ok(Math.abs(faulty.leg.binary.length - 50) <= 2, `the whole text, spoken by the next TTS (${faulty.leg.binary.length} frames)`);
  const pcm = Buffer.concat(faulty.leg.binary);
  t.ok(goertzel(pcm, 16000, 440) > 10 * goertzel(pcm, 16000, 880), 'in its voice (440 Hz sine)');
  t.equal(metricSum(await g.metrics(), 'gateway_adapter_errors_total{stage="tts"'), 0, 'nothing failed at the call');
  await bystanderUnharmed(t, g, bystander);
});

t.test('in a TTS list, one that throws after audio is not retried: the reply ends with what was heard', async (t) => {
  const g = await startGateway(t, env('throw-mid', { TTS_ADAPTER: `${TTS},${SINE}` }));
  const { bystander } = await twoCalls(t, g);
  const played = await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.totalMs > 0 && e.call === FAULTY, 10000, 'the cut reply played');
  t.equal(played.totalMs, 300);
  t.equal((g.gw.adapters.tts as FallbackTts).stats.fallbacks, 0, 'no switch of voice mid-sentence');
  t.equal(metricSum(await g.metrics(), 'gateway_tts_fallbacks_total'), 0, 'none counted');
  await countedOnce(t, g, 'stream', 'FIXTURE_TTS_BROKE');
  await bystanderUnharmed(t, g, bystander);
});

t.test('in a TTS list where every adapter hangs, the call still never waits forever', async (t) => {
  const g = await startGateway(t, env('never', { TTS_ADAPTER: `${TTS},${TTS}`, TTS_FIRST_AUDIO_TIMEOUT_MS: '300' }));
  const { bystander, faulty } = await twoCalls(t, g);
  await untilEvent(g, 'reply-done', (e) => e.totalMs === 0 && e.call === FAULTY, 10000, 'the timed-out reply (no audio)');
  await countedOnce(t, g, 'first-audio-timeout', 'TTS_FIRST_AUDIO_TIMEOUT');
  t.equal((g.gw.adapters.tts as FallbackTts).stats.exhausted, 1);
  t.equal(faulty.leg.ws.readyState, faulty.leg.ws.OPEN);
  await bystanderUnharmed(t, g, bystander);
});
