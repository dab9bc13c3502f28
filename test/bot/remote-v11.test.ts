/**
 * Sidecar protocol 1.1 end to end (issue 19): a real gateway, a raw Vonage leg streaming real recorded speech, and
 * in-process bots on real sockets. What 1.1 adds — the call id and subprotocol on the upgrade, capabilities, the bot's
 * reply ids echoed in playback events, errors for actions the gateway cannot carry out, per-reply language and voice,
 * transfer to a phone number, the dtmf echo shape, call.ended codes, an unknown subprotocol refused with a reason —
 * and that a bot answering no subprotocol (1.0) is spoken to as before. Every message a bot gets is checked against
 * the schema.
 */
import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import WebSocket, { WebSocketServer } from 'ws';
import { metricValue, startGateway, until, untilLog, untilMetrics, type TestGateway } from '../helpers/gateway.js';
import { ContinuousCaller, openRawLeg, type RawLeg } from '../helpers/raw-leg.js';
import { SIDECAR_SCHEMA } from '../../src/bot/remote-schema.js';
import { VonageApiFake } from '../fakes/vonage-api.js';
import { must } from '../helpers/must.js';

const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
const ajv = new Ajv({ allErrors: true });
ajv.addSchema(SIDECAR_SCHEMA);
const validateToBot = ajv.getSchema(`${SIDECAR_SCHEMA.$id}#/definitions/GatewayMessage`)!;

type Msg = { type?: string; [k: string]: unknown };

interface TestBot {
  url: string;
  got: Msg[];
  send(m: unknown): void;
  waitFor(pred: (m: Msg) => boolean, what: string): Promise<Msg>;
  upgrade: IncomingMessage | undefined;
  protocol: string | undefined;
  closeCode: number | undefined;
}

