/**
 * Fuzzing the adapter boundary and the Vonage events of live calls, on a real gateway in its own process
 * (`fixtures/fuzz-gateway.ts`) whose ASR, bot and TTS are `fixtures/fault-adapters.ts`: every call carries a random
 * fault plan (which adapter, which call point, throw / reject / hang / garbage, on which call) and random caller
 * behaviour (audio, DTMF, mutated `websocket:*` events, pauses), while a good call streams audio the whole time.
 * A second property mutates valid Vonage events (leg text events and event webhooks that name live calls).
 *
 * Asserted: the gateway process never dies and answers /healthz after every batch; every leg ends with a documented
 * close code (or is still open when the client closes it); no fault reaches the event loop (no `tick listener` or
 * handler-crash log line); the good call received every frame it sent and was never closed; every adapter kind had
 * faults counted at the boundary; afterwards no call is left and the heap is bounded. `FUZZ_SEED` replays a run.
 */
import t from 'tap';
import fc from 'fast-check';
import WebSocket from 'ws';
import { until } from '../helpers/gateway.js';
import { FuzzChild, GoodCall, fuzzBatches } from '../helpers/fuzz-child.js';
import { CloseCode } from '../../src/errors.js';
import type { Fault } from '../fixtures/fault-adapters.js';
import { must } from '../helpers/must.js';

const DOCUMENTED_CLOSE = new Set<number>(Object.values(CloseCode));
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const GOOD_UUID = `good-call-${Math.random().toString(16).slice(2)}`;
const FAULTS = './dist/test/fixtures/fault-adapters.js';

// ── what a caller does ───────────────────────────────────────────────────────────────────────────────────────────
type Step = { text: string } | { frames: number; loud: boolean } | { wait: number };

const RATES = [8000, 16000, 24000] as const;
const frameOf = (rate: number, loud: boolean) => {
  const b = Buffer.alloc(rate / 25);
  if (loud)
    for (let i = 0; i < b.length / 2; i++) b.writeInt16LE(Math.round(9000 * Math.sin((2 * Math.PI * 300 * i) / rate) + 3000 * Math.sin(i * 1.7)), 2 * i);
  return b;
};
const FRAMES = new Map<string, Buffer>(
  RATES.flatMap(
    (r) =>
      [
        [`${r}1`, frameOf(r, true)],
        [`${r}0`, frameOf(r, false)],
      ] as Array<[string, Buffer]>,
  ),
);

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({
    kind: fc.constant('asr' as const),
    point: fc.constantFrom('start', 'write', 'endOfSpeech', 'events', 'close'),
    how: fc.constantFrom('throw', 'reject', 'hang', 'garbage'),
    at: fc.integer({ min: 1, max: 30 }),
  }),
  fc.record({
    kind: fc.constant('bot' as const),
    point: fc.constantFrom(
      'start',
      'input',
      'input:start',
      'input:dtmf',
      'input:transcript',
      'input:speech-start',
      'input:speech-end',
      'input:playback',
      'output',
      'close',
    ),
    how: fc.constantFrom('throw', 'reject', 'hang', 'garbage'),
    at: fc.integer({ min: 1, max: 6 }),
  }),
  fc.record({
    kind: fc.constant('tts' as const),
    point: fc.constantFrom('synthesize', 'chunk'),
    how: fc.constantFrom('throw', 'reject', 'hang', 'garbage'),
    at: fc.integer({ min: 1, max: 6 }),
  }),
);

