/**
 * BOT_ADAPTER=remote end to end: a real gateway, a simulated Vonage leg streaming real recorded speech in real time,
 * and a bot on the sidecar protocol — the sample bot as a real child process (the path users take), and an
 * in-process test bot for the exact protocol (every message it gets is checked against the schema).
 * TTS is the sine fixture (each word = 100 ms of 440 Hz), so reply audio is recognisable and its length known.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Ajv } from 'ajv';
import WebSocket, { WebSocketServer } from 'ws';
import { eventsOf, metricValue, startGateway, until, untilEvent, untilLog, type TestGateway } from '../helpers/gateway.js';
import { ContinuousCaller, goertzel, openRawLeg, type RawLeg } from '../helpers/raw-leg.js';
import { SIDECAR_SCHEMA } from '../../src/bot/remote-schema.js';
import { must } from '../helpers/must.js';

const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
const APOLOGY = 'Sorry, our assistant is unavailable right now. Please call back later.';
const APOLOGY_FRAMES = (APOLOGY.split(' ').length * 100) / 20; // 11 words of 100 ms = 55 frames
const ajv = new Ajv({ allErrors: true });
ajv.addSchema(SIDECAR_SCHEMA);
const validateToBot = ajv.getSchema(`${SIDECAR_SCHEMA.$id}#/definitions/GatewayMessage`)!;

type Msg = { type?: string; event?: string; [k: string]: unknown };

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

/** The sample bot as a child process; its stdout JSON lines collected. */
async function sampleBot(t: Test, extraEnv: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['examples/sidecar-bot.mjs', '--port', '0'], {
    env: { ...process.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Msg[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(JSON.parse(l) as Msg));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  await until(() => lines.some((l) => l.event === 'listening'), 10000, 'sample bot listening');
  const port = lines.find((l) => l.event === 'listening')?.port as number;
  const received = () => lines.filter((l) => l.received).map((l) => l.received as Msg);
  return { child, lines, port, received, exited };
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

/** The frames hold the sine TTS's 440 Hz tone (not silence, not noise). */
function isTone(frames: Buffer[]): boolean {
  const pcm = Buffer.concat(frames);
  return pcm.length > 0 && goertzel(pcm, 16000, 440) > 20 * goertzel(pcm, 16000, 1000) && goertzel(pcm, 16000, 440) > 1e-3;
}

/** Reply lengths: the words' audio, padded to whole 20 ms frames after resampling (a frame or two more). */
const about = (ms: unknown, expected: number) => typeof ms === 'number' && ms >= expected && ms <= expected + 40;

const replyPlayed = (g: TestGateway, id: number) => untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === id, 10000, `reply ${id} played`);

t.test('the sample bot, a real child process, drives a call', async (t) => {
  const bot = await sampleBot(t);
  const g = await startGateway(t, env(`ws://127.0.0.1:${bot.port}`));
  const { leg, caller } = await callIn(t, g, 'sidecar-1');

  await until(() => bot.received().some((m) => m.type === 'call.started'), 5000, 'call.started');
  const started = bot.received()[0];
  t.match(
    started,
    {
      type: 'call.started',
      protocol: 1,
      callId: 'sidecar-1',
      conversationUuid: 'CON-sidecar-1',
      from: '447700900001',
      to: '447700900002',
      sampleRateHz: 16000,
      language: 'en-US',
      headers: { uuid: 'sidecar-1', conversation_uuid: 'CON-sidecar-1' },
    },
    'call.started is first, with the call metadata',
  );

  // Greeting: 14 words → 1.4 s of tone.
  const greeting = await replyPlayed(g, 1);
  t.ok(about(greeting.totalMs, 1400), `the greeting was spoken whole (${greeting.totalMs} ms)`);
  t.ok(isTone(leg.binary), 'the bot say became audio frames on the leg');
  await until(() => bot.received().some((m) => m.type === 'playback.finished' && m.replyId === 1), 3000, 'playback.finished 1');

  // Real speech → VAD → ASR final → the bot answers, streamed in pieces that the gateway speaks as one sentence.
  await caller.say(SPEECH);
  await until(() => bot.received().some((m) => m.type === 'transcript'), 8000, 'transcript at the bot');
  t.match(
    bot.received().find((m) => m.type === 'transcript'),
    { text: 'go forward ten meters', final: true },
  );
  const types = bot.received().map((m) => m.type);
  t.ok(types.indexOf('speech.started') < types.indexOf('speech.ended') && types.indexOf('speech.ended') >= 0, 'speech.started then speech.ended');
  const reply = await replyPlayed(g, 2);
  t.ok(about(reply.totalMs, 600), `"You said go forward ten meters." (6 words) spoken as one reply from three streamed pieces (${reply.totalMs} ms)`);
  t.equal(g.events.filter((e) => (e.type === 'reply-start' || e.type === 'reply-done') && e.replyId === 3).length, 0, 'no stray reply');

  // DTMF is read back.
  leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '5', duration: 200 }));
  await until(() => bot.received().some((m) => m.type === 'dtmf'), 3000, 'dtmf at the bot');
  t.match(
    bot.received().find((m) => m.type === 'dtmf'),
    { digit: '5', durationMs: 200 },
  );
  t.ok(about((await replyPlayed(g, 3)).totalMs, 300), '"You pressed 5." spoken');

  // # → goodbye audio, then the leg closes normally.
  const before = leg.binary.length;
  leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '#', duration: 200 }));
  const closed = await leg.closed;
  t.equal(closed.code, 1000, 'the leg closes with 1000 after the goodbye');
  const goodbye = leg.binary.slice(before);
  t.ok(goodbye.length >= 25 && isTone(goodbye), `goodbye audio (5 words) arrived before the close (${goodbye.length} frames)`);
  await until(() => bot.lines.some((l) => l.event === 'closed'), 3000, 'bot socket closed');
  t.equal(bot.received().at(-1)?.type, 'call.ended', 'call.ended is the last message');
  t.equal(bot.lines.find((l) => l.event === 'closed')?.code, 1000, 'the gateway closed the bot socket with 1000');
});

