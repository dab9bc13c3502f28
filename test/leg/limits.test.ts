/**
 * One leg misbehaving must not reach the process or another call (issue 13, "log amplification", "ping flood"):
 * each flood runs on a real gateway beside a bystander call that hears a steady tone. The flooding leg is closed with
 * its documented code, the log stays a handful of lines, the bystander's frames keep coming, exact, and the process
 * stays up. And a listener that throws inside a socket handler closes that leg alone with 1011.
 */
import t, { type Test } from 'tap';
import WebSocket, { WebSocketServer } from 'ws';
import { metricValue, startGateway, until, type LogLine, type TestGateway } from '../helpers/gateway.js';
import { ContinuousCaller, clientFrame, goertzel, maxGapMs, openRawLeg, openRawSocketLeg, type RawLeg } from '../helpers/raw-leg.js';
import { VonageLeg, type LegListener } from '../../src/leg/leg.js';
import { HotCounters } from '../../src/observability/metrics.js';
import { createLogger } from '../../src/observability/logger.js';
import { must } from '../helpers/must.js';

const TONE_BOT = './dist/test/fixtures/tone-bot.js';

/** Send as fast as the client can, in batches (yielding so the close can arrive), until the gateway closes the leg. */
async function flood(leg: RawLeg, send: () => void, max = 200000): Promise<number> {
  let sent = 0;
  while (leg.ws.readyState === WebSocket.OPEN && sent < max) {
    for (let i = 0; i < 100; i++) send();
    sent += 100;
    await new Promise((r) => setImmediate(r));
  }
  return sent;
}

interface FloodResult {
  g: TestGateway;
  lines: LogLine[];
  sent: number;
}

interface Bystander {
  g: TestGateway;
  by: RawLeg;
}

/** A gateway with one call up, hearing a 15 s tone (the tone bot) and talking like Vonage (a frame every 20 ms). */
async function bystanderCall(t: Test, env: Record<string, string> = {}): Promise<Bystander> {
  const g = await startGateway(t, { BOT_ADAPTER: TONE_BOT, TONE_BOT_MS: '15000', ...env });
  const by = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  by.handshake('audio/l16;rate=16000', { uuid: 'bystander' });
  const caller = new ContinuousCaller(by.ws, 640);
  caller.start();
  t.teardown(() => caller.stop());
  await until(() => by.binary.length >= 25, 5000, 'the bystander hears its tone');
  return { g, by };
}

/** What every flood must leave behind: the bystander's audio still flowing, exact, its tone; the process up. */
async function bystanderUnharmed(t: Test, { g, by }: Bystander, from: number, name: string, detail: string): Promise<void> {
  const after = by.binary.length;
  await until(() => by.binary.length >= after + 50, 5000, 'the bystander still hears its tone a second later');
  const frames = by.binary.slice(from);
  t.ok(
    frames.every((f) => f.length === 640),
    `the bystander's ${frames.length} frames during and after the flood are exact (640 bytes)`,
  );
  const pcm = Buffer.concat(frames);
  t.ok(goertzel(pcm, 16000, 440) > 100 * goertzel(pcm, 16000, 1000), 'and they are its tone');
  // Timing is reported, not asserted (shared, noisy machines): the gap before the flood is the baseline.
  t.comment(
    `${name}: ${detail}; the bystander's largest gap between frames: ${maxGapMs(by.binaryAt, from).toFixed(1)} ms from the flood's start (${maxGapMs(by.binaryAt, 5, from).toFixed(1)} ms before it)`,
  );
  t.equal(g.gw.tracker.size, 1, 'the bystander call is still up');
  t.equal(by.ws.readyState, WebSocket.OPEN);
  t.equal(must([...g.gw.tracker.sessions()][0]).info.callId, 'bystander');
  t.equal((await fetch(`${g.url}/healthz`)).status, 200, 'the process answers');
}

