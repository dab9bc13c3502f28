/**
 * BOT_ADAPTER=openai-realtime through whole calls: a real gateway, a simulated Vonage leg that plays what it receives
 * one frame per 20 ms (honouring `clear` and echoing `notify` as Vonage does), and a local realtime server speaking
 * the documented event protocol (test/fakes/openai-realtime.ts). Audio both ways at 24 kHz (bit-exact: no resampling)
 * and at 16 kHz (resampled both ways), barge-in with the truncation checked against what the caller heard, a tool call
 * that hangs up over the (fake) Vonage REST API, and the service dropping one call mid-reply while another goes on.
 */
import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type WebSocket from 'ws';
import { startGateway, until, metricValue, type TestGateway } from '../helpers/gateway.js';
import { goertzel } from '../helpers/raw-leg.js';
import { FakeRealtime, replySample, FAKE_RATE_HZ } from '../fakes/openai-realtime.js';
import { VonageApiFake } from '../fakes/vonage-api.js';
import { VonagePlayout } from '../../src/sim/playout.js';
import { connectWebsocket, routeGatewayText, runLegClock, sendHandshake, websocketEndpoint, type LegEnd } from '../../src/sim/vonage-leg.js';
import { loadConfig } from '../../src/config/config.js';
import { readRecording } from '../helpers/recording.js';
import { must } from '../helpers/must.js';

const KEY = 'sk-test-realtime';
const MODEL = 'gpt-realtime';

interface SimCall {
  ws: WebSocket;
  playout: VonagePlayout;
  /** The reply audio the caller heard, frame by frame (silence slots left out). */
  heard: Int16Array[];
  /** Caller frames sent so far. */
  sent: number;
  /** Queue the caller's speech (PCM at the leg rate). */
  say(pcm: Int16Array): void;
  end: Promise<LegEnd>;
  hangUp(): void;
}

/** A tone at `rateHz`: what the simulated caller says. */
function tone(freqHz: number, ms: number, rateHz: number, amp = 6000): Int16Array {
  const n = Math.round((ms * rateHz) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * freqHz * i) / rateHz));
  return out;
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const power = (pcm: Int16Array, rateHz: number, f: number) => goertzel(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), rateHz, f);

/** Vonage's side of an inbound call: the answer webhook, then the leg at `rateHz`, playing out in real time. */
async function answer(g: TestGateway, uuid: string, regionUrl = 'https://api-us-3.vonage.com'): Promise<ReturnType<typeof websocketEndpoint>> {
  const q = new URLSearchParams({ uuid, conversation_uuid: `CON-${uuid}`, from: '447700900001', to: '447700900000', region_url: regionUrl });
  return websocketEndpoint(await (await fetch(`${g.url}/webhooks/answer?${q}`)).json());
}

async function openLeg(ep: ReturnType<typeof websocketEndpoint>, rateHz: number): Promise<SimCall> {
  const ws = await connectWebsocket(ep.uri.replace('//localhost:', '//127.0.0.1:'));
  const frameBytes = (rateHz / 50) * 2;
  const playout = new VonagePlayout(frameBytes, { sendText: (s) => ws.send(s), onNotify: () => {} });
  ws.on('message', (d, binary) => (binary ? playout.audio(d as Buffer) : routeGatewayText(d, playout)));
  sendHandshake(ws, { ...ep, contentType: `audio/l16;rate=${rateHz}` });
  const queue: Buffer[] = [];
  const heard: Int16Array[] = [];
  let hangup = false;
  const counts = { sent: 0 };
  const c: SimCall = {
    ws,
    playout,
    heard,
    get sent() {
      return counts.sent;
    },
    say(pcm) {
      for (let off = 0; off < pcm.length; off += frameBytes / 2) {
        const f = Buffer.alloc(frameBytes);
        const part = pcm.subarray(off, off + frameBytes / 2);
        Buffer.from(part.buffer, part.byteOffset, part.byteLength).copy(f);
        queue.push(f);
      }
    },
    end: runLegClock(ws, performance.now(), undefined, () => {
      if (hangup) return false;
      let f = queue.shift();
      if (!f) {
        // A phone line is never digitally silent: low noise between utterances.
        f = Buffer.alloc(frameBytes);
        for (let i = 0; i < f.length; i += 2) f.writeInt16LE(Math.round((Math.random() - 0.5) * 64), i);
      }
      ws.send(f);
      counts.sent++;
      if (playout.tick()) heard.push(playout.lastHeard.slice());
      return true;
    }),
    hangUp() {
      hangup = true;
    },
  };
  return c;
}

