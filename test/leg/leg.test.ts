/** WebSocket legs against a real gateway: handshake rules, close codes, frame sizes, oversize messages, DTMF. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { eventsOf, startGateway, metricValue, until } from '../helpers/gateway.js';
import { openRawLeg, upgradeStatus, streamFrames, goertzel } from '../helpers/raw-leg.js';
import { must } from '../helpers/must.js';

const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/cards/001.wav').subarray(44); // 16 kHz mono 16-bit

t.test('bad handshakes close the leg with documented codes', async (t) => {
  const g = await startGateway(t, { HANDSHAKE_TIMEOUT_MS: '300' });
  const ws = `ws://127.0.0.1:${g.port}/socket`;
  const cases: Array<[string, (l: Awaited<ReturnType<typeof openRawLeg>>) => void, number]> = [
    ['silence (timeout)', () => {}, 4000],
    ['binary first', (l) => l.ws.send(Buffer.alloc(640)), 4001],
    ['not JSON', (l) => l.ws.send('hello'), 4001],
    ['JSON array', (l) => l.ws.send('[1]'), 4001],
    ['wrong event', (l) => l.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '1' })), 4001],
    ['no content-type', (l) => l.ws.send(JSON.stringify({ event: 'websocket:connected' })), 4002],
    ['unsupported rate', (l) => l.handshake('audio/l16;rate=44100'), 4002],
    ['not l16', (l) => l.handshake('audio/pcmu;rate=8000'), 4002],
  ];
  for (const [name, act, code] of cases) {
    const leg = await openRawLeg(ws);
    act(leg);
    const c = await leg.closed;
    t.equal(c.code, code, `${name} → ${code}`);
    t.ok(c.reason.length > 0, `${name} has a reason: ${c.reason}`);
  }
  t.equal(g.gw.tracker.size, 0, 'no session was created');
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_legs_refused_total{reason="handshake_malformed"}'), 4);
  t.equal(metricValue(m, 'gateway_legs_refused_total{reason="unsupported_content_type"}'), 3);
  t.equal(metricValue(m, 'gateway_legs_refused_total{reason="handshake_timeout"}'), 1);
  t.equal(metricValue(m, 'gateway_legs_closed_total{code="4001"}'), 4);
});

t.test('upgrades on other paths are refused with 404 and a JSON reason', async (t) => {
  const g = await startGateway(t);
  const r = await upgradeStatus(`ws://127.0.0.1:${g.port}/elsewhere`);
  t.equal(r.status, 404);
  t.match(JSON.parse(r.body), { error: 'NOT_FOUND' });
  t.equal(metricValue(await g.metrics(), 'gateway_legs_refused_total{reason="path"}'), 1, 'the metric keeps its short reason');
});

t.test('MAX_CALLS: extra upgrades are refused with 503 and the answer webhook says busy', async (t) => {
  const g = await startGateway(t, { MAX_CALLS: '1' });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'first' });
  const r = await upgradeStatus(`ws://127.0.0.1:${g.port}/socket`);
  t.equal(r.status, 503);
  t.match(JSON.parse(r.body), { error: 'UNAVAILABLE', reason: 'gateway at capacity' });
  const ncco = (await (await fetch(`${g.url}/webhooks/answer?uuid=second`)).json()) as Array<{ action: string; text: string }>;
  t.equal(must(ncco[0]).action, 'talk');
  t.match(must(ncco[0]).text, /busy/);
  leg.ws.close();
});

t.test('odd-sized and absurd binary messages close the leg (4003); whole-sample sizes are re-framed', async (t) => {
  const g = await startGateway(t);
  const ws = `ws://127.0.0.1:${g.port}/socket`;
  const odd = await openRawLeg(ws);
  odd.handshake();
  odd.ws.send(Buffer.alloc(641));
  t.equal((await odd.closed).code, 4003);
  const absurd = await openRawLeg(ws);
  absurd.handshake('audio/l16;rate=8000');
  absurd.ws.send(Buffer.alloc(320 * 60));
  t.equal((await absurd.closed).code, 4003);

  const ok = await openRawLeg(ws);
  ok.handshake('audio/l16;rate=16000', { uuid: 'reframe-1' });
  await until(() => g.gw.tracker.size === 1, 3000, 'session');
  const before = metricValue(await g.metrics(), 'gateway_frames_in_total');
  for (let i = 0; i < 4; i++) ok.ws.send(Buffer.alloc(480)); // 1920 bytes = 3 frames of 640
  ok.ws.send(Buffer.alloc(640 * 3)); // 3 frames in one message
  await until(() => [...g.gw.tracker.sessions()][0]?.jitter.framesIn === 6, 3000, '6 frames');
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_frames_in_total') - before, 6, 'exact frames counted');
  t.equal(metricValue(m, 'gateway_frames_reassembled_total'), 5, 're-framed messages counted');
  ok.ws.close();
});

t.test('a 4 MiB message closes only its own leg (1009); a concurrent call keeps its audio', async (t) => {
  const g = await startGateway(t);
  const ws = `ws://127.0.0.1:${g.port}/socket`;
  const good = await openRawLeg(ws);
  good.handshake('audio/l16;rate=16000', { uuid: 'good-1' });
  const bad = await openRawLeg(ws);
  bad.handshake('audio/l16;rate=16000', { uuid: 'bad-1' });
  await until(() => g.gw.tracker.size === 2, 3000, 'two sessions');
  const streaming = streamFrames(good.ws, Buffer.concat([SPEECH, Buffer.alloc(32000)]), 640, 120);
  await new Promise((r) => setTimeout(r, 200));
  bad.ws.send(Buffer.alloc(4 * 1024 * 1024));
  const c = await bad.closed;
  t.equal(c.code, 1009, 'oversize message → 1009');
  await streaming;
  await until(() => good.binary.length > 0, 5000, 'echo on the good call');
  t.equal(g.gw.tracker.size, 1, 'the good call is still up');
  const s = must([...g.gw.tracker.sessions()][0]);
  t.equal(s.info.callId, 'good-1');
  t.equal(s.jitter.framesIn, 120, 'every frame of the good call arrived');
  t.ok(
    good.binary.every((f) => f.length === 640),
    'replies are exact frames',
  );
  good.ws.close();
});

t.test('a leg that sends no message at all for IDLE_TIMEOUT_MS is closed with 4004, even though it answers pings', async (t) => {
  const g = await startGateway(t, { IDLE_TIMEOUT_MS: '2500', PING_INTERVAL_MS: '1000' });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  let pings = 0;
  leg.ws.on('ping', () => pings++); // ws answers each one with a pong by itself
  leg.handshake();
  const c = await leg.closed;
  t.equal(c.code, 4004);
  t.match(c.reason, /nothing received/);
  t.ok(pings >= 1, `it was answering pings (${pings}): pongs are liveness, not messages`);
});

t.test('silence is not death: a caller who stops sending audio stays connected, each silence counted once', async (t) => {
  // IDLE_TIMEOUT_MS is left at its default (10 min): the old default closed this caller after 15 s of silence.
  const g = await startGateway(t, { PING_INTERVAL_MS: '1000' });
  t.ok(g.gw.config.idleTimeoutMs >= 600000, `IDLE_TIMEOUT_MS defaults to ${g.gw.config.idleTimeoutMs} ms`);
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  let pings = 0;
  leg.ws.on('ping', () => pings++);
  leg.handshake('audio/l16;rate=16000', { uuid: 'quiet-1' });
  await until(() => g.gw.tracker.size === 1, 3000, 'session');
  await streamFrames(leg.ws, Buffer.alloc(640), 640, 25); // half a second of audio, then nothing at all
  const silences = async () => metricValue(await g.metrics(), 'gateway_leg_silences_total');
  t.equal(await silences(), 0, 'no silence while audio flows');
  await new Promise((r) => setTimeout(r, 3500)); // three ping intervals without a message
  t.ok(pings >= 2, `the leg was pinged (${pings}) and answered`);
  t.equal(leg.ws.readyState, leg.ws.OPEN, 'still connected');
  t.equal(g.gw.tracker.size, 1, 'the call goes on');
  t.equal(await silences(), 1, 'the silence is counted while it lasts');
  await streamFrames(leg.ws, Buffer.alloc(640), 640, 25);
  t.equal(await silences(), 1, 'once per spell: the audio resuming does not count it again');
  await new Promise((r) => setTimeout(r, 1300));
  await streamFrames(leg.ws, Buffer.alloc(640), 640, 5);
  t.equal(await silences(), 2, 'a second, shorter silence is a second spell');
  t.equal(must([...g.gw.tracker.sessions()][0]).jitter.framesIn, 55, 'every frame arrived');
  t.equal(leg.ws.readyState, leg.ws.OPEN);
  leg.ws.close(1000);
});

t.test('DTMF reaches the bot: the echo bot (no TTS) answers with the key tone', async (t) => {
  const g = await startGateway(t);
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=8000', { uuid: 'dtmf-1' });
  await until(() => g.gw.tracker.size === 1, 3000, 'session');
  leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '5', duration: 260 }));
  leg.ws.send(JSON.stringify({ event: 'websocket:some-future-event' }));
  leg.ws.send('not json at all');
  await until(() => leg.binary.length >= 10, 3000, 'tone frames');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(leg.binary.length, 10, '200 ms tone = 10 frames');
  t.ok(
    leg.binary.every((f) => f.length === 320),
    'exact 8 kHz frames',
  );
  const pcm = Buffer.concat(leg.binary);
  const p770 = goertzel(pcm, 8000, 770);
  const p1336 = goertzel(pcm, 8000, 1336);
  const p697 = goertzel(pcm, 8000, 697);
  const p1209 = goertzel(pcm, 8000, 1209);
  t.ok(
    p770 > 20 * p697 && p1336 > 20 * p1209,
    `tone of 5 (770+1336 Hz) played: ${p770.toExponential(2)}, ${p1336.toExponential(2)} vs ${p697.toExponential(2)}, ${p1209.toExponential(2)}`,
  );
  await until(() => leg.texts.some((m) => (m as { action?: string }).action === 'notify'), 2000, 'notify');
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_leg_events_total{event="dtmf"}'), 1);
  t.equal(metricValue(m, 'gateway_leg_events_total{event="unknown"}'), 1);
  t.equal(metricValue(m, 'gateway_leg_events_total{event="malformed"}'), 1);
  t.match(eventsOf(g, 'dtmf', 'dtmf-1'), [{ digit: '5' }], 'the digit reached the call');
  leg.ws.close();
});

t.test('# makes the echo bot hang up after its goodbye tone has played (1000)', async (t) => {
  const g = await startGateway(t);
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'hangup-1' });
  await until(() => g.gw.tracker.size === 1, 3000, 'session');
  leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '#', duration: 100 }));
  const c = await leg.closed;
  t.equal(c.code, 1000);
  t.equal(c.reason, 'bot hung up');
  t.equal(leg.binary.length, 15, 'the whole 300 ms goodbye tone was sent before the hangup');
  t.ok(
    eventsOf(g, 'reply-done', 'hangup-1').some((e) => !e.interrupted && e.totalMs === 300),
    'reply confirmed by notify before closing',
  );
  t.equal(g.gw.tracker.size, 0);
});

t.test('a notify that never comes back does not leave the reply pending forever', async (t) => {
  const g = await startGateway(t);
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`, false);
  leg.handshake('audio/l16;rate=16000', { uuid: 'lost-notify' });
  await until(() => g.gw.tracker.size === 1, 3000, 'session');
  leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '#', duration: 100 }));
  const c = await leg.closed;
  t.equal(c.code, 1000, 'hung up anyway, once the playout model says the tone has played');
  await until(() => eventsOf(g, 'call-end').length === 1, 3000, 'the call ended');
  t.equal(eventsOf(g, 'call-end')[0]?.summary.pacer.notifyTimeouts, 1);
});

t.test('a leg that never answers pings is closed with 4005', async (t) => {
  const g = await startGateway(t, { PING_INTERVAL_MS: '1000', IDLE_TIMEOUT_MS: '60000' });
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(`ws://127.0.0.1:${g.port}/socket`, { autoPong: false });
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/l16;rate=8000' }));
  // Keep sending audio, so only the missing pong can end the leg.
  const timer = setInterval(() => ws.readyState === ws.OPEN && ws.send(Buffer.alloc(320)), 20);
  t.equal(await closed, 4005);
  clearInterval(timer);
});
