/**
 * The `deepgram` ASR adapter drives the real `@deepgram/sdk` against the local fake of Deepgram's listen v1 WebSocket
 * (test/fakes/deepgram.ts): the conformance suite, the handshake it sends, finals made from Deepgram's own endpointing
 * and UtteranceEnd events, KeepAlive in silence, every error class mapped (bad key → unrecoverable, dropped socket →
 * reconnect with the unfinalised audio replayed), a fallback chain, and calls through a real gateway — one of them
 * with a provider fault while a bystander call goes on.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { runAsrConformance } from '../../src/asr/conformance.js';
import { createDeepgramAsr, KEEPALIVE_MS } from '../../src/asr/deepgram.js';
import { classifyDeepgramClose, classifyDeepgramHandshake } from '../../src/asr/deepgram-errors.js';
import { createFallbackAsr } from '../../src/asr/fallback.js';
import type { AsrAdapter, AsrEvent, AsrStream } from '../../src/asr/types.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startFakeDeepgram, type FakeDeepgramOptions } from '../fakes/deepgram.js';
import { scriptedAsr } from '../fixtures/scripted-asr.js';
import { eventsOf, metricValue, startGateway, until, untilEvent } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';
import { must } from '../helpers/must.js';
import { countUnhandledRejections, failedChecks, testCall, vendorAdapter } from '../helpers/vendor.js';
import { adapterContext } from '../../src/adapters.js';

const raw = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
const speech = { samples: new Int16Array(raw.buffer, raw.byteOffset, raw.length >> 1), sampleRateHz: 16000 };
const KEY = 'dg-test-key';
const unhandled = countUnhandledRejections();

async function setup(t: Test, fo: FakeDeepgramOptions = {}, env: Record<string, string> = {}) {
  const fake = await startFakeDeepgram({ key: KEY, ...fo });
  t.teardown(() => fake.close());
  const full = { DEEPGRAM_API_KEY: KEY, DEEPGRAM_URL: fake.url, ...env };
  const adapter = await vendorAdapter(createDeepgramAsr, full);
  return { fake, adapter };
}

const call = testCall;

/** Open a stream and collect its events. */
async function open(adapter: AsrAdapter, c: CallInfo) {
  const ctl = new AbortController();
  const stream: AsrStream = await adapter.start({ call: c, signal: ctl.signal });
  const events: AsrEvent[] = [];
  const done = (async () => {
    for await (const e of stream.events) events.push(e);
  })();
  return { stream, ctl, events, done };
}

/** Write `pcm` (16 kHz speech + silence) in 20 ms frames, yielding now and then so the sockets run. */
async function writeAll(stream: AsrStream, pcm: Buffer, frameBytes = 640): Promise<void> {
  for (let off = 0, i = 0; off + frameBytes <= pcm.length; off += frameBytes, i++) {
    stream.write(pcm.subarray(off, off + frameBytes), performance.now());
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 2));
  }
}
/** Whole 20 ms frames of `pcm`, then `ms` of silence. */
const withSilence = (pcm: Buffer, ms: number) => Buffer.concat([pcm.subarray(0, pcm.length - (pcm.length % 640)), Buffer.alloc((ms / 20) * 640)]);
const finals = (ev: AsrEvent[]) => ev.filter((e): e is Extract<AsrEvent, { type: 'final' }> => e.type === 'final');

