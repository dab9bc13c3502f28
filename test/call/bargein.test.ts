/** Barge-in on a real call: caller speech during playback stops it at once, Vonage is told to clear, and the
 * session records how much of the reply the caller heard. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { eventsOf, startGateway, metricValue, until, untilEvent } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';

const DATA = '/usr/share/pocketsphinx/test/data';
const FIRST = readFileSync(`${DATA}/cards/001.wav`).subarray(44);
const SECOND = readFileSync(`${DATA}/cards/002.wav`).subarray(44);
const silence = (ms: number) => Buffer.alloc((ms / 20) * 640);

t.test('caller speech during the echo interrupts it', async (t) => {
  const g = await startGateway(t);
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'barge-1' });
  const first = Buffer.concat([FIRST, silence(1000)]);
  await streamFrames(leg.ws, first, 640, first.length / 640);
  await until(() => leg.binary.length >= 15, 3000, 'echo playing');
  t.notOk(
    leg.texts.some((m) => (m as { action?: string }).action === 'clear'),
    'no clear before the caller speaks',
  );
  const second = Buffer.concat([SECOND, silence(400)]);
  const streaming = streamFrames(leg.ws, second, 640, second.length / 640);
  await until(() => leg.texts.some((m) => (m as { action?: string }).action === 'clear'), 3000, 'clear sent to Vonage');
  const atClear = leg.binary.length;
  await new Promise((r) => setTimeout(r, 300));
  t.ok(leg.binary.length - atClear <= 1, `playback stopped at once (${leg.binary.length - atClear} frames after clear)`);
  await streaming;
  const interrupted = eventsOf(g, 'reply-done').find((e) => e.interrupted && e.replyId === 1);
  t.ok(interrupted, 'reply 1 recorded as interrupted');
  const heard = interrupted?.heardMs ?? 0;
  const total = interrupted?.totalMs ?? 0;
  t.ok(heard > 0 && heard < total, `caller heard part of it: ${heard} of ${total} ms`);
  t.ok(Math.abs(heard - leg.binary.slice(0, atClear).length * 20) <= 200, 'heard estimate within the pacer lead of what was sent');
  t.equal(metricValue(await g.metrics(), 'gateway_barge_ins_total'), 1);
  leg.ws.close();
});

t.test('BARGE_IN=false lets the reply play out', async (t) => {
  const g = await startGateway(t, { BARGE_IN: 'false' });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'barge-2' });
  const first = Buffer.concat([FIRST, silence(1000)]);
  await streamFrames(leg.ws, first, 640, first.length / 640);
  await until(() => leg.binary.length >= 15, 3000, 'echo playing');
  await streamFrames(leg.ws, SECOND, 640, Math.floor(SECOND.length / 640));
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 1, 3000, 'reply 1 played');
  t.notOk(
    leg.texts.some((m) => (m as { action?: string }).action === 'clear'),
    'never cleared',
  );
  t.equal(metricValue(await g.metrics(), 'gateway_barge_ins_total'), 0);
  leg.ws.close();
});