/** A valid Vonage leg event, mutated now and then: a key dropped, a value of another type, odd casing, extra keys. */
const vonageEventArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      fc.record({ event: fc.constant('websocket:dtmf'), digit: fc.constantFrom('0', '1', '5', '9', '*', '#'), duration: fc.integer({ min: 40, max: 2000 }) }),
      fc.record({
        event: fc.constant('websocket:notify'),
        payload: fc.oneof(
          fc.record({ reply: fc.integer({ min: 0, max: 50 }), frame: fc.integer({ min: 0, max: 5000 }) }),
          fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
        ),
      }),
      fc.constant({ event: 'websocket:cleared' }),
      fc.constant({ event: 'websocket:media:update', 'content-type': 'audio/l16;rate=8000' }),
    ),
    fc.oneof(
      { weight: 3, arbitrary: fc.constant('none') },
      { weight: 1, arbitrary: fc.constantFrom('drop', 'retype', 'case', 'extra', 'proto', 'trail', 'number') },
    ),
    fc.oneof(fc.anything({ maxDepth: 2 }), fc.string({ maxLength: 20 })),
  )
  .map(([ev, how, v]) => {
    const o: Record<string, unknown> = { ...ev };
    const keys = Object.keys(o);
    // fc.anything() makes objects without a prototype: String() of one throws.
    const text = (x: unknown) => {
      try {
        return String(x);
      } catch {
        return 'obj';
      }
    };
    let json = '';
    try {
      json = JSON.stringify(v) ?? '';
    } catch {
      /* left empty */
    }
    const k = must(keys[json.length % keys.length]);
    switch (how) {
      case 'drop':
        delete o[k];
        break;
      case 'retype':
        o[k] = v;
        break;
      case 'case':
        o.event = String(o.event).toUpperCase();
        break;
      case 'extra':
        o[text(v).slice(0, 20) || 'x'] = v;
        break;
      case 'proto':
        return JSON.stringify(o).replace(/^\{/, '{"__proto__":{"digit":"7"},"constructor":{"prototype":{"event":"x"}},');
      case 'trail':
        return JSON.stringify(o) + text(v).slice(0, 5);
      case 'number':
        o.duration = fc.sample(fc.constantFrom(1e308, -1, 0.5, NaN, Number.MAX_SAFE_INTEGER + 2), 1)[0];
        break;
    }
    try {
      return JSON.stringify(o) ?? 'null';
    } catch {
      return JSON.stringify(ev);
    }
  });

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ frames: fc.integer({ min: 1, max: 25 }), loud: fc.boolean() }) },
  { weight: 2, arbitrary: vonageEventArb.map((text) => ({ text })) },
  { weight: 2, arbitrary: fc.integer({ min: 10, max: 150 }).map((wait) => ({ wait })) },
);

interface Case {
  rate: number;
  plan: Fault[];
  steps: Step[];
  /** Keep the leg open this long after the last step, so replies, timeouts and apologies play out. */
  linger: number;
}
const caseArb: fc.Arbitrary<Case> = fc.record({
  rate: fc.constantFrom(...RATES),
  plan: fc.array(faultArb, { minLength: 0, maxLength: 3 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 8 }),
  linger: fc.integer({ min: 0, max: 300 }),
});

