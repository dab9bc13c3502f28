/**
 * The `google` ASR adapter driving the real `@google-cloud/speech` SDK (gRPC) against a local fake of the v1
 * StreamingRecognize service (test/fakes/google-speech.ts), with recorded speech written frame by frame.
 *
 * The core assertion (`checkAudioAccounting`) is byte for byte: every provider stream received a contiguous slice of
 * what the caller said, starting exactly at the last position acknowledged by a final before it opened; the slices
 * leave no gap and end at the last byte written; finals' offsets are continuous and strictly increasing.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { createGoogleAsr, type GoogleAsrOverrides } from '../../src/asr/google.js';
import { classifyGoogleError, GRPC_STATUS_NAMES } from '../../src/asr/google-errors.js';
import type { AsrAdapter, AsrEvent, AsrStream } from '../../src/asr/types.js';
import { loadResampler, StreamResampler } from '../../src/audio/resampler.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { GOOGLE_DURATION_CAP, startFakeGoogleSpeech, type FakeGoogleSpeech, type FakeGoogleSpeechOptions } from '../fakes/google-speech.js';
import { until } from '../helpers/gateway.js';
import { must } from '../helpers/must.js';
import { adapterContext } from '../../src/adapters.js';

const SPEECH_16K = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');

async function speechAt(rateHz: number): Promise<Buffer> {
  if (rateHz === 16000) return SPEECH_16K;
  await loadResampler();
  const r = new StreamResampler(16000, rateHz);
  const inp = new Int16Array(SPEECH_16K.buffer.slice(SPEECH_16K.byteOffset, SPEECH_16K.byteOffset + SPEECH_16K.length));
  const out = Buffer.from(r.process(inp).slice().buffer);
  r.close();
  return out.subarray(0, out.length & ~1);
}

/** Cut into 20 ms frames (the last one padded with silence). */
function frames(pcm: Buffer, rateHz: number): Buffer[] {
  const fb = (rateHz / 50) * 2;
  const out: Buffer[] = [];
  for (let off = 0; off < pcm.length; off += fb) {
    const f = Buffer.alloc(fb);
    pcm.copy(f, 0, off, Math.min(pcm.length, off + fb));
    out.push(f);
  }
  return out;
}

function callInfo(rateHz: number, language = 'en-US'): CallInfo {
  return { callId: `g-${rateHz}`, conversationUuid: undefined, from: '447700900000', to: '447700900001', sampleRateHz: rateHz, language, metadata: {} };
}

interface Harness {
  fake: FakeGoogleSpeech;
  adapter: AsrAdapter;
  stream: AsrStream;
  events: AsrEvent[];
  /** Resolves when `events` ended. */
  ended: Promise<void>;
  isEnded(): boolean;
  /** Everything written so far. */
  written: Buffer[];
  ac: AbortController;
  write(fs: Buffer[]): void;
}

async function harness(
  t: Test,
  rateHz: number,
  fakeOpts: FakeGoogleSpeechOptions,
  env: Record<string, string> = {},
  overrides: GoogleAsrOverrides = {},
  language = 'en-US',
): Promise<Harness> {
  const fake = await startFakeGoogleSpeech(fakeOpts);
  const full = { ASR_ADAPTER: 'google', GOOGLE_SPEECH_ENDPOINT: `127.0.0.1:${fake.port}`, GOOGLE_SPEECH_INSECURE: 'true', ...env };
  const adapter = createGoogleAsr(adapterContext(loadConfig(full), createLogger('silent'), full), overrides);
  const ac = new AbortController();
  const stream = await adapter.start({ call: callInfo(rateHz, language), signal: ac.signal });
  const events: AsrEvent[] = [];
  let done = false;
  const ended = (async () => {
    for await (const e of stream.events) events.push(e);
    done = true;
  })();
  const written: Buffer[] = [];
  t.teardown(async () => {
    ac.abort();
    stream.close();
    await adapter.close?.();
    await fake.close();
  });
  return {
    fake,
    adapter,
    stream,
    events,
    ended,
    ac,
    written,
    isEnded: () => done,
    write(fs) {
      for (const f of fs) {
        written.push(Buffer.from(f));
        stream.write(f, performance.now());
        f.fill(0x55); // the adapter must have copied it: frames are only valid during the call
      }
    },
  };
}