t.test('killing the bot process mid-call: apology audio, then the leg closes', async (t) => {
  const bot = await sampleBot(t);
  const g = await startGateway(t, env(`ws://127.0.0.1:${bot.port}`));
  const { leg } = await callIn(t, g, 'sidecar-kill');
  await replyPlayed(g, 1);
  const before = leg.binary.length;
  bot.child.kill('SIGKILL');
  await bot.exited;
  const closed = await leg.closed;
  const after = leg.binary.slice(before);
  t.equal(closed.code, 1000);
  t.ok(after.length >= APOLOGY_FRAMES - 2 && isTone(after), `apology audio after the kill (${after.length} frames, ~${APOLOGY_FRAMES} expected)`);
  const line = await untilLog(g, (l) => /bot disconnected mid-call/.test(l.msg), 1000, 'log of why');
  t.match(line.reason, /closed with 1006/, 'the log says why');
  t.equal(metricValue(await g.metrics(), 'gateway_bot_disconnects_total'), 1, 'the lost bot is counted');
  const apology = eventsOf(g, 'reply-done').find((e) => !e.interrupted && e.replyId === 2);
  t.ok(about(apology?.totalMs, APOLOGY_FRAMES * 20), `the whole apology played before the hang-up (${apology?.totalMs} ms)`);
});