interface Outcome {
  code: number;
  opened: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One call: handshake with the plan, the steps in real time, then close (1000) unless the gateway closed first. */
async function runCase(port: number, c: Case): Promise<Outcome> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket`, { perMessageDeflate: false, maxPayload: 1 << 20 });
  let code: number | undefined;
  let opened = false;
  ws.on('error', () => {});
  ws.on('close', (c) => (code = c));
  ws.on('unexpected-response', (_q, res) => (code = -(res.statusCode ?? 0)));
  // Incoming audio is read and dropped (a real Vonage plays it); notify events are echoed back like Vonage does.
  ws.on('message', (d, bin) => {
    if (!bin && ws.readyState === WebSocket.OPEN) ws.send(d.toString(), { binary: false });
  });
  const t0 = Date.now();
  while (!opened && code === undefined && Date.now() - t0 < 10000) {
    if (ws.readyState === WebSocket.OPEN) opened = true;
    else await sleep(5);
  }
  if (!opened) {
    ws.terminate();
    return { code: code ?? -1, opened };
  }
  ws.send(
    JSON.stringify({
      event: 'websocket:connected',
      'content-type': `audio/l16;rate=${c.rate}`,
      uuid: `fz-${Math.random().toString(16).slice(2)}`,
      plan: JSON.stringify(c.plan),
    }),
  );
  for (const s of c.steps) {
    if (code !== undefined) break;
    if ('wait' in s) await sleep(s.wait);
    else if ('text' in s) ws.send(s.text, { binary: false });
    else {
      const f = FRAMES.get(`${c.rate}${s.loud ? 1 : 0}`) as Buffer;
      for (let i = 0; i < s.frames && ws.readyState === WebSocket.OPEN; i++) {
        ws.send(f);
        if (i % 5 === 4) await sleep(20);
      }
    }
  }
  await sleep(c.linger);
  if (code === undefined && ws.readyState === WebSocket.OPEN) ws.close(1000, 'fuzz case done');
  const deadline = Date.now() + 10000;
  while (code === undefined && Date.now() < deadline) await sleep(10);
  if (code === undefined) {
    ws.terminate();
    return { code: -1, opened };
  }
  return { code, opened };
}

function metric(text: string, prefix: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith(prefix)) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
}

t.test(`fuzz the adapter boundary and Vonage events of live calls (seed ${SEED})`, async (t) => {
  const child = new FuzzChild({
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    UPGRADE_RATE_PER_SOURCE: '0',
    ASR_ADAPTER: FAULTS,
    BOT_ADAPTER: FAULTS,
    TTS_ADAPTER: FAULTS,
    BOT_REPLY_TIMEOUT_MS: '1000',
    TTS_FIRST_AUDIO_TIMEOUT_MS: '300',
    BOT_MAX_FAILURES: '3',
    JITTER_TARGET_MS: '0',
    JITTER_CAPACITY_MS: '200',
    VAD_SILENCE_MS: '200',
    VAD_MIN_SPEECH_MS: '60',
    BARGE_IN_MIN_SPEECH_MS: '60',
  });
  let good: GoodCall | undefined;
  t.teardown(() => {
    good?.terminate();
    if (child.proc.connected) child.proc.disconnect();
  });
  await until(() => child.port > 0 || child.exited !== undefined, 20000, 'fuzz gateway listening');
  t.notOk(child.exited, 'gateway started');
  const port = child.port;
  const base = `http://127.0.0.1:${port}`;
  const healthy = async (label: string) => {
    if (child.exited) throw new Error(`gateway process died (${child.exited}) during ${label}`);
    const r = await fetch(`${base}/healthz`);
    if (r.status !== 200) throw new Error(`/healthz answered ${r.status} after ${label}`);
  };

  // The good call: no faults planned, one quiet frame every 20 ms for the whole run.
  const quiet = frameOf(16000, false);
  const goodCall = await GoodCall.open(port, { uuid: GOOD_UUID, plan: '[]' }, quiet);
  good = goodCall;

  await Promise.all(fc.sample(caseArb, { seed: SEED, numRuns: 20 }).map((c) => runCase(port, c)));
  const before = await child.ask('gc');

  const fails: string[] = [];
  const codes = new Map<number, number>();
  const batches = fuzzBatches(t, SEED, fails, healthy);
  const run = batches.run.bind(batches);

  await run('adapter faults', caseArb, [40, 60], 50, async (c) => {
    const o = await runCase(port, c);
    codes.set(o.code, (codes.get(o.code) ?? 0) + 1);
    const what = `plan ${JSON.stringify(c.plan)} steps ${JSON.stringify(c.steps).slice(0, 200)}`;
    if (!o.opened) fails.push(`${what}: upgrade refused (${o.code})`);
    else if (!DOCUMENTED_CLOSE.has(o.code)) fails.push(`${what}: ended with undocumented code ${o.code}`);
  });

