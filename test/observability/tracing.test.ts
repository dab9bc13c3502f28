/**
 * OpenTelemetry traces of real calls: the span tree (call → turns → latency children) from an in-memory exporter, each
 * child's duration against the Prometheus histogram it mirrors, the barge-in span on a barge-in call, one export over
 * OTLP/HTTP to a local receiver (JSON body decoded), and tracing off → no tracer, no provider registered.
 */
import t, { type Test } from 'tap';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { readFileSync } from 'node:fs';
import { trace, ProxyTracerProvider } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Histogram } from 'prom-client';
import { buildGateway, type Gateway } from '../../src/app.js';
import { loadAdapters } from '../../src/adapters.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { CallTracer, SPAN_NAMES } from '../../src/observability/tracing.js';
import type { CallObserverEvent, ObservedCall } from '../../src/call/observer.js';
import { ManualClock } from '../../src/util/clock.js';
import { simulateCall } from '../../src/sim/simulator.js';
import { Channel } from '../../src/util/channel.js';
import type { AsrAdapter, AsrEvent } from '../../src/asr/types.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';
import { until, type LogLine } from '../helpers/gateway.js';
import { must } from '../helpers/must.js';

const DATA = '/usr/share/pocketsphinx/test/data';
const GOFORWARD = readFileSync(`${DATA}/goforward.raw`);
const FIRST = readFileSync(`${DATA}/cards/001.wav`).subarray(44);
const SECOND = readFileSync(`${DATA}/cards/002.wav`).subarray(44);
const silence = (ms: number) => Buffer.alloc((ms / 20) * 640);

/** An ASR that hears "go forward ten meters" at every end of speech: the turn's content is fixed, its timing real. */
const scriptedAsr: AsrAdapter = {
  name: 'scripted',
  capabilities: { interim: false, sampleRatesHz: [8000, 16000, 24000] },
  start: ({ signal }) => {
    const events = new Channel<AsrEvent>(16);
    signal.addEventListener('abort', () => events.close(), { once: true });
    return { write() {}, endOfSpeech: () => void events.push({ type: 'final', text: 'go forward ten meters' }), events, close: () => events.close() };
  },
};

interface Built {
  gw: Gateway;
  url: string;
  port: number;
  logs: LogLine[];
}

async function start(t: Test, env: Record<string, string>, o: { provider?: BasicTracerProvider; asr?: AsrAdapter } = {}): Promise<Built> {
  const logs: LogLine[] = [];
  const full = { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'debug', ASR_ADAPTER: 'none', TTS_ADAPTER: 'none', ...env };
  const config = loadConfig(full);
  const logger = createLogger(config.logLevel, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const adapters = await loadAdapters(config, logger, full);
  if (o.asr) adapters.asr = o.asr;
  if (adapters.tts) {
    // Warm the synthesiser (its first request on a busy machine can take seconds): the call's timing is then its own.
    const ctl = new AbortController();
    const call = { callId: 'warm-up', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: 16000, language: 'en-US', metadata: {} };
    for await (const _ of adapters.tts.synthesize({ text: 'Warm up.', call, voice: undefined, signal: ctl.signal })) break;
    ctl.abort();
  }
  const gw = await buildGateway({ config, logger, env: full, adapters, tracerProvider: o.provider });
  const port = await gw.listen();
  t.teardown(() => gw.close());
  return { gw, port, url: `http://127.0.0.1:${port}`, logs };
}

function memoryTracing(): { provider: BasicTracerProvider; exporter: InMemorySpanExporter } {
  const exporter = new InMemorySpanExporter();
  return { exporter, provider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }) };
}

const ms = (s: ReadableSpan) => s.duration[0] * 1000 + s.duration[1] / 1e6;
const startMs = (s: ReadableSpan) => s.startTime[0] * 1000 + s.startTime[1] / 1e6;
const endMs = (s: ReadableSpan) => s.endTime[0] * 1000 + s.endTime[1] / 1e6;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

async function histogram(h: Histogram<string>): Promise<{ sum: number; count: number }> {
  const v = (await h.get()).values;
  const pick = (suffix: string) => v.filter((x) => x.metricName?.endsWith(suffix)).reduce((a, x) => a + x.value, 0);
  return { sum: pick('_sum') * 1000, count: pick('_count') };
}

t.test('tracing off: no tracer, no provider registered', async (t) => {
  const g = await start(t, {});
  t.equal(g.gw.tracing, undefined, 'no call tracer');
  const global = trace.getTracerProvider();
  t.ok(global instanceof ProxyTracerProvider, "the global provider is the API's proxy");
  t.equal((global as ProxyTracerProvider).getDelegate().constructor.name, 'NoopTracerProvider', 'with no SDK provider behind it');
  t.notOk(
    g.logs.some((l) => l.msg.startsWith('tracing on')),
    'no tracing start-up line',
  );
});