async function realtime(t: Test, opts = {}): Promise<{ fake: FakeRealtime; url: string }> {
  const fake = new FakeRealtime({ apiKey: KEY, model: MODEL, ...opts });
  const url = await fake.start();
  t.teardown(() => fake.close());
  return { fake, url };
}

function gateway(t: Test, url: string, env: Record<string, string> = {}): Promise<TestGateway> {
  return startGateway(t, { BOT_ADAPTER: 'openai-realtime', OPENAI_REALTIME_URL: url, OPENAI_API_KEY: KEY, OPENAI_REALTIME_MODEL: MODEL, ...env });
}

/** A whole call: the caller speaks, the model answers; audio checked both ways. */
async function wholeCall(t: Test, rateHz: number): Promise<void> {
  const { fake, url } = await realtime(t);
  fake.reply({ audioMs: 1200, freqHz: 600, text: 'Hello there.' });
  const g = await gateway(t, url, { OPENAI_REALTIME_VOICE: 'cedar', LLM_SYSTEM_PROMPT: 'Be brief.' });
  const ep = await answer(g, `CALL-${rateHz}`);
  // Pre-connected while the answer webhook was served, before Vonage opens the leg.
  await until(() => fake.connections.length === 1 && !!must(fake.connections[0]).session, 5000, 'pre-connected session');
  const conn = must(fake.connections[0]);
  const session = conn.session as { instructions: string; audio: { output: { voice: string } }; tools: Array<{ name: string }> };
  t.equal(session.instructions, 'Be brief.', 'the LLM bot prompt is the instructions');
  t.equal(session.audio.output.voice, 'cedar');
  t.ok(
    session.tools.some((x) => x.name === 'hang_up'),
    'the call-control tools are offered',
  );
  t.equal(conn.query.get('model'), MODEL);

  const call = await openLeg(ep, rateHz);
  const spoken = tone(300, 600, rateHz);
  await new Promise((r) => setTimeout(r, 200));
  call.say(spoken);
  await until(() => call.heard.length >= 60, 15000, 'the reply heard');
  t.equal(fake.connections.length, 1, 'the call used the pre-connected session');
  const heard = concat(call.heard.slice(0, 60));
  const got = concat(conn.audio);
  if (rateHz === FAKE_RATE_HZ) {
    // 24 kHz: no resampling either way, so both directions are bit-exact.
    const expect = Int16Array.from({ length: heard.length }, (_, i) => replySample(600, i));
    t.same(Array.from(heard.subarray(0, 2000)), Array.from(expect.subarray(0, 2000)), "the caller heard the model's samples unchanged");
    t.ok(
      heard.every((v, i) => v === expect[i]),
      'all 1.2 s of them',
    );
    const start = got.findIndex((v) => Math.abs(v) > 100);
    t.ok(start > 0, "the caller's speech reached the model");
    t.same(Array.from(got.subarray(start - 1, start - 1 + spoken.length)), Array.from(spoken), "the model got the caller's samples unchanged");
  } else {
    // 16 kHz: resampled to 24 kHz for the model and back for the caller; the tones survive, nothing else appears.
    t.ok(power(heard, rateHz, 600) > 100 * power(heard, rateHz, 300), 'the caller heard the 600 Hz reply');
    t.ok(power(got, FAKE_RATE_HZ, 300) > 100 * power(got, FAKE_RATE_HZ, 600), 'the model heard the 300 Hz caller');
    const ratio = conn.receivedSamples / (call.sent * 320);
    t.ok(ratio > 1.4 && ratio < 1.55, `the model got 24 kHz audio (${ratio.toFixed(3)} × the 16 kHz samples sent)`);
  }
  call.hangUp();
  const end = await call.end;
  t.equal(end.closedBy, 'simulator');
  const m = await g.metrics();
  t.ok(metricValue(m, 'gateway_turn_latency_seconds_count') >= 1, 'the turn latency was measured');
  const stats = (g.gw.adapters.s2s as unknown as { stats: { preconnectsUsed: number } }).stats;
  t.equal(stats.preconnectsUsed, 1);
  await until(() => conn.ws.readyState === conn.ws.CLOSED, 5000, 'the model session closed with the call');
}

t.test('a whole call at 24 kHz: pre-connected, audio both ways bit-exact', (t) => wholeCall(t, 24000));
t.test('a whole call at 16 kHz: resampled both ways', (t) => wholeCall(t, 16000));

