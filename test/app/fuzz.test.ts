/**
 * Fuzzing a real gateway on a real port (its own process, `--expose-gc`) with fast-check: random and mutated
 * handshakes, random frame sizes and bytes, random text events, random webhook requests (bodies, content types,
 * encodings, sizes, nesting, query strings, methods), raw HTTP garbage and mutated upgrades, random credentials against
 * a signed gateway. Thousands of cases in parallel batches, while one good call streams audio the whole time.
 *
 * Asserted after every batch: the gateway process is alive and answers /healthz. For every case: a leg closed by the
 * gateway ends with a documented close code (README table), HTTP refusals are 4xx with a JSON `{error, reason}`,
 * webhooks never answer 5xx, no error-level log line. At the end: the good call received every frame it sent, and the
 * heap after a forced GC is within a bound of the heap before the fuzz. `FUZZ_SEED` replays a run.
 */
import t from 'tap';
import fc from 'fast-check';
import { request, Agent } from 'node:http';
import WebSocket from 'ws';
import { startGateway, until } from '../helpers/gateway.js';
import { FuzzChild, GoodCall, fuzzBatches } from '../helpers/fuzz-child.js';
import { SECRET, rawHttp, tryUpgrade, vonageJwt } from '../helpers/security.js';
import { CloseCode } from '../../src/errors.js';
import { must } from '../helpers/must.js';

const DOCUMENTED_CLOSE = new Set<number>(Object.values(CloseCode));
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const MAX_PAYLOAD = 32768;
const GOOD_UUID = `good-call-${Math.random().toString(16).slice(2)}`;

/** Deterministic bytes from a seed (fast-check generates the seed; generating 30 KB arrays through it is slow). */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function nest(depth: number, open: string, close: string, inner = '1'): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

// ── arbitraries ──────────────────────────────────────────────────────────────────────────────────────────────────
/** A message to send; `hold` stops sending and leaves the leg open until the gateway closes it (timeouts). */
type Msg = { text: string } | { bin: { size: number; seed: number } } | { binText: string } | { hold: true };

const RATES = ['audio/l16;rate=8000', 'audio/l16;rate=16000', 'audio/l16;rate=24000'];
const validHandshake = (ct: string, extra: Record<string, unknown> = {}) => ({
  event: 'websocket:connected',
  'content-type': ct,
  uuid: `fz-${Math.random()}`,
  from: '447700900000',
  ...extra,
});
const ascii = fc.string({ unit: 'binary-ascii', maxLength: 40 });
/** Printable ASCII: what an HTTP client can put in a header value at all. */
const printable = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

/** A first message: valid, or a valid one mutated every way we can think of. */
const handshakeArb: fc.Arbitrary<Msg> = fc.oneof(
  fc.constantFrom(...RATES).map((ct) => ({ text: JSON.stringify(validHandshake(ct)) })),
  fc
    .oneof(
      fc.string(),
      fc.anything(),
      fc.integer(),
      fc.constantFrom('audio/l16;rate=44100', 'audio/L16; RATE = 16000', 'audio/pcmu;rate=8000', 'audio/l16', 'audio/l16;rate=16000;rate=8000', ''),
    )
    .map((ct) => ({ text: JSON.stringify(validHandshake(ct as string)) })),
  fc.anything().map((ev) => ({ text: JSON.stringify({ ...validHandshake(must(RATES[1])), event: ev }) })),
  fc.dictionary(ascii, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 80 }).map((d) => ({ text: JSON.stringify({ ...validHandshake(must(RATES[1])), ...d }) })),
  fc.constantFrom('event', 'content-type', 'uuid').map((k) => {
    const h: Record<string, unknown> = validHandshake(must(RATES[1]));
    delete h[k];
    return { text: JSON.stringify(h) };
  }),
  fc.integer({ min: 1000, max: 40000 }).map((n) => ({ text: JSON.stringify(validHandshake(must(RATES[1]), { pad: 'x'.repeat(n) })) })),
  fc.integer({ min: 1, max: 6000 }).map((n) => ({ text: `{"event":"websocket:connected","content-type":"audio/l16;rate=16000","deep":${nest(n, '[', ']')}}` })),
  fc.integer({ min: 1, max: 200 }).map((n) => ({ text: JSON.stringify(validHandshake(must(RATES[1]))).slice(0, n) })),
  fc.jsonValue().map((v) => ({ text: JSON.stringify(v) ?? 'null' })),
  fc.string({ maxLength: 200 }).map((s) => ({ text: s })),
  fc.record({ size: fc.integer({ min: 0, max: 2000 }), seed: fc.integer() }).map((bin) => ({ bin })),
  fc.constantFrom(...RATES).map((ct) => ({ binText: JSON.stringify(validHandshake(ct)) })),
  fc.constant({ hold: true as const }),
  fc.constant({ text: '{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},"event":"websocket:connected","content-type":"audio/l16;rate=16000"}' }),
);