t.test('bot unreachable at call start: refused, silent, or refusing the token → apology, then hang-up', async (t) => {
  // A port nobody listens on.
  const free = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  // A TCP server that accepts and never answers the upgrade.
  const sockets = new Set<import('node:net').Socket>();
  const silent: Server = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  // A bot that wants a token the gateway does not have.
  const bot = await sampleBot(t, { BOT_AUTH_TOKEN: 'the-right-token' });

  const cases: Array<[string, string, Record<string, string>, RegExp]> = [
    ['refused', `ws://127.0.0.1:${free}`, {}, /ECONNREFUSED/],
    ['timed out', `ws://127.0.0.1:${(silent.address() as { port: number }).port}`, { BOT_CONNECT_TIMEOUT_MS: '400' }, /no connection within 400 ms/],
    ['401', `ws://127.0.0.1:${bot.port}`, { BOT_AUTH_TOKEN: 'a-wrong-token' }, /401/],
  ];
  for (const [name, url, extra, why] of cases) {
    const g = await startGateway(t, env(url, extra));
    const { leg } = await callIn(t, g, `sidecar-${name.replace(/\s/g, '')}`);
    const closed = await leg.closed;
    t.equal(closed.code, 1000, `${name}: the leg closes normally`);
    t.ok(leg.binary.length >= APOLOGY_FRAMES - 2 && isTone(leg.binary), `${name}: the apology was heard (${leg.binary.length} frames)`);
    const line = g.logs.find((l) => /bot connect failed/.test(l.msg));
    t.match(line?.reason, why, `${name}: the log says why (${line?.reason})`);
    t.notOk(JSON.stringify(g.logs).includes('a-wrong-token'), `${name}: the token is never logged`);
  }
});

