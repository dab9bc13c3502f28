/**
 * A faulty bot on one of two live calls: its throws and rejections reach neither the process nor the other call.
 * Each case: a real gateway, a bystander whose frames must keep flowing, and a faulty call that must recover (the
 * caller hears the apology) or end as specified; the fault is counted (`gateway_adapter_faults_total{kind="bot"}`)
 * and logged once.
 */
import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VonageApiFake } from '../fakes/vonage-api.js';
import { openRawLeg } from '../helpers/raw-leg.js';
import { eventsOf, startGateway, until, untilEvent, untilLog, type TestGateway } from '../helpers/gateway.js';
import { goertzel } from '../helpers/raw-leg.js';
import { BYSTANDER, FAULTY, bystanderUnharmed, press, sample, twoCalls } from '../helpers/isolation.js';
import { APOLOGY_TEXT, BOT_FAILED_GOODBYE_TEXT } from '../../src/call/apology.js';
import { must } from '../helpers/must.js';

const BOT = './dist/test/fixtures/isolation-bot.js';
const TTS = './dist/test/fixtures/faulty-tts.js';
const ASR = './dist/test/fixtures/faulty-asr.js';
const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
const APOLOGY_FRAMES = APOLOGY_TEXT.split(/\s+/).length * 5;

function env(mode: string, extra: Record<string, string> = {}): Record<string, string> {
  return { BOT_ADAPTER: BOT, ISO_BOT_MODE: mode, ISO_FAULTY_CALL: FAULTY, TTS_ADAPTER: TTS, ...extra };
}

/** 'A' (440 Hz: the apology), 'R' (880 Hz: the bot's reply) or '.' for each frame. */
function voices(frames: Buffer[]): string {
  return frames
    .map((f) => {
      const a = goertzel(f, 16000, 440);
      const r = goertzel(f, 16000, 880);
      return a > 1e-3 && a > 10 * r ? 'A' : r > 1e-3 && r > 10 * a ? 'R' : '.';
    })
    .join('');
}

async function faultsAndLog(t: Test, g: TestGateway, point: string, code: string): Promise<void> {
  const m = await g.metrics();
  t.equal(sample(m, 'gateway_adapter_faults_total', { kind: 'bot', point }), 1, `counted: gateway_adapter_faults_total{kind="bot",point="${point}"}`);
  t.equal(sample(m, 'gateway_adapter_errors_total', { stage: 'bot', code }), 1, `and by code ${code}`);
  const lines = g.logs.filter((l) => l.msg === 'bot adapter error');
  t.equal(lines.length, 1, 'one log line');
  t.match(lines[0], { call: FAULTY, point, code }, 'naming the call, the point and the code');
}

async function apologyHeard(t: Test, g: TestGateway, leg: { binary: Buffer[]; ws: { readyState: number; OPEN: number } }): Promise<void> {
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.call === FAULTY, 10000, 'the apology played');
  t.match(eventsOf(g, 'apology'), [{ call: FAULTY }], 'the faulty call apologises');
  t.ok(voices(leg.binary).includes('A'.repeat(APOLOGY_FRAMES - 2)), 'the caller heard the apology');
  t.equal(leg.ws.readyState, leg.ws.OPEN, 'the faulty call goes on');
}

t.test('input() throws on start: apology, the call goes on; the bystander is unharmed', async (t) => {
  const g = await startGateway(t, env('input-start'));
  const { bystander, faulty } = await twoCalls(t, g);
  await apologyHeard(t, g, faulty.leg);
  await faultsAndLog(t, g, 'input', 'BOT_INPUT_FAILED');
  await bystanderUnharmed(t, g, bystander);
  t.equal(g.gw.tracker.size, 2);
});

t.test('input() throws on a DTMF (sent on one leg only): apology, the call goes on; logged once however often', async (t) => {
  const g = await startGateway(t, env('input-dtmf', { BOT_MAX_FAILURES: '5' }));
  const { bystander, faulty } = await twoCalls(t, g);
  await until(() => g.gw.tracker.size === 2, 5000, 'both calls up');
  await new Promise((r) => setTimeout(r, 200)); // the bot has started
  press(faulty.leg, '5');
  await apologyHeard(t, g, faulty.leg);
  await faultsAndLog(t, g, 'input', 'BOT_INPUT_FAILED');
  press(faulty.leg, '6');
  await until(() => eventsOf(g, 'apology', FAULTY).length === 2, 5000, 'a second apology');
  const m = await g.metrics();
  t.equal(sample(m, 'gateway_adapter_faults_total', { kind: 'bot', point: 'input' }), 2, 'the second throw is counted');
  t.equal(g.logs.filter((l) => l.msg === 'bot adapter error').length, 1, 'but not logged again');
  await bystanderUnharmed(t, g, bystander);
});

