/**
 * The `microsoft` ASR adapter drives the real `microsoft-cognitiveservices-speech-sdk` against a local fake of the
 * Azure Speech WebSocket protocol (test/fakes/microsoft-speech.ts), with real recorded speech at 8 and 16 kHz.
 * Byte-for-byte: what the service received accounts exactly for what the adapter was given, also across reconnects
 * after injected failures (the replayed part is exactly the audio no final covered).
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { startFakeMicrosoftSpeech, type FakeConnection, type FakeMicrosoftSpeechOptions } from '../fakes/microsoft-speech.js';
import { createMicrosoftAsr } from '../../src/asr/microsoft.js';
import type { AsrEvent, AsrStream } from '../../src/asr/types.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { StreamResampler, loadResampler } from '../../src/audio/resampler.js';
import { until } from '../helpers/gateway.js';
import { must } from '../helpers/must.js';
import { adapterContext } from '../../src/adapters.js';

const RAW16 = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');

async function speechAt(rateHz: number): Promise<Buffer> {
  let pcm = RAW16;
  if (rateHz !== 16000) {
    await loadResampler();
    const r = new StreamResampler(16000, rateHz);
    const s = new Int16Array(RAW16.length >> 1);
    Buffer.from(s.buffer).set(RAW16.subarray(0, s.length * 2));
    const out = Buffer.concat([Buffer.from(r.process(s).buffer), Buffer.from(r.flush().buffer)]);
    r.close();
    pcm = out;
  }
  // Whole 100 ms: the SDK's push stream forwards audio in 100 ms chunks, so all of it reaches the service.
  const chunk = rateHz / 5;
  return pcm.subarray(0, pcm.length - (pcm.length % chunk));
}

interface Run {
  events: AsrEvent[];
  ended: Promise<void>;
  stream: AsrStream;
  ac: AbortController;
}

async function startAsr(t: Test, env: Record<string, string>, rateHz: number, language = 'en-GB'): Promise<Run> {
  const config = loadConfig({ AZURE_SPEECH_UNTHROTTLED_MS: '600000', ...env });
  const logger = createLogger('silent');
  const asr = await createMicrosoftAsr(adapterContext(config, logger, env));
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const stream = await asr.start({
    call: { callId: 'ms-test', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: rateHz, language, metadata: {} },
    signal: ac.signal,
  });
  const events: AsrEvent[] = [];
  const ended = (async () => {
    for await (const e of stream.events) events.push(e);
  })();
  return { events, ended, stream, ac };
}

/** Write 20 ms frames, yielding to the event loop every few frames (live audio keeps arriving during a reconnect). */
async function writeFrames(s: AsrStream, pcm: Buffer, rateHz: number): Promise<void> {
  const fb = (rateHz / 50) * 2;
  for (let i = 0, n = 0; i < pcm.length; i += fb, n++) {
    s.write(pcm.subarray(i, i + fb), performance.now());
    if (n % 4 === 3) await new Promise((r) => setImmediate(r));
  }
}

/** Recognition connections that got as far as the audio header. */
const audioConns = (fake: { recognitions(): FakeConnection[] }) => fake.recognitions().filter((c) => c.rateHz !== undefined);

/** What the service received, minus what each failed connection never finalised (replayed on the next one). */
function accounted(conns: FakeConnection[]): Buffer {
  return Buffer.concat(conns.map((c, i) => (i < conns.length - 1 ? c.pcm().subarray(0, c.finalizedBytes) : c.pcm())));
}

function checkFinals(t: Test, events: AsrEvent[], conns: FakeConnection[], rateHz: number): void {
  const finals = events.filter((e): e is Extract<AsrEvent, { type: 'final' }> => e.type === 'final');
  const bytesPerMs = (rateHz * 2) / 1000;
  const finalizedMs = conns.reduce((n, c) => n + c.finalizedBytes, 0) / bytesPerMs;
  t.ok(finals.length >= 2, `finals (${finals.length})`);
  t.same(
    finals.map((f) => f.text),
    finals.map((_, i) => `phrase ${i + 1}`),
    'every final once, in order',
  );
  t.equal(must(finals[0]).startMs, 0, 'first final starts at the first byte');
  for (let i = 1; i < finals.length; i++) t.equal(must(finals[i]).startMs, must(finals[i - 1]).endMs, `final ${i + 1} continues where ${i} ended`);
  t.equal(must(finals[finals.length - 1]).endMs, Math.round(finalizedMs), 'offsets are absolute in the call audio');
  t.ok(
    events.some((e) => e.type === 'interim' && e.text === 'phrase'),
    'interim results arrive',
  );
  t.ok(events.findIndex((e) => e.type === 'interim') < events.findIndex((e) => e.type === 'final'), 'interim before its final');
}

