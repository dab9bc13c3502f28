/**
 * Security against a real gateway on a real port: signed webhooks (GET and POST, every kind of bad token), authenticated
 * legs (vonage JWT and custom token, refused before any WebSocket exists), the per-source upgrade rate limit, header and
 * body limits, config validation, and that no token ever reaches the logs.
 */
import t, { type Test } from 'tap';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { readFileSync } from 'node:fs';
import { startGateway, metricValue, until, type TestGateway } from '../helpers/gateway.js';
import { SECRET, noneJwt, rawHttp, sha256Hex, tryUpgrade, vonageJwt } from '../helpers/security.js';
import { loadConfig } from '../../src/config/config.js';
import { sectionsOf } from '../../src/config/sections.js';
import { connectNcco } from '../../src/webhooks/ncco.js';
import { SourceRateLimiter } from '../../src/security/rate-limit.js';
import { queryJson } from '../../src/security/webhook-auth.js';
import { must } from '../helpers/must.js';

const nowS = () => Math.floor(Date.now() / 1000);

/** No log line may contain any of the tokens a test used. */
function assertNoTokenLogged(t: Test, g: TestGateway, tokens: string[]): void {
  const all = g.logs.map((l) => JSON.stringify(l)).join('\n');
  for (const tok of tokens) {
    t.notOk(all.includes(tok), 'token never logged');
    t.notOk(all.includes(tok.split('.')[2] || tok), 'signature part never logged');
  }
}

t.test('signed webhooks: good signatures accepted (GET answer, POST event, POST fallback, form POST)', async (t) => {
  const g = await startGateway(t, { VONAGE_SIGNATURE_SECRET: SECRET });
  // GET: payload_hash = SHA-256 of the query parameters as compact JSON in their original order.
  const q = { to: '447700900001', from: '447700900000', uuid: 'sig-call-1', conversation_uuid: 'CON-sig-1', region_url: 'https://api-eu-3.vonage.com' };
  const qs = new URLSearchParams(q).toString();
  const getTok = await vonageJwt({ payloadHash: sha256Hex(JSON.stringify(q)) });
  const r1 = await fetch(`${g.url}/webhooks/answer?${qs}`, { headers: { authorization: `Bearer ${getTok}` } });
  t.equal(r1.status, 200, 'signed GET answer accepted');
  const ncco = (await r1.json()) as Array<{ action: string }>;
  t.equal(must(ncco[0]).action, 'connect');

  // POST: payload_hash = SHA-256 of the raw body, byte for byte (odd spacing kept).
  const body = '{ "status":"answered",  "uuid":"sig-call-1", "conversation_uuid":"CON-sig-1", "timestamp":"2024-01-01T00:00:00.000Z" }';
  const postTok = await vonageJwt({ payloadHash: sha256Hex(body) });
  const r2 = await fetch(`${g.url}/webhooks/event`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${postTok}` },
    body,
  });
  t.equal(r2.status, 204, 'signed POST event accepted');

  const fb = JSON.stringify({ uuid: 'sig-call-1', reason: 'Connection closed.', original_request: { url: 'https://x/webhooks/answer', type: 'event' } });
  const fbTok = await vonageJwt({ payloadHash: sha256Hex(fb) });
  const r3 = await fetch(`${g.url}/webhooks/fallback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${fbTok}` },
    body: fb,
  });
  t.equal(r3.status, 200, 'signed POST fallback accepted');

  const form = 'uuid=sig-call-2&to=447700900001';
  const formTok = await vonageJwt({ payloadHash: sha256Hex(form) });
  const r4 = await fetch(`${g.url}/webhooks/answer`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${formTok}` },
    body: form,
  });
  t.equal(r4.status, 200, 'signed form POST accepted (hash of the raw body)');

  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_webhook_requests_total{hook="answer",code="200"}'), 2);
  assertNoTokenLogged(t, g, [getTok, postTok, fbTok, formTok]);
});

t.test('GET hash keeps the original order of the query (integer-like keys are not moved first)', async (t) => {
  const u = new URL('http://x/webhooks/answer?uuid=a&10=b&from=c%20d&to=e+f');
  t.equal(queryJson(u), '{"uuid":"a","10":"b","from":"c d","to":"e f"}');
  t.not(queryJson(u), JSON.stringify(Object.fromEntries(u.searchParams)), 'JSON.stringify of an object would reorder it');
});