interface Accounting {
  bases: number[];
  covered: number;
}

/**
 * Byte-for-byte accounting of the audio each provider stream got (see the file comment). Returns the base of each
 * stream and how far the slices reach.
 */
function checkAudioAccounting(t: Test, h: Harness, rateHz: number, what: string): Accounting {
  const all = Buffer.concat(h.written);
  const bytesPerMs = (rateHz * 2) / 1000;
  const bases = [0];
  let ack = 0;
  let lastEnd = 0;
  let ok = true;
  for (const e of h.events) {
    if (e.type === 'final') {
      if (e.startMs !== lastEnd || !(e.endMs! > e.startMs)) {
        ok = false;
        t.fail(`${what}: final ${e.text} [${e.startMs}, ${e.endMs}] does not follow ${lastEnd}`);
      }
      lastEnd = e.endMs!;
      ack = e.endMs! * bytesPerMs;
    }
    if (e.type === 'restart') bases.push(ack);
  }
  const streams = h.fake.streams;
  t.ok(streams.length === bases.length || streams.length === bases.length - 1, `${what}: ${streams.length} streams for ${bases.length - 1} restarts`);
  let covered = 0;
  for (let k = 0; k < streams.length; k++) {
    const got = must(streams[k]).audio();
    const want = all.subarray(bases[k], must(bases[k]) + got.length);
    if (!got.equals(want) || got.length !== want.length) {
      ok = false;
      t.fail(`${what}: stream ${k} (${got.length} B) is not the caller audio from byte ${bases[k]}`);
    }
    if (must(bases[k]) > covered) {
      ok = false;
      t.fail(`${what}: gap before stream ${k}: audio ${covered}..${bases[k]} never sent`);
    }
    covered = Math.max(covered, must(bases[k]) + got.length);
  }
  if (ok) t.pass(`${what}: ${streams.length} stream(s), each a contiguous slice from the last acknowledged byte (${bases.join(', ')}), finals continuous`);
  return { bases, covered };
}

/** Wait until the provider streams have received everything written (the last slice reaches the end). */
async function untilAllSent(h: Harness, rateHz: number, what: string, t?: Test): Promise<void> {
  const total = h.written.reduce((n, b) => n + b.length, 0);
  const bytesPerMs = (rateHz * 2) / 1000;
  await until(
    () => {
      let ack = 0;
      const bases = [0];
      for (const e of h.events) {
        if (e.type === 'final' && e.endMs !== undefined) ack = e.endMs * bytesPerMs;
        if (e.type === 'restart') bases.push(ack);
      }
      const k = h.fake.streams.length - 1;
      return k >= 0 && k === bases.length - 1 && must(bases[k]) + must(h.fake.streams[k]).audioBytes === total;
    },
    8000,
    what,
  ).catch((err: Error) => {
    // Say what went wrong with the audio rather than only that it never all arrived.
    if (t) checkAudioAccounting(t, h, rateHz, `${what} (timed out)`);
    throw err;
  });
}

t.test('error table: every gRPC status has a GOOGLE_ code; fatal ones are the ones retrying cannot fix', async (t) => {
  const fatal = GRPC_STATUS_NAMES.filter((_, i) => i > 0 && !classifyGoogleError({ code: i, details: 'x' }).recoverable);
  t.same(fatal, [
    'INVALID_ARGUMENT',
    'NOT_FOUND',
    'ALREADY_EXISTS',
    'PERMISSION_DENIED',
    'FAILED_PRECONDITION',
    'UNIMPLEMENTED',
    'DATA_LOSS',
    'UNAUTHENTICATED',
  ]);
  t.equal(classifyGoogleError({ code: 14, details: 'down' }).code, 'GOOGLE_UNAVAILABLE');
  t.ok(classifyGoogleError({ code: 11, details: GOOGLE_DURATION_CAP.message }).durationCap);
  t.notOk(classifyGoogleError({ code: 11, details: 'Audio Timeout Error' }).durationCap);
  t.same(classifyGoogleError(new Error('Could not load the default credentials')).code, 'GOOGLE_CLIENT_ERROR');
  t.notOk(classifyGoogleError(new Error('x')).recoverable);
});

