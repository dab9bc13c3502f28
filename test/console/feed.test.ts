/**
 * The console's HTTP side without a browser: off by default, the token gate, the refusal on a non-loopback HOST
 * without a token, and the live feed (Server-Sent Events) following a real call on a raw Vonage leg.
 */
import t from 'tap';
import { startGateway, until } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';
import { openSse } from '../helpers/sse.js';
import { metricValue } from '../helpers/gateway.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { createConsole } from '../../src/console/routes.js';
import { must } from '../helpers/must.js';

const TOKEN = 'console-secret-token-0123456789';

t.test('the console is off by default: 404', async (t) => {
  const g = await startGateway(t);
  t.equal(g.gw.console, undefined);
  for (const p of ['/console', '/console/app.js', '/console/events']) {
    const r = await fetch(`${g.url}${p}`);
    t.equal(r.status, 404, `${p} → 404`);
    t.equal(((await r.json()) as { error: string }).error, 'NOT_FOUND');
  }
});

t.test('non-loopback HOST without CONSOLE_TOKEN: refused at start, and the log says why', async (t) => {
  const lines: Array<{ msg: string; host?: string }> = [];
  const logger = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s)) });
  const refused = createConsole(loadConfig({ CONSOLE_ENABLED: 'true', HOST: '0.0.0.0' }), () => [], logger);
  t.equal(refused, undefined, 'no console');
  const why = lines.find((l) => /console NOT enabled/.test(l.msg));
  t.ok(why && /CONSOLE_TOKEN/.test(why.msg) && why.host === '0.0.0.0', 'the warning names the host and the fix');
  const withToken = createConsole(loadConfig({ CONSOLE_ENABLED: 'true', HOST: '0.0.0.0', CONSOLE_TOKEN: TOKEN }), () => [], logger);
  t.ok(withToken, 'with a token the console is enabled on any HOST');
  withToken?.close();
  t.throws(() => loadConfig({ CONSOLE_TOKEN: 'short' }), /CONSOLE_TOKEN=\(secret, not shown\)/, 'a bad token is rejected without echoing it');
});

t.test('token gate: 401 without it; ?token= sets an HttpOnly cookie; cookie and Bearer let the page, assets and feed in', async (t) => {
  const g = await startGateway(t, { CONSOLE_ENABLED: 'true', CONSOLE_TOKEN: TOKEN });
  for (const p of ['/console', '/console/app.js', '/console/events']) {
    const r = await fetch(`${g.url}${p}`);
    t.equal(r.status, 401, `${p} without a token → 401`);
    const body = (await r.json()) as { error: string; reason: string };
    t.equal(body.error, 'CONSOLE_UNAUTHORIZED');
  }
  t.equal((await fetch(`${g.url}/console?token=wrong-token-wrong-token`)).status, 401, 'a wrong token → 401');
  t.equal((await fetch(`${g.url}/console`, { headers: { cookie: 'vgw_console=nope' } })).status, 401, 'a wrong cookie → 401');

  const first = await fetch(`${g.url}/console?token=${encodeURIComponent(TOKEN)}`, { redirect: 'manual' });
  t.equal(first.status, 303, 'the token leaves the address bar');
  t.equal(first.headers.get('location'), '/console');
  const setCookie = first.headers.get('set-cookie') ?? '';
  t.match(setCookie, /^vgw_console=[^;]+; Path=\/console; HttpOnly; SameSite=Strict/, 'HttpOnly, SameSite cookie scoped to /console');
  const cookie = must(setCookie.split(';')[0]);

  const page = await fetch(`${g.url}/console`, { headers: { cookie } });
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /text\/html/);
  t.match(page.headers.get('content-security-policy'), /default-src 'self'/);
  t.match(await page.text(), /Call the bot/);
  for (const asset of ['app.js', 'softphone.js', 'worklets.js', 'charts.js', 'style.css']) {
    const r = await fetch(`${g.url}/console/${asset}`, { headers: { cookie } });
    t.equal(r.status, 200, `${asset} with the cookie`);
    await r.arrayBuffer();
  }
  const bearer = await fetch(`${g.url}/console`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(bearer.status, 200, 'Authorization: Bearer works too');
  await bearer.text();
  t.equal((await fetch(`${g.url}/console/nope.js`, { headers: { cookie } })).status, 404, 'unknown asset → 404');
  t.equal((await fetch(`${g.url}/console/../package.json`, { headers: { cookie } })).status, 404, 'no path traversal');

  const feed = await openSse(`${g.url}/console/events`, { cookie });
  t.equal(feed.status, 200);
  t.match(feed.headers['content-type'], /text\/event-stream/);
  await until(() => feed.events.some((e) => e.event === 'snapshot'), 5000, 'snapshot');
  feed.close();
  t.notOk(
    g.logs.some((l) => JSON.stringify(l).includes(TOKEN)),
    'the token is never logged',
  );
});