t.test('error classification: every handshake status and close code', async (t) => {
  t.match(classifyDeepgramHandshake('Unexpected server response: 401'), { code: 'DEEPGRAM_UNAUTHORIZED', recoverable: false });
  t.match(classifyDeepgramHandshake('Unexpected server response: 400'), { code: 'DEEPGRAM_BAD_REQUEST', recoverable: false });
  t.match(classifyDeepgramHandshake('Unexpected server response: 402'), { code: 'DEEPGRAM_PAYMENT_REQUIRED', recoverable: false });
  t.match(classifyDeepgramHandshake('Unexpected server response: 403'), { code: 'DEEPGRAM_FORBIDDEN', recoverable: false });
  t.match(classifyDeepgramHandshake('Unexpected server response: 404'), { code: 'DEEPGRAM_NOT_FOUND', recoverable: false });
  t.match(classifyDeepgramHandshake('Unexpected server response: 408'), { code: 'DEEPGRAM_TIMEOUT', recoverable: true });
  t.match(classifyDeepgramHandshake('Unexpected server response: 429'), { code: 'DEEPGRAM_RATE_LIMITED', recoverable: true });
  t.match(classifyDeepgramHandshake('Unexpected server response: 503'), { code: 'DEEPGRAM_UNAVAILABLE', recoverable: true });
  t.match(classifyDeepgramHandshake('Unexpected server response: 418'), { code: 'DEEPGRAM_HTTP_418', recoverable: false });
  t.match(classifyDeepgramHandshake('connect ECONNREFUSED 127.0.0.1:1'), { code: 'DEEPGRAM_CONNECT_FAILED', recoverable: true });
  t.match(classifyDeepgramHandshake('TIMEOUT'), { code: 'DEEPGRAM_CONNECT_FAILED', recoverable: true });
  t.match(classifyDeepgramClose(1008, 'DATA-0000: The payload cannot be decoded as audio.'), { code: 'DEEPGRAM_BAD_AUDIO', recoverable: false });
  t.match(classifyDeepgramClose(1002, 'DATA-0000'), { code: 'DEEPGRAM_BAD_AUDIO', recoverable: false });
  t.match(classifyDeepgramClose(1009, 'BIG-0000'), { code: 'DEEPGRAM_MESSAGE_TOO_BIG', recoverable: false });
  t.match(classifyDeepgramClose(1011, 'NET-0001: no audio'), { code: 'DEEPGRAM_NET_TIMEOUT', recoverable: true });
  t.match(classifyDeepgramClose(1011, 'internal'), { code: 'DEEPGRAM_SERVER_ERROR', recoverable: true });
  t.match(classifyDeepgramClose(1000, ''), { code: 'DEEPGRAM_STREAM_ENDED', recoverable: true });
  t.match(classifyDeepgramClose(1006, ''), { code: 'DEEPGRAM_CONNECTION_LOST', recoverable: true });
});

t.test('the real SDK against the fake passes the ASR conformance suite', async (t) => {
  const refuse: number[] = [];
  const { fake, adapter } = await setup(t, { text: () => 'go forward ten meters', refuse });
  const checks = await runAsrConformance({
    adapter,
    speech,
    expectText: /go forward/,
    // A 401 on the next handshake: an unrecoverable error event, never a throw.
    provokeError: () => void refuse.push(401),
  });
  t.same(failedChecks(checks), []);
  t.ok(fake.connections.length >= 4, `the fake served ${fake.connections.length} connections`);
  t.ok(fake.refused >= 1, 'the provoked 401 was served');
});

t.test('handshake: key, model, language, linear16 at the leg rate, interim results, endpointing, vad events', async (t) => {
  const { fake, adapter } = await setup(t, {}, { DEEPGRAM_MODEL: 'nova-2-phonecall', DEEPGRAM_ENDPOINTING_MS: '450' });
  for (const rate of [8000, 24000]) {
    const s = await open(adapter, call(`hs-${rate}`, rate, 'en-GB'));
    s.stream.write(Buffer.alloc(rate / 25), performance.now());
    await until(() => fake.connections.some((c) => c.query.get('sample_rate') === String(rate) && c.audioBytes > 0), 5000, 'audio at the fake');
    s.stream.close();
    await s.done;
  }
  const q = must(fake.connections[0]).query;
  t.equal(must(fake.connections[0]).authorization, `Token ${KEY}`, 'Authorization: Token <key>');
  t.same(
    Object.fromEntries(
      ['model', 'language', 'encoding', 'sample_rate', 'channels', 'interim_results', 'endpointing', 'utterance_end_ms', 'vad_events'].map((k) => [
        k,
        q.get(k),
      ]),
    ),
    {
      model: 'nova-2-phonecall',
      language: 'en-GB',
      encoding: 'linear16',
      sample_rate: '8000',
      channels: '1',
      interim_results: 'true',
      endpointing: '450',
      utterance_end_ms: '1000',
      vad_events: 'true',
    },
  );
  t.equal(must(fake.connections[1]).query.get('sample_rate'), '24000');
  await until(() => fake.connections.every((c) => c.closed), 5000, 'sockets closed');
  t.ok(
    fake.connections.every((c) => c.closeStream),
    'CloseStream sent at the end of each stream',
  );
});