t.test('barge-in: Vonage and the pacer are cleared, and the model is told what the caller heard', async (t) => {
  const { fake, url } = await realtime(t);
  fake.reply({ audioMs: 6000, freqHz: 600 }, { audioMs: 400, freqHz: 800 });
  const g = await gateway(t, url);
  const call = await openLeg(await answer(g, 'CALL-BARGE'), 24000);
  await new Promise((r) => setTimeout(r, 200));
  call.say(tone(300, 500, 24000));
  await until(() => call.heard.length >= 50, 15000, 'a second of the reply heard');
  call.say(tone(300, 600, 24000));
  const conn = must(fake.connections[0]);
  await until(() => conn.truncates.length === 1, 5000, 'the truncate');
  // Whatever Vonage still held is dropped by the clear: what the caller heard of the first reply is final soon after.
  await new Promise((r) => setTimeout(r, 300));
  const heardFrames = call.heard.filter((f) => power(f, 24000, 600) > power(f, 24000, 800)).length;
  const tr = must(conn.truncates[0]);
  t.ok(call.playout.clears >= 1, 'Vonage was told to clear');
  t.ok(tr.audio_end_ms < tr.sentMs, `truncated (${tr.audio_end_ms} of ${Math.round(tr.sentMs)} ms sent)`);
  t.ok(Math.abs(tr.audio_end_ms - heardFrames * 20) <= 40, `audio_end_ms ${tr.audio_end_ms} vs heard ${heardFrames * 20} ms (within two frames)`);
  t.ok(heardFrames < 150, 'the rest of the 6 s reply was not played');
  // The conversation goes on: the model answers the interruption.
  await until(() => call.heard.some((f) => power(f, 24000, 800) > power(f, 24000, 600)), 10000, 'the next reply');
  const m = await g.metrics();
  t.ok(metricValue(m, 'gateway_barge_ins_total') >= 1, 'counted as a barge-in');
  call.hangUp();
  await call.end;
});

const APP_ID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const HANGUP_UUID = '22222222-1111-4111-8111-000000000001';

const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const keyFile = join(mkdtempSync(join(tmpdir(), 'vgw-s2s-')), 'private.key');
writeFileSync(keyFile, keys.privateKey, { mode: 0o600 });

async function vonageApi(t: Test): Promise<VonageApiFake> {
  const api = new VonageApiFake({ applicationId: APP_ID, publicKeyPem: keys.publicKey });
  await api.listen();
  t.teardown(() => api.close());
  return api;
}

t.test('a tool call hangs the call up over Vonage REST, after the goodbye has played', async (t) => {
  const api = await vonageApi(t);
  const { fake, url } = await realtime(t);
  fake.reply({ audioMs: 800, freqHz: 600, text: 'Goodbye!', tool: { name: 'hang_up', arguments: '{"reason":"caller done"}' } });
  const g = await gateway(t, url, { VONAGE_APPLICATION_ID: APP_ID, VONAGE_PRIVATE_KEY: keyFile, VONAGE_API_URL: api.url });
  const call = await openLeg(await answer(g, HANGUP_UUID, api.url), 16000);
  await new Promise((r) => setTimeout(r, 200));
  call.say(tone(300, 500, 16000));
  const end = await call.end;
  t.equal(end.closeCode, 1000, 'the leg closes normally');
  t.equal(end.closedBy, 'gateway');
  const hangups = api
    .accepted('updateCall')
    .filter((r) => r.path === `/v1/calls/${HANGUP_UUID}`)
    .map((r) => (r.body as { action: string }).action);
  t.same(hangups, ['hangup'], 'one REST hangup for the call');
  t.ok(call.heard.length >= 38, `the goodbye was heard first (${call.heard.length} of 40 frames)`);
  const conn = must(fake.connections[0]);
  t.equal(conn.toolOutputs.length, 1, 'the model got the tool result');
  t.match(must(conn.toolOutputs[0]).output, /ending/);
});

