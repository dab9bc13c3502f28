/**
 * A faulty ASR on one of two live calls: a throwing `write()` (at JITTER_TARGET_MS=0, where the frame is handed over
 * from the socket's message handler, and at the default depth, from the 20 ms tick), a throwing `endOfSpeech()` and a
 * throwing `events` iterator reach neither the process nor the other call: the faulty call goes on without ASR, the
 * fault is counted and logged once. In a fallback chain a throwing `write()` moves the call to the next adapter.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { startGateway, untilEvent, untilLog, untilMetrics, type TestGateway } from '../helpers/gateway.js';
import { FAULTY, bystanderUnharmed, sample, twoCalls } from '../helpers/isolation.js';
import { faultyWrites } from '../fixtures/faulty-asr.js';

const ASR = './dist/test/fixtures/faulty-asr.js';
const TEXT_ASR = './dist/test/fixtures/text-asr.js';
const BOT = './dist/test/fixtures/isolation-bot.js';
const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');

function env(mode: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ASR_ADAPTER: ASR, ISO_ASR_MODE: mode, ISO_FAULTY_CALL: FAULTY, BOT_ADAPTER: BOT, ISO_BOT_MODE: 'say', ...extra };
}

async function countedOnce(t: Test, g: TestGateway, point: string, code: string): Promise<void> {
  const m = await g.metrics();
  t.equal(sample(m, 'gateway_adapter_faults_total', { kind: 'asr', point }), 1, `counted once: gateway_adapter_faults_total{kind="asr",point="${point}"}`);
  t.equal(sample(m, 'gateway_adapter_errors_total', { stage: 'asr', code }), 1, `and by code ${code}`);
  const lines = g.logs.filter((l) => l.msg === 'asr adapter error');
  t.equal(lines.length, 1, 'one log line');
  t.match(lines[0], { call: FAULTY, point, code }, 'naming the call, the point and the code');
  t.match(
    g.logs.find((l) => l.msg === 'asr stream failed: the call goes on without ASR'),
    { call: FAULTY },
  );
}

for (const jitter of ['0', undefined]) {
  t.test(`ASR write() throws on every frame (JITTER_TARGET_MS=${jitter ?? 'default'}): the call goes on without ASR, logged once`, async (t) => {
    const g = await startGateway(t, env('write-throw', jitter === undefined ? {} : { JITTER_TARGET_MS: jitter }));
    const { bystander, faulty } = await twoCalls(t, g);
    await untilLog(g, (l) => l.msg === 'asr adapter error', 5000, 'the fault');
    const writes = faultyWrites.count;
    await new Promise((r) => setTimeout(r, 500)); // 25 more frames arrive on the faulty call
    t.equal(faultyWrites.count, writes, 'the failed stream is not written to again');
    await countedOnce(t, g, 'write', 'ASR_WRITE_FAILED');
    t.equal(faulty.leg.ws.readyState, faulty.leg.ws.OPEN, 'the faulty call goes on');
    await bystanderUnharmed(t, g, bystander);
    t.equal(g.gw.tracker.size, 2);
    faultyWrites.count = 0;
  });
}

t.test('ASR events iterator throws: counted as a fault (ASR_STREAM_FAILED), the call goes on without ASR', async (t) => {
  const g = await startGateway(t, env('events-throw'));
  const { bystander, faulty } = await twoCalls(t, g);
  await untilLog(g, (l) => l.msg === 'asr adapter error', 5000, 'the fault');
  await countedOnce(t, g, 'events', 'ASR_STREAM_FAILED');
  t.equal(faulty.leg.ws.readyState, faulty.leg.ws.OPEN, 'the faulty call goes on');
  await bystanderUnharmed(t, g, bystander);
});

t.test('ASR endOfSpeech() throws: the call goes on without ASR', async (t) => {
  const g = await startGateway(t, env('eos-throw'));
  const { bystander, faulty } = await twoCalls(t, g);
  await faulty.caller.say(SPEECH);
  await untilLog(g, (l) => l.msg === 'asr adapter error', 10000, 'the fault');
  await countedOnce(t, g, 'endOfSpeech', 'ASR_END_OF_SPEECH_FAILED');
  t.equal(faulty.leg.ws.readyState, faulty.leg.ws.OPEN, 'the faulty call goes on');
  await bystanderUnharmed(t, g, bystander);
});

t.test('in a fallback chain, a throwing write() moves the call to the next adapter, which hears the caller', async (t) => {
  const g = await startGateway(
    t,
    env('write-throw', { ASR_ADAPTER: `${ASR},${TEXT_ASR}`, SCRIPTED_ASR_TEXTS: 'from the next adapter', JITTER_TARGET_MS: '0' }),
  );
  const { bystander, faulty } = await twoCalls(t, g);
  const m = await untilMetrics(g, (m) => sample(m, 'gateway_asr_failovers_total', { from: 'faulty-asr', to: 'scripted' }) > 0, 5000, 'the failover');
  t.equal(sample(m, 'gateway_asr_failovers_total', { from: 'faulty-asr', to: 'scripted' }), 1, 'the failover is counted');
  t.equal(sample(m, 'gateway_adapter_errors_total', { stage: 'asr', code: 'ASR_WRITE_FAILED' }), 1, 'the failure is counted by its code');
  t.equal(sample(m, 'gateway_adapter_faults_total', { kind: 'asr', point: 'write' }), 0, 'nothing reached the call: the chain contained it');
  await faulty.caller.say(SPEECH);
  await untilEvent(g, 'transcript', (e) => e.final && e.call === FAULTY && e.text === 'from the next adapter', 10000, 'a transcript from the next adapter');
  await bystanderUnharmed(t, g, bystander);
});