t.test('finals come from Deepgram endpointing: interims, then one final per utterance with offsets in the call', async (t) => {
  const { fake, adapter } = await setup(t, { text: (k) => ['go forward ten meters', 'and stop'][k - 1] ?? `u${k}` }, { DEEPGRAM_ENDPOINTING_MS: '800' });
  const s = await open(adapter, call('finals'));
  await writeAll(s.stream, withSilence(raw, 1500));
  await until(() => finals(s.events).length >= 1, 10000, 'a final');
  const f = must(finals(s.events)[0]);
  t.equal(f.text, 'go forward ten meters');
  t.ok(s.events.findIndex((e) => e.type === 'interim') < s.events.indexOf(f), 'interims before the final');
  const sentFinal = must(fake.connections[0]).sent.find((m) => m.type === 'Results' && m.is_final) as { start: number; duration: number };
  t.equal(f.startMs, Math.round(sentFinal.start * 1000), 'startMs from the result');
  t.equal(f.endMs, Math.round((sentFinal.start + sentFinal.duration) * 1000), 'endMs from the result');
  t.equal(f.confidence, 0.97);
  s.stream.close();
  await s.done;
});

t.test('the VAD end-of-speech hint sends Finalize; its from_finalize result is the final', async (t) => {
  const { fake, adapter } = await setup(t, { text: () => 'finalised early' }, { DEEPGRAM_ENDPOINTING_MS: '5000' });
  const s = await open(adapter, call('finalize'));
  await writeAll(s.stream, raw.subarray(0, 32000 * 1.5));
  await until(() => (fake.connections[0]?.audioBytes ?? 0) >= 32000 * 1.5, 5000, 'audio at the fake');
  t.equal(finals(s.events).length, 0, 'no final yet: endpointing is 5 s');
  s.stream.endOfSpeech?.();
  await until(() => finals(s.events).length === 1, 5000, 'the final after Finalize');
  t.equal(must(fake.connections[0]).finalizes, 1);
  t.equal(must(finals(s.events)[0]).text, 'finalised early');
  s.stream.close();
  await s.done;
});

t.test('KeepAlive while no audio is sent, so Deepgram does not close with NET-0001', async (t) => {
  const { fake, adapter } = await setup(t, { netTimeoutMs: KEEPALIVE_MS + 1500 });
  const s = await open(adapter, call('keepalive'));
  s.stream.write(Buffer.alloc(640), performance.now());
  await until(() => (fake.connections[0]?.keepAlives ?? 0) >= 1, KEEPALIVE_MS + 3000, 'a KeepAlive');
  t.notOk(must(fake.connections[0]).closed, 'the stream is still open');
  t.notOk(
    s.events.some((e) => e.type === 'error'),
    'no error',
  );
  s.stream.close();
  await s.done;
});

t.test('a wrong key is unrecoverable: one error event, the events end', async (t) => {
  const { fake, adapter } = await setup(t, {}, { DEEPGRAM_API_KEY: 'wrong' });
  const s = await open(adapter, call('badkey'));
  s.stream.write(Buffer.alloc(640), performance.now());
  await s.done;
  t.match(s.events, [{ type: 'error', code: 'DEEPGRAM_UNAUTHORIZED', recoverable: false, message: /401/ }]);
  t.equal(fake.refused, 1, 'one handshake, no retries');
  t.equal(fake.connections.length, 0);
});