const frameArb: fc.Arbitrary<Msg> = fc
  .record({
    size: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(320, 640, 960, 1280, 1920) },
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 3000 }) },
      { weight: 1, arbitrary: fc.integer({ min: 20000, max: 40000 }) },
    ),
    seed: fc.integer(),
  })
  .map((bin) => ({ bin }));

const digitArb = fc.oneof(fc.constantFrom('0', '9', '*', '#', 'A', 'd', '', '10', '٣', '\u0000', '#'), fc.anything(), fc.integer());
const textEventArb: fc.Arbitrary<Msg> = fc.oneof(
  fc
    .record({ digit: digitArb, duration: fc.oneof(fc.integer(), fc.anything(), fc.double()) })
    .map((d) => ({ text: JSON.stringify({ event: 'websocket:dtmf', ...d }) })),
  fc.jsonValue({ maxDepth: 6 }).map((payload) => ({ text: JSON.stringify({ event: 'websocket:notify', payload }) })),
  fc.integer({ min: 1, max: 5000 }).map((n) => ({ text: `{"event":"websocket:notify","payload":${nest(n, '{"a":', '}')}}` })),
  fc.constant({ text: '{"event":"websocket:cleared"}' }),
  fc
    .oneof(fc.string(), fc.constantFrom('websocket:connected', 'websocket:media:update', 'websocket:disconnected'))
    .map((e) => ({ text: JSON.stringify({ event: e, x: 1 }) })),
  fc.integer({ min: 10000, max: 40000 }).map((n) => ({ text: JSON.stringify({ event: 'websocket:notify', payload: { big: 'y'.repeat(n) } }) })),
  fc.jsonValue().map((v) => ({ text: JSON.stringify(v) ?? 'null' })),
  fc.string({ maxLength: 100 }).map((s) => ({ text: s })),
);

// ── one leg ──────────────────────────────────────────────────────────────────────────────────────────────────────
interface LegOutcome {
  code: number;
  opened: boolean;
}

