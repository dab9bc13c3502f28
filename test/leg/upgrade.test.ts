/**
 * The WebSocket upgrade pipeline (src/leg/upgrade.ts) against a real gateway: every refusal carries a stable
 * upper-case code in its JSON body (the metric keeps its short reasons), and only RFC 6455 (version 13) is spoken.
 */
import t from 'tap';
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