t.test('8 kHz speech: the config Google receives, interims and finals, every byte accounted for', async (t) => {
  const rate = 8000;
  const pcm = await speechAt(rate);
  const h = await harness(
    t,
    rate,
    { finalEveryMs: 500 },
    { GOOGLE_SPEECH_MODEL: 'telephony', GOOGLE_SPEECH_PHRASES: 'go forward, ten meters ,turn' },
    {},
    'en-GB',
  );
  h.write(frames(pcm, rate));
  await untilAllSent(h, rate, 'all audio at the fake', t);
  await until(() => h.events.filter((e) => e.type === 'final').length >= 5, 5000, 'finals');
  const cfg = must(h.fake.streams[0]).config!;
  t.equal(cfg.config.encoding, 'LINEAR16');
  t.equal(cfg.config.sampleRateHertz, 8000);
  t.equal(cfg.config.audioChannelCount, 1);
  t.equal(cfg.config.languageCode, 'en-GB', 'language from the call');
  t.equal(cfg.config.model, 'telephony');
  t.same(
    cfg.config.speechContexts.map((c) => c.phrases),
    [['go forward', 'ten meters', 'turn']],
    'phrase hints',
  );
  t.equal(cfg.interimResults, true);
  t.equal(cfg.singleUtterance, false);
  t.equal(h.fake.streams.length, 1, 'one stream, no restart');
  t.equal(must(h.fake.streams[0]).audioBytes, frames(pcm, rate).length * 320, 'the fake got every byte');
  const interims = h.events.filter((e) => e.type === 'interim');
  const finals = h.events.filter((e) => e.type === 'final');
  t.ok(interims.length >= 5, `interims (${interims.length})`);
  t.same(
    finals.slice(0, 3).map((e) => e.type === 'final' && [e.text, e.startMs, e.endMs, e.confidence]),
    [
      ['segment 1', 0, 500, 0.9],
      ['segment 2', 500, 1000, 0.9],
      ['segment 3', 1000, 1500, 0.9],
    ],
  );
  checkAudioAccounting(t, h, rate, '8 kHz');
  h.ac.abort();
  await h.ended;
  await until(() => must(h.fake.streams[0]).cancelled, 3000, 'stream cancelled at the fake');
});

t.test('forced rotation: unacknowledged audio replayed, nothing lost or duplicated, offsets continuous', async (t) => {
  const rate = 16000;
  const fs = frames(SPEECH_16K, rate);
  const h = await harness(t, rate, { finalEveryMs: 300 }, { GOOGLE_SPEECH_ROTATE_MS: '400' });
  const half = Math.floor(fs.length / 2);
  h.write(fs.slice(0, half));
  await until(() => h.events.some((e) => e.type === 'restart'), 5000, 'a rotation');
  h.write(fs.slice(half));
  await untilAllSent(h, rate, 'all audio sent after rotation', t);
  const restarts = h.events.filter((e) => e.type === 'restart');
  t.ok(restarts.length >= 1 && restarts.every((e) => e.type === 'restart' && e.reason === 'rotate'), `rotations (${restarts.length})`);
  const first = must(restarts[0]);
  t.ok(first.type === 'restart' && first.replayedMs > 0, 'the rotation replayed unacknowledged audio');
  t.ok(must(h.fake.streams[0]).cancelled, 'the old stream was cancelled');
  t.notOk(
    h.events.some((e) => e.type === 'error'),
    'a rotation is not an error',
  );
  const acc = checkAudioAccounting(t, h, rate, 'rotation');
  t.equal(acc.covered, fs.length * 640, 'the slices cover every byte written');
  t.ok(h.fake.streams.length >= 2);
  t.ok(
    must(acc.bases[1]) < must(h.fake.streams[0]).audioBytes,
    `stream 1 re-heard audio stream 0 had not finalised (${acc.bases[1]} < ${must(h.fake.streams[0]).audioBytes})`,
  );
  for (const s of h.fake.streams) t.equal(s.config?.config.sampleRateHertz, 16000, `stream ${s.index} configured first`);
});

