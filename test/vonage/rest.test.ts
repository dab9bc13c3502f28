/**
 * Vonage REST call control against a local fake of the Voice API that validates every request against Vonage's
 * OpenAPI document and checks the RS256 JWT: each operation, region_url handling, retries and errors; then end to end
 * through a real gateway (bot actions on key presses) and the `vgw call` command as a real child process.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AjvModule from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';
import { VonageApiError, VonageClient, type VonageRequestEvent } from '../../src/vonage/client.js';
import { resolveApiUrl } from '../../src/vonage/region.js';
import { FIXTURES_DIR, VonageApiFake, voiceApiValidator } from '../fakes/vonage-api.js';
import { metricValue, startGateway, until, untilMetrics } from '../helpers/gateway.js';
import { openRawLeg } from '../helpers/raw-leg.js';
import { DTMF_DIGITS, TRANSFER_NCCO } from '../fixtures/call-actions-bot.js';
import { must } from '../helpers/must.js';

const APP_ID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const CALL_UUID = '63f61863-4a51-4f6b-86e1-46edebcf9356';
const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const dir = mkdtempSync(join(tmpdir(), 'vgw-vonage-'));
const keyFile = join(dir, 'private.key');
writeFileSync(keyFile, keys.privateKey, { mode: 0o600 });
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// The NCCO JSON Schema (draft-04, 2021): it predates websocket `authorization` and 24 kHz, and does not forbid extras.
const Ajv4 = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as unknown as new (o: object) => import('ajv').default;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (a: import('ajv').default) => void;
const ajv4 = new Ajv4({ allErrors: true, strict: false });
addFormats(ajv4);
const validateNcco = ajv4.compile(JSON.parse(readFileSync(join(FIXTURES_DIR, 'ncco-schema.json'), 'utf8')) as object);

async function fake(t: Test, publicKeyPem = keys.publicKey): Promise<VonageApiFake> {
  const f = new VonageApiFake({ applicationId: APP_ID, publicKeyPem });
  await f.listen();
  t.teardown(() => f.close());
  return f;
}

function client(apiUrl: string, more: { retries?: number; timeoutMs?: number; privateKey?: string; onRequest?: (e: VonageRequestEvent) => void } = {}) {
  return VonageClient.create({
    applicationId: APP_ID,
    privateKey: more.privateKey ?? keys.privateKey,
    apiUrl,
    timeoutMs: more.timeoutMs ?? 5000,
    retries: more.retries ?? 2,
    onRequest: more.onRequest,
  });
}

t.test('the fake validates against the spec: it refuses what Vonage would', async (t) => {
  const spec = voiceApiValidator();
  const update = spec.match('PUT', `/v1/calls/${CALL_UUID}`);
  t.notOk('error' in update);
  if ('error' in update) return;
  t.same(spec.check(update.route, { action: 'hangup' }), []);
  t.same(spec.check(update.route, { action: 'transfer', destination: { type: 'ncco', ncco: [{ action: 'talk', text: 'x' }] } }), []);
  t.not(spec.check(update.route, { action: 'explode' }).length, 0, 'unknown action refused');
  t.not(spec.check(update.route, { action: 'transfer' }).length, 0, 'transfer without destination refused');
  t.not(spec.check(update.route, undefined).length, 0, 'body required');
  const create = spec.match('POST', '/v1/calls');
  if ('error' in create) return t.fail(create.error);
  const ok = {
    to: [{ type: 'phone', number: '447700900001' }],
    from: { type: 'phone', number: '447700900000' },
    ncco: [{ action: 'talk', text: 'x' }],
    event_url: ['https://gw.example.com/webhooks/event'],
  };
  t.same(spec.check(create.route, ok), []);
  t.not(spec.check(create.route, { ...ok, to: [{ type: 'phone', number: 'abc' }] }).length, 0, 'bad number refused');
  t.not(spec.check(create.route, { ...ok, to: [{ type: 'fax', number: '447700900001' }] }).length, 0, 'discriminator: unknown endpoint type refused');
  t.not(spec.check(create.route, { ...ok, event_url: ['not a url'] }).length, 0, 'event_url must be a URI');
  t.not(spec.check(create.route, { ...ok, ncco: undefined }).length, 0, 'needs ncco or answer_url');
  t.match(spec.match('PATCH', '/v1/calls'), { status: 405 });
  t.match(spec.match('PUT', '/v1/calls/x/explode'), { status: 404 });
});

t.test('each operation reaches the fake with a spec-valid body and a valid RS256 JWT', async (t) => {
  const f = await fake(t);
  const events: VonageRequestEvent[] = [];
  const c = await client(f.url, { onRequest: (e) => events.push(e) });
  await c.hangup(CALL_UUID);
  await c.transfer(CALL_UUID, TRANSFER_NCCO);
  await c.sendDtmf(CALL_UUID, '12*#');
  await c.talk(CALL_UUID, 'Hello there', 'en-GB');
  const created = await c.createCall({
    to: '447700900001',
    from: '447700900000',
    ncco: [{ action: 'talk', text: 'hi' }],
    eventUrl: ['https://gw.example.com/webhooks/event'],
  });
  t.same(
    f.requests.map((r) => [r.method, r.path, r.op, r.status]),
    [
      ['PUT', `/v1/calls/${CALL_UUID}`, 'updateCall', 204],
      ['PUT', `/v1/calls/${CALL_UUID}`, 'updateCall', 204],
      ['PUT', `/v1/calls/${CALL_UUID}/dtmf`, 'startDTMF', 200],
      ['PUT', `/v1/calls/${CALL_UUID}/talk`, 'startTalk', 200],
      ['POST', '/v1/calls', 'createCall', 201],
    ],
  );
  const req = (i: number) => must(f.requests[i], `request ${i + 1}`);
  const [hangup, transfer, dtmf, talk, post] = [req(0), req(1), req(2), req(3), req(4)];
  t.same(hangup.body, { action: 'hangup' });
  t.same(transfer.body, { action: 'transfer', destination: { type: 'ncco', ncco: TRANSFER_NCCO } });
  t.same(dtmf.body, { digits: '12*#' });
  t.same(talk.body, { text: 'Hello there', language: 'en-GB' });
  t.same(post.body, {
    to: [{ type: 'phone', number: '447700900001' }],
    from: { type: 'phone', number: '447700900000' },
    ncco: [{ action: 'talk', text: 'hi' }],
    event_url: ['https://gw.example.com/webhooks/event'],
  });
  t.equal(created.uuid, (post.answer as { uuid: string }).uuid, 'createCall returns the uuid Vonage answered');
  t.match(created.conversationUuid, /^CON-/);
  const now = Date.now() / 1000;
  for (const r of f.requests) {
    t.equal(r.claims?.application_id, APP_ID);
    t.ok(Math.abs(now - Number(r.claims?.iat)) < 60, 'iat is now');
    t.ok(Number(r.claims?.exp) > now, 'exp in the future');
  }
  t.equal(new Set(f.requests.map((r) => r.claims?.jti)).size, 5, 'a fresh jti per request');
  t.same(
    events.map((e) => [e.op, e.status, e.attempt]),
    [
      ['hangup', 204, 0],
      ['transfer', 204, 0],
      ['dtmf', 200, 0],
      ['talk', 200, 0],
      ['createCall', 201, 0],
    ],
  );

  // The key may be given as a file path too.
  const c2 = await client(f.url, { privateKey: keyFile });
  await c2.hangup(CALL_UUID);
  t.equal(f.requests.at(-1)?.status, 204);
});

t.test('the fake refuses bad tokens and bodies, and the client reports VONAGE_API_FAILED', async (t) => {
  const f = await fake(t);
  const other = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const wrongKey = await client(f.url, { privateKey: other.privateKey });
  const e1 = await wrongKey.hangup(CALL_UUID).catch((e: unknown) => e);
  t.ok(e1 instanceof VonageApiError);
  t.match(e1, { code: 'VONAGE_API_FAILED', status: 401, op: 'hangup' });
  t.match(f.requests.at(-1)?.error, /signature/);
  const c = await client(f.url);
  const e2 = await c.talk(CALL_UUID, 'hi', 'xx-XX').catch((e: unknown) => e);
  t.match(e2, { code: 'VONAGE_API_FAILED', status: 400 }, 'a language outside the spec enum is refused by the fake');
  t.notMatch(String((e2 as Error).message), /Bearer|BEGIN/, 'no token or key in the error');
  // Local checks refuse what could never be valid, without a request.
  const n = f.requests.length;
  t.match(await c.sendDtmf(CALL_UUID, '12x').catch((e: unknown) => e), { code: 'VONAGE_API_FAILED', status: 0 });
  // Only the uuid format goes into a path: `.` and `..` would become `PUT /v1/calls/` and `PUT /v1/` once the URL is
  // normalised; anything with `/`, `%`, or not a uuid at all is refused before a request (and its JWT) is built.
  for (const bad of [
    '.',
    '..',
    '../../v1/calls',
    './',
    '%2e%2e',
    '..%2F',
    'a/b',
    `${CALL_UUID}/..`,
    `${CALL_UUID}/talk`,
    `${CALL_UUID}.`,
    `${CALL_UUID}%00`,
    `${CALL_UUID} `,
    'call-1',
    '',
    CALL_UUID.replace(/-/g, ''),
  ]) {
    t.match(
      await c.hangup(bad).catch((e: unknown) => e),
      { code: 'VONAGE_API_FAILED', status: 0, message: /call uuid must be a UUID/ },
      `hangup ${JSON.stringify(bad)} refused`,
    );
    t.match(await c.transfer(bad, TRANSFER_NCCO).catch((e: unknown) => e), { status: 0 }, `transfer ${JSON.stringify(bad)} refused`);
    t.match(await c.sendDtmf(bad, '1').catch((e: unknown) => e), { status: 0 }, `dtmf ${JSON.stringify(bad)} refused`);
    t.match(await c.talk(bad, 'hi').catch((e: unknown) => e), { status: 0 }, `talk ${JSON.stringify(bad)} refused`);
  }
  t.equal(f.requests.length, n, 'no request reached the API');
  await c.hangup(CALL_UUID.toUpperCase());
  t.equal(f.requests.length, n + 1, 'an upper-case uuid is still a uuid');
});

t.test('retries 429/503 (bounded, Retry-After honoured), never 500 or 401', async (t) => {
  const f = await fake(t);
  const c = await client(f.url, { retries: 2 });
  f.cue(429, 2, { retryAfterS: 0 });
  await c.hangup(CALL_UUID);
  t.same(
    f.requests.map((r) => r.status),
    [429, 429, 204],
    'two 429s then success',
  );
  f.cue(503, 5, { op: 'startDTMF' });
  t.match(await c.sendDtmf(CALL_UUID, '1').catch((e: unknown) => e), { code: 'VONAGE_API_FAILED', status: 503 });
  t.equal(f.requests.filter((r) => r.op === 'startDTMF').length, 3, 'first attempt + 2 retries, then give up');
  f.cue(500, 1);
  t.match(await c.hangup(CALL_UUID).catch((e: unknown) => e), { status: 500 });
  f.cue(401, 1);
  t.match(await c.hangup(CALL_UUID).catch((e: unknown) => e), { status: 401 });
  t.same(
    f.requests.slice(-2).map((r) => r.status),
    [500, 401],
    'one attempt each',
  );
});

t.test('timeout: a Vonage that never answers fails the request, bounded', async (t) => {
  const hung = createServer(() => {});
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => (hung.closeAllConnections(), hung.close(() => r()))));
  const a = hung.address();
  const c = await client(`http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, { timeoutMs: 200, retries: 0 });
  t.match(await c.hangup(CALL_UUID).catch((e: unknown) => e), { code: 'VONAGE_API_FAILED', status: 0, message: /timed out/ });
});

t.test('a bad key is VONAGE_NOT_CONFIGURED at start, and the message holds no key', async (t) => {
  await t.rejects(client('https://api.nexmo.com', { privateKey: join(dir, 'missing.key') }), { code: 'VONAGE_NOT_CONFIGURED' });
  await t.rejects(client('https://api.nexmo.com', { privateKey: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----' }), {
    code: 'VONAGE_NOT_CONFIGURED',
  });
  const ec = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const err = await client('https://api.nexmo.com', { privateKey: ec.privateKey }).catch((e: unknown) => e);
  t.match(err, { code: 'VONAGE_NOT_CONFIGURED', message: /RSA key is needed/ });
  t.notMatch(String((err as Error).message), /BEGIN/);
  // Escaped newlines (a PEM pasted into one env line) are accepted.
  await client('https://api.nexmo.com', { privateKey: keys.privateKey.replace(/\n/g, '\\n') });
});

t.test('region_url: Vonage hosts and the configured host are used; anything else falls back to the default', async (t) => {
  const def = 'https://api.nexmo.com';
  t.same(resolveApiUrl(undefined, def), { apiUrl: def });
  t.same(resolveApiUrl('https://api-us-3.vonage.com', def), { apiUrl: 'https://api-us-3.vonage.com' });
  t.same(resolveApiUrl('https://api-eu-1.nexmo.com/', def), { apiUrl: 'https://api-eu-1.nexmo.com' });
  for (const bad of [
    'https://evil.example.com',
    'http://api-us-3.vonage.com',
    'https://vonage.com.evil.io',
    'https://evilvonage.com',
    'https://user:pw@api.nexmo.com',
    'https://api.nexmo.com/v1/x',
    'https://api.nexmo.com?x=1',
    'not a url',
    'https://vonage.com',
    42,
  ]) {
    const r = resolveApiUrl(bad, def);
    t.equal(r.apiUrl, def, `${String(bad)} → default`);
    t.ok(r.rejected, `${String(bad)} refused`);
  }
  t.same(resolveApiUrl('https://api.nexmo.com:443', def), { apiUrl: def }, 'the https port spelt out is the same origin');
  t.same(resolveApiUrl('http://127.0.0.1:8888/', 'http://127.0.0.1:8888'), { apiUrl: 'http://127.0.0.1:8888' }, 'the operator-configured origin is trusted');
  // The origin, not the host: another port of the operator's host, or of a Vonage host, is another service.
  for (const [bad, base] of [
    ['http://127.0.0.1:9999', 'http://127.0.0.1:8888'],
    ['https://127.0.0.1:8888', 'http://127.0.0.1:8888'],
    ['https://api.nexmo.com:8443', def],
    ['https://api-us-3.vonage.com:8443', def],
    ['http://api.nexmo.com', def],
  ] as Array<[string, string]>) {
    const r = resolveApiUrl(bad, base);
    t.equal(r.apiUrl, base, `${bad} (default ${base}) → default`);
    t.ok(r.rejected, `${bad} refused: ${r.rejected}`);
  }

  const home = await fake(t);
  const region = await fake(t);
  const c = await client(home.url);
  t.equal(c.resolve(region.url).apiUrl, home.url, 'another port on the same host is refused');
  await c.hangup(CALL_UUID, c.resolve(region.url));
  t.equal(home.accepted('updateCall').length, 1, 'the default host got the request');
  t.equal(region.requests.length, 0, 'nothing reached the other port');
  // A validated target is where the request goes (a Vonage region in production).
  await c.hangup(CALL_UUID, { apiUrl: region.url });
  t.equal(region.accepted('updateCall').length, 1, 'the target host got the request');
  const foreign = c.resolve('https://evil.example.com');
  t.equal(foreign.apiUrl, home.url);
  await c.hangup(CALL_UUID, foreign);
  t.equal(home.accepted('updateCall').length, 2, 'a foreign region_url is refused: the default host got it');
});

/** Answer webhook → NCCO → raw leg with the NCCO headers flattened into the handshake, as Vonage does. */
async function answeredLeg(gatewayUrl: string, uuid: string, regionUrl: string) {
  const q = new URLSearchParams({ uuid, conversation_uuid: `CON-${uuid}`, from: '447700900001', to: '447700900000', region_url: regionUrl });
  const ncco = (await (await fetch(`${gatewayUrl}/webhooks/answer?${q}`)).json()) as Array<{
    endpoint: Array<{ uri: string; headers: Record<string, string> }>;
  }>;
  const ep = must(must(ncco[0]).endpoint[0]);
  const leg = await openRawLeg(ep.uri);
  leg.handshake('audio/l16;rate=16000', ep.headers);
  return { leg, headers: ep.headers };
}