/** A bot server; `answer` picks the subprotocol it answers (false: none, as a 1.0 bot). */
async function bot(t: Test, answer: (offered: Set<string>) => string | false, path = '/bot?tenant=acme'): Promise<TestBot> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => answer(p) });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  let ws: WebSocket | undefined;
  const b: TestBot = {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}${path}`,
    got: [],
    send: (m) => (ws as WebSocket).send(JSON.stringify(m)),
    async waitFor(pred, what) {
      await until(() => b.got.some(pred), 8000, what);
      return b.got.find(pred) as Msg;
    },
    upgrade: undefined,
    protocol: undefined,
    closeCode: undefined,
  };
  wss.on('connection', (s, req) => {
    ws = s;
    b.upgrade = req;
    b.protocol = s.protocol;
    s.on('message', (d) => b.got.push(JSON.parse(d.toString()) as Msg));
    s.on('close', (code) => (b.closeCode = code));
  });
  return b;
}

function env(botUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    BOT_ADAPTER: 'remote',
    BOT_URL: botUrl,
    ASR_ADAPTER: './dist/test/fixtures/text-asr.js',
    TTS_ADAPTER: './dist/test/fixtures/sine-tts.js',
    SCRIPTED_ASR_TEXTS: 'go forward ten meters',
    ...extra,
  };
}

async function callIn(t: Test, g: TestGateway, uuid: string): Promise<{ leg: RawLeg; caller: ContinuousCaller }> {
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid, conversation_uuid: `CON-${uuid}`, from: '447700900001', to: '447700900002' });
  const caller = new ContinuousCaller(leg.ws, 640);
  caller.start();
  t.teardown(() => {
    caller.stop();
    leg.ws.terminate();
  });
  return { leg, caller };
}

const allValid = (t: Test, got: Msg[]) => {
  for (const m of got) t.ok(validateToBot(m), `${m.type} matches the schema ${JSON.stringify(validateToBot.errors ?? '')}`);
};

t.test('1.1 bot: call id and subprotocol on the upgrade, capabilities, reply ids echoed, errors for actions, call.ended code', async (t) => {
  const b = await bot(t, (p) => (p.has('vonage-gateway.v1') ? 'vonage-gateway.v1' : false));
  const g = await startGateway(t, env(b.url));
  const { leg, caller } = await callIn(t, g, 'v11-main');
  const started = await b.waitFor((m) => m.type === 'call.started', 'call.started');

  // The upgrade names the call before any message, and offers the versioned subprotocol.
  const req = b.upgrade as IncomingMessage;
  const q = new URL(req.url ?? '', 'http://x').searchParams;
  t.equal(q.get('callId'), 'v11-main', 'call id in the query');
  t.equal(q.get('tenant'), 'acme', "BOT_URL's own query is kept");
  t.equal(req.headers['x-vonage-call-id'], 'v11-main', 'call id in a header');
  t.equal(req.headers['x-vonage-gateway-protocol'], '1.1');
  t.equal(req.headers['sec-websocket-protocol'], 'vonage-gateway.v1', 'the subprotocol is offered');
  t.equal(b.protocol, 'vonage-gateway.v1', 'and answered');
  t.match(started, {
    protocol: 1,
    protocolVersion: '1.1',
    capabilities: { asr: true, tts: true, callControl: false, bargeIn: true, playSampleRatesHz: [8000, 48000] },
  });

  // A whole say with an id, then a streamed one whose id is on its first piece only.
  b.send({ type: 'say', text: 'one two three', id: 'greet' });
  const fin = await b.waitFor((m) => m.type === 'playback.finished', 'playback.finished');
  t.match(fin, { replyId: 1, id: 'greet' }, 'the id comes back with the playback event');
  b.send({ type: 'say', text: 'first piece.', end: false, id: 'stream-1' });
  b.send({ type: 'say', text: ' Second', end: false, id: 'other' }); // refused: a different id mid-stream
  b.send({ type: 'say', text: ' piece.', end: true, id: 'stream-1' }); // repeating the reply's id is fine
  const bad = await b.waitFor((m) => m.type === 'error', 'error for the mismatched id');
  t.match(bad, { code: 'INVALID_MESSAGE', inReplyTo: 'say', id: 'other', reason: /id "other" differs/ });
  const fin2 = await b.waitFor((m) => m.type === 'playback.finished' && m.replyId === 2, 'second reply played');
  t.equal(fin2.id, 'stream-1');
  t.ok(
    (fin2.totalMs as number) >= 300 && (fin2.totalMs as number) <= 340,
    `"first piece. piece." (3 words) spoken, the refused piece not (${fin2.totalMs} ms)`,
  );

  // A play with an id, cut by clear: interrupted, with its id.
  const pcm = Buffer.from(new Int16Array(16000 * 3).fill(3000).buffer).toString('base64');
  b.send({ type: 'play', audio: pcm, sampleRateHz: 16000, id: 'music' });
  await until(() => leg.binary.length > 60, 5000, 'play audio flowing');
  b.send({ type: 'clear' });
  t.match(await b.waitFor((m) => m.type === 'playback.interrupted', 'interrupted'), { replyId: 3, id: 'music' });

  // Per-reply language and voice reach the TTS request; the next reply is back to the call's.
  b.send({ type: 'say', text: 'bonjour', language: 'fr-FR', voice: 'fr-FR-DeniseNeural', id: 'fr' });
  b.send({ type: 'say', text: 'hello again' });
  await b.waitFor((m) => m.type === 'playback.finished' && m.replyId === 5, 'reply 5 played');
  const reqs = g.logs.filter((l) => l.msg === 'sine tts request');
  t.match(
    reqs.find((l) => l.text === 'bonjour'),
    { language: 'fr-FR', voice: 'fr-FR-DeniseNeural' },
  );
  t.match(
    reqs.find((l) => l.text === 'hello again'),
    { language: 'en-US' },
  );
  t.notOk(reqs.find((l) => l.text === 'hello again')?.voice, 'the call voice (none) again');
  t.notOk(
    b.got.some((m) => m.type === 'playback.finished' && m.replyId === 5 && 'id' in m),
    'a reply without an id has none',
  );

  // Actions the gateway cannot carry out (no call control here) get an error each, in both transfer forms and both dtmf shapes.
  b.send({ type: 'transfer', phone: '+447700900003' });
  b.send({ type: 'transfer', ncco: [{ action: 'talk', text: 'hi' }] });
  b.send({ type: 'dtmf', digits: '12#' });
  b.send({ type: 'dtmf', digit: '5', durationMs: 250 }); // an incoming dtmf event echoed back: accepted
  await until(() => b.got.filter((m) => m.code === 'NO_CALL_CONTROL').length === 4, 5000, 'four NO_CALL_CONTROL errors');
  t.same(
    b.got.filter((m) => m.code === 'NO_CALL_CONTROL').map((m) => m.inReplyTo),
    ['transfer', 'transfer', 'dtmf', 'dtmf'],
  );
  b.send({ type: 'transfer', phone: '447700900003', ncco: [{ action: 'talk' }] });
  t.match(await b.waitFor((m) => m.code === 'INVALID_MESSAGE' && m.inReplyTo === 'transfer', 'both forms refused'), { reason: /oneOf|exactly one/ });

  // The caller speaks: the final transcript comes (ordered or not with speech.ended, both are there).
  await caller.say(SPEECH);
  await b.waitFor((m) => m.type === 'transcript' && m.final === true, 'final transcript');
  await b.waitFor((m) => m.type === 'speech.ended', 'speech.ended');

  // The caller hangs up: call.ended says so with a code.
  caller.stop();
  leg.ws.close(1000, 'bye');
  await until(() => b.closeCode !== undefined, 5000, 'bot socket closed');
  t.match(b.got.at(-1), { type: 'call.ended', code: 'caller-hung-up', reason: 'caller hung up' });
  allValid(t, b.got);
});

t.test('1.0 bot (answers no subprotocol): spoken to as before, actions it cannot have done are not reported', async (t) => {
  const b = await bot(t, () => false, '/');
  const g = await startGateway(t, env(b.url));
  const { leg } = await callIn(t, g, 'v10-bot');
  await b.waitFor((m) => m.type === 'call.started', 'call.started');
  t.equal(b.protocol, '', 'no subprotocol answered');
  await untilLog(g, (l) => l.msg === 'bot connected' && l.protocol === '1.0', 3000, 'the gateway logs a 1.0 bot');
  b.send({ type: 'transfer', ncco: [{ action: 'talk', text: 'hi' }] });
  b.send({ type: 'say', text: 'one two' });
  await b.waitFor((m) => m.type === 'playback.finished', 'the say played');
  await untilMetrics(
    g,
    (m) => metricValue(m, 'gateway_adapter_errors_total{stage="bot",code="ACTION_UNSUPPORTED"}') === 1,
    3000,
    'the transfer was refused (counted)',
  );
  t.notOk(
    b.got.some((m) => m.type === 'error'),
    'no error with a code 1.0 did not have',
  );
  b.send({ type: 'hangup' });
  t.equal((await leg.closed).code, 1000);
  await until(() => b.got.some((m) => m.type === 'call.ended'), 3000, 'call.ended');
  t.match(b.got.at(-1), { type: 'call.ended', reason: 'bot hung up' }, 'call.ended with the 1.0 reason text');
  // Against the 1.0 schema's error codes: everything it got still validates.
  const v10 = ['BAD_JSON', 'BAD_MESSAGE', 'UNKNOWN_TYPE', 'INVALID_MESSAGE', 'TOO_BIG', 'BAD_AUDIO', 'OVERLOADED'];
  t.ok(b.got.filter((m) => m.type === 'error').every((m) => v10.includes(m.code as string)));
  allValid(t, b.got);
});

t.test('a bot answering an unknown subprotocol is told why, closed with 1002, and the caller hears the apology', async (t) => {
  const b = await bot(t, () => 'vonage-gateway.v2');
  const g = await startGateway(t, env(b.url));
  const { leg } = await callIn(t, g, 'v2-bot');
  await until(() => b.closeCode !== undefined, 5000, 'bot socket closed');
  t.equal(b.closeCode, 1002);
  t.same(
    b.got.map((m) => m.type),
    ['error'],
    'one error, no call.started',
  );
  t.match(b.got[0], { code: 'UNSUPPORTED_PROTOCOL', reason: /vonage-gateway\.v2.*vonage-gateway\.v1/ });
  const closed = await leg.closed;
  t.equal(closed.code, 1000, 'the call ends normally');
  t.ok(leg.binary.length > 40, `after the apology (${leg.binary.length} frames)`);
  const line = await untilLog(g, (l) => /bot connect failed/.test(l.msg), 2000, 'log');
  t.match(line.reason, /vonage-gateway\.v2/);
});

t.test('without TTS a 1.1 bot gets NO_TTS for say; play still plays', async (t) => {
  const b = await bot(t, () => 'vonage-gateway.v1');
  const g = await startGateway(t, env(b.url, { TTS_ADAPTER: 'none' }));
  await callIn(t, g, 'v11-notts');
  t.match(await b.waitFor((m) => m.type === 'call.started', 'call.started'), { capabilities: { tts: false } });
  b.send({ type: 'say', text: 'hello', id: 'unsaid' });
  t.match(await b.waitFor((m) => m.type === 'error', 'NO_TTS'), { code: 'NO_TTS', inReplyTo: 'say', id: 'unsaid' });
  b.send({ type: 'play', audio: Buffer.from(new Int16Array(1600).fill(2000).buffer).toString('base64'), sampleRateHz: 16000, id: 'beep' });
  t.match(await b.waitFor((m) => m.type === 'playback.finished', 'play finished'), { id: 'beep', totalMs: 100 });
  t.notOk(
    b.got.some((m) => m.type === 'playback.finished' && m.id === 'unsaid'),
    'the refused say was never queued',
  );
});

t.test('a barge-in cuts a reply: playback.interrupted carries its id', async (t) => {
  const b = await bot(t, () => 'vonage-gateway.v1');
  const g = await startGateway(t, env(b.url));
  const { leg, caller } = await callIn(t, g, 'v11-barge');
  await b.waitFor((m) => m.type === 'call.started', 'call.started');
  // A long interruptible reply, then the caller speaks over it.
  b.send({ type: 'say', text: 'word '.repeat(60).trim() + '.', id: 'long' });
  await until(() => leg.binary.length > 25, 5000, 'the reply is playing');
  await caller.say(SPEECH);
  const cut = await b.waitFor((m) => m.type === 'playback.interrupted', 'interrupted by barge-in');
  t.equal(cut.id, 'long');
  t.ok((cut.heardMs as number) < (cut.totalMs as number), `heard ${cut.heardMs} of ${cut.totalMs} ms`);
});

t.test('with call control: a phone transfer reaches Vonage, a refused action is an ACTION_FAILED, call.ended says transferred', async (t) => {
  const APP_ID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
  const UUID = '33333333-3333-4333-8333-000000000001';
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const keyFile = join(mkdtempSync(join(tmpdir(), 'vgw-v11-')), 'private.key');
  writeFileSync(keyFile, keys.privateKey, { mode: 0o600 });
  const api = new VonageApiFake({ applicationId: APP_ID, publicKeyPem: keys.publicKey });
  await api.listen();
  t.teardown(() => api.close());
  const b = await bot(t, () => 'vonage-gateway.v1');
  const g = await startGateway(t, { ...env(b.url), VONAGE_APPLICATION_ID: APP_ID, VONAGE_PRIVATE_KEY: keyFile, VONAGE_API_URL: api.url });
  // Vonage's side: answer webhook → NCCO → leg with its headers (region_url = the fake).
  const q = new URLSearchParams({ uuid: UUID, conversation_uuid: `CON-${UUID}`, from: '447700900001', to: '447700900000', region_url: api.url });
  const ncco = (await (await fetch(`${g.url}/webhooks/answer?${q}`)).json()) as Array<{ endpoint: Array<{ uri: string; headers: Record<string, string> }> }>;
  const leg = await openRawLeg(must(must(ncco[0]).endpoint[0]).uri.replace('//localhost:', '//127.0.0.1:'));
  leg.handshake('audio/l16;rate=16000', must(must(ncco[0]).endpoint[0]).headers);
  t.teardown(() => leg.ws.terminate());
  t.match(await b.waitFor((m) => m.type === 'call.started', 'call.started'), { capabilities: { callControl: true } });

  api.cue(400, 1); // Vonage refuses the next request
  b.send({ type: 'dtmf', digits: '12' });
  t.match(await b.waitFor((m) => m.type === 'error', 'ACTION_FAILED'), { code: 'ACTION_FAILED', inReplyTo: 'dtmf' });

  b.send({ type: 'transfer', phone: '+447700900003' });
  await until(() => api.accepted('updateCall').length === 1, 10000, 'REST transfer');
  const body = must(api.accepted('updateCall')[0]).body as { action: string; destination: { ncco: unknown[] } };
  t.equal(body.action, 'transfer');
  t.same(
    body.destination.ncco,
    [{ action: 'connect', from: '447700900000', endpoint: [{ type: 'phone', number: '447700900003' }] }],
    'connect to the number, caller id the number dialled',
  );
  // Vonage then ends the socket: the bot learns the call went by its transfer.
  leg.ws.close(1000);
  await until(() => b.closeCode !== undefined, 5000, 'bot socket closed');
  t.match(b.got.at(-1), { type: 'call.ended', code: 'transferred' });
  t.equal(b.got.filter((m) => m.type === 'error').length, 1, 'no error for the transfer that worked');
  allValid(t, b.got);
});