  // Mutated Vonage events at speed: leg events on fault-free calls, and event webhooks naming live calls.
  const uuids: string[] = [];
  await run(
    'mutated Vonage events',
    fc.tuple(fc.array(vonageEventArb, { minLength: 1, maxLength: 30 }), fc.constantFrom(...RATES)),
    [40, 60],
    75,
    async ([events, rate]) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/socket`, { perMessageDeflate: false });
      let code: number | undefined;
      ws.on('error', () => {});
      ws.on('close', (c) => (code = c));
      await new Promise<void>((r) => (ws.once('open', () => r()), ws.once('close', () => r())));
      const uuid = `ev-${Math.random().toString(16).slice(2)}`;
      uuids.push(uuid);
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': `audio/l16;rate=${rate}`, uuid, plan: '[]' }));
        for (const e of events) if (ws.readyState === WebSocket.OPEN) ws.send(e, { binary: false });
        const status = ['answered', 'completed', 'failed', 'weird', 'started'][events.length % 5];
        const body = JSON.stringify({ uuid: events.length % 3 ? uuid : { uuid }, status, conversation_uuid: uuid, timestamp: must(events[0]).slice(0, 20) });
        const r = await fetch(`${base}/webhooks/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        if (r.status >= 500) fails.push(`event webhook ${body.slice(0, 120)}: ${r.status}`);
        await sleep(events.length);
        if (ws.readyState === WebSocket.OPEN) ws.close(1000);
      }
      const deadline = Date.now() + 10000;
      while (code === undefined && Date.now() < deadline) await sleep(10);
      codes.set(code ?? -1, (codes.get(code ?? -1) ?? 0) + 1);
      if (code === undefined || !DOCUMENTED_CLOSE.has(code)) fails.push(`events ${events.join(' ').slice(0, 200)}: ended with ${code}`);
    },
  );

  const show = [...codes]
    .sort((a, b) => a[0] - b[0])
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
  t.same(fails.slice(0, 20), [], `no failures in ${batches.cases} cases (close codes: ${show}; replay with FUZZ_SEED=${SEED})`);
  t.ok(batches.cases >= 5500, `thousands of cases (${batches.cases})`);
  const m = await (await fetch(`${base}/metrics`)).text();
  for (const kind of ['asr', 'bot', 'tts'])
    t.ok(
      metric(m, `gateway_adapter_faults_total{kind="${kind}"`) > 0,
      `faults of the ${kind} adapter were caught at the boundary (${metric(m, `gateway_adapter_faults_total{kind="${kind}"`)})`,
    );
  t.ok(codes.has(1011) || codes.has(4007), `some faulty calls were ended by the gateway (${show})`);

  // The good call kept all its audio and was never disturbed.
  goodCall.stop();
  t.equal(goodCall.closedCode, undefined, `the good call was never closed (${goodCall.closedCode})`);
  let last = -1;
  for (let i = 0; i < 200 && last !== goodCall.sent; i++) {
    last = (await child.ask('stats', GOOD_UUID)).framesIn;
    if (last !== goodCall.sent) await sleep(50);
  }
  t.equal(last, goodCall.sent, `good call: frames in counted == frames sent (${goodCall.sent})`);
  goodCall.ws.close(1000);
  await until(() => goodCall.closedCode !== undefined, 5000, 'good call closed');

  for (let i = 0; i < 200; i++) {
    if ((await child.ask('stats')).live === 0) break;
    await sleep(50);
  }
  const after = await child.ask('gc');
  t.equal(after.live, 0, 'no call left behind');
  t.same(after.escaped, [], 'no fault escaped to the event loop, the ticker or a socket handler');
  const mb = (n: number) => Math.round(n / 1e5) / 10;
  t.ok(
    after.heapUsed < before.heapUsed * 1.5 + 24e6,
    `heap after GC ${mb(after.heapUsed)} MB vs ${mb(before.heapUsed)} MB before (rss ${mb(before.rss)} → ${mb(after.rss)} MB)`,
  );
  t.notOk(child.exited, 'the gateway process is still alive');
});
