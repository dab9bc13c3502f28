/**
 * Where a backchannel and a barge-in pause are seen besides the module bot: a sidecar bot gets the 1.1 `backchannel`
 * message (valid per docs/sidecar-protocol.schema.json, no transcript, its reply going on), and the console's live feed
 * shows the pause, the resume and the backchannel as lines of the call. A real gateway on a real port, a sidecar bot
 * on its own WebSocket server playing one long reply, and a Vonage leg saying a 400 ms burst of recorded speech.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import WebSocket, { WebSocketServer } from 'ws';
import { startGateway, until } from '../helpers/gateway.js';
import { openRawLeg, ContinuousCaller } from '../helpers/raw-leg.js';
import { openSse } from '../helpers/sse.js';
import { SIDECAR_SCHEMA } from '../../src/bot/remote-schema.js';

const FRAME = 640;
const pcm = (f: string) => readFileSync(`/usr/share/pocketsphinx/test/data/${f}`).subarray(44);
/** 400 ms of recorded speech from its onset: as short as an "okay". */
const BURST = pcm('cards/001.wav').subarray(10 * FRAME, 30 * FRAME);
/** 6 s of a quiet tone at 16 kHz, base64 for a sidecar `play`. */
const REPLY = (() => {
  const s = new Int16Array(16000 * 6);
  for (let i = 0; i < s.length; i++) s[i] = Math.round(3000 * Math.sin((2 * Math.PI * 330 * i) / 16000));
  return Buffer.from(s.buffer).toString('base64');
})();

type Msg = Record<string, unknown> & { type: string };

t.test('a sidecar bot is told of a backchannel, and the console shows the pause, the resume and the backchannel', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has('vgw.sidecar.v1.1') ? 'vgw.sidecar.v1.1' : false) });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  const got: Msg[] = [];
  wss.on('connection', (s: WebSocket) => {
    s.on('message', (d) => {
      const m = JSON.parse(d.toString()) as Msg;
      got.push(m);
      if (m.type === 'call.started') s.send(JSON.stringify({ type: 'play', audio: REPLY, sampleRateHz: 16000, id: 'long' }));
    });
  });
  const g = await startGateway(t, {
    BOT_ADAPTER: 'remote',
    BOT_URL: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/bot`,
    ASR_ADAPTER: 'none',
    TTS_ADAPTER: 'none',
    CONSOLE_ENABLED: 'true',
  });
  const feed = await openSse(`${g.url}/console/events`);
  t.teardown(() => feed.close());
  await until(() => feed.events.some((e) => e.event === 'snapshot'), 5000, 'console snapshot');

  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'bc-sidecar' });
  const caller = new ContinuousCaller(leg.ws, FRAME);
  caller.start();
  t.teardown(() => caller.stop());
  await until(() => leg.binary.length >= 25, 8000, 'the reply playing');
  await caller.say(BURST);
  await until(() => got.some((m) => m.type === 'backchannel'), 8000, 'backchannel at the sidecar');

  const bc = got.find((m) => m.type === 'backchannel')!;
  const ajv = new Ajv({ strict: false });
  ajv.addSchema(SIDECAR_SCHEMA);
  const validate = ajv.getSchema(`${SIDECAR_SCHEMA.$id}#/definitions/Backchannel`)!;
  t.ok(validate(bc), `valid per the published schema: ${JSON.stringify(bc)} ${JSON.stringify(validate.errors)}`);
  t.ok((bc.durationMs as number) > 0 && (bc.durationMs as number) <= 700, `voiced ${String(bc.durationMs)} ms`);
  t.notOk(
    got.some((m) => m.type === 'transcript'),
    'no transcript: not a turn',
  );
  t.notOk(
    got.some((m) => m.type === 'playback.interrupted'),
    'the reply was not interrupted',
  );
  await until(() => got.some((m) => m.type === 'playback.finished'), 12000, 'the reply played to its end');
  t.equal(got.find((m) => m.type === 'playback.finished')!.id, 'long');

  const lines = () => feed.events.filter((e) => e.event === 'line').map((e) => e.data as { id: string; line: { kind: string; text: string } });
  await until(() => lines().some((l) => l.line.kind === 'backchannel'), 5000, 'backchannel line on the console');
  const mine = lines()
    .filter((l) => l.id === 'bc-sidecar')
    .map((l) => `${l.line.kind}: ${l.line.text}`);
  const paused = mine.findIndex((l) => /^pause: reply \d+ paused/.test(l));
  const resumed = mine.findIndex((l) => /^pause: reply \d+ resumed$/.test(l));
  const backchannel = mine.findIndex((l) => /^backchannel: \(no words\) \(\d+ ms\)$/.test(l));
  t.ok(paused >= 0 && resumed > paused, `pause, then resume: ${JSON.stringify(mine)}`);
  t.ok(backchannel >= 0, 'the backchannel line (no ASR: no words)');
  t.notOk(
    mine.some((l) => l.startsWith('barge-in:')),
    'no barge-in line',
  );
  leg.ws.close();
});
