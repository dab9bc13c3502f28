/**
 * The end-of-turn detector at the adapter boundary, in a real gateway: a custom detector that throws, rejects, hangs
 * or answers malformed on some calls falls back to the heuristic there (each call's bot still gets its final; one fault
 * counted and logged per call), while a bystander call on the same detector gets its answers and no fault. And a bad
 * TURN_DETECTOR module is refused at start-up with a message naming the setting.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { startGateway, until, metricValue, type TestGateway } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';
import { checkTurnDetector, loadTurnDetector } from '../../src/turn-detect/load.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildGateway } from '../../src/app.js';
import { defineTurnDetector } from '../../src/sdk/define-turn-detector.js';
import { must } from '../helpers/must.js';
import { adapterContext } from '../../src/adapters.js';

const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/cards/001.wav').subarray(44);
const botFinals = (g: TestGateway, call: string) =>
  g.logs.filter((l) => l.msg === 'bot transcript' && l.final === true && l.call === call).map((l) => String(l.text));

t.test('a failing detector falls back on its call only; the bystander is unaffected', async (t) => {
  const g = await startGateway(t, {
    ASR_ADAPTER: './dist/test/fixtures/text-asr.js',
    SCRIPTED_ASR_TEXTS: 'go forward ten meters',
    BOT_ADAPTER: './dist/test/fixtures/final-log-bot.js',
    TURN_DETECTOR: './dist/test/fixtures/faulty-turn-detector.js',
  });
  const calls = ['throw-1', 'reject-1', 'hang-1', 'bad-1', 'bystander-1'];
  const legs = await Promise.all(calls.map(() => openRawLeg(`ws://127.0.0.1:${g.port}/socket`)));
  calls.forEach((uuid, i) => must(legs[i]).handshake('audio/l16;rate=16000', { uuid }));
  // Speech (1.5 s), then silence: the VAD's end of speech makes the scripted ASR give its final.
  await Promise.all(
    legs.map(async (l) => {
      await streamFrames(l.ws, SPEECH, 640, 75);
      await streamFrames(l.ws, Buffer.alloc(640), 640, 60);
    }),
  );
  await until(() => calls.every((c) => botFinals(g, c).length === 1), 15000, 'a final at every bot');
  for (const c of calls) t.same(botFinals(g, c), ['go forward ten meters'], `${c}: the bot got its final`);
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_adapter_faults_total{kind="turn",point="predict"}'), 4, 'one fault per failing call');
  const faultLogs = g.logs.filter((l) => l.msg === 'turn adapter error');
  t.same(faultLogs.map((l) => l.call).sort(), ['bad-1', 'hang-1', 'reject-1', 'throw-1'], 'logged once per failing call, never for the bystander');
  t.same(faultLogs.map((l) => l.code).sort(), ['TURN_DETECT_FAILED', 'TURN_DETECT_FAILED', 'TURN_DETECT_MALFORMED', 'TURN_DETECT_TIMEOUT']);
  for (const l of legs) t.equal(l.ws.readyState, l.ws.OPEN, 'every call is still up');
  t.equal((await fetch(`${g.url}/healthz`)).status, 200, 'the process is up');
  for (const l of legs) l.ws.close();
});

t.test('a bad TURN_DETECTOR is refused at start-up, naming the setting', async (t) => {
  const ctx = adapterContext(loadConfig({}), createLogger('silent'));
  const cases: Array<[string, RegExp]> = [
    ['./dist/test/fixtures/nope.js', /TURN_DETECTOR=\.\/dist\/test\/fixtures\/nope\.js: cannot import module/],
    ['no-such-detector', /TURN_DETECTOR=no-such-detector: not `builtin` nor a module path/],
    ['./dist/test/fixtures/final-log-bot.js', /TURN_DETECTOR=.*: module exports no detector/],
  ];
  for (const [spec, re] of cases) await t.rejects(loadTurnDetector(spec, ctx), re, spec);
  const bad = await import('../fixtures/bad-turn-detectors.js');
  t.throws(() => checkTurnDetector('x.mjs', bad.noPredict()), /TURN_DETECTOR=x\.mjs: the detector is missing method predict\(\)/);
  t.throws(() => checkTurnDetector('x.mjs', bad.noName()), /TURN_DETECTOR=x\.mjs: the detector has no name/);
  t.throws(() => checkTurnDetector('x.mjs', bad.notObject()), /TURN_DETECTOR=x\.mjs: the module gave number/);
  t.throws(() => checkTurnDetector('x.mjs', bad.badClose()), /TURN_DETECTOR=x\.mjs: close is not a function/);
  // Through the gateway's start: the error names the setting and nothing is left listening.
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', ASR_ADAPTER: 'none', TTS_ADAPTER: 'none', TURN_DETECTOR: './dist/test/fixtures/faulty-asr.js' });
  await t.rejects(buildGateway({ config, logger: createLogger('silent'), env: {} }), /TURN_DETECTOR=\.\/dist\/test\/fixtures\/faulty-asr\.js: /);
  t.equal((await loadTurnDetector('builtin', ctx)).name, 'builtin');
  t.equal((await loadTurnDetector('./examples/my-turn-detector.mjs', ctx)).name, 'my-turn-detector', 'the example loads');
});

t.test('defineTurnDetector checks answers and takes numbers', async (t) => {
  const d = defineTurnDetector({ name: 'n', predict: ({ text }) => (text === 'async' ? Promise.resolve(0.2) : text === 'bad' ? 3 : 0.7) });
  const input = { text: 'x', final: true, silenceMs: 0, callId: 'c', language: 'en-US', sampleRateHz: 16000 };
  const signal = new AbortController().signal;
  t.same(d.predict(input, signal), { complete: 0.7 });
  t.same(await d.predict({ ...input, text: 'async' }, signal), { complete: 0.2 });
  t.throws(() => d.predict({ ...input, text: 'bad' }, signal), { code: 'TURN_DETECT_MALFORMED' });
  t.throws(() => defineTurnDetector({ name: '', predict: () => 1 }), /name/);
});