const press = (leg: Awaited<ReturnType<typeof openRawLeg>>, digit: string) => leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit, duration: 120 }));

t.test("end to end: bot transfer, dtmf and hangup go over REST to the call region (here VONAGE_API_URL's origin)", async (t) => {
  const home = await fake(t);
  const g = await startGateway(t, {
    VONAGE_APPLICATION_ID: APP_ID,
    VONAGE_PRIVATE_KEY: keyFile,
    VONAGE_API_URL: home.url,
    BOT_ADAPTER: './dist/test/fixtures/call-actions-bot.js',
    TTS_ADAPTER: './dist/test/fixtures/sine-tts.js',
  });
  const regionUrl = `${home.url}/`;
  const { leg, headers } = await answeredLeg(g.url, CALL_UUID, regionUrl);
  t.equal(headers.region_url, regionUrl, 'region_url travels in the NCCO headers');
  t.ok(Buffer.byteLength(JSON.stringify(headers)) <= 512);
  await until(() => g.gw.tracker.size === 1, 5000, 'session');
  const session = must([...g.gw.tracker.sessions()][0]);
  t.equal(session.info.metadata.region_url, regionUrl, 'and lands in CallInfo.metadata');

  press(leg, '1');
  await until(() => home.accepted('updateCall').length === 1, 10000, 'transfer');
  t.same(must(home.accepted('updateCall')[0]).body, { action: 'transfer', destination: { type: 'ncco', ncco: TRANSFER_NCCO } });
  t.equal(must(home.accepted('updateCall')[0]).path, `/v1/calls/${CALL_UUID}`);
  press(leg, '2');
  await until(() => home.accepted('startDTMF').length === 1, 10000, 'dtmf');
  t.same(must(home.accepted('startDTMF')[0]).body, { digits: DTMF_DIGITS });
  press(leg, '3');
  const closed = await leg.closed;
  t.equal(closed.code, 1000, 'then the leg is closed normally');
  const hangups = home.accepted('updateCall').filter((r) => (r.body as { action: string }).action === 'hangup');
  t.equal(hangups.length, 1, 'one REST hangup');
  t.ok(leg.binary.length > 0, 'the goodbye was played');
  const played = g.logs.findIndex((l) => l.msg === 'reply played');
  const hung = g.logs.findIndex((l) => l.msg === 'vonage hangup done');
  t.ok(played >= 0 && hung > played, 'hangup only after the goodbye had played');
  t.notOk(
    g.logs.some((l) => l.msg.startsWith('region_url ignored')),
    'the configured origin is not warned about',
  );
  t.equal(home.requests.filter((r) => r.status >= 300).length, 0, 'every request was valid');
});