t.test('send_dtmf goes to Vonage REST and its result back to the model; a key the caller presses reaches the model', async (t) => {
  const api = await vonageApi(t);
  const { fake, url } = await realtime(t);
  const uuid = '22222222-1111-4111-8111-000000000002';
  fake.reply({ audioMs: 300, tool: { name: 'send_dtmf', arguments: '{"digits":"12#"}' } }, { audioMs: 300 }, { audioMs: 300 });
  const g = await gateway(t, url, { VONAGE_APPLICATION_ID: APP_ID, VONAGE_PRIVATE_KEY: keyFile, VONAGE_API_URL: api.url });
  const call = await openLeg(await answer(g, uuid, api.url), 16000);
  await new Promise((r) => setTimeout(r, 200));
  call.say(tone(300, 500, 16000));
  await until(() => api.accepted('startDTMF').length === 1, 10000, 'the REST dtmf');
  t.same(must(api.accepted('startDTMF')[0]).body, { digits: '12#' });
  const conn = must(fake.connections[0]);
  await until(() => conn.toolOutputs.length === 1, 5000, 'the tool result');
  t.equal(must(conn.toolOutputs[0]).output, 'The keys were sent.', 'what Vonage did, told to the model');
  await until(() => !conn.responding, 5000, 'the model done answering');
  call.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '7', duration: 120 }));
  await until(
    () => conn.events.some((e) => e.type === 'conversation.item.create' && JSON.stringify(e).includes('key 7')),
    5000,
    'the key press told to the model',
  );
  call.hangUp();
  await call.end;
});

t.test('the service refuses the connection: the caller hears the apology and the call ends', async (t) => {
  const { fake, url } = await realtime(t);
  const g = await gateway(t, url, { OPENAI_API_KEY: 'sk-wrong' });
  const call = await openLeg(await answer(g, 'CALL-REFUSED'), 16000);
  const end = await call.end;
  t.equal(end.closeCode, 1011, 'closed as an adapter failure');
  t.ok(fake.refused >= 1, 'the fake refused the key');
  const heard = concat(call.heard);
  t.ok(heard.length / 320 >= 30 && power(heard, 16000, 480) > 100 * power(heard, 16000, 600), `the apology tone was heard (${heard.length / 320} frames)`);
  t.ok(
    g.logs.some((l) => l.msg === 'realtime session lost' && String(l.why).includes('401')),
    'the log says why',
  );
});

t.test('pre-connect is bounded, and the gateway closes what it pre-connected when it stops', async (t) => {
  const { fake, url } = await realtime(t);
  const g = await gateway(t, url);
  for (let i = 0; i < 40; i++) await answer(g, `CALL-POOL-${i}`);
  await until(() => fake.connections.length === 32, 5000, '32 pre-connected sessions');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(fake.connections.length, 32, 'no more than PRECONNECT_MAX');
  await g.gw.close();
  await until(() => fake.connections.every((c) => c.ws.readyState === c.ws.CLOSED), 5000, 'all closed at shutdown');
});

t.test('the service drops one call mid-reply: that caller hears the apology and the call ends; the other call goes on', async (t) => {
  const { fake, url } = await realtime(t);
  const g = await gateway(t, url, { TTS_ADAPTER: './dist/test/fixtures/sine-tts.js' });
  const a = await openLeg(await answer(g, 'CALL-A'), 16000);
  const b = await openLeg(await answer(g, 'CALL-B'), 16000);
  await until(() => fake.connections.length === 2, 5000, 'two sessions');
  fake.reply({ audioMs: 6000, freqHz: 600 });
  await new Promise((r) => setTimeout(r, 200));
  a.say(tone(300, 500, 16000));
  await until(() => a.heard.length >= 25, 15000, 'A hears its reply');
  const connA = must(fake.connections.find((c) => c.responding) ?? fake.connections[0], 'a connection');
  const before = a.heard.length;
  connA.drop();
  const endA = await a.end;
  t.equal(endA.closeCode, 1011, 'A is closed as an adapter failure');
  const after = concat(a.heard.slice(before));
  t.ok(power(after, 16000, 440) > 100 * power(after, 16000, 600), 'A heard the apology (the sine TTS), not the rest of the reply');
  t.ok(after.length / 320 >= 50, `the whole apology (${after.length / 320} frames)`);
  // B is untouched: it talks to the model and hears its answer after A has gone.
  t.equal(b.ws.readyState, b.ws.OPEN, 'B is still up');
  fake.reply({ audioMs: 1000, freqHz: 700 });
  b.say(tone(300, 500, 16000));
  await until(() => b.heard.filter((f) => power(f, 16000, 700) > power(f, 16000, 440)).length >= 45, 15000, 'B hears its reply');
  b.hangUp();
  t.equal((await b.end).closedBy, 'simulator', 'B ends when its caller hangs up');
  const m = await g.metrics();
  t.ok(metricValue(m, 'gateway_adapter_faults_total{kind="bot",point="events"}') >= 1, 'the lost session is counted');
});