t.test('input() throws on a transcript: apology, the call goes on', async (t) => {
  const g = await startGateway(t, env('input-transcript', { ASR_ADAPTER: ASR, ISO_ASR_MODE: 'none' }));
  const { bystander, faulty } = await twoCalls(t, g);
  await faulty.caller.say(SPEECH);
  await untilEvent(g, 'transcript', (e) => e.final && e.call === FAULTY, 10000, 'a final transcript');
  await apologyHeard(t, g, faulty.leg);
  await faultsAndLog(t, g, 'input', 'BOT_INPUT_FAILED');
  await bystanderUnharmed(t, g, bystander);
});

t.test('input() throws on every input: one apology (for the start), not one per notification; the call goes on', async (t) => {
  const g = await startGateway(t, env('input-all'));
  const { bystander, faulty } = await twoCalls(t, g);
  await apologyHeard(t, g, faulty.leg);
  // The apology's playback notification throws too: counted, but answered with nothing.
  let faults = 0;
  for (let i = 0; i < 50 && faults < 2; i++) {
    await new Promise((r) => setTimeout(r, 100));
    faults = sample(await g.metrics(), 'gateway_adapter_faults_total', { kind: 'bot', point: 'input' });
  }
  t.ok(faults >= 2, `the playback input threw too (${faults} faults)`);
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(eventsOf(g, 'apology').length, 1, 'one apology');
  t.equal(g.logs.filter((l) => l.msg === 'bot adapter error').length, 1, 'one log line');
  t.equal(faulty.leg.ws.readyState, faulty.leg.ws.OPEN, 'the faulty call goes on');
  await bystanderUnharmed(t, g, bystander);
});

t.test('output throws: apology, the call goes on, later inputs are not delivered', async (t) => {
  const g = await startGateway(t, env('output-throw'));
  const { bystander, faulty } = await twoCalls(t, g);
  await apologyHeard(t, g, faulty.leg);
  await faultsAndLog(t, g, 'output', 'BOT_FAILED');
  press(faulty.leg, '1');
  await untilLog(g, (l) => l.msg === 'bot output has failed: inputs are no longer delivered', 5000, 'the dead bot gets no input');
  await bystanderUnharmed(t, g, bystander);
});

t.test("output rejects: apology; the error keeps the adapter's own code", async (t) => {
  const g = await startGateway(t, env('output-reject'));
  const { bystander, faulty } = await twoCalls(t, g);
  await apologyHeard(t, g, faulty.leg);
  await faultsAndLog(t, g, 'output', 'FIXTURE_BACKEND_DOWN');
  await bystanderUnharmed(t, g, bystander);
});

t.test('BOT_MAX_FAILURES reached: an apology, then a spoken goodbye, then the call (only that one) ends with 1011', async (t) => {
  const g = await startGateway(t, env('input-dtmf', { BOT_MAX_FAILURES: '2' }));
  const { bystander, faulty } = await twoCalls(t, g);
  await until(() => g.gw.tracker.size === 2, 5000, 'both calls up');
  await new Promise((r) => setTimeout(r, 200));
  press(faulty.leg, '1');
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.call === FAULTY, 10000, 'the apology played');
  const afterApology = faulty.leg.binary.length;
  press(faulty.leg, '2');
  const closed = await faulty.leg.closed;
  t.equal(closed.code, 1011, 'closed with 1011');
  t.match(closed.reason, /bot failed 2 times/);
  const goodbyeFrames = faulty.leg.binary.length - afterApology;
  const words = BOT_FAILED_GOODBYE_TEXT.split(/\s+/).length;
  t.ok(Math.abs(goodbyeFrames - words * 5) <= 2, `the whole goodbye played before the hang-up: ${goodbyeFrames} frames for ${words} words`);
  t.equal(eventsOf(g, 'apology').length, 1, 'one apology, then the goodbye');
  t.equal(sample(await g.metrics(), 'gateway_adapter_faults_total', { kind: 'bot', point: 'input' }), 2);
  await bystanderUnharmed(t, g, bystander);
  await until(() => g.gw.tracker.size === 1, 5000, 'only the faulty call is gone');
  t.equal(eventsOf(g, 'call-end', BYSTANDER).length, 0, 'the bystander call did not end');
});

