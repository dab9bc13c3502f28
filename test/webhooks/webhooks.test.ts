/** HTTP side against a real gateway on a real port: answer, event, fallback, health, readiness, metrics. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import AjvModule from 'ajv-draft-04';
import { startGateway, metricValue, until } from '../helpers/gateway.js';
import { openRawLeg } from '../helpers/raw-leg.js';
import { CALL_STATUSES } from '../../src/webhooks/event.js';
import { must } from '../helpers/must.js';

const schema = JSON.parse(readFileSync('/work/shared/vonage/specs/ncco-schema.json', 'utf8').toString()) as object;
// ajv-draft-04 is CommonJS: under NodeNext its class is the module's `default` property.
const Ajv = (AjvModule as unknown as { default: typeof AjvModule }).default ?? AjvModule;
const ajv = new (Ajv as unknown as new (o: object) => import('ajv').default)({ allErrors: true, strict: false, validateFormats: false });
const validateNcco = ajv.compile(schema);

const answerQuery =
  'uuid=63f61863-4a51-4f6b-86e1-46edebcf9356&conversation_uuid=CON-f972836a-550f-45fa-956c-12a2ab5b7d22&from=447700900001&to=447700900000&region_url=https%3A%2F%2Fapi-us-3.vonage.com';

t.test('answer webhook: GET and POST give a schema-valid connect NCCO for this gateway', async (t) => {
  const g = await startGateway(t, { AUDIO_RATE: '8000' });
  for (const res of [
    await fetch(`${g.url}/webhooks/answer?${answerQuery}`),
    await fetch(`${g.url}/webhooks/answer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Object.fromEntries(new URLSearchParams(answerQuery))),
    }),
  ]) {
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /^application\/json/);
    const ncco = (await res.json()) as Array<Record<string, unknown>>;
    t.ok(validateNcco(ncco), `valid NCCO ${JSON.stringify(validateNcco.errors)}`);
    t.equal(ncco.length, 1, 'nothing after the connect');
    const c = ncco[0] as { action: string; eventType: string; eventUrl: string[]; endpoint: Array<Record<string, unknown>> };
    t.equal(c.action, 'connect');
    t.equal(c.eventType, 'synchronous');
    t.same(c.eventUrl, [`http://localhost:${g.port}/webhooks/event`]);
    t.equal(c.endpoint.length, 1);
    const ep = must(c.endpoint[0]);
    t.equal(ep.type, 'websocket');
    t.equal(ep['content-type'], 'audio/l16;rate=8000');
    t.match(String(ep.uri), new RegExp(`^ws://localhost:${g.port}/socket\\?uuid=63f61863`));
    t.same(ep.headers, {
      uuid: '63f61863-4a51-4f6b-86e1-46edebcf9356',
      conversation_uuid: 'CON-f972836a-550f-45fa-956c-12a2ab5b7d22',
      from: '447700900001',
      to: '447700900000',
      region_url: 'https://api-us-3.vonage.com',
    });
  }
});

t.test('answer webhook: PUBLIC_URL https gives wss, long fields keep headers within 512 bytes', async (t) => {
  const g = await startGateway(t, { PUBLIC_URL: 'https://gw.example.com/' });
  const res = await fetch(`${g.url}/webhooks/answer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ uuid: 'u-1', conversation_uuid: 'CON-1', from: 'x'.repeat(250), to: 'y'.repeat(250), region_url: 'https://api-us-3.vonage.com' }),
  });
  const ncco = (await res.json()) as Array<{ endpoint: Array<{ uri: string; headers: Record<string, string> }>; eventUrl: string[] }>;
  t.ok(validateNcco(ncco));
  t.equal(must(must(ncco[0]).endpoint[0]).uri, 'wss://gw.example.com/socket?uuid=u-1');
  t.same(must(ncco[0]).eventUrl, ['https://gw.example.com/webhooks/event']);
  t.ok(Buffer.byteLength(JSON.stringify(must(must(ncco[0]).endpoint[0]).headers)) <= 512);
  t.equal(must(must(ncco[0]).endpoint[0]).headers.uuid, 'u-1');
  t.equal(must(must(ncco[0]).endpoint[0]).headers.region_url, 'https://api-us-3.vonage.com', 'region_url outlives from/to');
});

t.test('malformed webhooks get 4xx with a JSON reason, never 500', async (t) => {
  const g = await startGateway(t);
  const cases: Array<[string, RequestInit | undefined, number]> = [
    ['/webhooks/answer?from=1', undefined, 400],
    ['/webhooks/answer', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"uuid":' }, 400],
    ['/webhooks/answer', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1,2]' }, 400],
    ['/webhooks/answer', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"uuid":{"a":1}}' }, 400],
    ['/webhooks/answer', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'uuid=1' }, 415],
    [
      '/webhooks/answer',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uuid: 'a', pad: 'x'.repeat(100000) }) },
      413,
    ],
    ['/webhooks/answer', { method: 'PUT', body: '{}' }, 405],
    ['/webhooks/answer?uuid=' + encodeURIComponent('<script>'), undefined, 400],
    ['/webhooks/event', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'null' }, 400],
    ['/webhooks/event', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"status":["answered"]}' }, 400],
    ['/webhooks/event', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"status":"answered","headers":"[1]"}' }, 400],
    ['/webhooks/event', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' }, 400],
    ['/nope', undefined, 404],
  ];
  for (const [path, init, status] of cases) {
    const res = await fetch(g.url + path, init);
    t.equal(res.status, status, `${init?.method ?? 'GET'} ${path.slice(0, 40)} → ${status}`);
    const body = (await res.json()) as { error: string; reason: string };
    t.type(body.reason, 'string');
    t.ok(body.reason.length > 0);
  }
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_webhook_requests_total{hook="answer",code="400"}'), 5);
  t.equal(metricValue(m, 'gateway_webhook_requests_total{hook="answer",code="500"}'), 0);
});

t.test('event webhook: every status and event type is understood, counted and answered', async (t) => {
  const g = await startGateway(t);
  const wsUri = `ws://localhost:${g.port}/socket?uuid=abc`;
  for (const status of CALL_STATUSES) {
    const res = await fetch(`${g.url}/webhooks/event`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        status,
        uuid: 'phone-leg',
        conversation_uuid: 'CON-9',
        from: '447700900001',
        to: '447700900000',
        direction: 'inbound',
        timestamp: new Date().toISOString(),
      }),
    });
    t.equal(res.status, 204, `${status} of a phone leg → 204`);
  }
  for (const status of ['failed', 'unanswered']) {
    const res = await fetch(`${g.url}/webhooks/event`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status, uuid: 'ws-leg', conversation_uuid: 'CON-9', to: wsUri, headers: { uuid: 'abc' }, detail: 'cannot_route' }),
    });
    t.equal(res.status, 200, `${status} of our websocket connect → NCCO`);
    const ncco = (await res.json()) as Array<{ action: string; text: string }>;
    t.ok(validateNcco(ncco));
    t.equal(must(ncco[0]).action, 'talk');
    t.match(must(ncco[0]).text, /sorry/i);
  }
  const nonStatus: Array<[string, Record<string, unknown>]> = [
    ['record', { recording_url: 'https://api.nexmo.com/v1/files/x', conversation_uuid: 'CON-9' }],
    ['input', { dtmf: { digits: '12' }, uuid: 'phone-leg' }],
    ['transfer', { type: 'transfer', conversation_uuid_from: 'CON-1', conversation_uuid_to: 'CON-2' }],
    ['transcribed', { transcription_url: 'https://x', type: 'transcription' }],
  ];
  for (const [, body] of nonStatus) {
    const res = await fetch(`${g.url}/webhooks/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    t.equal(res.status, 204);
  }
  const get = await fetch(`${g.url}/webhooks/event?status=answered&uuid=phone-leg&conversation_uuid=CON-9`);
  t.equal(get.status, 204, 'GET events work too');
  const m = await g.metrics();
  for (const s of CALL_STATUSES)
    t.equal(metricValue(m, `gateway_webhook_events_total{status="${s}"}`), s === 'failed' || s === 'unanswered' ? 2 : s === 'answered' ? 2 : 1, `counted ${s}`);
  for (const [kind] of nonStatus) t.equal(metricValue(m, `gateway_webhook_events_total{status="${kind}"}`), 1, `counted ${kind}`);
  t.ok(
    g.logs.some((l) => l.msg === 'vonage event' && l.status === 'ringing' && l.call === 'phone-leg'),
    'logged with the call uuid',
  );
});

t.test('event webhook correlates with the live leg; completed closes it', async (t) => {
  const g = await startGateway(t);
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'live-1', conversation_uuid: 'CON-live' });
  await until(() => g.gw.tracker.size === 1, 3000, 'session');
  const res = await fetch(`${g.url}/webhooks/event`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status: 'answered', uuid: 'ws-leg-uuid', conversation_uuid: 'CON-live', headers: { uuid: 'live-1' } }),
  });
  t.equal(res.status, 204);
  t.ok(
    g.logs.some((l) => l.msg === 'vonage event' && l.live === true && l.call === 'live-1' && l.leg !== undefined),
    'logged on the live call',
  );
  await fetch(`${g.url}/webhooks/event`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status: 'completed', uuid: 'live-1', conversation_uuid: 'CON-live' }),
  });
  const closed = await leg.closed;
  t.equal(closed.code, 1000);
  t.match(closed.reason, /completed/);
  t.equal(g.gw.tracker.size, 0);
});

t.test('fallback webhook answers a safe NCCO and logs reason and original request', async (t) => {
  const g = await startGateway(t);
  const res = await fetch(`${g.url}/webhooks/fallback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ uuid: 'u-9', reason: 'Connection closed.', original_request: { url: 'https://gw/webhooks/answer', type: 'answer' } }),
  });
  t.equal(res.status, 200);
  const ncco = (await res.json()) as Array<{ action: string }>;
  t.ok(validateNcco(ncco));
  t.equal(must(ncco[0]).action, 'talk');
  const line = g.logs.find((l) => l.msg === 'fallback webhook');
  t.ok(line);
  t.equal(line?.reason, 'Connection closed.');
  t.same(line?.original_request, { url: 'https://gw/webhooks/answer', type: 'answer' });
});

t.test('health, readiness, metrics; drain turns readiness off and refuses new calls', async (t) => {
  const g = await startGateway(t);
  t.same(await (await fetch(`${g.url}/healthz`)).json(), { status: 'ok' });
  const ready = await fetch(`${g.url}/readyz`);
  t.equal(ready.status, 200);
  const m = await g.metrics();
  for (const name of [
    'gateway_active_calls',
    'gateway_frames_in_total',
    'gateway_frames_out_total',
    'gateway_jitter_underruns_total',
    'gateway_pacer_late_sends_total',
    'gateway_turn_latency_seconds_bucket',
    'gateway_bot_first_text_latency_seconds_bucket',
    'gateway_tts_first_audio_latency_seconds_bucket',
  ]) {
    t.match(m, new RegExp(`^${name}`, 'm'), `exports ${name}`);
  }
  // Labelled by adapter: declared from the start, samples appear with the first observation.
  t.match(m, /^# TYPE gateway_asr_final_latency_seconds histogram$/m, 'exports gateway_asr_final_latency_seconds');
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'draining-1' });
  await until(() => g.gw.tracker.size === 1, 3000, 'session');
  const drained = g.gw.drain(400);
  const r2 = await fetch(`${g.url}/readyz`).catch(() => undefined);
  t.equal(r2?.status, 503, 'not ready while draining');
  t.equal(((await r2?.json()) as { reason: string }).reason, 'draining');
  const answer = await fetch(`${g.url}/webhooks/answer?uuid=late-1`).catch(() => undefined);
  const ncco = (await answer?.json()) as Array<{ action: string; text: string }>;
  t.equal(must(ncco[0]).action, 'talk', 'new calls get a spoken busy NCCO while draining');
  await drained;
  const closed = await leg.closed;
  t.equal(closed.code, 1001, 'live call closed with 1001 after the deadline');
});