t.test('signed webhooks: every kind of bad token is refused with 401 and a reason, before parsing', async (t) => {
  const g = await startGateway(t, { VONAGE_SIGNATURE_SECRET: SECRET, WEBHOOK_MAX_AGE_S: '300' });
  const body = JSON.stringify({ status: 'answered', uuid: 'bad-1' });
  const hash = sha256Hex(body);
  const cases: Array<[string, string | undefined, RegExp, string?]> = [
    ['no Authorization', undefined, /missing Authorization/],
    ['not Bearer', 'Basic dXNlcjpwYXNz', /not a Bearer token/],
    ['garbage token', 'Bearer abc.def', /not a valid JWT/],
    ['forged (other secret)', `Bearer ${await vonageJwt({ secret: 'some-other-secret-0123456789', payloadHash: hash })}`, /signature does not verify/],
    ['alg none', `Bearer ${noneJwt({ iat: nowS(), payload_hash: hash })}`, /not HS256|not a valid JWT/],
    ['expired iat', `Bearer ${await vonageJwt({ payloadHash: hash, iatS: nowS() - 301 - 5 })}`, /older than 300 s/],
    ['iat in the future', `Bearer ${await vonageJwt({ payloadHash: hash, iatS: nowS() + 600 })}`, /in the future/],
    ['no iat', `Bearer ${await vonageJwt({ payloadHash: hash, iatS: null })}`, /no iat/],
    ['no payload_hash', `Bearer ${await vonageJwt({})}`, /no payload_hash/],
    ['hash of another body', `Bearer ${await vonageJwt({ payloadHash: sha256Hex(body + ' ') })}`, /payload_hash does not match/],
    ['unsigned malformed body', undefined, /missing Authorization/, '{not json'],
    ['signed but body tampered', `Bearer ${await vonageJwt({ payloadHash: hash })}`, /payload_hash does not match/, body.replace('answered', 'completed')],
  ];
  const tokens: string[] = [];
  for (const [name, auth, reason, b] of cases) {
    if (auth) tokens.push(auth.slice(7));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (auth) headers.authorization = auth;
    const r = await fetch(`${g.url}/webhooks/event`, { method: 'POST', headers, body: b ?? body });
    t.equal(r.status, 401, `${name} → 401`);
    const j = (await r.json()) as { error: string; reason: string };
    t.equal(j.error, 'WEBHOOK_UNAUTHORIZED', name);
    t.match(j.reason, reason, `${name}: ${j.reason}`);
  }
  // GET: a token for the same parameters in another order, or for other values, does not match.
  const q = 'uuid=get-1&from=447700900000';
  const reordered = await vonageJwt({ payloadHash: sha256Hex(JSON.stringify({ from: '447700900000', uuid: 'get-1' })) });
  const r = await fetch(`${g.url}/webhooks/answer?${q}`, { headers: { authorization: `Bearer ${reordered}` } });
  t.equal(r.status, 401, 'GET hash over reordered parameters refused');
  t.match(((await r.json()) as { reason: string }).reason, /payload_hash/);
  const ok = await vonageJwt({ payloadHash: sha256Hex(JSON.stringify({ uuid: 'get-1', from: '447700900000' })) });
  t.equal((await fetch(`${g.url}/webhooks/answer?${q}`, { headers: { authorization: `Bearer ${ok}` } })).status, 200, 'same query, right order: accepted');
  tokens.push(reordered, ok);

  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_webhook_requests_total{hook="event",code="401"}'), cases.length);
  t.ok(
    g.logs.some((l) => l.code === 'WEBHOOK_UNAUTHORIZED' && /webhook refused/.test(l.msg)),
    'refusals are logged',
  );
  assertNoTokenLogged(t, g, tokens);
  t.equal((await fetch(`${g.url}/healthz`)).status, 200);
});