t.test('a dropped socket is recoverable: reconnect, replay what no final covered, the final comes', async (t) => {
  const { fake, adapter } = await setup(
    t,
    { text: () => 'go forward ten meters', faults: [{ connection: 1, afterBytes: 32000, action: 'drop' }] },
    { DEEPGRAM_ENDPOINTING_MS: '800' },
  );
  const s = await open(adapter, call('drop'));
  const pcm = withSilence(raw, 1500);
  await writeAll(s.stream, pcm);
  await until(() => finals(s.events).length >= 1, 15000, 'a final after the reconnect');
  t.match(
    s.events.find((e) => e.type === 'error'),
    { code: 'DEEPGRAM_CONNECTION_LOST', recoverable: true },
  );
  const restart = s.events.find((e): e is Extract<AsrEvent, { type: 'restart' }> => e.type === 'restart');
  t.ok(restart, 'a restart event');
  t.equal(fake.connections.length, 2, 'a second connection');
  await until(() => must(fake.connections[1]).audioBytes >= pcm.length, 5000, 'all audio at the second connection');
  t.ok(must(fake.connections[1]).pcm().equals(pcm), 'the second connection got the whole call from the start (no final before the drop), in order');
  t.ok(
    restart!.replayedMs >= must(fake.connections[0]).audioBytes / 32 - 20,
    `the replay (${restart!.replayedMs} ms) covers what the dropped connection had received`,
  );
  t.equal(must(finals(s.events)[0]).text, 'go forward ten meters');
  s.stream.close();
  await s.done;
});

t.test('close codes on an open stream: NET-0001 reconnects, DATA-0000 ends the stream', async (t) => {
  const { fake, adapter } = await setup(t, {
    faults: [
      { connection: 1, afterBytes: 640, action: 'close', code: 1011, reason: 'NET-0001: no audio' },
      { connection: 2, afterBytes: 640, action: 'close', code: 1008, reason: 'DATA-0000: The payload cannot be decoded as audio.' },
    ],
  });
  const s = await open(adapter, call('codes'));
  for (let i = 0; i < 200 && !s.events.some((e) => e.type === 'error' && !e.recoverable); i++) {
    s.stream.write(Buffer.alloc(640, 1), performance.now());
    await new Promise((r) => setTimeout(r, 20));
  }
  await s.done;
  t.match(
    s.events.filter((e) => e.type === 'error'),
    [
      { code: 'DEEPGRAM_NET_TIMEOUT', recoverable: true },
      { code: 'DEEPGRAM_BAD_AUDIO', recoverable: false },
    ],
  );
  t.equal(fake.connections.length, 2);
});

t.test('a refused handshake with 429 is retried; too many in a row give up', async (t) => {
  const { fake, adapter } = await setup(t, { refuse: [429] });
  const s = await open(adapter, call('429'));
  s.stream.write(Buffer.alloc(640), performance.now());
  // The fake counts the connection when it accepts it; the adapter says `restart` when its side opens, a moment later.
  await until(() => fake.connections.length === 1 && s.events.some((e) => e.type === 'restart'), 10000, 'the retry connected');
  t.match(s.events, [{ type: 'error', code: 'DEEPGRAM_RATE_LIMITED', recoverable: true }, { type: 'restart' }]);
  s.stream.close();
  await s.done;

  const dead = await setup(t, { refuse: [503, 503, 503, 503, 503, 503, 503] });
  const d = await open(dead.adapter, call('503'));
  await d.done;
  const errs = d.events.filter((e) => e.type === 'error');
  t.equal(errs.length, 6, 'five retries, then the sixth failure is final');
  t.match(errs[5], { code: 'DEEPGRAM_UNAVAILABLE', recoverable: false, message: /gave up after 5/ });
});

t.test('in a fallback chain, a bad Deepgram key moves the call to the next adapter with the audio', async (t) => {
  const { adapter } = await setup(t, {}, { DEEPGRAM_API_KEY: 'revoked' });
  const next = scriptedAsr({ name: 'scripted', finalEveryFrames: 25 });
  const chain = createFallbackAsr([adapter, next]);
  const s = await open(chain, call('chain'));
  await writeAll(s.stream, Buffer.alloc(640 * 50, 3));
  await until(() => s.events.some((e) => e.type === 'final'), 5000, 'a final from the next adapter');
  t.match(
    s.events.find((e) => e.type === 'failover'),
    { from: 'deepgram', to: 'scripted', reason: /DEEPGRAM_UNAUTHORIZED/ },
  );
  s.stream.close();
  await s.done;
  await chain.close?.();
});