t.test("end to end: a region_url on another port of VONAGE_API_URL's host gets nothing (the JWT stays home)", async (t) => {
  const home = await fake(t);
  const other = await fake(t);
  t.equal(new URL(other.url).hostname, new URL(home.url).hostname, 'same host, another port');
  const g = await startGateway(t, {
    VONAGE_APPLICATION_ID: APP_ID,
    VONAGE_PRIVATE_KEY: keyFile,
    VONAGE_API_URL: home.url,
    BOT_ADAPTER: './dist/test/fixtures/call-actions-bot.js',
  });
  const { leg } = await answeredLeg(g.url, CALL_UUID, other.url);
  press(leg, '2');
  await until(() => home.accepted('startDTMF').length === 1, 10000, 'dtmf');
  t.equal(other.requests.length, 0, 'no request reached the other port');
  const warned = g.logs.filter((l) => l.msg.startsWith('region_url ignored'));
  t.equal(warned.length, 1, 'warned once');
  t.equal(must(warned[0]).level, 40);
  leg.ws.close();
});

t.test('end to end: a foreign region_url is ignored with a warning; REST failures are counted, never fatal', async (t) => {
  const home = await fake(t);
  const g = await startGateway(t, {
    VONAGE_APPLICATION_ID: APP_ID,
    VONAGE_PRIVATE_KEY: keys.privateKey,
    VONAGE_API_URL: home.url,
    VONAGE_API_RETRIES: '0',
    BOT_ADAPTER: './dist/test/fixtures/call-actions-bot.js',
  });
  const { leg } = await answeredLeg(g.url, CALL_UUID, 'https://evil.example.com');
  home.cue(500, 1, { op: 'startDTMF' });
  press(leg, '2');
  const m = await untilMetrics(g, (m) => metricValue(m, 'gateway_adapter_errors_total{stage="vonage",code="VONAGE_API_FAILED"}') > 0, 10000, 'dtmf failure');
  t.ok(
    g.logs.some((l) => l.msg.startsWith('region_url ignored') && l.level === 40),
    'warned',
  );
  t.equal(metricValue(m, 'gateway_adapter_errors_total{stage="vonage",code="VONAGE_API_FAILED"}'), 1);
  t.equal(metricValue(m, 'gateway_vonage_requests_total{op="dtmf",status="500"}'), 1, 'each REST attempt is counted by op and status');
  t.equal(metricValue(m, 'gateway_vonage_request_seconds_count{op="dtmf"}'), 1);
  press(leg, '2');
  await until(() => home.accepted('startDTMF').length === 1, 10000, 'second dtmf');
  t.equal(g.gw.tracker.size, 1, 'the call went on');
  t.notOk(JSON.stringify(g.logs).includes('BEGIN'), 'the key never reaches the log');
  leg.ws.close();
});

