/** Calls that end any way at all leave nothing behind: no session, no tick listener, no timer, no socket. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { eventsOf, startGateway, until } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';
import { resources } from '../helpers/resources.js';

const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/cards/001.wav').subarray(44);

t.test('socket dropped mid-reply, normal close and refused legs all clean up', async (t) => {
  await new Promise((r) => setTimeout(r, 50));
  const before = resources();
  const g = await startGateway(t, { HANDSHAKE_TIMEOUT_MS: '300' });
  const ws = `ws://127.0.0.1:${g.port}/socket`;

  // 1. Vonage's socket drops (no close frame) while the echo is playing.
  const dropped = await openRawLeg(ws);
  dropped.handshake('audio/l16;rate=16000', { uuid: 'drop-1' });
  const pcm = Buffer.concat([SPEECH, Buffer.alloc(32000)]);
  await streamFrames(dropped.ws, pcm, 640, pcm.length / 640);
  await until(() => dropped.binary.length >= 5, 3000, 'reply playing');
  t.ok(g.gw.ticker.size >= 1, 'the call is on the shared clock');
  dropped.ws.terminate();

  // 2. A normal close. 3. A leg that never handshakes.
  const normal = await openRawLeg(ws);
  normal.handshake('audio/l16;rate=8000', { uuid: 'normal-1' });
  await until(() => g.gw.tracker.size >= 1, 3000, 'session');
  normal.ws.close(1000);
  const silent = await openRawLeg(ws);
  t.equal((await silent.closed).code, 4000);

  await until(() => g.gw.tracker.size === 0, 3000, 'all sessions gone');
  await until(() => g.gw.ticker.size === 0, 3000, 'no tick listeners');
  const ended = eventsOf(g, 'call-end');
  t.equal(ended.length, 2);
  t.equal(ended.find((e) => e.call === 'drop-1')?.summary.closeCode, 1006, 'abnormal closure recorded');
  t.ok(
    eventsOf(g, 'reply-done', 'drop-1').some((e) => e.interrupted),
    'the cut reply is reported as interrupted',
  );
  await g.gw.close();
  await new Promise((r) => setTimeout(r, 100));
  const after = resources();
  for (const k of ['Timeout', 'TCPSocketWrap', 'TCPServerWrap']) t.ok((after[k] ?? 0) <= (before[k] ?? 0), `${k}: ${after[k] ?? 0} ≤ ${before[k] ?? 0}`);
});