t.test('exact protocol with an in-process bot: metadata, events, errors for bad messages, audio, clear, close', async (t) => {
  const TOKEN = 's3cret-token';
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  let auth: string | undefined;
  let botWs: WebSocket | undefined;
  const got: Msg[] = [];
  let botClose: number | undefined;
  wss.on('connection', (ws, req) => {
    auth = req.headers.authorization;
    botWs = ws;
    ws.on('message', (d) => got.push(JSON.parse(d.toString()) as Msg));
    ws.on('close', (code) => (botClose = code));
  });
  const send = (m: unknown) => (botWs as WebSocket).send(typeof m === 'string' ? m : JSON.stringify(m));
  const waitFor = async (pred: (m: Msg) => boolean, what: string) => {
    await until(() => got.some(pred), 8000, what);
    return got.find(pred) as Msg;
  };

  const g = await startGateway(t, env(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, { BOT_AUTH_TOKEN: TOKEN }));
  const { leg, caller } = await callIn(t, g, 'sidecar-exact');
  await waitFor((m) => m.type === 'call.started', 'call.started');
  t.equal(auth, `Bearer ${TOKEN}`, 'the bearer token is sent on the bot connection');
  t.same(got[0], {
    type: 'call.started',
    protocol: 1,
    protocolVersion: '1.1',
    callId: 'sidecar-exact',
    conversationUuid: 'CON-sidecar-exact',
    from: '447700900001',
    to: '447700900002',
    sampleRateHz: 16000,
    language: 'en-US',
    headers: { uuid: 'sidecar-exact', conversation_uuid: 'CON-sidecar-exact', from: '447700900001', to: '447700900002' },
    capabilities: {
      asr: true,
      tts: true,
      callControl: false,
      bargeIn: true,
      playSampleRatesHz: [8000, 48000],
      maxMessageBytes: 4 * 1024 * 1024,
      maxSayChars: 20000,
    },
  });

  // Bad messages: each gets an error back and is ignored; the call goes on.
  const bad: Array<[unknown, string]> = [
    ['this is not json', 'BAD_JSON'],
    [{ type: 'shout', text: 'hi' }, 'UNKNOWN_TYPE'],
    [{ type: 'say' }, 'INVALID_MESSAGE'],
    [{ type: 'play', audio: 'AA==', sampleRateHz: 16000 }, 'BAD_AUDIO'],
    [{ type: 'say', text: 'x'.repeat(4 * 1024 * 1024) }, 'TOO_BIG'],
  ];
  for (const [m] of bad) send(m);
  (botWs as WebSocket).send(Buffer.from([1, 2, 3]));
  await until(() => got.filter((m) => m.type === 'error').length === bad.length + 1, 5000, 'an error for each bad message');
  t.same(
    got.filter((m) => m.type === 'error').map((m) => m.code),
    [...bad.map((b) => b[1]), 'BAD_MESSAGE'],
    'error codes in order',
  );
  t.match(
    got.find((m) => m.code === 'INVALID_MESSAGE'),
    { inReplyTo: 'say', reason: /required property 'text'/ },
  );
  t.equal(metricValue(await g.metrics(), 'gateway_bot_invalid_messages_total'), bad.length + 1, 'each is counted');

  // A say → tone frames on the leg → playback.finished with what was heard.
  send({ type: 'say', text: 'one two three' });
  const fin = await waitFor((m) => m.type === 'playback.finished', 'playback.finished');
  t.equal(fin.replyId, 1);
  t.ok(about(fin.totalMs, 300) && fin.heardMs === fin.totalMs, `heard all ${fin.totalMs} ms`);
  t.ok(isTone(leg.binary), 'the say became audio on the leg');

  // play (8 kHz PCM, resampled) then clear → playback.interrupted, heard less than the total.
  const tone = new Int16Array(8000 * 3);
  for (let i = 0; i < tone.length; i++) tone[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000));
  const n0 = leg.binary.length;
  send({ type: 'play', audio: Buffer.from(tone.buffer).toString('base64'), sampleRateHz: 8000 });
  await until(() => leg.binary.length >= n0 + 15, 5000, 'play audio on the leg');
  t.ok(isTone(leg.binary.slice(n0)), 'played PCM reached the leg, resampled to 16 kHz');
  send({ type: 'clear' });
  const cut = await waitFor((m) => m.type === 'playback.interrupted', 'playback.interrupted');
  t.equal(cut.replyId, 2);
  t.ok(
    (cut.heardMs as number) > 0 && (cut.heardMs as number) < (cut.totalMs as number) && about(cut.totalMs, 3000),
    `heard ${cut.heardMs} of ${cut.totalMs} ms`,
  );

  // The caller speaks and presses a key: VAD events, the transcript and DTMF, in order.
  await caller.say(SPEECH);
  await waitFor((m) => m.type === 'transcript', 'transcript');
  leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '7', duration: 120 }));
  await waitFor((m) => m.type === 'dtmf', 'dtmf');
  const caller_ = got.filter((m) => ['speech.started', 'speech.ended', 'transcript', 'dtmf'].includes(m.type as string));
  t.match(caller_, [
    { type: 'speech.started' },
    { type: 'speech.ended', durationMs: Number },
    { type: 'transcript', text: 'go forward ten meters', final: true },
    { type: 'dtmf', digit: '7', durationMs: 120 },
  ]);
  t.ok((must(caller_[1]).durationMs as number) > 1000, `utterance length reported (${must(caller_[1]).durationMs} ms)`);

  // The caller hangs up: call.ended is the last message, and the bot socket is closed with 1000.
  caller.stop();
  leg.ws.close(1000);
  await until(() => botClose !== undefined, 5000, 'bot socket closed');
  t.equal(botClose, 1000);
  t.equal(got.at(-1)?.type, 'call.ended');
  for (const m of got) t.ok(validateToBot(m), `${m.type} matches the schema ${JSON.stringify(validateToBot.errors ?? '')}`);
  t.notOk(JSON.stringify(g.logs).includes(TOKEN), 'the token is never logged');
  await untilEvent(g, 'call-end', () => true, 3000, 'call ended');
});

t.test('hangup immediate from the bot ends the call at once; the bot learns why', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  const got: Msg[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as Msg;
      got.push(m);
      if (m.type === 'call.started') {
        ws.send(JSON.stringify({ type: 'say', text: 'a long reply that is never heard in full because we hang up', end: false }));
        ws.send(JSON.stringify({ type: 'hangup', immediate: true, reason: 'test' }));
      }
    });
  });
  const g = await startGateway(t, env(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`));
  const { leg } = await callIn(t, g, 'sidecar-hangup');
  t.equal((await leg.closed).code, 1000);
  await until(() => got.some((m) => m.type === 'call.ended'), 3000, 'call.ended');
  t.match(
    got.find((m) => m.type === 'call.ended'),
    { reason: 'bot hung up' },
  );
  t.equal(eventsOf(g, 'apology').length, 0, 'no apology when the bot hung up');
});