t.test('a real call through the simulator: span tree, names, parents, attributes; children match the histograms', async (t) => {
  const { provider, exporter } = memoryTracing();
  const g = await start(t, { TTS_ADAPTER: 'flite', BARGE_IN: 'false', TTS_FIRST_AUDIO_TIMEOUT_MS: '30000' }, { provider, asr: scriptedAsr });
  const samples = new Int16Array(GOFORWARD.buffer, GOFORWARD.byteOffset, GOFORWARD.length / 2);
  const lead = new Int16Array(16000 * 7); // 7 s: the greeting (about 3 s) plays out first
  const audio = new Int16Array(lead.length + samples.length);
  audio.set(samples, lead.length);
  await simulateCall({ url: g.url, uuid: 'trace-call-1', conversationUuid: 'CON-trace-1', audio: { samples: audio, sampleRateHz: 16000 }, tailMs: 5000 });
  await until(() => exporter.getFinishedSpans().some((s) => s.name === SPAN_NAMES.call), 5000, 'the call span');
  const spans = exporter.getFinishedSpans();
  const calls = spans.filter((s) => s.name === SPAN_NAMES.call);
  t.equal(calls.length, 1, 'one call span');
  const call = must(calls[0]);
  t.equal(parentOf(call), undefined, 'the call span is a root');
  t.match(call.attributes, {
    'vgw.call.id': 'trace-call-1',
    'vgw.call.conversation_uuid': 'CON-trace-1',
    'vgw.leg.sample_rate_hz': 16000,
    'vgw.adapter.asr': 'scripted',
    'vgw.adapter.bot': 'echo',
    'vgw.adapter.tts': 'flite',
    'vgw.call.close_code': Number,
  });
  t.type(call.attributes['vgw.call.end_reason'], 'string', 'end reason recorded');
  t.ok(
    spans.every((s) => s.spanContext().traceId === call.spanContext().traceId),
    "every span in the call's trace",
  );
  const turns = spans.filter((s) => s.name === SPAN_NAMES.turn);
  t.ok(turns.length >= 2, `greeting and caller turns (${turns.length})`);
  t.ok(
    turns.every((s) => parentOf(s) === call.spanContext().spanId),
    'turns are children of the call',
  );
  t.equal(call.attributes['vgw.call.turns'], turns.length, 'the call counts its turns');
  const turnIds = new Set(turns.map((s) => s.spanContext().spanId));
  const children = spans.filter((s) => s !== call && s.name !== SPAN_NAMES.turn);
  t.ok(children.length > 0 && children.every((s) => turnIds.has(parentOf(s) ?? '')), 'every other span is a child of a turn');
  for (const c of children) {
    const turn = turns.find((x) => x.spanContext().spanId === parentOf(c)) as ReadableSpan;
    t.ok(startMs(c) >= startMs(turn) - 0.01 && endMs(c) <= endMs(turn) + 0.01, `${c.name} lies within its turn`);
  }
  const greeting = turns.find((s) => s.attributes['vgw.turn.opened_by'] === 'bot') as ReadableSpan;
  const callerTurn = turns.find((s) => s.attributes['vgw.turn.opened_by'] === 'caller') as ReadableSpan;
  t.ok(greeting && callerTurn, 'a turn opened by the bot (greeting) and one by the caller');
  const namesOf = (turn: ReadableSpan) => new Set(children.filter((c) => parentOf(c) === turn.spanContext().spanId).map((c) => c.name));
  t.same(
    [...namesOf(callerTurn)].sort(),
    [SPAN_NAMES['asr-final'], SPAN_NAMES['bot-first-text'], SPAN_NAMES['first-frame'], SPAN_NAMES.playout, SPAN_NAMES['tts-first-audio']].sort(),
    'the caller turn has every stage',
  );
  t.notOk(namesOf(greeting).has(SPAN_NAMES['asr-final']), 'the greeting has no ASR span');
  t.notOk(namesOf(greeting).has(SPAN_NAMES['first-frame']), 'nor a turn latency (no caller speech before it)');
  t.type(callerTurn.attributes['vgw.turn.latency_ms'], 'number', 'the caller turn carries its latency');
  // The same two clock readings as the histograms: per kind, span durations sum to the histogram's sum.
  const m = g.gw.metrics;
  const pairs: Array<[string, Histogram<string>]> = [
    [SPAN_NAMES['asr-final'], m.asrFinalLatency],
    [SPAN_NAMES['bot-first-text'], m.botFirstTextLatency],
    [SPAN_NAMES['tts-first-audio'], m.ttsFirstAudioLatency],
    [SPAN_NAMES['first-frame'], m.turnLatency],
  ];
  for (const [name, h] of pairs) {
    const list = children.filter((c) => c.name === name);
    const hist = await histogram(h);
    const sum = list.reduce((a, s) => a + ms(s), 0);
    t.equal(list.length, hist.count, `${name}: one span per observation (${list.length})`);
    t.ok(Math.abs(sum - hist.sum) < 0.01 * Math.max(1, list.length), `${name}: durations ${sum.toFixed(3)} ms = histogram ${hist.sum.toFixed(3)} ms`);
  }
  const first = children.find((c) => c.name === SPAN_NAMES['first-frame'] && parentOf(c) === callerTurn.spanContext().spanId) as ReadableSpan;
  t.ok(Math.abs(ms(first) - (callerTurn.attributes['vgw.turn.latency_ms'] as number)) <= 0.5, 'the turn latency attribute is the first-frame span');
  const playout = children.find((c) => c.name === SPAN_NAMES.playout && parentOf(c) === callerTurn.spanContext().spanId) as ReadableSpan;
  t.equal(playout.attributes['vgw.reply.interrupted'], false, 'its reply played out');
  t.ok((playout.attributes['vgw.reply.total_ms'] as number) > 0, 'with its length');
});