/** A bystander call, then a second leg running `send` in a flood; checks what every flood must leave. */
async function floodBesideBystander(
  t: Test,
  name: string,
  send: (leg: RawLeg) => void,
  expectCode: number,
  env: Record<string, string> = {},
): Promise<FloodResult> {
  const b = await bystanderCall(t, env);
  const { g, by } = b;
  const bad = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  bad.handshake('audio/l16;rate=16000', { uuid: 'flooder' });
  await until(() => g.gw.tracker.size === 2, 3000, 'both calls up');
  const logsBefore = g.logs.length;
  const from = by.binary.length;
  const sent = await flood(bad, () => send(bad));
  const c = await bad.closed;
  t.equal(c.code, expectCode, `${name}: the flooding leg is closed with ${expectCode} (${c.reason})`);
  await bystanderUnharmed(t, b, from, name, `${sent} messages sent`);

  const m = await g.metrics();
  t.equal(metricValue(m, `gateway_legs_closed_total{code="${expectCode}"}`), 1, 'the close is counted by its code');
  const lines = g.logs.slice(logsBefore);
  t.ok(lines.length <= 12, `the log stays bounded: ${lines.length} lines for ${sent} messages`);
  t.equal(lines.filter((l) => l.closeCode === expectCode).length, 1, 'exactly one line says why the leg was closed');
  by.ws.close(1000);
  return { g, lines, sent };
}

t.test('a flood of 1-byte text messages: 4009 after LEG_MAX_MALFORMED_PER_MIN, a handful of log lines', async (t) => {
  const { g, lines } = await floodBesideBystander(t, 'malformed text flood', (l) => l.ws.send('x'), 4009);
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_leg_text_malformed_total'), 21, 'the 21st malformed message in a minute closed the leg (limit 20)');
  t.equal(metricValue(m, 'gateway_leg_events_total{event="malformed"}'), 21, 'and each is counted as a leg event');
  t.equal(metricValue(m, 'gateway_leg_log_suppressed_total'), 19, 'all but the first were counted, not logged');
  const logged = lines.filter((l) => l.msg === 'malformed text message ignored');
  t.equal(logged.length, 1, 'one line for the first malformed message');
  t.match(logged[0], { call: 'flooder', reason: 'not JSON', suppressed: 0 });
  t.ok(
    lines.some((l) => l.suppressed === 19 && /19 more malformed text messages/.test(l.msg)),
    'and a summary of the rest when the leg closed',
  );
});

t.test('a flood of unknown (valid JSON) events: 4008 once past the message rate, log lines bounded', async (t) => {
  const { g, lines, sent } = await floodBesideBystander(t, 'unknown event flood', (l) => l.ws.send('{"event":"websocket:flood"}'), 4008);
  const m = await g.metrics();
  const unknown = metricValue(m, 'gateway_leg_events_total{event="unknown"}');
  t.ok(unknown >= 500 && unknown <= 600, `the burst (500) and a little refill were accepted, then the leg was closed: ${unknown} of ${sent}`);
  t.equal(lines.filter((l) => l.msg === 'unknown leg event ignored').length, 1, 'one line for them all');
  t.equal(metricValue(m, 'gateway_leg_log_suppressed_total'), unknown - 1, 'the rest counted');
});

t.test('a binary flood above LEG_MAX_MESSAGES_PER_S: 4008', async (t) => {
  const frame = Buffer.alloc(640);
  const { g } = await floodBesideBystander(t, 'binary flood', (l) => l.ws.send(frame), 4008);
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_legs_closed_total{code="1011"}'), 0, 'nothing failed inside the gateway');
});

t.test('a ping flood: 4008 (pings spend the same tokens), not a bare terminate', async (t) => {
  await floodBesideBystander(t, 'ping flood', (l) => l.ws.ping(), 4008);
});