t.test('config: auth settings validated; secrets never echoed', async (t) => {
  t.throws(() => loadConfig({ WS_AUTH: 'vonage' }), /WS_AUTH=vonage requires VONAGE_SIGNATURE_SECRET/);
  t.throws(() => loadConfig({ WS_AUTH: 'custom' }), /WS_AUTH=custom requires WS_AUTH_TOKEN/);
  t.throws(() => loadConfig({ WS_AUTH: 'jwt' }), /WS_AUTH="jwt" is invalid/);
  t.throws(() => loadConfig({ WS_AUTH: 'custom', WS_AUTH_TOKEN: 'x'.repeat(8192) }), /WS_AUTH_TOKEN=\(secret, not shown\)/);
  try {
    loadConfig({ WS_AUTH: 'custom', WS_AUTH_TOKEN: 'tok\u0001en-secret-value' });
    t.fail('control characters must be refused');
  } catch (e) {
    t.match((e as Error).message, /WS_AUTH_TOKEN=\(secret, not shown\) is invalid: expected 1-8191 printable ASCII/);
    t.notMatch((e as Error).message, /secret-value/, 'the bad token is not echoed');
  }
  t.throws(() => loadConfig({ VONAGE_SIGNATURE_SECRET: 'short' }), /VONAGE_SIGNATURE_SECRET=\(secret, not shown\)/);
  t.equal(loadConfig({ WS_AUTH: 'custom', WS_AUTH_TOKEN: 'x'.repeat(8191) }).wsAuthToken.length, 8191, '8191 characters allowed');
  t.throws(() => loadConfig({ UPGRADE_RATE_PER_SOURCE: '-1' }), /UPGRADE_RATE_PER_SOURCE/);
  t.equal(loadConfig({}).wsAuth, 'none');
  t.equal(loadConfig({}).webhookMaxAgeS, 300);
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);

  const call = { uuid: 'u1' };
  const endpoint = (env: Record<string, string>) =>
    (must(connectNcco(sectionsOf(loadConfig(env)), call)[0]).endpoint as Array<Record<string, unknown>>)[0] ?? {};
  t.equal(endpoint({}).authorization, undefined, 'no authorization by default');
  t.same(endpoint({ WS_AUTH: 'vonage', VONAGE_SIGNATURE_SECRET: SECRET }).authorization, { type: 'vonage' });
  t.same(endpoint({ WS_AUTH: 'custom', WS_AUTH_TOKEN: 'Token abc 123' }).authorization, { type: 'custom', value: 'Token abc 123' });
});

t.test('WS_AUTH=vonage: a signed upgrade connects and proceeds; missing/forged/stale are 401 before any WebSocket', async (t) => {
  const g = await startGateway(t, { WS_AUTH: 'vonage', VONAGE_SIGNATURE_SECRET: SECRET });
  const ws = `ws://127.0.0.1:${g.port}/socket?uuid=auth-1`;
  const good = await vonageJwt({});
  const okLeg = await tryUpgrade(ws, { authorization: `Bearer ${good}` });
  t.equal(okLeg.status, 101, 'good JWT → WebSocket');
  okLeg.ws!.send(JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/l16;rate=16000', uuid: 'auth-1' }));
  for (let i = 0; i < 10; i++) okLeg.ws!.send(Buffer.alloc(640));
  await until(() => g.gw.tracker.size === 1, 5000, 'the call starts');
  await until(() => g.gw.metrics.hot.framesIn === 10, 5000, 'its audio arrives');

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['missing', {}, /missing Authorization/],
    ['forged', { authorization: `Bearer ${await vonageJwt({ secret: 'not-the-secret-0123456789' })}` }, /signature/],
    ['stale', { authorization: `Bearer ${await vonageJwt({ iatS: nowS() - 3600 })}` }, /older than 300 s/],
    ['future', { authorization: `Bearer ${await vonageJwt({ iatS: nowS() + 3600 })}` }, /future/],
    ['alg none', { authorization: `Bearer ${noneJwt({ iat: nowS() })}` }, /HS256|valid JWT/],
    ['custom-style value', { authorization: 'my-shared-token' }, /not a Bearer token/],
  ];
  for (const [name, headers, reason] of bad) {
    const r = await tryUpgrade(ws, headers);
    t.equal(r.status, 401, `${name} → 401`);
    const j = JSON.parse(r.body) as { error: string; reason: string };
    t.equal(j.error, 'LEG_UNAUTHORIZED');
    t.match(j.reason, reason, `${name}: ${j.reason}`);
  }
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_legs_refused_total{reason="unauthorized"}'), bad.length);
  t.equal(metricValue(m, 'gateway_legs_accepted_total'), 1, 'only the signed leg became a call');
  t.equal(g.gw.metrics.hot.framesIn, 10, 'no audio from refused legs');
  t.equal(g.logs.filter((l) => /leg refused/.test(l.msg) && l.auth === 'vonage').length, bad.length, 'each refusal logged');
  assertNoTokenLogged(t, g, [
    good,
    ...bad
      .map(([, h]) => h.authorization)
      .filter((x): x is string => !!x)
      .map((h) => h.replace(/^Bearer /, '')),
  ]);
  okLeg.ws!.close();
});