t.test('a barge-in call has a barge-in span under the turn whose reply it cut', async (t) => {
  const { provider, exporter } = memoryTracing();
  const g = await start(t, {}, { provider });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'trace-barge-1' });
  const first = Buffer.concat([FIRST, silence(1000)]);
  await streamFrames(leg.ws, first, 640, first.length / 640);
  await until(() => leg.binary.length >= 15, 3000, 'echo playing');
  const second = Buffer.concat([SECOND, silence(400)]);
  await streamFrames(leg.ws, second, 640, second.length / 640);
  await until(() => leg.texts.some((m) => (m as { action?: string }).action === 'clear'), 3000, 'clear sent to Vonage');
  leg.ws.close();
  await until(() => exporter.getFinishedSpans().some((s) => s.name === SPAN_NAMES.call), 5000, 'the call span');
  const spans = exporter.getFinishedSpans();
  const barges = spans.filter((s) => s.name === SPAN_NAMES.bargeIn);
  const counted = must((await g.gw.metrics.bargeIns.get()).values[0]).value;
  t.equal(barges.length, counted, `one barge-in span per counted barge-in (${counted})`);
  t.ok(barges.length >= 1, 'the barge-in is traced');
  const b = must(barges[0]);
  t.equal(b.attributes['vgw.barge_in.paused'], true, 'paused at onset, then confirmed (BARGE_IN_CONFIRM_MS)');
  t.ok(ms(b) > 0, `from the pause to the decision: ${ms(b).toFixed(1)} ms`);
  const turn = spans.find((s) => s.spanContext().spanId === parentOf(b)) as ReadableSpan;
  t.equal(turn?.name, SPAN_NAMES.turn, 'a child of a turn');
  t.equal(turn.attributes['vgw.turn.interrupted'], true, 'that turn is marked interrupted');
  const cut = spans.find((s) => s.name === SPAN_NAMES.playout && parentOf(s) === turn.spanContext().spanId);
  t.equal(cut?.attributes['vgw.reply.interrupted'], true, 'the reply it cut, in the same turn');
  t.equal(cut?.attributes['vgw.reply.id'], b.attributes['vgw.reply.id'], 'the same reply');
  const call = spans.find((s) => s.name === SPAN_NAMES.call) as ReadableSpan;
  t.equal(call.attributes['vgw.call.barge_ins'], counted, 'the call span counts barge-ins');
});