t.test('BOT_MAX_FAILURES with Vonage call control: the goodbye, then a REST hangup of that call, then 1011', async (t) => {
  const APP_ID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const keyFile = join(mkdtempSync(join(tmpdir(), 'vgw-iso-')), 'private.key');
  writeFileSync(keyFile, keys.privateKey, { mode: 0o600 });
  const api = new VonageApiFake({ applicationId: APP_ID, publicKeyPem: keys.publicKey });
  await api.listen();
  t.teardown(() => api.close());
  const g = await startGateway(
    t,
    env('input-dtmf', { BOT_MAX_FAILURES: '1', VONAGE_APPLICATION_ID: APP_ID, VONAGE_PRIVATE_KEY: keyFile, VONAGE_API_URL: api.url }),
  );
  const { bystander } = await twoCalls(t, g);
  // The faulty call comes in as Vonage places it: answer webhook → NCCO → leg with its headers (region_url: the fake).
  const q = new URLSearchParams({ uuid: FAULTY, conversation_uuid: `CON-${FAULTY}`, from: '447700900001', to: '447700900000', region_url: api.url });
  const ncco = (await (await fetch(`${g.url}/webhooks/answer?${q}`)).json()) as Array<{ endpoint: Array<{ uri: string; headers: Record<string, string> }> }>;
  const leg = await openRawLeg(must(must(ncco[0]).endpoint[0]).uri.replace('//localhost:', '//127.0.0.1:'));
  t.teardown(() => leg.ws.terminate());
  leg.handshake('audio/l16;rate=16000', must(must(ncco[0]).endpoint[0]).headers);
  await until(() => g.gw.tracker.size === 2, 5000, 'both calls up');
  await new Promise((r) => setTimeout(r, 200));
  press(leg, '9');
  const closed = await leg.closed;
  t.equal(closed.code, 1011, 'closed with 1011');
  const hangups = api
    .accepted('updateCall')
    .filter((r) => r.path === `/v1/calls/${FAULTY}`)
    .map((r) => (r.body as { action: string }).action);
  t.same(hangups, ['hangup'], 'the whole call was hung up over REST first');
  t.ok(leg.binary.length >= 50, `the goodbye was heard first (${leg.binary.length} frames)`);
  await bystanderUnharmed(t, g, bystander);
  t.equal(api.accepted('updateCall').filter((r) => r.path === `/v1/calls/${BYSTANDER}`).length, 0, 'nothing was done to the bystander');
});

t.test('a stalled bot that wakes up during the apology: the caller hears the apology, then the reply, never mixed', async (t) => {
  const reply = 'This is the late answer from the bot and it is eleven words long.';
  const g = await startGateway(
    t,
    env('stall-then-wake', {
      ASR_ADAPTER: ASR,
      ISO_ASR_MODE: 'none',
      BOT_REPLY_TIMEOUT_MS: '500',
      ISO_WAKE_MS: '1000',
      ISO_REPLY_TEXT: reply,
      TONE_TTS_REALTIME: '1',
    }),
  );
  const { bystander, faulty } = await twoCalls(t, g);
  await faulty.caller.say(SPEECH);
  await untilEvent(g, 'apology', (e) => e.call === FAULTY, 10000, 'the stall is noticed');
  const replyFrames = reply.split(/\s+/).length * 5;
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.call === FAULTY, 10000, 'a reply played');
  // Not asserted here: with the bug this is never reached (the reply mixed into the apology is cut short).
  await until(() => faulty.leg.binary.length >= APOLOGY_FRAMES + replyFrames - 4, 8000).catch(() => {});
  const heard = voices(faulty.leg.binary).replace(/\./g, '');
  t.match(heard, /^A+R+$/, 'every apology frame before every reply frame');
  await until(() => eventsOf(g, 'reply-done', FAULTY).filter((e) => !e.interrupted).length === 2, 5000, 'two replies played');
  // Both played (Vonage's notify of the reply came after its last frame): everything the caller will hear is in.
  const all = voices(faulty.leg.binary).replace(/\./g, '');
  t.ok(Math.abs(all.indexOf('R') - APOLOGY_FRAMES) <= 2, `the whole apology (${all.indexOf('R')} frames)`);
  t.ok(Math.abs(all.length - all.indexOf('R') - replyFrames) <= 2, `then the whole reply (${all.length - all.indexOf('R')} frames)`);
  t.equal(eventsOf(g, 'apology').length, 1);
  await bystanderUnharmed(t, g, bystander);
});