t.test('an attacker that ignores the close and keeps flooding: not read any more, dropped after the grace period', async (t) => {
  const b = await bystanderCall(t);
  const { g } = b;
  const bad = await openRawSocketLeg(g.port);
  bad.socket.write(clientFrame(1, JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/l16;rate=16000', uuid: 'attacker' })));
  await until(() => g.gw.tracker.size === 2, 3000, 'both calls up');
  const logsBefore = g.logs.length;
  const from = b.by.binary.length;
  // 1-byte text frames, 10,000 to a write, for up to 4 s, whatever the server says.
  const chunk = Buffer.concat(Array.from({ length: 10000 }, () => clientFrame(1, 'x')));
  let writes = 0;
  let dropped = false;
  void bad.closed.then(() => (dropped = true));
  const end = performance.now() + 4000;
  while (!dropped && performance.now() < end) {
    // Only as fast as the connection takes it (the test process must not buffer what the gateway does not read).
    if (bad.socket.writable && bad.socket.writableLength === 0) {
      bad.socket.write(chunk);
      writes++;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  t.ok(dropped, 'the gateway dropped the connection itself');
  t.equal(bad.closeCode(), 4009, 'after sending a close frame with 4009');
  await bystanderUnharmed(t, b, from, 'attacker ignoring the close', `${writes * 10000} frames written`);
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_leg_text_malformed_total'), 21, 'nothing past the 21st malformed message was processed');
  const lines = g.logs.slice(logsBefore);
  t.ok(lines.length <= 12, `the log stays bounded: ${lines.length} lines`);
  b.by.ws.close(1000);
});

t.test('a lower LEG_MAX_MESSAGES_PER_S / LEG_MESSAGE_BURST closes sooner; a leg within them is never closed', async (t) => {
  const g = await startGateway(t, { LEG_MAX_MESSAGES_PER_S: '60', LEG_MESSAGE_BURST: '50' });
  const url = `ws://127.0.0.1:${g.port}/socket`;
  const ok = await openRawLeg(url);
  ok.handshake('audio/l16;rate=8000', { uuid: 'steady' });
  const caller = new ContinuousCaller(ok.ws, 320); // 50 frames a second, like Vonage: under 60
  caller.start();
  t.teardown(() => caller.stop());
  const fast = await openRawLeg(url);
  fast.handshake('audio/l16;rate=8000', { uuid: 'fast' });
  let n = 0;
  while (fast.ws.readyState === WebSocket.OPEN && n < 1000) {
    fast.ws.send(Buffer.alloc(320));
    n++;
    if (n % 10 === 0) await new Promise((r) => setImmediate(r));
  }
  t.equal((await fast.closed).code, 4008);
  await new Promise((r) => setTimeout(r, 1500));
  caller.stop();
  t.equal(ok.ws.readyState, WebSocket.OPEN, "a leg at Vonage's pace is not closed");
  t.ok(caller.framesSent >= 70, `it sent ${caller.framesSent} frames`);
  ok.ws.close(1000);
});

t.test('LEG_MAX_MALFORMED_PER_MIN=0: no limit on malformed messages (the message rate still applies)', async (t) => {
  const g = await startGateway(t, { LEG_MAX_MALFORMED_PER_MIN: '0' });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'lenient' });
  await until(() => g.gw.tracker.size === 1, 3000, 'session');
  for (let i = 0; i < 100; i++) leg.ws.send('x');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(leg.ws.readyState, WebSocket.OPEN, '100 malformed messages, still open');
  t.equal(metricValue(await g.metrics(), 'gateway_leg_text_malformed_total'), 100);
  t.equal(g.logs.filter((l) => l.msg === 'malformed text message ignored').length, 1, 'logged once');
  leg.ws.close(1000);
});

/** A bare VonageLeg on a real socket with a listener that throws where the test says. */
async function legWithListener(t: Test, listener: Partial<LegListener>) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  const lines: LogLine[] = [];
  const log = createLogger('debug', { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  const hot = new HotCounters();
  const codes: number[] = [];
  const legReady = new Promise<VonageLeg>((resolve) =>
    wss.once('connection', (ws) => {
      const leg = new VonageLeg(
        'leg-1',
        ws,
        { handshakeTimeoutMs: 2000, idleTimeoutMs: 60000, pingIntervalMs: 10000, maxMessagesPerS: 250, messageBurst: 500 },
        hot,
        log,
      );
      leg.onFinalClose = (code) => codes.push(code);
      leg.start(
        () => ({ onAudio: () => {}, onEvent: () => {}, onClose: () => {}, ...listener }),
        () => {},
      );
      resolve(leg);
    }),
  );
  const raw = await openRawLeg(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  const leg = await legReady;
  return { raw, leg, lines, hot, codes };
}

t.test('a listener that throws from onAudio closes that leg with 1011, logged once; nothing reaches ws or the process', async (t) => {
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  t.teardown(() => void process.off('uncaughtException', onUncaught));
  let calls = 0;
  const { raw, lines, codes } = await legWithListener(t, {
    onAudio: () => {
      calls++;
      throw new Error('session exploded');
    },
  });
  raw.handshake('audio/l16;rate=8000');
  raw.ws.send(Buffer.alloc(320 * 3)); // three frames in one message: the throw stops at the first
  for (let i = 0; i < 5; i++) raw.ws.send(Buffer.alloc(320));
  const c = await raw.closed;
  t.equal(c.code, 1011, 'the peer sees 1011');
  t.equal(c.reason, 'internal error', 'with no detail of the failure');
  t.equal(calls, 1, 'the listener is not called again once it has failed');
  await until(() => codes.length > 0, 3000, 'the server side closed');
  t.same(codes, [1011], 'the app counts the close by its code');
  const errs = lines.filter((l) => l.msg === 'leg listener threw: closing this leg (1011)');
  t.equal(errs.length, 1, 'one log line');
  t.match(errs[0], { point: 'onAudio', err: { message: 'session exploded' } });
  t.equal(uncaught.length, 0, 'no uncaughtException');
});

t.test('a listener that throws from onEvent or onClose: the same wall', async (t) => {
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  t.teardown(() => void process.off('uncaughtException', onUncaught));
  const a = await legWithListener(t, {
    onEvent: () => {
      throw new Error('dtmf handler failed');
    },
  });
  a.raw.handshake('audio/l16;rate=8000');
  a.raw.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '1', duration: 100 }));
  t.equal((await a.raw.closed).code, 1011);
  t.match(
    a.lines.find((l) => l.level === 50),
    { point: 'onEvent' },
  );

  const b = await legWithListener(t, {
    onClose: () => {
      throw new Error('cleanup failed');
    },
  });
  b.raw.handshake('audio/l16;rate=8000');
  await new Promise((r) => setTimeout(r, 50));
  b.raw.ws.close(1000);
  t.equal((await b.raw.closed).code, 1000);
  await until(() => b.lines.some((l) => l.level === 50), 2000, 'the onClose failure logged');
  t.match(
    b.lines.filter((l) => l.level === 50),
    [{ point: 'onClose', err: { message: 'cleanup failed' } }],
    'once',
  );
  t.equal(b.leg.closed, true);
  t.equal(uncaught.length, 0, 'no uncaughtException');
});

t.test('a call whose 20 ms tick keeps throwing is removed from the ticker and closed with 1011, said once; the bystander plays on', async (t) => {
  const b = await bystanderCall(t);
  const { g } = b;
  const bad = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  bad.handshake('audio/l16;rate=16000', { uuid: 'tick-fault' });
  await until(() => g.gw.tracker.size === 2, 3000, 'both calls up');
  const session = [...g.gw.tracker.sessions()].find((s) => s.info.callId === 'tick-fault');
  t.ok(session);
  const logsBefore = g.logs.length;
  const from = b.by.binary.length;
  let ticks = 0;
  // A bug inside the call's tick: it throws on every tick from now on.
  (session as unknown as { onTick: () => void }).onTick = () => {
    ticks++;
    throw new Error('tick bug (test)');
  };
  const c = await bad.closed;
  t.equal(c.code, 1011, 'the call is closed with 1011');
  t.equal(ticks, 3, 'after 3 ticks in a row, never called again');
  await bystanderUnharmed(t, b, from, 'throwing tick listener', `${ticks} ticks threw`);
  t.equal(metricValue(await g.metrics(), 'gateway_ticker_listener_faults_total'), 1, 'counted');
  const errs = g.logs.slice(logsBefore).filter((l) => l.level >= 50);
  t.equal(errs.length, 1, 'one error line, not 50 a second');
  t.match(errs[0], { call: 'tick-fault', err: { message: 'tick bug (test)' } });
  b.by.ws.close(1000);
});