for (const rateHz of [16000, 8000]) {
  t.test(`${rateHz} Hz recorded speech: language, phrase list, every byte once, continuous finals`, async (t) => {
    const pcm = await speechAt(rateHz);
    const fake = await startFakeMicrosoftSpeech({ key: 'secret', finalEveryMs: 400 });
    t.teardown(() => fake.close());
    const run = await startAsr(t, { AZURE_SPEECH_HOST: fake.host, AZURE_SPEECH_KEY: 'secret', AZURE_SPEECH_PHRASES: 'go forward, ten meters' }, rateHz);
    await writeFrames(run.stream, pcm, rateHz);
    await until(() => audioConns(fake).reduce((n, c) => n + c.audioBytes, 0) >= pcm.length, 10000, 'all audio at the fake');
    const conns = audioConns(fake);
    t.equal(conns.length, 1, 'one connection');
    const c = must(conns[0]);
    t.equal(c.path, '/speech/recognition/conversation/cognitiveservices/v1', 'continuous (conversation) recognition');
    t.equal(c.headers['ocp-apim-subscription-key'], 'secret', 'key sent');
    t.equal(c.language, 'en-GB', 'language = call.language');
    t.same(c.phrases, ['go forward', 'ten meters'], 'phrase list sent');
    t.equal(c.rateHz, rateHz, 'RIFF header carries the leg rate');
    t.ok(c.pcm().equals(pcm), `byte for byte (${c.audioBytes} of ${pcm.length})`);
    await until(() => run.events.filter((e) => e.type === 'final').length === c.results.filter((r) => r.type === 'phrase').length, 5000, 'finals');
    checkFinals(t, run.events, conns, rateHz);
    t.notOk(
      run.events.some((e) => e.type === 'error' || e.type === 'restart'),
      'no errors',
    );
    run.ac.abort();
    await run.ended;
    await until(() => c.closed, 5000, 'socket closed');
  });
}

const failureCases: Array<{ name: string; rateHz: number; failure: NonNullable<FakeMicrosoftSpeechOptions['failures']>[number]; code: string }> = [
  {
    name: 'abrupt socket close (no close frame)',
    rateHz: 16000,
    failure: { connection: 1, afterBytes: 40000, action: 'close' },
    code: 'AZURE_CONNECTION_FAILURE',
  },
  { name: 'service error result', rateHz: 8000, failure: { connection: 1, afterBytes: 20000, action: 'status', status: 'Error' }, code: 'AZURE_SERVICE_ERROR' },
  {
    name: 'too many requests',
    rateHz: 16000,
    failure: { connection: 1, afterBytes: 30000, action: 'status', status: 'TooManyRequests' },
    code: 'AZURE_TOO_MANY_REQUESTS',
  },
  { name: 'close frame 4000', rateHz: 8000, failure: { connection: 1, afterBytes: 25000, action: 'close-code', code: 4000 }, code: 'AZURE_CONNECTION_FAILURE' },
];

for (const fc of failureCases) {
  t.test(`${fc.rateHz} Hz, ${fc.name}: reconnect replays exactly the unfinalised audio`, async (t) => {
    const pcm = await speechAt(fc.rateHz);
    const fake = await startFakeMicrosoftSpeech({ finalEveryMs: 300, failures: [fc.failure] });
    t.teardown(() => fake.close());
    const run = await startAsr(t, { AZURE_SPEECH_HOST: fake.host }, fc.rateHz);
    await writeFrames(run.stream, pcm, fc.rateHz);
    await until(() => audioConns(fake).length === 2 && accounted(audioConns(fake)).length >= pcm.length, 10000, 'all audio accounted for');
    const conns = audioConns(fake);
    const c1 = must(conns[0], 'connection 1');
    const c2 = must(conns[1], 'connection 2');
    t.ok(c1.failed, 'failure injected on connection 1');
    t.ok(c1.audioBytes > c1.finalizedBytes, 'connection 1 had unfinalised audio when it failed');
    const unfinalised = c1.pcm().subarray(c1.finalizedBytes);
    t.ok(c2.pcm().subarray(0, unfinalised.length).equals(unfinalised), `connection 2 starts with connection 1's unfinalised ${unfinalised.length} bytes`);
    t.ok(accounted(conns).equals(pcm), 'finalised audio of 1 + all of 2 = exactly what was written (nothing lost, doubled or reordered)');
    const err = run.events.find((e) => e.type === 'error');
    t.match(err, { type: 'error', code: fc.code, recoverable: true }, 'recoverable error event');
    const restart = run.events.find((e) => e.type === 'restart');
    t.match(restart, { type: 'restart', reason: fc.code }, 'restart event');
    const bytesPerMs = (fc.rateHz * 2) / 1000;
    t.ok((restart?.replayedMs ?? 0) >= Math.floor(unfinalised.length / bytesPerMs), `replayedMs ${restart?.replayedMs} covers the unfinalised audio`);
    t.ok(run.events.indexOf(err as AsrEvent) < run.events.indexOf(restart as AsrEvent), 'error, then restart');
    await until(
      () => run.events.filter((e) => e.type === 'final').length === conns.reduce((n, c) => n + c.results.filter((r) => r.type === 'phrase').length, 0),
      5000,
      'finals',
    );
    checkFinals(t, run.events, conns, fc.rateHz);
    t.equal(c2.language, 'en-GB', 'the new connection has the language too');
    run.ac.abort();
    await run.ended;
  });
}

