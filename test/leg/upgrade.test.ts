/**
 * The WebSocket upgrade pipeline (src/leg/upgrade.ts) against a real gateway: every refusal carries a stable
 * upper-case code in its JSON body (the metric keeps its short reasons), and only RFC 6455 (version 13) is spoken.
 */
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { metricValue, startGateway, until } from '../helpers/gateway.js';
import { rawHttp, tryUpgrade } from '../helpers/security.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const upgradeReq = (path: string, headers: Record<string, string>, method = 'GET') =>
  `${method} ${path} HTTP/1.1\r\nHost: x\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
const ok = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': KEY };

t.test('Sec-WebSocket-Version other than 13 (8, the draft `ws` also takes; 12; none) → 426 with the version we speak', async (t) => {
  const g = await startGateway(t);
  for (const v of ['8', '12', '13, 8', undefined]) {
    const headers: Record<string, string> = { ...ok };
    if (v === undefined) delete headers['Sec-WebSocket-Version'];
    else headers['Sec-WebSocket-Version'] = v;
    const r = await rawHttp(g.port, upgradeReq('/socket', headers));
    t.equal(r.status, 426, `version ${v ?? '(none)'} refused`);
    t.match(r.head, /\r\nSec-WebSocket-Version: 13\r\n/i, 'the 426 names version 13');
    t.match(r.head, /\r\nConnection: close\r\n/i);
    t.match(JSON.parse(r.body), { error: 'BAD_UPGRADE', reason: 'Sec-WebSocket-Version must be 13' });
  }
  // A real client speaking the hybi-08 draft is refused; the same client speaking 13 gets its socket.
  const draft = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${g.port}/socket`, { protocolVersion: 8, perMessageDeflate: false });
    ws.on('error', () => {});
    ws.once('open', () => (ws.terminate(), resolve(101)));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
  });
  t.equal(draft, 426, 'a ws client with protocolVersion 8 is refused');
  const v13 = await tryUpgrade(`ws://127.0.0.1:${g.port}/socket`);
  t.equal(v13.status, 101, 'version 13 is accepted');
  v13.ws?.terminate();
  t.equal(g.gw.tracker.size, 0);
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_legs_refused_total{reason="bad_upgrade"}'), 5, 'counted as bad upgrades');
  t.equal(g.logs.filter((l) => l.msg === 'leg refused: malformed WebSocket upgrade').length, 5, 'one warning per refusal');
});

t.test('every upgrade refusal carries an upper-case code; the metric keeps its reasons', async (t) => {
  const g = await startGateway(t, {
    WS_AUTH: 'custom',
    WS_AUTH_TOKEN: 'tok-abcdefghijklmnop',
    MAX_CALLS: '1',
    UPGRADE_RATE_PER_SOURCE: '100',
    UPGRADE_BURST_PER_SOURCE: '100',
  });
  const auth = { Authorization: 'tok-abcdefghijklmnop' };
  const cases: Array<[what: string, req: string, status: number, code: string, reason: string]> = [
    ['other path', upgradeReq('/elsewhere', { ...ok, ...auth }), 404, 'NOT_FOUND', 'path'],
    ['POST', upgradeReq('/socket', { ...ok, ...auth }, 'POST'), 405, 'BAD_UPGRADE', 'bad_upgrade'],
    [
      'no key',
      upgradeReq('/socket', { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13', ...auth }),
      400,
      'BAD_UPGRADE',
      'bad_upgrade',
    ],
    ['not websocket', upgradeReq('/socket', { ...ok, Upgrade: 'h2c', ...auth }), 400, 'BAD_UPGRADE', 'bad_upgrade'],
    ['bad version', upgradeReq('/socket', { ...ok, 'Sec-WebSocket-Version': '8', ...auth }), 426, 'BAD_UPGRADE', 'bad_upgrade'],
    ['no token', upgradeReq('/socket', ok), 401, 'LEG_UNAUTHORIZED', 'unauthorized'],
  ];
  for (const [what, req, status, code, reason] of cases) {
    const before = metricValue(await g.metrics(), `gateway_legs_refused_total{reason="${reason}"}`);
    const r = await rawHttp(g.port, req);
    t.equal(r.status, status, `${what} → ${status}`);
    const body = JSON.parse(r.body) as { error: string; reason: string };
    t.equal(body.error, code, `${what} → ${code}`);
    t.match(body.error, /^[A-Z][A-Z_]+$/, 'a stable upper-case code');
    t.ok(body.reason.length > 0, 'and a reason');
    t.equal(metricValue(await g.metrics(), `gateway_legs_refused_total{reason="${reason}"}`), before + 1, `counted as ${reason}`);
  }
  // At capacity, then draining (with the one call still live): UNAVAILABLE, counted as capacity / draining.
  const first = await tryUpgrade(`ws://127.0.0.1:${g.port}/socket`, auth);
  t.equal(first.status, 101);
  first.ws?.send(JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/l16;rate=16000' }));
  await until(() => g.gw.tracker.size === 1, 5000, 'session');
  const full = await rawHttp(g.port, upgradeReq('/socket', { ...ok, ...auth }));
  t.equal(full.status, 503);
  t.same(JSON.parse(full.body), { error: 'UNAVAILABLE', reason: 'gateway at capacity' });
  const drained = g.gw.drain(20000);
  const refused = await rawHttp(g.port, upgradeReq('/socket', { ...ok, ...auth }));
  t.equal(refused.status, 503);
  t.same(JSON.parse(refused.body), { error: 'UNAVAILABLE', reason: 'gateway is draining' });
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_legs_refused_total{reason="capacity"}'), 1);
  t.equal(metricValue(m, 'gateway_legs_refused_total{reason="draining"}'), 1);
  first.ws?.close();
  await drained;
});

/**
 * `n` upgrades written together after every connection is accepted, then this process (the gateway's too) held busy
 * for `holdMs` so that all of them are waiting in one poll phase, as when a burst of calls is answered at once.
 */
async function upgradeBurst(port: number, n: number, holdMs = 100, afterWrite?: () => void): Promise<Array<{ status: number; body: string }>> {
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        }),
    ),
  );
  const answers = sockets.map(
    (s) =>
      new Promise<{ status: number; body: string }>((resolve) => {
        let text = '';
        const done = () => {
          const i = text.indexOf('\r\n\r\n');
          resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), body: i >= 0 ? text.slice(i + 4) : '' });
        };
        s.on('data', (c: Buffer) => {
          text += c.toString('latin1');
          // An accepted upgrade stays open (its leg holds a call slot) until every answer is in.
          if (text.startsWith('HTTP/1.1 101') && text.includes('\r\n\r\n')) done();
        });
        s.on('error', () => {});
        s.on('close', done);
      }),
  );
  // Node accepts one connection per turn of its loop: let it accept them all, so the requests meet in one poll phase.
  await new Promise((r) => setTimeout(r, 200));
  for (const s of sockets) s.write(upgradeReq('/socket', ok));
  const end = performance.now() + holdMs;
  while (performance.now() < end);
  afterWrite?.();
  const out = await Promise.all(answers);
  for (const s of sockets) s.destroy();
  return out;
}