t.test('WS_AUTH=custom: exact token connects; wrong/missing are 401; the comparison is crypto.timingSafeEqual', async (t) => {
  const token = 'Token s3cr3t-value with spaces/+=';
  const g = await startGateway(t, { WS_AUTH: 'custom', WS_AUTH_TOKEN: token });
  const ws = `ws://127.0.0.1:${g.port}/socket`;

  // Spy on the real crypto.timingSafeEqual (live ESM binding of the builtin) to prove the constant-time path is used.
  const real = crypto.timingSafeEqual;
  const calls: Array<[number, number]> = [];
  crypto.timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    calls.push([a.byteLength, b.byteLength]);
    return real(a, b);
  };
  syncBuiltinESMExports();
  t.teardown(() => {
    crypto.timingSafeEqual = real;
    syncBuiltinESMExports();
  });

  const ok = await tryUpgrade(ws, { authorization: token });
  t.equal(ok.status, 101, 'exact token → WebSocket');
  t.same(calls, [[32, 32]], 'compared with timingSafeEqual over two 32-byte digests');
  ok.ws!.send(JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/l16;rate=8000', uuid: 'c-1' }));
  await until(() => g.gw.tracker.size === 1, 5000, 'the call starts');

  for (const [name, h] of [
    ['wrong', { authorization: token + 'x' }],
    ['prefix', { authorization: token.slice(0, -1) }],
    ['case', { authorization: token.toUpperCase() }],
    ['huge', { authorization: 'A'.repeat(8000) }],
    ['missing', {}],
  ] as Array<[string, Record<string, string>]>) {
    const r = await tryUpgrade(ws, h);
    t.equal(r.status, 401, `${name} → 401`);
    t.match(JSON.parse(r.body), { error: 'LEG_UNAUTHORIZED', reason: /Authorization/ });
  }
  t.equal(calls.length, 5, 'every presented token went through timingSafeEqual (missing needs no comparison)');
  t.ok(
    calls.every(([a, b]) => a === 32 && b === 32),
    'always equal-length digests',
  );
  t.equal(metricValue(await g.metrics(), 'gateway_legs_refused_total{reason="unauthorized"}'), 5);
  assertNoTokenLogged(t, g, [token, token + 'x']);
  ok.ws!.close();
});

t.test('token bucket: burst, refill, bounded map with eviction (manual clock)', async (t) => {
  let now = 0;
  const rl = new SourceRateLimiter(2, 3, 4, () => now);
  const take = (s: string) => rl.take(s).allowed;
  t.same([take('a'), take('a'), take('a'), take('a')], [true, true, true, false], 'burst of 3, then refused');
  const d = rl.take('a');
  t.equal(d.firstRefusal, false, 'only the first refusal asks to be logged');
  t.equal(d.retryAfterS, 1);
  now += 500; // 2 per second → one token back
  t.same([take('a'), take('a')], [true, false]);
  now += 10_000;
  t.same([take('a'), take('a'), take('a'), take('a')], [true, true, true, false], 'refill is capped at the burst');
  for (const s of ['b', 'c', 'd', 'e', 'f', 'g']) take(s);
  t.equal(rl.size, 4, 'never more than maxSources buckets');
  t.equal(take('a'), true, 'an evicted source comes back with a full bucket (eviction is lenient)');
  const off = new SourceRateLimiter(0, 1, 4, () => 0);
  for (let i = 0; i < 100; i++) t.equal(off.take('x').allowed, true);
  t.equal(off.size, 0, 'rate 0 = off, nothing remembered');
});