t.test('OTEL_EXPORTER_OTLP_ENDPOINT: spans reach a local OTLP/HTTP receiver as JSON on drain', async (t) => {
  const bodies: Array<{ path: string; headers: IncomingHttpHeaders; body: unknown }> = [];
  const receiver = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const raw = Buffer.concat(parts).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
      bodies.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  t.teardown(() => receiver.close());
  const port = (receiver.address() as { port: number }).port;
  const g = await start(t, {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    OTEL_SERVICE_NAME: 'gateway-under-test',
    OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=s3cret%21,x-team=voice',
  });
  t.ok(g.gw.tracing, 'the tracer is on');
  t.ok(
    g.logs.some((l) => l.msg.startsWith('tracing on') && l.url === `http://127.0.0.1:${port}/v1/traces`),
    'start-up line names the traces URL',
  );
  t.notOk(JSON.stringify(g.logs).includes('s3cret'), 'headers are never logged');
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'trace-otlp-1' });
  const first = Buffer.concat([FIRST, silence(1000)]);
  await streamFrames(leg.ws, first, 640, first.length / 640);
  await until(() => g.logs.some((l) => l.msg === 'reply played'), 8000, 'the echo played');
  leg.ws.close();
  await until(() => g.gw.tracker.size === 0, 3000, 'call closed');
  await g.gw.drain(1000); // drain → close → the batch is flushed before close resolves
  t.ok(bodies.length >= 1, `the receiver got ${bodies.length} export(s)`);
  const post = must(bodies[0]);
  t.equal(post.path, '/v1/traces', '/v1/traces appended to the endpoint');
  t.match(post.headers['content-type'], /^application\/json/, 'OTLP/HTTP JSON content type');
  t.equal(post.headers['x-api-key'], 's3cret!', 'OTEL_EXPORTER_OTLP_HEADERS sent (URL-decoded)');
  t.equal(post.headers['x-team'], 'voice');
  type KV = { key: string; value: { stringValue?: string; intValue?: string | number; boolValue?: boolean } };
  type OtlpSpan = {
    name: string;
    traceId: string;
    spanId: string;
    parentSpanId?: string;
    attributes: KV[];
    startTimeUnixNano: string;
    endTimeUnixNano: string;
  };
  type Body = { resourceSpans: Array<{ resource: { attributes: KV[] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
  const all = bodies.flatMap((b) => (b.body as Body).resourceSpans);
  const svc = must(all[0]).resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
  t.equal(svc, 'gateway-under-test', 'service.name from OTEL_SERVICE_NAME');
  t.ok(
    must(all[0]).resource.attributes.some((a) => a.key === 'process.pid'),
    'process.pid tells workers apart',
  );
  const spans = all.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  const call = spans.find((s) => s.name === SPAN_NAMES.call);
  t.ok(call, 'the call span was exported');
  t.equal(call?.attributes.find((a) => a.key === 'vgw.call.id')?.value.stringValue, 'trace-otlp-1', 'with its call id');
  const turns = spans.filter((s) => s.name === SPAN_NAMES.turn);
  t.ok(turns.length >= 1 && turns.every((s) => s.parentSpanId === call?.spanId && s.traceId === call?.traceId), 'turns under the call, same trace');
  const names = new Set(spans.map((s) => s.name));
  t.ok(
    names.has(SPAN_NAMES['bot-first-text']) && names.has(SPAN_NAMES['first-frame']) && names.has(SPAN_NAMES.playout),
    `turn children exported (${[...names].join(', ')})`,
  );
  t.ok(
    spans.every((s) => BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano)),
    'times well-formed',
  );
});