t.test('the live feed follows a real call: start, state, DTMF, bot text, figures, end — and costs nothing unwatched', async (t) => {
  const g = await startGateway(t, { CONSOLE_ENABLED: 'true' });
  const hub = g.gw.console!.hub;
  t.equal(hub.active, false, 'no client: the observer is inactive');
  const feed = await openSse(`${g.url}/console/events`);
  await until(() => feed.events.some((e) => e.event === 'snapshot'), 5000, 'snapshot');
  t.equal(metricValue(await g.metrics(), 'gateway_console_clients'), 1, 'the connected console is a metric');
  t.equal(hub.active, true);

  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'console-feed-1', from: '447700900001', to: '447700900002' });
  const call = () => feed.events.find((e) => e.event === 'call' && (e.data as { id: string }).id === 'console-feed-1');
  await until(() => !!call(), 5000, 'call event');
  const v = call()!.data as { from: string; to: string; rateHz: number; language: string; startedAtMs: number };
  t.same([v.from, v.to, v.rateHz, v.language], ['447700900001', '447700900002', 16000, 'en-US'], 'metadata');
  t.ok(Math.abs(v.startedAtMs - Date.now()) < 60000, 'start time is wall-clock');
  await until(() => feed.events.some((e) => e.event === 'state' && (e.data as { state: string }).state === 'listening'), 5000, 'listening');

  const streaming = streamFrames(leg.ws, Buffer.alloc(640), 640, 150);
  leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '7', duration: 120 }));
  await until(
    () => feed.events.some((e) => e.event === 'line' && (e.data as { line: { kind: string; text: string } }).line.kind === 'dtmf'),
    5000,
    'dtmf line',
  );
  const dtmf = feed.events.find((e) => e.event === 'line' && (e.data as { line: { kind: string } }).line.kind === 'dtmf')!.data as { line: { text: string } };
  t.match(dtmf.line.text, /^7 \(120 ms\)/);
  await until(
    () =>
      feed.events.some(
        (e) =>
          e.event === 'stats' && (e.data as { calls: Array<{ id: string; framesIn: number }> }).calls.some((c) => c.id === 'console-feed-1' && c.framesIn > 0),
      ),
    5000,
    'figures sampled',
  );
  await streaming;
  leg.ws.close(1000);
  await until(() => feed.events.some((e) => e.event === 'end'), 5000, 'end event');
  const end = feed.events.find((e) => e.event === 'end')!.data as { id: string; figures: { framesIn: number } };
  t.equal(end.id, 'console-feed-1');
  t.ok(end.figures.framesIn >= 100, `frames in at the end: ${end.figures.framesIn}`);

  // A second client gets the ended call in its snapshot (ended calls stay listed).
  const second = await openSse(`${g.url}/console/events`);
  await until(() => second.events.some((e) => e.event === 'snapshot'), 5000, 'second snapshot');
  const snap = must(second.events[0]).data as { calls: Array<{ id: string; state: string; lines: Array<{ kind: string }> }> };
  const ended = snap.calls.find((c) => c.id === 'console-feed-1');
  t.equal(ended?.state, 'closed', 'the ended call is still listed');
  t.ok(
    ended?.lines.some((l) => l.kind === 'dtmf'),
    'with its transcript',
  );
  feed.close();
  second.close();
  await until(() => !hub.active, 5000, 'observer inactive once clients leave');
  t.equal(hub.clients, 0);
});

t.test('the page ships: found from dist/ at run time, and copied into the image', async (t) => {
  const { staticDir } = await import('../../src/console/routes.js');
  const { existsSync, readFileSync } = await import('node:fs');
  const dir = staticDir();
  for (const f of ['index.html', 'app.js', 'softphone.js', 'worklets.js', 'charts.js', 'style.css']) t.ok(existsSync(`${dir}/${f}`), f);
  t.match(readFileSync('Dockerfile', 'utf8'), /^COPY console \.\/console$/m, 'the runtime stage copies console/ next to dist/');
});