t.test('injected UNAVAILABLE: recoverable error, backoff, reconnect with replay', async (t) => {
  const rate = 16000;
  const fs = frames(SPEECH_16K, rate);
  const h = await harness(t, rate, { finalEveryMs: 400, errors: [{ stream: 0, afterBytes: 1100 * 32, code: 14, message: 'injected outage' }] });
  h.write(fs);
  await untilAllSent(h, rate, 'all audio sent after the outage', t);
  const err = h.events.find((e) => e.type === 'error');
  t.match(err, { type: 'error', code: 'GOOGLE_UNAVAILABLE', recoverable: true });
  t.match(err, { message: /injected outage/ });
  const restart = h.events.find((e) => e.type === 'restart');
  t.match(restart, { type: 'restart', reason: 'GOOGLE_UNAVAILABLE' });
  t.ok(h.events.indexOf(err!) < h.events.indexOf(restart!), 'error, then restart');
  t.equal(must(h.fake.streams[0]).error?.code, 14);
  t.equal(h.fake.streams.length, 2);
  const acc = checkAudioAccounting(t, h, rate, 'UNAVAILABLE');
  t.equal(acc.bases[1], 800 * 32, 'the new stream starts at the last final (800 ms)');
  t.equal(acc.covered, fs.length * 640);
});

t.test("Google's 305 s cap (OUT_OF_RANGE): immediate restart, audio continuous", async (t) => {
  const rate = 24000;
  const pcm = await speechAt(rate);
  const fs = frames(pcm, rate);
  const h = await harness(
    t,
    rate,
    { finalEveryMs: 500, errors: [{ stream: 1, afterBytes: 700 * 48, ...GOOGLE_DURATION_CAP }] },
    { GOOGLE_SPEECH_INTERIM: 'false' },
  );
  // Two caps in a row on different streams: stream 0 via the fake's live handle, stream 1 via the cue list.
  h.write(fs.slice(0, 40));
  await until(() => h.fake.streams[0]?.audioBytes === 40 * 960, 5000, 'first 800 ms at the fake');
  await until(() => h.events.some((e) => e.type === 'final'), 5000, 'first final');
  must(h.fake.streams[0]).fail(GOOGLE_DURATION_CAP.code, GOOGLE_DURATION_CAP.message);
  await until(() => h.fake.streams.length === 2, 5000, 'second stream');
  h.write(fs.slice(40));
  await untilAllSent(h, rate, 'all audio sent after two caps', t);
  const errs = h.events.filter((e) => e.type === 'error');
  t.same(
    errs.map((e) => e.type === 'error' && [e.code, e.recoverable]),
    [
      ['GOOGLE_OUT_OF_RANGE', true],
      ['GOOGLE_OUT_OF_RANGE', true],
    ],
  );
  t.same(
    h.events.filter((e) => e.type === 'restart').map((e) => e.type === 'restart' && e.reason),
    ['duration-limit', 'duration-limit'],
  );
  t.equal(must(h.fake.streams[0]).config?.interimResults, false);
  t.notOk(
    h.events.some((e) => e.type === 'interim'),
    'no interims when disabled',
  );
  const acc = checkAudioAccounting(t, h, rate, '305 s cap');
  t.same(acc.bases.slice(0, 2), [0, 500 * 48], 'stream 1 starts at the first final');
  t.equal(acc.covered, fs.length * 960);
});

t.test('single-utterance mode: END_OF_SINGLE_UTTERANCE → a new stream per utterance, audio continuous', async (t) => {
  const rate = 16000;
  const fs = frames(SPEECH_16K, rate);
  const h = await harness(t, rate, { finalEveryMs: 600 }, { GOOGLE_SPEECH_SINGLE_UTTERANCE: 'true' });
  h.write(fs);
  await untilAllSent(h, rate, 'all audio sent across utterances', t);
  t.equal(must(h.fake.streams[0]).config?.singleUtterance, true);
  t.ok(h.fake.streams.length >= 3, `a stream per utterance (${h.fake.streams.length})`);
  t.ok(
    h.fake.streams.every((s) => s.finals.length <= 1),
    'each stream finalised one utterance',
  );
  const restarts = h.events.filter((e) => e.type === 'restart');
  t.ok(restarts.every((e) => e.type === 'restart' && e.reason === 'single-utterance'));
  t.notOk(h.events.some((e) => e.type === 'error'));
  const finals = h.events.filter((e) => e.type === 'final');
  t.same(
    finals.slice(0, 3).map((e) => e.type === 'final' && [e.startMs, e.endMs]),
    [
      [0, 600],
      [600, 1200],
      [1200, 1800],
    ],
    'absolute offsets',
  );
  checkAudioAccounting(t, h, rate, 'single utterance');
});