t.test('the tracer alone, on a manual clock: streamed replies, a reply that outlives its turn, faults contained', async (t) => {
  const { provider, exporter } = memoryTracing();
  const clock = new ManualClock(1000);
  const logs: LogLine[] = [];
  const log = createLogger('debug', { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const tracer = new CallTracer(provider, clock, { asr: 'a', bot: 'b', tts: undefined }, log);
  const info = { callId: 'unit-1', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: 8000, language: 'en-US', metadata: {} };
  const call = { info, state: 'listening', jitter: {}, pacerStats: {}, summary: () => ({}) } as unknown as ObservedCall;
  const ev = (e: CallObserverEvent) => tracer.event(call, e);
  ev({ type: 'call-start' });
  // Turn 1: the caller's final, the bot streams two sentences (two TTS requests), the reply starts.
  ev({ type: 'timing', what: 'asr-final', startMs: 1000, endMs: 1400 });
  ev({ type: 'timing', what: 'bot-first-text', startMs: 1400, endMs: 1600 });
  ev({ type: 'timing', what: 'tts-first-audio', startMs: 1600, endMs: 1700 });
  ev({ type: 'reply-start', replyId: 1, turnLatencyMs: 800, atMs: 1800 });
  ev({ type: 'timing', what: 'first-frame', startMs: 1000, endMs: 1800 });
  ev({ type: 'timing', what: 'tts-first-audio', startMs: 1900, endMs: 1950 });
  // Turn 2 opens (a new final) while reply 1 still plays: turn 1 waits for its reply.
  ev({ type: 'timing', what: 'asr-final', startMs: 3000, endMs: 3300 });
  t.equal(exporter.getFinishedSpans().filter((s) => s.name === SPAN_NAMES.turn).length, 0, 'turn 1 not written while its reply plays');
  ev({ type: 'reply-done', replyId: 1, heardMs: 2000, totalMs: 2000, interrupted: false, atMs: 4000 });
  const t1 = exporter.getFinishedSpans().find((s) => s.name === SPAN_NAMES.turn);
  t.ok(t1, 'turn 1 written once its reply is done');
  t.equal(t1?.attributes['vgw.turn.index'], 1);
  t.equal(Math.round(ms(t1 as ReadableSpan)), 3000, 'it covers its reply: 1000 → 4000');
  const kids1 = exporter.getFinishedSpans().filter((s) => parentOf(s) === t1?.spanContext().spanId);
  t.equal(kids1.filter((s) => s.name === SPAN_NAMES['tts-first-audio']).length, 2, 'one TTS span per request of the streamed reply');
  t.ok(
    kids1.some((s) => s.name === SPAN_NAMES.playout),
    'its playout',
  );
  t.notOk(
    kids1.some((s) => s.name === SPAN_NAMES['asr-final'] && Math.round(startMs(s) - startMs(t1 as ReadableSpan)) === 2000),
    'the second final is not in turn 1',
  );
  // Telemetry never throws into the call: a broken provider is logged once.
  const broken = new CallTracer(
    {
      getTracer: () => ({
        startSpan: () => {
          throw new Error('exporter exploded');
        },
      }),
    } as unknown as BasicTracerProvider,
    clock,
    { asr: undefined, bot: 'b', tts: undefined },
    log,
  );
  t.doesNotThrow(() => {
    broken.event(call, { type: 'call-start' });
    broken.event(call, { type: 'timing', what: 'asr-final', startMs: 1, endMs: 2 });
  }, 'a failing tracer does not throw');
  t.equal(logs.filter((l) => l.msg.startsWith('tracing failed')).length, 1, 'logged once');
  // The call ends: the open turn is written, the call span ends, and late events open nothing.
  clock.advance(5000);
  ev({ type: 'call-end', summary: { closeCode: 1000, closeReason: 'caller hung up', framesIn: 10, framesOut: 5 } as never });
  ev({ type: 'timing', what: 'tts-first-audio', startMs: 9000, endMs: 9100 });
  const spans = exporter.getFinishedSpans();
  t.equal(spans.filter((s) => s.name === SPAN_NAMES.call).length, 1, 'one call span, no second one from a late event');
  t.equal(spans.filter((s) => s.name === SPAN_NAMES.turn).length, 2, "turn 2 written at the call's end");
  t.equal(tracer.size, 0, 'nothing kept for the ended call');
});

t.test("the OTEL_* and AMD settings: OpenTelemetry's meanings, bad values refused with the variable named", async (t) => {
  const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
  t.equal(loadConfig(base).otelTracesUrl, 'http://collector:4318/v1/traces', '/v1/traces appended to the base URL');
  t.equal(
    loadConfig({ ...base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otlp.example.com/custom/path' }).otelTracesUrl,
    'https://otlp.example.com/custom/path',
    'the traces endpoint used as given, and wins',
  );
  t.equal(loadConfig({}).otelTracesUrl, '', 'neither set: off');
  t.same(
    loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'api-key=a%2Cb, x-tenant = blue ' }).otelHeaders,
    { 'api-key': 'a,b', 'x-tenant': 'blue' },
    'headers parsed, values URL-decoded',
  );
  t.equal(loadConfig({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).otelSamplerArg, 0.25);
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector' }, /OTEL_EXPORTER_OTLP_ENDPOINT="ftp:\/\/collector" is invalid/],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector:4318' }, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT/],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, /OTEL_TRACES_SAMPLER="sometimes" is invalid: expected one of always_on/],
    [{ OTEL_TRACES_SAMPLER_ARG: '1.5' }, /OTEL_TRACES_SAMPLER_ARG="1.5" is invalid: expected a number from 0 to 1/],
    [{ OTEL_EXPORTER_OTLP_HEADERS: 'api-key' }, /OTEL_EXPORTER_OTLP_HEADERS=\(secret, not shown\) is invalid/],
    [{ AMD_MODE: 'maybe' }, /AMD_MODE="maybe" is invalid/],
    [{ AMD_BEEP_TIMEOUT_S: '10' }, /AMD_BEEP_TIMEOUT_S="10" is invalid: expected 0, or an integer from 30 to 120/],
  ];
  for (const [env, msg] of refused) t.throws(() => loadConfig(env), { code: 'CONFIG_INVALID', message: msg }, Object.keys(env).join(', '));
});
