/**
 * Providers failing under a live call, each with a real gateway and a raw Vonage leg: a TTS that is down falls back
 * to the next one; a bot that crashes or stops answering gets the caller an apology and the call goes on; Vonage's
 * socket dropping mid-reply (pacer sending, Flite synthesising in its workers, pocketsphinx running as a child
 * process, the call being recorded) leaves nothing behind.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventsOf, metricSum, metricValue, startGateway, until, untilEvent } from '../helpers/gateway.js';
import { ContinuousCaller, goertzel, openRawLeg } from '../helpers/raw-leg.js';
import { childPids, openFilesUnder, resources, threadCount } from '../helpers/resources.js';
import { readRecording } from '../helpers/recording.js';
import { FallbackTts } from '../../src/tts/fallback.js';
import { APOLOGY_TEXT } from '../../src/call/apology.js';

const SINE = './dist/test/fixtures/sine-tts.js';
const FAILING = './dist/test/fixtures/failing-tts.js';
const FAULTY_BOT = './dist/test/fixtures/faulty-bot.js';
const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');

function tonePower(frames: Buffer[], hz: number): { at: number; off: number } {
  const pcm = Buffer.concat(frames);
  return { at: goertzel(pcm, 16000, hz), off: goertzel(pcm, 16000, 1000) };
}

t.test('a TTS that fails before producing audio falls back to the next; the caller hears the reply', async (t) => {
  const g = await startGateway(t, { TTS_ADAPTER: `${FAILING},${SINE}` });
  const tts = g.gw.adapters.tts;
  t.ok(tts instanceof FallbackTts, 'a list of TTS adapters is wrapped in the fallback');
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'tts-fallback-1' });
  // The echo bot greets: the failing TTS throws, the sine TTS speaks.
  await untilEvent(g, 'reply-done', (e) => !e.interrupted, 10000, 'the greeting played');
  t.ok(leg.binary.length >= 30, `greeting frames heard: ${leg.binary.length}`);
  const p = tonePower(leg.binary, 440);
  t.ok(p.at > 10 * p.off, 'it is the fallback (440 Hz sine) speaking');
  t.equal((tts as FallbackTts).stats.fallbacks, 1, 'the fallback is counted');
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_tts_fallbacks_total{adapter="failing"}'), 1, 'and exported, naming the adapter that failed');
  t.equal(metricSum(m, 'gateway_adapter_errors_total{stage="tts"'), 0, 'no error reached the session');
  leg.ws.close(1000);
});

t.test('when every TTS fails, the reply is reported as producing no audio and the call goes on', async (t) => {
  const g = await startGateway(t, { TTS_ADAPTER: `${FAILING},${FAILING}` });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'tts-exhausted-1' });
  await untilEvent(g, 'reply-done', (e) => e.totalMs === 0, 10000, 'the greeting produced no audio');
  t.equal(
    metricValue(await g.metrics(), 'gateway_adapter_errors_total{stage="tts",code="PROVIDER_DOWN"}'),
    1,
    "the last failure reaches the session with the provider's code, counted by that code",
  );
  t.equal((g.gw.adapters.tts as FallbackTts).stats.exhausted, 1);
  t.equal(leg.ws.readyState, leg.ws.OPEN, 'the call is still up');
  t.equal(g.gw.tracker.size, 1);
  leg.ws.close(1000);
});

t.test('a bot whose output throws: the caller hears a spoken apology and the call goes on', async (t) => {
  const g = await startGateway(t, { BOT_ADAPTER: FAULTY_BOT, FAULTY_BOT: 'throw', TTS_ADAPTER: SINE });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'bot-throws-1' });
  await untilEvent(g, 'reply-done', (e) => !e.interrupted, 10000, 'the apology played');
  t.equal(metricValue(await g.metrics(), 'gateway_adapter_errors_total{stage="bot",code="BOT_FAILED"}'), 1, 'the failure is counted');
  t.match(eventsOf(g, 'apology'), [{ why: 'the bot failed', call: 'bot-throws-1' }], 'one apology, saying why');
  // The bot never said anything: every frame heard is the apology, as long as its words (sine TTS: 100 ms a word).
  const words = APOLOGY_TEXT.split(/\s+/).length;
  t.ok(Math.abs(leg.binary.length - words * 5) <= 2, `apology length: ${leg.binary.length} frames for ${words} words`);
  const p = tonePower(leg.binary, 440);
  t.ok(p.at > 10 * p.off, 'spoken through the TTS');
  t.equal(leg.ws.readyState, leg.ws.OPEN, 'the call goes on');
  t.equal(g.gw.tracker.size, 1);
  leg.ws.close(1000);
});

t.test('a bot whose output throws, without TTS: the caller hears the apology tone', async (t) => {
  const g = await startGateway(t, { BOT_ADAPTER: FAULTY_BOT, FAULTY_BOT: 'throw' });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'bot-throws-2' });
  await untilEvent(g, 'reply-done', (e) => !e.interrupted, 10000, 'the apology tone played');
  t.equal(leg.binary.length, 35, 'two 300 ms beeps and a 100 ms gap: 35 frames');
  const p = tonePower(leg.binary, 480);
  t.ok(p.at > 10 * p.off, '480 Hz beeps');
  t.equal(g.gw.tracker.size, 1, 'the call goes on');
  leg.ws.close(1000);
});

t.test('a bot that stalls (a final transcript goes unanswered): apology after BOT_REPLY_TIMEOUT_MS', async (t) => {
  const g = await startGateway(t, {
    BOT_ADAPTER: FAULTY_BOT,
    FAULTY_BOT: 'stall',
    TTS_ADAPTER: SINE,
    ASR_ADAPTER: './dist/test/fixtures/counting-asr.js',
    BOT_REPLY_TIMEOUT_MS: '1000',
  });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'bot-stalls-1' });
  const caller = new ContinuousCaller(leg.ws, 640);
  caller.start();
  t.teardown(() => caller.stop());
  await caller.say(SPEECH);
  const final = await untilEvent(g, 'transcript', (e) => e.final, 10000, 'a final transcript');
  t.equal(leg.binary.length, 0, 'the bot has said nothing');
  const apology = await untilEvent(g, 'apology', () => true, 10000, 'the stall is noticed');
  t.equal(apology.why, 'the bot did not answer in time');
  t.ok(apology.at - final.at >= 1000, 'not before the timeout');
  await untilEvent(g, 'reply-done', (e) => !e.interrupted, 10000, 'the apology played');
  t.ok(leg.binary.length >= 50, `apology heard: ${leg.binary.length} frames`);
  t.equal(g.gw.tracker.size, 1, 'the call goes on');
  t.equal(eventsOf(g, 'apology').length, 1, 'one apology per unanswered transcript');
  caller.stop();
  leg.ws.close(1000);
});

t.test('Vonage socket destroyed mid-reply while Flite synthesises, pocketsphinx runs and the call is recorded: nothing left', async (t) => {
  await readFile(new URL(import.meta.url)); // libuv's thread pool is up before the baseline
  await new Promise((r) => setTimeout(r, 50));
  const before = resources();
  const threadsBefore = threadCount();
  const childrenBefore = childPids();
  const dir = join(mkdtempSync(join(tmpdir(), 'faults-')), 'rec');
  // The first Flite synthesis in a busy tap child can take seconds: this test is about teardown, not the TTS bound.
  const g = await startGateway(t, {
    BOT_ADAPTER: FAULTY_BOT,
    FAULTY_BOT: 'talk',
    TTS_ADAPTER: 'flite',
    ASR_ADAPTER: 'local',
    RECORDING_DIR: dir,
    TTS_FIRST_AUDIO_TIMEOUT_MS: '30000',
  });
  t.ok(threadCount() > threadsBefore, 'Flite worker threads are running');
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'drop-mid-reply' });
  const caller = new ContinuousCaller(leg.ws, 640);
  caller.start();
  t.teardown(() => caller.stop());
  await until(() => leg.binary.length >= 5, 15000, 'the long reply is playing');
  await until(() => childPids().length > childrenBefore.length, 5000, 'pocketsphinx is running');
  t.equal(openFilesUnder(dir).length, 1, 'the recording is open');
  t.ok(g.gw.ticker.size >= 1, 'the call is on the shared clock');
  caller.stop();
  leg.ws.terminate(); // the TCP socket is destroyed: no close frame

  await until(() => g.gw.tracker.size === 0, 5000, 'session gone');
  await until(() => g.gw.ticker.size === 0, 5000, 'no tick listeners');
  await until(() => childPids().length === childrenBefore.length, 5000, 'pocketsphinx exited');
  await until(() => g.gw.recordings?.stats.active === 0, 5000, 'recording finished');
  t.same(openFilesUnder(dir), [], 'the recording file is closed');
  t.ok(existsSync(join(dir, 'drop-mid-reply.json')), 'its metadata is written');
  const r = readRecording(join(dir, 'drop-mid-reply.wav'));
  t.equal(r.dataSize, r.bytes.length - 44, 'the WAV is complete');
  t.ok(
    eventsOf(g, 'reply-done', 'drop-mid-reply').some((e) => e.interrupted),
    'the cut reply is reported',
  );
  t.equal(eventsOf(g, 'call-end', 'drop-mid-reply')[0]?.summary.closeCode, 1006);

  await g.gw.close();
  await until(() => threadCount() <= threadsBefore, 5000, `worker threads gone (${threadCount()} > ${threadsBefore})`).catch(() => {});
  t.ok(threadCount() <= threadsBefore, `threads: ${threadCount()} ≤ ${threadsBefore}`);
  await new Promise((r) => setTimeout(r, 100));
  const after = resources();
  for (const k of ['Timeout', 'TCPSocketWrap', 'TCPServerWrap', 'ProcessWrap', 'PipeWrap', 'FSReqCallback']) {
    t.ok((after[k] ?? 0) <= (before[k] ?? 0), `${k}: ${after[k] ?? 0} ≤ ${before[k] ?? 0}`);
  }
});