t.test('PERMISSION_DENIED is fatal: one error event with recoverable:false, then events end', async (t) => {
  const h = await harness(t, 16000, {
    finalEveryMs: 300,
    errors: [{ stream: 0, afterBytes: 500 * 32, code: 7, message: 'Cloud Speech-to-Text API has not been used in project 1' }],
  });
  h.write(frames(SPEECH_16K, 16000));
  await h.ended;
  const errs = h.events.filter((e) => e.type === 'error');
  t.same(errs, [{ type: 'error', code: 'GOOGLE_PERMISSION_DENIED', message: 'Cloud Speech-to-Text API has not been used in project 1', recoverable: false }]);
  t.notOk(
    h.events.some((e) => e.type === 'restart'),
    'no retry',
  );
  t.equal(h.events[h.events.length - 1], errs[0], 'the error is the last event');
  t.equal(h.fake.streams.length, 1);
  h.stream.write(Buffer.alloc(640), 0); // after the end: ignored, never throws
  t.equal(h.fake.streams.length, 1, 'no new stream after a fatal error');
});

t.test('malordered data (audio before config) is INVALID_ARGUMENT at the fake', async (t) => {
  const fake = await startFakeGoogleSpeech();
  t.teardown(() => fake.close());
  const { grpc } = await import('google-gax');
  const protoLoader = await import('@grpc/proto-loader');
  const { createRequire } = await import('node:module');
  const json = createRequire(import.meta.url)('@google-cloud/speech/build/protos/protos.json');
  const def = grpc.loadPackageDefinition(protoLoader.fromJSON(json, { oneofs: true })) as unknown as {
    google: {
      cloud: { speech: { v1: { Speech: new (addr: string, creds: unknown) => { streamingRecognize(): import('node:stream').Duplex; close(): void } } } };
    };
  };
  const client = new def.google.cloud.speech.v1.Speech(`127.0.0.1:${fake.port}`, grpc.credentials.createInsecure());
  const call = client.streamingRecognize();
  const err = await new Promise<{ code: number; details: string }>((resolve) => {
    call.on('error', resolve);
    call.on('data', () => {});
    call.write({ audioContent: Buffer.alloc(320) });
  });
  client.close();
  t.equal(err.code, 3);
  t.match(err.details, /Malordered Data Received/);
});

t.test('retries are bounded: consecutive failures end the stream with recoverable:false', async (t) => {
  const h = await harness(t, 16000, { errors: [{ afterBytes: 0, code: 13, message: 'internal' }] }, {}, { stream: { maxConsecutiveFailures: 2 } });
  h.write(frames(SPEECH_16K, 16000).slice(0, 20));
  await h.ended;
  const errs = h.events.filter((e) => e.type === 'error');
  t.same(
    errs.map((e) => e.type === 'error' && [e.code, e.recoverable]),
    [
      ['GOOGLE_INTERNAL', true],
      ['GOOGLE_INTERNAL', true],
      ['GOOGLE_INTERNAL', false],
    ],
  );
  t.equal(h.events.filter((e) => e.type === 'restart').length, 2);
  t.equal(h.fake.streams.length, 3, 'first try + 2 retries');
});

t.test('abort mid-stream cancels the gRPC call and ends events', async (t) => {
  const h = await harness(t, 16000, { finalEveryMs: 0 });
  h.write(frames(SPEECH_16K, 16000).slice(0, 30));
  await until(() => h.fake.streams[0]?.audioBytes === 30 * 640, 5000, 'audio at the fake');
  h.ac.abort();
  await h.ended;
  await until(() => must(h.fake.streams[0]).cancelled, 5000, 'the fake sees the call cancelled');
  t.equal(must(h.fake.streams[0]).end, 'cancelled');
  h.stream.write(Buffer.alloc(640), 0);
  h.stream.close(); // idempotent
  t.equal(h.fake.streams.length, 1);
  await h.adapter.close?.();
  await h.adapter.close?.();
  await t.rejects(
    Promise.resolve().then(() => h.adapter.start({ call: callInfo(16000), signal: new AbortController().signal })),
    /closed/,
  );
});