t.test('not configured: transfer/dtmf are refused as before, hangup closes the leg', async (t) => {
  const g = await startGateway(t, { BOT_ADAPTER: './dist/test/fixtures/call-actions-bot.js' });
  const { leg } = await answeredLeg(g.url, CALL_UUID, 'https://api-us-3.vonage.com');
  press(leg, '1');
  const m = await untilMetrics(g, (m) => metricValue(m, 'gateway_adapter_errors_total{stage="bot",code="ACTION_UNSUPPORTED"}') > 0, 5000, 'unsupported');
  t.equal(metricValue(m, 'gateway_adapter_errors_total{stage="bot",code="ACTION_UNSUPPORTED"}'), 1);
  press(leg, '3');
  t.equal((await leg.closed).code, 1000);
});

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['dist/src/cli.js', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

t.test('vgw call: a real child process POSTs /v1/calls pointing Vonage at the answer webhook; the call is then served like an inbound one', async (t) => {
  const home = await fake(t);
  const g = await startGateway(t, {
    VONAGE_APPLICATION_ID: APP_ID,
    VONAGE_PRIVATE_KEY: keyFile,
    VONAGE_API_URL: home.url,
    BOT_ADAPTER: './dist/test/fixtures/call-actions-bot.js',
  });
  const env = { VONAGE_APPLICATION_ID: APP_ID, VONAGE_PRIVATE_KEY: keyFile, VONAGE_API_URL: home.url };
  const r = await runCli(['call', '--to', '+447700900001', '--from', '447700900000', '--url', g.url], env);
  t.equal(r.code, 0, r.stderr);
  const post = home.accepted('createCall');
  t.equal(post.length, 1);
  const uuid = (must(post[0]).answer as { uuid: string }).uuid;
  t.equal(r.stdout.trim(), uuid, 'prints the uuid Vonage gave');
  const body = must(post[0]).body as { to: unknown; from: unknown; event_url: string[]; answer_url: string[]; answer_method: string; ncco?: unknown };
  t.same(body.to, [{ type: 'phone', number: '447700900001' }]);
  t.same(body.from, { type: 'phone', number: '447700900000' });
  t.same(body.answer_url, [`${g.url}/webhooks/answer`], 'Vonage fetches the NCCO from our answer webhook');
  t.equal(body.answer_method, 'GET');
  t.notOk('ncco' in body);
  t.same(body.event_url, [`${g.url}/webhooks/event`]);

  // Vonage's side when the callee answers: GET the answer URL with the call's real uuid, connect the returned NCCO.
  const q = new URLSearchParams({ uuid, conversation_uuid: 'CON-out', from: '447700900000', to: '447700900001', region_url: home.url });
  const ncco = (await (await fetch(`${body.answer_url[0]}?${q}`)).json()) as Array<{
    action: string;
    endpoint: Array<{ uri: string; 'content-type': string; headers: Record<string, string> }>;
  }>;
  t.ok(validateNcco(ncco), `NCCO valid per the NCCO schema ${JSON.stringify(validateNcco.errors)}`);
  const ep = must(must(ncco[0]).endpoint[0]);
  t.equal(ep.uri.split('?')[0], `${g.gw.config.publicWsUrl}/socket`, "the websocket is the gateway's");
  t.equal(ep.headers.uuid, uuid, 'the leg carries the real call uuid');
  const leg = await openRawLeg(ep.uri.replace('//localhost:', '//127.0.0.1:'));
  leg.handshake(ep['content-type'], ep.headers);
  press(leg, '2');
  await until(() => home.accepted('startDTMF').length === 1, 10000, 'DTMF over REST on the outbound call');
  t.match(must(home.accepted('startDTMF')[0]).path, new RegExp(`/v1/calls/${uuid}/dtmf$`), 'call control addresses the outbound call by its uuid');
  leg.ws.close();
});

t.test('vgw call --inline-ncco: the connect NCCO in the request, with a reference for the uuid', async (t) => {
  const home = await fake(t);
  const g = await startGateway(t, {
    VONAGE_APPLICATION_ID: APP_ID,
    VONAGE_PRIVATE_KEY: keyFile,
    VONAGE_API_URL: home.url,
    BOT_ADAPTER: './dist/test/fixtures/call-actions-bot.js',
  });
  const env = { VONAGE_APPLICATION_ID: APP_ID, VONAGE_PRIVATE_KEY: keyFile, VONAGE_API_URL: home.url };
  const r = await runCli(['call', '--to', '+447700900001', '--from', '447700900000', '--url', g.url, '--inline-ncco'], env);
  t.equal(r.code, 0, r.stderr);
  const post = home.accepted('createCall');
  t.equal(post.length, 1);
  const body = must(post[0]).body as {
    event_url: string[];
    ncco: Array<{ action: string; eventUrl: string[]; endpoint: Array<{ uri: string; 'content-type': string; headers: Record<string, string> }> }>;
  };
  t.same(body.event_url, [`${g.url}/webhooks/event`]);
  t.ok(validateNcco(body.ncco), `NCCO valid per the NCCO schema ${JSON.stringify(validateNcco.errors)}`);
  const ep = must(must(body.ncco[0]).endpoint[0]);
  t.equal(must(body.ncco[0]).action, 'connect');
  t.equal(ep.uri.split('?')[0], `${g.url.replace(/^http/, 'ws')}/socket`, "the websocket is the gateway's");
  t.equal(ep['content-type'], 'audio/l16;rate=16000');
  t.same(must(body.ncco[0]).eventUrl, [`${g.url}/webhooks/event`]);

  // The NCCO really reaches the gateway; the call has no Vonage uuid yet, so call actions are not sent over REST.
  const leg = await openRawLeg(ep.uri);
  leg.handshake(ep['content-type'], ep.headers);
  await until(() => g.gw.tracker.size === 1, 5000, 'outbound session');
  press(leg, '2');
  await untilMetrics(g, (m) => metricValue(m, 'gateway_adapter_errors_total{stage="vonage",code="ACTION_UNSUPPORTED"}') === 1, 5000, 'outbound dtmf refused');
  t.equal(home.requests.length, 1, 'no REST request for a call without a Vonage uuid');
  leg.ws.close();
});

t.test('vgw call: usage and configuration errors', async (t) => {
  const home = await fake(t);
  const noConfig = await runCli(['call', '--to', '447700900001'], {});
  t.equal(noConfig.code, 1);
  t.match(noConfig.stderr, /VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY/);
  const env = { VONAGE_APPLICATION_ID: APP_ID, VONAGE_PRIVATE_KEY: keyFile, VONAGE_API_URL: home.url };
  t.equal((await runCli(['call'], env)).code, 2, 'no --to');
  t.equal((await runCli(['call', '--to', 'abc'], env)).code, 2, 'bad number');
  home.cue(401, 1);
  const refused = await runCli(['call', '--to', '447700900001'], env);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /HTTP 401/);
  t.same(
    must(home.requests[0]).body && (must(home.requests[0]).body as { random_from_number?: boolean }).random_from_number,
    true,
    'no --from: a random application number',
  );
});