/** Open a leg, send `msgs` in order, then close it ourselves (1000) unless the gateway closed it first. */
function runLeg(port: number, msgs: Msg[]): Promise<LegOutcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket`, { perMessageDeflate: false, maxPayload: 1 << 20 });
    let opened = false;
    let settled = false;
    const finish = (o: LegOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(guard);
      resolve(o);
    };
    // A leg the gateway neither closes nor lets us close is a hang: reported as code -1.
    const guard = setTimeout(() => {
      ws.terminate();
      finish({ code: -1, opened });
    }, 15000);
    ws.on('error', () => {});
    ws.on('unexpected-response', (_q, res) => finish({ code: -(res.statusCode ?? 0), opened }));
    ws.on('close', (code) => finish({ code, opened }));
    ws.on('open', () => {
      opened = true;
      for (const m of msgs) {
        if (ws.readyState !== WebSocket.OPEN) break;
        if ('hold' in m) return;
        if ('text' in m) ws.send(m.text, { binary: false });
        else if ('binText' in m) ws.send(Buffer.from(m.binText), { binary: true });
        else ws.send(bytes(m.bin.size, m.bin.seed), { binary: true });
      }
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'fuzz case done');
    });
  });
}

const legCodesSeen = new Map<number, number>();
function checkLeg(o: LegOutcome, what: string, fails: string[]): void {
  legCodesSeen.set(o.code, (legCodesSeen.get(o.code) ?? 0) + 1);
  if (!o.opened) fails.push(`${what}: upgrade refused (${o.code})`);
  else if (!DOCUMENTED_CLOSE.has(o.code)) fails.push(`${what}: undocumented close code ${o.code}`);
}

// ── webhooks ─────────────────────────────────────────────────────────────────────────────────────────────────────
interface HookReq {
  method: string;
  path: string;
  query: string;
  contentType: string | undefined;
  body: Buffer | undefined;
}

const encodeQuery = (pairs: Array<[string, string]>) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
const queryArb = fc.oneof(
  fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom('uuid', 'status', 'to', 'from', 'conversation_uuid', 'headers', 'detail', 'recording_url', 'dtmf', 'type'), fc.string()),
        fc.string(),
      ),
      { maxLength: 8 },
    )
    .map(encodeQuery),
  fc.constantFrom(
    'uuid=%zz',
    'uuid=%E0%A4%A',
    'uuid=a&uuid=b&uuid=c',
    '%',
    '&&&=&=',
    'headers=%7Bnot-json',
    'headers=%5B1%2C2%5D',
    'headers=%7B%22uuid%22%3A5%7D',
    'status=completed&uuid=' + 'u'.repeat(3000),
  ),
  fc.integer({ min: 1, max: 12000 }).map((n) => `uuid=${'a'.repeat(n)}`),
);
const webhookObj = fc.record(
  {
    uuid: fc.oneof(fc.string({ maxLength: 120 }), fc.anything()),
    conversation_uuid: fc.oneof(fc.string(), fc.anything()),
    status: fc.oneof(fc.constantFrom('started', 'ringing', 'answered', 'completed', 'failed', 'unanswered', 'disconnected', 'weird'), fc.anything()),
    to: fc.oneof(fc.constant('ws://127.0.0.1/socket'), fc.string(), fc.anything()),
    from: fc.anything(),
    headers: fc.oneof(fc.dictionary(ascii, fc.jsonValue({ maxDepth: 2 })), fc.anything(), fc.string()),
    reason: fc.anything(),
    original_request: fc.anything(),
    dtmf: fc.anything(),
  },
  { requiredKeys: [] },
);
const bodyArb: fc.Arbitrary<Buffer | undefined> = fc.oneof(
  { weight: 3, arbitrary: webhookObj.map((o) => Buffer.from(JSON.stringify(o) ?? '')) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')) },
  { weight: 1, arbitrary: fc.record({ size: fc.integer({ min: 0, max: 3000 }), seed: fc.integer() }).map(({ size, seed }) => bytes(size, seed)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
      Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]),
      Buffer.from('{"uuid":"\xc3\x28"}', 'latin1'),
      Buffer.from('{"uuid":"\\ud800"}'),
      Buffer.alloc(0),
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 30000 }).map((n) => Buffer.from(nest(n, '[', ']'))) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 10000 }).map((n) => Buffer.from(`{"uuid":"x","headers":${nest(n, '{"a":', '}')}}`)) },
  { weight: 1, arbitrary: fc.integer({ min: 60 * 1024, max: 100 * 1024 }).map((n) => Buffer.from(JSON.stringify({ uuid: 'big', pad: 'p'.repeat(n) }))) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const hookArb: fc.Arbitrary<HookReq> = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
  path: fc.constantFrom('/webhooks/answer', '/webhooks/event', '/webhooks/fallback', '/webhooks/event/', '/webhooks/answer//'),
  query: queryArb,
  contentType: fc.oneof(
    fc.constantFrom(
      'application/json',
      'application/json',
      'application/x-www-form-urlencoded',
      'text/plain',
      'application/json; charset=latin1',
      'multipart/form-data; boundary=x',
      'application/vnd.vonage+json',
      '',
      ';;;',
      'APPLICATION/JSON',
    ),
    fc.constant(undefined),
    printable(60),
  ),
  body: bodyArb,
});

const agent = new Agent({ keepAlive: true, maxSockets: 32 });

function sendHook(port: number, h: HookReq): Promise<{ status: number; ctype: string; body: string }> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = {};
    if (h.contentType !== undefined) headers['content-type'] = h.contentType;
    if (h.body) headers['content-length'] = h.body.length;
    const req = request({ host: '127.0.0.1', port, method: h.method, path: `${h.path}?${h.query}`, headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, ctype: String(res.headers['content-type'] ?? ''), body: Buffer.concat(parts).toString('utf8') }),
      );
      res.on('error', () => resolve({ status: -2, ctype: '', body: '' }));
    });
    req.on('error', (e) => resolve({ status: -1, ctype: '', body: e.message }));
    req.end(h.body);
  });
}

function checkJsonError(status: number, body: string, what: string, fails: string[]): void {
  try {
    const j = JSON.parse(body) as { error?: unknown; reason?: unknown };
    if (typeof j.error !== 'string' || typeof j.reason !== 'string') fails.push(`${what}: ${status} body lacks {error, reason}: ${body.slice(0, 120)}`);
  } catch {
    fails.push(`${what}: ${status} body is not JSON: ${body.slice(0, 120)}`);
  }
}

function checkHook(h: HookReq, r: { status: number; ctype: string; body: string }, fails: string[]): void {
  const what = `${h.method} ${h.path}?${h.query.slice(0, 60)} ct=${h.contentType} body=${h.body?.subarray(0, 60).toString('latin1')}`;
  if (r.status < 0) {
    // The gateway may cut an oversized body short after its 413 (the client then sees a reset): not a failure of ours
    // only if the body was oversized.
    if (!(h.body && h.body.length > 64 * 1024)) fails.push(`${what}: connection failed (${r.body})`);
    return;
  }
  if (r.status >= 500) fails.push(`${what}: ${r.status}`);
  else if (r.status >= 400 && h.method !== 'HEAD') checkJsonError(r.status, r.body, what, fails);
  else if (r.status === 200 && h.method !== 'HEAD') {
    let ncco: unknown;
    try {
      ncco = JSON.parse(r.body);
    } catch {
      /* reported below */
    }
    if (!Array.isArray(ncco)) fails.push(`${what}: 200 without an NCCO array`);
  }
}

// ── raw HTTP and mutated upgrades ────────────────────────────────────────────────────────────────────────────────
/** A valid upgrade most of the time, each field mutated now and then. */
const validOr = <T>(valid: T, mutated: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: fc.constant(valid) }, { weight: 1, arbitrary: mutated });
const upgradeLines = fc.record({
  method: validOr('GET', fc.constantFrom('POST', 'PUT', 'get', 'CONNECT')),
  path: validOr('/socket', fc.constantFrom('/socket?uuid=x', '/socket/', '/nope', '/webhooks/answer', '/socket?%zz', '//socket', '/SOCKET')),
  upgrade: validOr<string | undefined>('websocket', fc.constantFrom('WebSocket', 'h2c', '', undefined)),
  connection: validOr<string | undefined>('Upgrade', fc.constantFrom('keep-alive, Upgrade', 'close', undefined)),
  version: validOr<string | undefined>('13', fc.constantFrom('8', '99', '', 'abc', undefined)),
  key: validOr<string | undefined>('dGhlIHNhbXBsZSBub25jZQ==', fc.constantFrom('short', '', '!!!!!!!!!!!!!!!!!!!!!!==', undefined)),
  extra: fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,20}$/), fc.string({ unit: fc.constantFrom('a', ' ', ';', '=', ',', '"'), maxLength: 50 })), {
    maxLength: 4,
  }),
  pad: validOr(0, fc.integer({ min: 0, max: 24000 })),
});
const rawArb = fc.oneof(
  upgradeLines.map((u) => {
    const lines = [`${u.method} ${u.path} HTTP/1.1`, 'Host: 127.0.0.1'];
    if (u.upgrade !== undefined) lines.push(`Upgrade: ${u.upgrade}`);
    if (u.connection !== undefined) lines.push(`Connection: ${u.connection}`);
    if (u.version !== undefined) lines.push(`Sec-WebSocket-Version: ${u.version}`);
    if (u.key !== undefined) lines.push(`Sec-WebSocket-Key: ${u.key}`);
    for (const [k, v] of u.extra) lines.push(`X-${k}: ${v}`);
    if (u.pad) lines.push(`X-Pad: ${'p'.repeat(u.pad)}`);
    return { kind: 'upgrade', data: Buffer.from(lines.join('\r\n') + '\r\n\r\n') };
  }),
  fc.record({ size: fc.integer({ min: 1, max: 3000 }), seed: fc.integer() }).map(({ size, seed }) => ({ kind: 'garbage', data: bytes(size, seed) })),
  fc.string({ maxLength: 300 }).map((s) => ({ kind: 'text', data: Buffer.from(s + '\r\n\r\n') })),
  fc
    .constantFrom(
      'GET / HTTP/9.9\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
      'POST /webhooks/event HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nzzz\r\n',
      'GET /webhooks/answer?uuid=a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n',
      'GET /\x00 HTTP/1.1\r\n\r\n',
    )
    .map((s) => ({ kind: 'smuggle', data: Buffer.from(s) })),
);

/** Raw request, half-closed after writing so an incomplete request ends at once. */
function sendRaw(port: number, data: Buffer): Promise<{ status: number; head: string; body: string }> {
  return rawHttp(port, data, 8000, true);
}

// ── the test ─────────────────────────────────────────────────────────────────────────────────────────────────────
t.test(`fuzz a live gateway (seed ${SEED})`, async (t) => {
  const child = new FuzzChild({
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ASR_ADAPTER: 'none',
    TTS_ADAPTER: 'none',
    HANDSHAKE_TIMEOUT_MS: '500',
    UPGRADE_RATE_PER_SOURCE: '0',
    MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD),
  });
  let good: GoodCall | undefined;
  t.teardown(() => {
    good?.terminate();
    if (child.proc.connected) child.proc.disconnect();
    agent.destroy();
  });
  await until(() => child.port > 0 || child.exited !== undefined, 20000, 'fuzz gateway listening');
  t.notOk(child.exited, 'gateway started');
  const port = child.port;
  const base = `http://127.0.0.1:${port}`;

  async function healthy(label: string): Promise<boolean> {
    if (child.exited) throw new Error(`gateway process died (${child.exited}) during ${label}`);
    const r = await fetch(`${base}/healthz`);
    if (r.status !== 200) throw new Error(`/healthz answered ${r.status} after ${label}`);
    return true;
  }

  // The good call: a steady leg sending one exact frame every 20 ms for the whole fuzz.
  const frame = bytes(640, 7).map((b) => b & 0x07); // quiet noise
  const goodCall = await GoodCall.open(port, { uuid: GOOD_UUID }, frame);
  good = goodCall;

  // Warm up (code paths loaded, JIT), then measure the heap after a forced GC.
  const warm: string[] = [];
  await Promise.all(
    fc.sample(handshakeArb, { seed: SEED, numRuns: 40 }).map((m) => runLeg(port, [m, ...fc.sample(frameArb, 3)]).then((o) => checkLeg(o, 'warm-up', warm))),
  );
  await Promise.all(fc.sample(hookArb, { seed: SEED, numRuns: 40 }).map((h) => sendHook(port, h)));
  const before = await child.ask('gc');
  t.same(warm, [], 'warm-up legs end with documented codes');

  const fails: string[] = [];
  const batches = fuzzBatches(t, SEED, fails, healthy);
  const run = batches.run.bind(batches);

  await run('handshakes', fc.tuple(handshakeArb, fc.array(fc.oneof(frameArb, textEventArb), { maxLength: 4 })), [30, 50], 20, async ([first, rest]) => {
    checkLeg(await runLeg(port, [first, ...rest]), `handshake ${JSON.stringify(first).slice(0, 100)}`, fails);
  });
  await run('frames', fc.tuple(fc.constantFrom(...RATES), fc.array(frameArb, { minLength: 1, maxLength: 30 })), [20, 30], 15, async ([ct, frames]) => {
    checkLeg(
      await runLeg(port, [{ text: JSON.stringify(validHandshake(ct)) }, ...frames]),
      `frames ${frames
        .map((f) => ('bin' in f ? f.bin.size : '?'))
        .join(',')
        .slice(0, 100)}`,
      fails,
    );
  });
  await run('text events', fc.array(fc.oneof(textEventArb, frameArb), { minLength: 1, maxLength: 20 }), [20, 30], 15, async (msgs) => {
    checkLeg(await runLeg(port, [{ text: JSON.stringify(validHandshake(must(RATES[1]))) }, ...msgs]), `events ${JSON.stringify(msgs).slice(0, 100)}`, fails);
  });
  const tally = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);
  const hookStatuses = new Map<number, number>();
  const rawStatuses = new Map<number, number>();
  await run('webhooks', hookArb, [40, 60], 50, async (h) => {
    const r = await sendHook(port, h);
    tally(hookStatuses, r.status);
    checkHook(h, r, fails);
  });
  await run('raw HTTP and upgrades', rawArb, [20, 30], 15, async (r) => {
    const res = await sendRaw(port, r.data);
    tally(rawStatuses, res.status);
    const what = `raw ${r.kind} ${r.data.subarray(0, 80).toString('latin1').replace(/\r\n/g, '⏎')}`;
    if (res.status === 0) return; // closed without an answer (e.g. bytes that are not HTTP at all ending in EOF)
    if (res.status === 101) return; // a well-formed upgrade: accepted, and closed by us
    if (res.status >= 500 && res.status !== 503) fails.push(`${what}: ${res.status}`);
    else if (res.status >= 400) checkJsonError(res.status, res.body, what, fails);
  });

  // Signed webhooks and authenticated legs: random credentials never get in, never crash, always 401 JSON.
  const signed = await startGateway(t, { VONAGE_SIGNATURE_SECRET: SECRET, WS_AUTH: 'vonage', UPGRADE_RATE_PER_SOURCE: '0', LOG_LEVEL: 'warn' });
  const tokenArb = fc.oneof(
    printable(300).map((s) => s.trim()),
    fc
      .tuple(fc.base64String(), fc.base64String(), fc.base64String())
      .map((p) => `Bearer ${p.map((x) => x.replace(/=/g, '').replace(/\+/g, '-').replace(/\//g, '_')).join('.')}`),
    fc
      .record({
        iat: fc.oneof(
          fc.integer(),
          fc.integer({ min: -400, max: 100 }).map((d) => Math.floor(Date.now() / 1000) + d),
          fc.double({ noDefaultInfinity: true, noNaN: true }),
          fc.string().map((s) => s as unknown as number),
        ),
        hash: fc.string(),
        secret: fc.constantFrom('wrong-secret-0123456789abcdef', SECRET),
      })
      .map((c) => c),
  );
  await run('credentials', fc.tuple(tokenArb, fc.boolean()), [20, 30], 10, async ([tok, upgrade]) => {
    let header: string;
    if (typeof tok === 'string') header = tok;
    else {
      // Real JWTs: with the wrong secret, or the right one with a hash of some other payload / a wild iat.
      const iat = typeof tok.iat === 'number' && Number.isFinite(tok.iat) && Math.abs(tok.iat) < 1e12 ? Math.trunc(tok.iat) : undefined;
      header = `Bearer ${await vonageJwt({ secret: tok.secret, payloadHash: tok.hash, iatS: iat === undefined ? null : iat, extra: { iat: tok.iat } })}`;
    }
    if (upgrade) {
      const r = await tryUpgrade(`ws://127.0.0.1:${signed.port}/socket`, header ? { authorization: header } : {});
      r.ws?.terminate();
      if (r.status === 101) {
        // Only a real, fresh token signed with the secret may pass.
        const age = typeof tok === 'string' ? NaN : Math.floor(Date.now() / 1000) - tok.iat;
        if (typeof tok === 'string' || tok.secret !== SECRET || !(age <= 300 && age >= -30))
          fails.push(`credentials: upgrade accepted with ${header.slice(0, 60)}`);
      } else if (r.status !== 401) fails.push(`credentials: upgrade answered ${r.status}`);
      else checkJsonError(r.status, r.body, 'credentials upgrade', fails);
    } else {
      const res = await fetch(`${signed.url}/webhooks/event`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(header ? { authorization: header } : {}) },
        body: '{"status":"answered","uuid":"x"}',
      });
      const body = await res.text();
      if (res.status !== 401) fails.push(`credentials: webhook answered ${res.status} for ${header.slice(0, 60)}`);
      else checkJsonError(res.status, body, 'credentials webhook', fails);
    }
  });
  t.equal((await fetch(`${signed.url}/healthz`)).status, 200, 'signed gateway healthy');
  t.equal(signed.gw.metrics.hot.framesIn, 0, 'no audio ever reached the signed gateway');

  // The fuzz reached every kind of answer (a generator that only ever produced one kind would prove little).
  const show = (m: Map<number, number>) =>
    [...m]
      .sort((a, b) => a[0] - b[0])
      .map(([k, v]) => `${k}×${v}`)
      .join(' ');
  t.ok(
    [1000, 1009, 4000, 4001, 4002, 4003].every((c) => legCodesSeen.has(c)),
    `leg close codes: ${show(legCodesSeen)}`,
  );
  t.ok(
    [200, 204, 400, 405, 413, 415].every((c) => hookStatuses.has(c)),
    `webhook statuses: ${show(hookStatuses)}`,
  );
  t.ok(
    [101, 400, 404, 431].every((c) => rawStatuses.has(c)),
    `raw statuses: ${show(rawStatuses)}`,
  );
  t.same(fails.slice(0, 20), [], `no failures in ${batches.cases} cases (seed ${SEED}; replay with FUZZ_SEED=${SEED})`);
  t.ok(batches.cases >= 3000, `thousands of cases (${batches.cases})`);

  // The good call kept all its audio.
  goodCall.stop();
  t.equal(goodCall.closedCode, undefined, `the good call was never closed (${goodCall.closedCode})`);
  let last = -1;
  for (let i = 0; i < 200 && last !== goodCall.sent; i++) {
    last = (await child.ask('stats', GOOD_UUID)).framesIn;
    if (last !== goodCall.sent) await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(last, goodCall.sent, `good call: frames in counted == frames sent (${goodCall.sent})`);
  goodCall.ws.close(1000);
  await until(() => goodCall.closedCode !== undefined, 5000, 'good call closed');

  // Memory: every leg gone, heap after GC within a bound of before.
  for (let i = 0; i < 100; i++) {
    if ((await child.ask('stats')).live === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const after = await child.ask('gc');
  t.equal(after.live, 0, 'no call left behind');
  t.same(after.errors, [], 'no error-level log line (no internal errors)');
  const mb = (n: number) => Math.round(n / 1e5) / 10;
  t.ok(
    after.heapUsed < before.heapUsed * 1.5 + 16e6,
    `heap after GC ${mb(after.heapUsed)} MB vs ${mb(before.heapUsed)} MB before (rss ${mb(before.rss)} → ${mb(after.rss)} MB)`,
  );
  t.notOk(child.exited, 'the gateway process is still alive');
});