t.test('nothing listening: real UNAVAILABLE from the channel, retried, then fatal', async (t) => {
  const gone = await startFakeGoogleSpeech();
  const port = gone.port;
  await gone.close();
  const full = { GOOGLE_SPEECH_ENDPOINT: `127.0.0.1:${port}`, GOOGLE_SPEECH_INSECURE: 'true' };
  const adapter = createGoogleAsr(adapterContext(loadConfig(full), createLogger('silent'), full), { stream: { maxConsecutiveFailures: 1 } });
  t.teardown(() => adapter.close?.());
  const ac = new AbortController();
  const stream = await adapter.start({ call: callInfo(16000), signal: ac.signal });
  const events: AsrEvent[] = [];
  stream.write(Buffer.alloc(640), 0);
  for await (const e of stream.events) {
    events.push(e);
    stream.write(Buffer.alloc(640), 0);
  }
  t.same(
    events.map((e) => (e.type === 'error' ? [e.type, e.code, e.recoverable] : [e.type])),
    [['error', 'GOOGLE_UNAVAILABLE', true], ['restart'], ['error', 'GOOGLE_UNAVAILABLE', false]],
  );
  const last = must(events[2]);
  t.match(last.type === 'error' && last.message, /gave up after 1 consecutive failures/);
});

t.test('a stream that stops taking audio (transport stalled) is replaced; the new one gets everything kept', async (t) => {
  // gRPC servers buffer requests in memory rather than push back, so the stall is a real Node Duplex whose writes
  // never complete (what a dead TCP connection looks like to the SDK's stream), then a healthy one.
  const { Duplex } = await import('node:stream');
  const { GoogleAsrStream } = await import('../../src/asr/google-stream.js');
  const opened: Array<{ writes: Array<Record<string, unknown>>; cancelled: boolean }> = [];
  const client = {
    _streamingRecognize() {
      const rec = { writes: [] as Array<Record<string, unknown>>, cancelled: false };
      const stuck = opened.length === 0;
      opened.push(rec);
      const d = new Duplex({
        objectMode: true,
        highWaterMark: 16,
        read() {},
        write(chunk: Record<string, unknown>, _enc, cb) {
          rec.writes.push(chunk);
          if (!stuck) cb();
        },
      });
      return Object.assign(d, { cancel: () => ((rec.cancelled = true), d.destroy()) });
    },
  };
  const ac = new AbortController();
  const settings = {
    model: '',
    interimResults: true,
    phrases: [],
    singleUtterance: false,
    rotateMs: 290000,
    replayMaxMs: 10000,
    maxConsecutiveFailures: 5,
    stallMs: 200,
  };
  const s = new GoogleAsrStream(client, { call: callInfo(16000), signal: ac.signal }, settings).start();
  t.teardown(() => ac.abort());
  const events: AsrEvent[] = [];
  void (async () => {
    for await (const e of s.events) events.push(e);
  })();
  const fs = frames(SPEECH_16K, 16000);
  let i = 0;
  await until(
    () => {
      if (i < fs.length) s.write(must(fs[i++]), 0);
      return events.some((e) => e.type === 'restart');
    },
    5000,
    'the stalled stream replaced',
  );
  t.match(events, [
    { type: 'error', code: 'GOOGLE_STALLED', recoverable: true },
    { type: 'restart', reason: 'stalled' },
  ]);
  t.ok(must(opened[0]).cancelled, 'the stalled stream was cancelled');
  t.equal(must(opened[0]).writes.length, 1, 'the stuck stream never completed its first write (the config)');
  t.ok(i > 16, `the adapter stopped writing after the stream's buffer filled, and waited (${i} frames written meanwhile)`);
  await until(() => opened.length === 2, 2000, 'new stream after backoff');
  for (; i < fs.length; i++) s.write(must(fs[i]), 0);
  await until(() => must(opened[1]).writes.length === fs.length + 1, 2000, 'everything at the new stream');
  t.ok('streamingConfig' in must(must(opened[1]).writes[0]), 'config first');
  const audio = Buffer.concat(
    must(opened[1])
      .writes.slice(1)
      .map((w) => w.audioContent as Buffer),
  );
  t.ok(audio.equals(Buffer.concat(fs.map((f) => Buffer.from(f)))), 'the new stream got every frame, in order, from the first');
  s.close();
});