t.test('a burst of upgrades is admitted in slices (ADMISSION_SLICE_MS): every leg answered, the waiting ones counted', async (t) => {
  for (const slice of ['1', '0']) {
    const g = await startGateway(t, { ADMISSION_SLICE_MS: slice });
    const answers = await upgradeBurst(g.port, 100);
    t.same(
      answers.map((a) => a.status),
      Array(100).fill(101),
      `ADMISSION_SLICE_MS=${slice}: all 100 upgraded`,
    );
    const waited = metricValue(await g.metrics(), 'gateway_legs_admission_waited_total');
    if (slice === '0') t.equal(waited, 0, 'no slicing: none waited');
    else t.ok(waited > 0 && waited < 100, `${waited} of 100 waited for a later turn of the loop`);
    await g.gw.close();
  }
});

t.test('a burst beyond MAX_CALLS: the waiting legs count, the rest are refused at once', async (t) => {
  const g = await startGateway(t, { ADMISSION_SLICE_MS: '1', MAX_CALLS: '30' });
  const answers = await upgradeBurst(g.port, 60);
  t.equal(answers.filter((a) => a.status === 101).length, 30, '30 admitted');
  const refused = answers.filter((a) => a.status === 503);
  t.equal(refused.length, 30, '30 refused');
  for (const r of refused) t.same(JSON.parse(r.body), { error: 'UNAVAILABLE', reason: 'gateway at capacity' });
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_legs_refused_total{reason="capacity"}'), 30);
  t.ok(metricValue(m, 'gateway_legs_admission_waited_total') > 0, 'some of the 30 waited');
});

t.test('the gateway closing while upgrades wait: each waiting one gets a 503, none is left hanging', async (t) => {
  const g = await startGateway(t, { ADMISSION_SLICE_MS: '1' });
  let closed: Promise<void> | undefined;
  // Queued ahead of the admission queue's own turn: the gateway closes right after the burst's first slice.
  const answers = await upgradeBurst(g.port, 100, 100, () => {
    setImmediate(() => {
      closed = g.gw.close();
    });
  });
  await closed;
  const upgraded = answers.filter((a) => a.status === 101).length;
  const closing = answers.filter((a) => a.status === 503);
  t.ok(upgraded > 0 && upgraded < 100, `${upgraded} admitted in the first slice`);
  t.equal(upgraded + closing.length, 100, 'every other one refused');
  for (const r of closing) t.same(JSON.parse(r.body), { error: 'UNAVAILABLE', reason: 'gateway is closing' });
});