t.test('upgrade rate limit per source: 429 with a JSON reason; X-Forwarded-For only with TRUST_PROXY', async (t) => {
  const g = await startGateway(t, { UPGRADE_RATE_PER_SOURCE: '1', UPGRADE_BURST_PER_SOURCE: '2' });
  const ws = `ws://127.0.0.1:${g.port}/socket`;
  const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => tryUpgrade(ws, { 'x-forwarded-for': `10.0.0.${i}` })));
  const refused = rs.filter((r) => r.status === 429);
  t.ok(refused.length >= 4, `spoofed X-Forwarded-For is ignored without TRUST_PROXY (${refused.length} of 8 refused)`);
  t.equal(rs.filter((r) => r.status === 101).length + refused.length, 8, 'every upgrade is 101 or 429');
  t.match(JSON.parse(must(refused[0]).body), { error: 'RATE_LIMITED', reason: /upgrades per second/ });
  t.ok(Number(must(refused[0]).headers['retry-after']) >= 1, 'Retry-After');
  t.equal(metricValue(await g.metrics(), 'gateway_legs_refused_total{reason="rate"}'), refused.length);
  t.equal(g.logs.filter((l) => /upgrade rate limit/.test(l.msg)).length, 1, 'a flood is logged once per source, not per refusal');
  for (const r of rs) r.ws?.terminate();

  const p = await startGateway(t, { UPGRADE_RATE_PER_SOURCE: '1', UPGRADE_BURST_PER_SOURCE: '2', TRUST_PROXY: 'true' });
  const pws = `ws://127.0.0.1:${p.port}/socket`;
  const distinct = await Promise.all(Array.from({ length: 8 }, (_, i) => tryUpgrade(pws, { 'x-forwarded-for': `203.0.113.9, 10.0.0.${i}` })));
  t.equal(distinct.filter((r) => r.status === 101).length, 8, 'behind a trusted proxy each client (last X-Forwarded-For hop) has its own bucket');
  const same = await Promise.all(Array.from({ length: 8 }, () => tryUpgrade(pws, { 'x-forwarded-for': '198.51.100.7' })));
  t.ok(same.filter((r) => r.status === 429).length >= 4, 'one client behind the proxy is still limited');
  for (const r of [...distinct, ...same]) r.ws?.terminate();
});

t.test('limits: 16 KiB headers → 431, 64 KiB bodies → 413 (declared or chunked), malformed upgrades → JSON 4xx', async (t) => {
  const g = await startGateway(t);
  const big = `GET /webhooks/answer?uuid=x HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20 * 1024)}\r\nConnection: close\r\n\r\n`;
  const h = await rawHttp(g.port, big);
  t.equal(h.status, 431, 'oversized headers on a webhook');
  t.match(JSON.parse(h.body), { error: 'HEADERS_TOO_LARGE' });
  const up = `GET /socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Pad: ${'a'.repeat(20 * 1024)}\r\n\r\n`;
  t.equal((await rawHttp(g.port, up)).status, 431, 'oversized headers on an upgrade');

  const pad = 'x'.repeat(70 * 1024);
  const declared = await fetch(`${g.url}/webhooks/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad }) });
  t.equal(declared.status, 413);
  t.match(await declared.json(), { error: 'WEBHOOK_TOO_LARGE' });
  const chunked = `POST /webhooks/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${(70 * 1024).toString(16)}\r\n${pad}\r\n0\r\n\r\n`;
  const c = await rawHttp(g.port, chunked);
  t.equal(c.status, 413, 'chunked body without a length is cut at 64 KiB too');

  const badKey = `GET /socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n`;
  const k = await rawHttp(g.port, badKey);
  t.equal(k.status, 400);
  t.match(JSON.parse(k.body), { error: 'BAD_UPGRADE', reason: /Sec-WebSocket-Key/ });
  const badVer = `GET /socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
  const v = await rawHttp(g.port, badVer);
  t.equal(v.status, 426, 'an unknown WebSocket version: 426 Upgrade Required');
  t.match(v.head, /\r\nSec-WebSocket-Version: 13\r\n/i, 'naming the version we speak');
  t.match(JSON.parse(v.body), { error: 'BAD_UPGRADE', reason: /Sec-WebSocket-Version/ });
  const garbage = await rawHttp(g.port, 'HELLO\x00\x01 what\r\n\r\n');
  t.equal(garbage.status, 400);
  t.match(JSON.parse(garbage.body), { error: 'BAD_REQUEST' });
  t.equal((await fetch(`${g.url}/healthz`)).status, 200, 'still healthy');
  t.equal(metricValue(await g.metrics(), 'gateway_legs_refused_total{reason="bad_upgrade"}'), 2);
});

t.test('docs/security.md documents the security settings and answers', async (t) => {
  const sec = readFileSync('docs/security.md', 'utf8');
  t.ok(sec.length > 500, 'a Security section');
  for (const s of [
    'VONAGE_SIGNATURE_SECRET',
    'WEBHOOK_MAX_AGE_S',
    'WS_AUTH',
    'WS_AUTH_TOKEN',
    'UPGRADE_RATE_PER_SOURCE',
    'UPGRADE_BURST_PER_SOURCE',
    'TRUST_PROXY',
    'WEBHOOK_UNAUTHORIZED',
    'LEG_UNAUTHORIZED',
    'RATE_LIMITED',
    'HEADERS_TOO_LARGE',
    'BAD_UPGRADE',
    '401',
    '429',
    '431',
    '413',
    'payload_hash',
    'never logged',
  ]) {
    t.ok(sec.includes(s), `Security section mentions ${s}`);
  }
});