t.test('a call through the gateway: leg audio → Deepgram fake → transcript → bot; a faulty call leaves a bystander alone', async (t) => {
  const fake = await startFakeDeepgram({
    key: KEY,
    text: () => 'go forward ten meters',
    faults: [{ connection: 1, afterBytes: 16000, action: 'close', code: 1008, reason: 'DATA-0000: cue' }],
  });
  t.teardown(() => fake.close());
  const g = await startGateway(t, { ASR_ADAPTER: 'deepgram', DEEPGRAM_API_KEY: KEY, DEEPGRAM_URL: fake.url, TTS_ADAPTER: 'flite' });
  t.equal(g.gw.adapters.asr?.name, 'deepgram');
  // The faulty call is served by the fake's first connection, which fails with an unrecoverable DATA-0000.
  const faulty = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  faulty.handshake('audio/l16;rate=16000', { uuid: 'dg-faulty' });
  t.teardown(() => faulty.ws.terminate());
  await until(() => fake.connections.length === 1, 5000, 'the faulty call connected');
  const bystander = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  bystander.handshake('audio/l16;rate=16000', { uuid: 'dg-bystander' });
  t.teardown(() => bystander.ws.terminate());
  const pcm = withSilence(raw, 1500);
  await Promise.all([streamFrames(faulty.ws, pcm, 640, pcm.length / 640), streamFrames(bystander.ws, pcm, 640, pcm.length / 640)]);
  const line = await untilEvent(
    g,
    'transcript',
    (e) => e.final && e.text === 'go forward ten meters' && e.call === 'dg-bystander',
    10000,
    'the bystander transcript',
  );
  t.ok(line, 'the bystander got its transcript');
  await untilEvent(g, 'reply-start', (e) => e.call === 'dg-bystander' && e.turnLatencyMs !== undefined, 10000, 'the bot answered the bystander');
  t.equal(
    metricValue(await g.metrics(), 'gateway_adapter_errors_total{stage="asr",code="DEEPGRAM_BAD_AUDIO"}'),
    1,
    'the faulty call counted its DEEPGRAM_BAD_AUDIO',
  );
  t.equal(eventsOf(g, 'transcript', 'dg-faulty').length, 0, 'the faulty call went on without ASR');
  t.equal(faulty.ws.readyState, faulty.ws.OPEN, 'the faulty call is still up');
  t.equal(bystander.ws.readyState, bystander.ws.OPEN, 'the bystander is up');
  t.equal((await fetch(`${g.url}/healthz`)).status, 200);
});

t.test('no unhandled rejection from the SDK in any of the above (refusals, drops, close codes)', async (t) => {
  t.equal(unhandled.count, 0);
  unhandled.stop();
});

t.test('settings: bad values are refused with the variable named; a missing key stops the start-up', async (t) => {
  t.throws(
    () => loadConfig({ ASR_ADAPTER: 'deepgram', DEEPGRAM_URL: 'ftp://example.com' }),
    /DEEPGRAM_URL="ftp:\/\/example.com" is invalid: expected an absolute ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL/,
  );
  t.throws(
    () => loadConfig({ ASR_ADAPTER: 'deepgram', DEEPGRAM_ENDPOINTING_MS: '5' }),
    /DEEPGRAM_ENDPOINTING_MS="5" is invalid: expected an integer from 10 to 10000/,
  );
  t.throws(() => loadConfig({ ASR_ADAPTER: 'deepgram', DEEPGRAM_MODEL: ' ' }), /DEEPGRAM_MODEL/);
  const c = loadConfig({});
  t.match(c, { deepgramUrl: 'wss://api.deepgram.com', deepgramModel: 'nova-3', deepgramEndpointingMs: 300, deepgramApiKey: '' });
  await t.rejects(createDeepgramAsr(adapterContext(c, createLogger('silent'))), /needs DEEPGRAM_API_KEY/);
  const { loadAdapters } = await import('../../src/adapters.js');
  const env = { ASR_ADAPTER: 'deepgram', TTS_ADAPTER: 'none' };
  await t.rejects(loadAdapters(loadConfig(env), createLogger('silent'), env), /ASR_ADAPTER=deepgram: .*DEEPGRAM_API_KEY/);
});