t.test('LLM_GREETING: the model greets first; the call is recorded with the model on the right channel', async (t) => {
  const { fake, url } = await realtime(t);
  fake.reply({ audioMs: 800, freqHz: 500 });
  const dir = mkdtempSync(join(tmpdir(), 'vgw-s2s-rec-'));
  const g = await gateway(t, url, { LLM_GREETING: 'Hello, how can I help?', RECORDING_DIR: dir });
  const call = await openLeg(await answer(g, 'CALL-GREET'), 24000);
  await until(() => call.heard.length >= 40, 10000, 'the greeting heard without the caller speaking');
  const create = must(fake.connections[0]).events.find((e) => e.type === 'response.create') as { response?: { instructions?: string } } | undefined;
  t.match(create?.response?.instructions, /Hello, how can I help\?/, 'the greeting was asked for');
  call.hangUp();
  await call.end;
  await until(() => existsSync(join(dir, 'CALL-GREET.json')), 5000, 'the recording finished');
  const rec = readRecording(join(dir, 'CALL-GREET.wav'));
  t.equal(rec.sampleRateHz, 24000);
  const right = new Int16Array(rec.right.buffer, rec.right.byteOffset, rec.right.length >> 1);
  const left = new Int16Array(rec.left.buffer, rec.left.byteOffset, rec.left.length >> 1);
  t.ok(power(right, 24000, 500) > 1000 * power(left, 24000, 500), "the model's audio is on the right channel, not the left");
});

t.test('malformed service events are counted and ignored; the call goes on', async (t) => {
  const { fake, url } = await realtime(t);
  fake.reply({ audioMs: 600, freqHz: 600 });
  const g = await gateway(t, url);
  const call = await openLeg(await answer(g, 'CALL-FUZZ'), 16000);
  await until(() => fake.connections.length === 1 && must(fake.connections[0]).receivedSamples > 0, 5000, 'the call attached to its session');
  const conn = must(fake.connections[0]);
  for (const junk of [
    'not json',
    '[]',
    'null',
    '{"type":7}',
    '{"type":"response.output_audio.delta","item_id":"x","delta":7}',
    '{"type":"response.output_audio.delta","item_id":"odd","delta":"AAE"}',
    '{"type":"response.output_audio.done"}',
    '{"type":"response.function_call_arguments.done","call_id":"c","name":"hang_up","arguments":"{nope"}',
    '{"type":"response.function_call_arguments.done","call_id":"c2","name":"rm_rf","arguments":"{}"}',
    '{"type":"response.done","response":{"status":"failed","status_details":{"error":{"code":"x","message":"y"}}}}',
    '{"type":"error","error":{"message":"boom"}}',
    '{"type":"response.done","response":null}',
    '{"type":"error"}',
  ])
    conn.raw(junk);
  conn.raw(Buffer.from([1, 2, 3]));
  await new Promise((r) => setTimeout(r, 300));
  call.say(tone(300, 500, 16000));
  await until(() => call.heard.length >= 28, 15000, 'the reply after the junk');
  t.equal(call.ws.readyState, call.ws.OPEN, 'the call is up');
  t.same(
    conn.toolOutputs.map((o) => o.output.slice(0, 6)),
    ['Error:', 'Error:'],
    'bad tool calls are answered as errors, never carried out',
  );
  const stats = (g.gw.adapters.s2s as unknown as { stats: { protocolErrors: number } }).stats;
  t.ok(stats.protocolErrors >= 5, `protocol errors counted (${stats.protocolErrors})`);
  call.hangUp();
  await call.end;
});

t.test('settings: bad values are refused with a clear error', async (t) => {
  t.throws(
    () => loadConfig({ BOT_ADAPTER: 'openai-realtime', OPENAI_REALTIME_URL: 'https://api.openai.com/v1/realtime' }),
    /OPENAI_REALTIME_URL="https:\/\/api.openai.com\/v1\/realtime" is invalid: expected a ws:\/\/ or wss:\/\/ URL/,
  );
  t.throws(() => loadConfig({ BOT_ADAPTER: 'openai-realtime', OPENAI_REALTIME_VOICE: 'no spaces please' }), /OPENAI_REALTIME_VOICE/);
  t.throws(() => loadConfig({ BOT_ADAPTER: 'openai-realtime', OPENAI_REALTIME_CONNECT_TIMEOUT_MS: '5' }), /OPENAI_REALTIME_CONNECT_TIMEOUT_MS/);
  await t.rejects(startGateway(t, { BOT_ADAPTER: 'openai-realtime' }), /BOT_ADAPTER=openai-realtime needs OPENAI_API_KEY/);
});