t.test('fatal errors end the events: wrong key (401) and Forbidden', async (t) => {
  const fake = await startFakeMicrosoftSpeech({ key: 'right', failures: [{ connection: 1, afterBytes: 6400, action: 'status', status: 'Forbidden' }] });
  t.teardown(() => fake.close());
  const bad = await startAsr(t, { AZURE_SPEECH_HOST: fake.host, AZURE_SPEECH_KEY: 'wrong' }, 16000);
  bad.stream.write(Buffer.alloc(640), 0);
  await bad.ended;
  t.match(bad.events, [{ type: 'error', code: 'AZURE_AUTHENTICATION_FAILURE', recoverable: false, message: /401/ }], 'one fatal auth error, then the end');
  t.ok(fake.rejected >= 1, 'the fake refused the upgrade');
  t.equal(fake.recognitions().length, 0, 'no connection was accepted');

  const forbidden = await startAsr(t, { AZURE_SPEECH_HOST: fake.host, AZURE_SPEECH_KEY: 'right' }, 16000);
  await writeFrames(forbidden.stream, Buffer.alloc(32000), 16000);
  await forbidden.ended;
  t.match(
    forbidden.events.filter((e) => e.type !== 'interim'),
    [{ type: 'error', code: 'AZURE_FORBIDDEN', recoverable: false }],
  );
  await until(() => must(fake.recognitions()[0]).closed, 5000, 'socket closed after the fatal error');
  t.equal(fake.recognitions().length, 1, 'no reconnect after a fatal error');
});

t.test('bounded retries: the stream gives up after AZURE_SPEECH_MAX_RETRIES reconnects', async (t) => {
  const failures = [1, 2].map((connection) => ({ connection, afterBytes: 3200, action: 'status' as const, status: 'Error' as const }));
  const fake = await startFakeMicrosoftSpeech({ finalEveryMs: 10000, failures });
  t.teardown(() => fake.close());
  const run = await startAsr(t, { AZURE_SPEECH_HOST: fake.host, AZURE_SPEECH_MAX_RETRIES: '1' }, 16000);
  const feeding = (async () => {
    for (;;) {
      await writeFrames(run.stream, Buffer.alloc(3200), 16000);
      await new Promise((r) => setTimeout(r, 20));
      if (run.events.some((e) => e.type === 'error' && !e.recoverable)) break;
    }
  })();
  await run.ended;
  await feeding;
  t.match(
    run.events.filter((e) => e.type !== 'interim'),
    [
      { type: 'error', code: 'AZURE_SERVICE_ERROR', recoverable: true },
      { type: 'restart', reason: 'AZURE_SERVICE_ERROR' },
      { type: 'error', code: 'AZURE_SERVICE_ERROR', recoverable: false, message: /gave up after 1 reconnects/ },
    ],
  );
  t.equal(audioConns(fake).length, 2);
});

const openHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length;

t.test('connect timeout: an upgrade that never answers is an error of the adapter, not a hang', async (t) => {
  const before = openHandles();
  const sockets: Socket[] = [];
  const silent = createServer((s) => void sockets.push(s.on('error', () => {})));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  const run = await startAsr(t, { AZURE_SPEECH_HOST: `ws://127.0.0.1:${port}`, AZURE_SPEECH_CONNECT_TIMEOUT_MS: '300', AZURE_SPEECH_MAX_RETRIES: '0' }, 16000);
  run.stream.write(Buffer.alloc(640), 0);
  await run.ended;
  t.match(run.events, [{ type: 'error', code: 'AZURE_CONNECT_TIMEOUT', recoverable: false }]);
  // The SDK cannot abort a pending upgrade: its socket lasts until the peer gives up. Then nothing is left.
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => silent.close(() => r()));
  await until(() => openHandles() <= before, 5000, 'no sockets or timers left');
  t.equal(sockets.length, 1, 'one connection attempt (the adapter, not the SDK, retries)');
});

t.test('abort mid-stream closes the socket, ends the events and leaves no handles', async (t) => {
  const pcm = await speechAt(16000);
  const fake = await startFakeMicrosoftSpeech({ finalEveryMs: 500 });
  t.teardown(() => fake.close());
  const count = openHandles;
  // Sockets of the previous test may still be closing: wait until the count settles, or one closing while this
  // stream opens would leave the count unchanged.
  for (let last = -1, i = 0; i < 20 && count() !== last; i++) {
    last = count();
    await new Promise((r) => setTimeout(r, 100));
  }
  const before = count();
  const run = await startAsr(t, { AZURE_SPEECH_HOST: fake.host }, 16000);
  await writeFrames(run.stream, pcm.subarray(0, 32000), 16000);
  await until(() => (audioConns(fake)[0]?.audioBytes ?? 0) >= 16000, 10000, 'audio flowing');
  t.ok(count() > before, `sockets are open while streaming (${before} → ${count()})`);
  run.ac.abort();
  await run.ended;
  t.pass('events ended on abort');
  const c = must(audioConns(fake)[0]);
  await until(() => c.closed, 5000, 'the fake saw the socket close');
  t.notOk(c.ended, 'closed at once, without waiting for the end of the turn');
  await until(() => count() <= before, 5000, 'no sockets or timers left');
  run.stream.write(Buffer.alloc(640), 0);
  run.stream.close();
  t.equal(fake.recognitions().length, 1, 'writing or closing after abort opens nothing');
});

t.test('24 kHz leg: resampled to 16 kHz for the service, the same samples as a reference resampler', async (t) => {
  await loadResampler();
  const up = new StreamResampler(16000, 24000);
  const s16 = new Int16Array(RAW16.length >> 1);
  Buffer.from(s16.buffer).set(RAW16.subarray(0, s16.length * 2));
  const pcm24 = Buffer.from(up.process(s16).buffer);
  up.close();
  const fb = 960;
  const leg = pcm24.subarray(0, pcm24.length - (pcm24.length % fb));
  const down = new StreamResampler(24000, 16000);
  const expected = Buffer.concat(
    Array.from({ length: leg.length / fb }, (_, i) => {
      const f = new Int16Array(fb / 2);
      Buffer.from(f.buffer).set(leg.subarray(i * fb, (i + 1) * fb));
      return Buffer.from(down.process(f).buffer);
    }),
  );
  down.close();
  const fake = await startFakeMicrosoftSpeech({ finalEveryMs: 500 });
  t.teardown(() => fake.close());
  const run = await startAsr(t, { AZURE_SPEECH_HOST: fake.host }, 24000);
  await writeFrames(run.stream, leg, 24000);
  const flushed = expected.length - (expected.length % 3200);
  await until(() => (audioConns(fake)[0]?.audioBytes ?? 0) >= flushed, 10000, 'audio at the fake');
  const c = must(audioConns(fake)[0]);
  t.equal(c.rateHz, 16000, 'the service gets 16 kHz');
  t.ok(c.pcm().equals(expected.subarray(0, c.audioBytes)), `resampled audio, byte for byte (${c.audioBytes} B)`);
  await until(() => run.events.filter((e) => e.type === 'final').length === c.results.filter((r) => r.type === 'phrase').length, 5000, 'finals');
  checkFinals(t, run.events, [c], 16000);
  run.ac.abort();
  await run.ended;
});

t.test('configuration: refused without a way to reach the service; URLs are checked', async (t) => {
  await t.rejects(createMicrosoftAsr(adapterContext(loadConfig({}), createLogger('silent'))), /AZURE_SPEECH_KEY and AZURE_SPEECH_REGION/);
  t.throws(() => loadConfig({ ASR_ADAPTER: 'microsoft', AZURE_SPEECH_HOST: 'ftp://x' }), { code: 'CONFIG_INVALID', message: /AZURE_SPEECH_HOST/ });
  const c = loadConfig({ AZURE_SPEECH_KEY: 'k', AZURE_SPEECH_REGION: 'westeurope', AZURE_SPEECH_PHRASES: ' Vonage, ,Azure Speech ' });
  t.same(c.azureSpeechPhrases, ['Vonage', 'Azure Speech']);
  const asr = await createMicrosoftAsr(adapterContext(c, createLogger('silent')));
  t.same(asr.capabilities, { interim: true, sampleRatesHz: [8000, 16000] });
});
