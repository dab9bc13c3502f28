/**
 * The `cartesia` TTS adapter drives the real `@cartesia/cartesia-js` WebSocket client (`TTSWS`) against the local fake
 * of Cartesia's TTS WebSocket (test/fakes/cartesia.ts): the conformance suite, the generation requests it sends, raw
 * PCM at the leg rate byte for byte, streaming input (continuations on one context, first audio before the text is
 * complete), cancel on abort, every error class mapped (bad key, unknown voice, dropped socket, rate limit), a TTS
 * list falling back, and calls through a real gateway — a streamed reply, and a faulty call beside a bystander.
 */
import t, { type Test } from 'tap';
import { runTtsConformance } from '../../src/tts/conformance.js';
import { classifyCartesiaStatus, createCartesiaTts, joinPiece } from '../../src/tts/cartesia.js';
import { FallbackTts } from '../../src/tts/fallback.js';
import type { TtsAdapter, TtsChunk } from '../../src/tts/types.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startFakeCartesia, WORD_MS, type FakeCartesiaOptions } from '../fakes/cartesia.js';
import createSine from '../fixtures/sine-tts.js';
import { startGateway, until, untilLog } from '../helpers/gateway.js';
import { openRawLeg, goertzel } from '../helpers/raw-leg.js';
import { BYSTANDER, FAULTY, press } from '../helpers/isolation.js';
import { must } from '../helpers/must.js';
import { countUnhandledRejections, failedChecks, testCall, vendorAdapter } from '../helpers/vendor.js';
import { adapterContext } from '../../src/adapters.js';

const KEY = 'cartesia-test-key';
const unhandled = countUnhandledRejections();
const VOICE = '11111111-2222-4333-8444-555555555555';

async function setup(t: Test, fo: FakeCartesiaOptions = {}, env: Record<string, string> = {}) {
  const fake = await startFakeCartesia({ key: KEY, ...fo });
  t.teardown(() => fake.close());
  const full = { CARTESIA_API_KEY: KEY, CARTESIA_URL: fake.url, ...env };
  const tts = await vendorAdapter(createCartesiaTts, full);
  t.teardown(() => tts.close?.());
  return { fake, tts };
}

const call = testCall;
const pcmOf = (chunks: TtsChunk[]) => Buffer.concat(chunks.map((c) => Buffer.from(c.audio.buffer, c.audio.byteOffset, c.audio.byteLength)));

async function collect(tts: TtsAdapter, text: string, c: CallInfo, voice?: string, signal = new AbortController().signal): Promise<TtsChunk[]> {
  const out: TtsChunk[] = [];
  for await (const x of tts.synthesize({ text, call: c, voice, signal })) out.push(x);
  return out;
}
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

t.test('error classification and the join of streamed pieces', async (t) => {
  const cases: Array<[number | undefined, string, boolean]> = [
    [400, 'CARTESIA_BAD_REQUEST', false],
    [401, 'CARTESIA_UNAUTHORIZED', false],
    [402, 'CARTESIA_PAYMENT_REQUIRED', false],
    [403, 'CARTESIA_FORBIDDEN', false],
    [404, 'CARTESIA_NOT_FOUND', false],
    [408, 'CARTESIA_TIMEOUT', true],
    [422, 'CARTESIA_ERROR', false],
    [429, 'CARTESIA_RATE_LIMITED', true],
    [500, 'CARTESIA_SERVER_ERROR', true],
    [undefined, 'CARTESIA_CONNECT_FAILED', true],
  ];
  for (const [status, code, recoverable] of cases) t.match(classifyCartesiaStatus(status, 'x'), { code, recoverable }, `${status} → ${code}`);
  t.equal(joinPiece('Hello there.', 'How are you?'), ' How are you?', 'sentences get a space');
  t.equal(joinPiece('Hello', ' world'), ' world', 'tokens keep their own spaces');
  t.equal(joinPiece('Hel', 'lo'), 'lo', 'a word split in tokens stays whole');
  t.equal(joinPiece('It costs 3.', '5 euros'), '5 euros', 'a number going on is not a new sentence');
  t.equal(joinPiece('', 'First'), 'First');
});

t.test('the real SDK against the fake passes the TTS conformance suite at every leg rate', async (t) => {
  const faults: NonNullable<FakeCartesiaOptions['faults']> = [];
  const { fake, tts } = await setup(t, { faults, chunkGapMs: 5 });
  const checks = await runTtsConformance({
    adapter: tts,
    ratesHz: [8000, 16000, 24000],
    provokeError: () => void faults.push({ action: 'error', status: 503, title: 'Service Unavailable' }),
  });
  t.same(failedChecks(checks), []);
  t.ok(fake.contexts.size >= 6, `${fake.contexts.size} contexts served`);
});

t.test('one generation request: model, voice, language, raw pcm_s16le at the leg rate; the PCM byte for byte; one socket per call', async (t) => {
  const { fake, tts } = await setup(t, {}, { CARTESIA_MODEL: 'sonic-3.5', CARTESIA_VOICE: VOICE });
  for (const rate of [8000, 16000, 24000]) {
    const chunks = await collect(tts, 'Good morning, caller.', call('req-call', rate, 'de-DE'));
    t.ok(
      chunks.every((c) => c.sampleRateHz === rate),
      `${rate} Hz chunks`,
    );
    t.equal(pcmOf(chunks).length, (rate * 2 * 3 * WORD_MS) / 1000, 'three words of audio, whole');
    t.ok(pcmOf(chunks).equals(Buffer.concat([...fake.contexts.values()].at(-1)!.pcm)), 'the PCM the service sent, byte for byte');
  }
  const ctxs = [...fake.contexts.values()];
  t.equal(ctxs.length, 3);
  t.match(must(ctxs[0]).requests[0], {
    model_id: 'sonic-3.5',
    transcript: 'Good morning, caller.',
    voice: { mode: 'id', id: VOICE },
    language: 'de',
    output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: 8000 },
    continue: false,
  });
  t.same(
    ctxs.map((c) => (must(c.requests[0]).output_format as { sample_rate: number }).sample_rate),
    [8000, 16000, 24000],
  );
  t.equal(fake.connections.length, 1, 'one socket for the call, reused by its three requests');
  t.equal(must(fake.connections[0]).headers.authorization, `Bearer ${KEY}`);
  t.ok(must(fake.connections[0]).headers['cartesia-version'], 'Cartesia-Version sent');
  await collect(tts, 'Another call.', call('other-call'));
  t.equal(fake.connections.length, 2, 'another call gets its own socket');
  const voiced = await collect(tts, 'Voice.', call('req-call'), '99999999-2222-4333-8444-555555555555');
  t.ok(voiced.length > 0);
  t.match(
    [...fake.contexts.values()].at(-1)!.requests[0],
    { voice: { id: '99999999-2222-4333-8444-555555555555' } },
    'a Cartesia voice id from the request wins',
  );
  await collect(tts, 'Voice.', call('req-call'), 'en-GB-SoniaNeural');
  t.match([...fake.contexts.values()].at(-1)!.requests[0], { voice: { id: VOICE } }, "another vendor's voice name: CARTESIA_VOICE");
});

t.test('streaming input: continuations on one context, the first audio before the text is complete', async (t) => {
  const { fake, tts } = await setup(t);
  const ctl = new AbortController();
  const stream = tts.openStream!({ call: call('stream-call'), signal: ctl.signal });
  const it = stream.audio[Symbol.asyncIterator]();
  stream.push('Hello there.');
  stream.push('How are');
  const first = await it.next();
  t.notOk(first.done, 'audio arrived');
  const ctx = must([...fake.contexts.values()][0]);
  t.notOk(ctx.done, 'while the context is still open at the service');
  t.equal(ctx.requests.length, 2, 'two continuations so far');
  stream.push(' you?');
  stream.end();
  const rest: TtsChunk[] = [first.value as TtsChunk];
  for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
  t.equal(ctx.transcript, 'Hello there. How are you?', 'pieces joined as one transcript (a space after the sentence)');
  t.same(ctx.words, ['Hello', 'there', 'How', 'are', 'you']);
  t.same(
    ctx.requests.map((r) => r.continue),
    [true, true, true, false],
    'continue: true on each piece, false to end',
  );
  t.equal(ctx.requests.at(-1)!.transcript, '', 'ended with an empty transcript');
  t.equal(pcmOf(rest).length, (16000 * 2 * 5 * WORD_MS) / 1000, 'five words of audio');
  t.ok(ctx.done, 'the context is done');
  t.ok(ctx.chunksBeforeLastInput > 0, 'chunks were sent before the last input arrived');
});

t.test('abort mid-generation: a cancel for the context, the iteration ends, the rest is never sent', async (t) => {
  const { fake, tts } = await setup(t, { chunkGapMs: 20 });
  const ctl = new AbortController();
  const got: TtsChunk[] = [];
  const long = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ') + '.';
  const done = (async () => {
    for await (const c of tts.synthesize({ text: long, call: call('abort-call'), signal: ctl.signal })) {
      got.push(c);
      if (got.length === 2) ctl.abort();
    }
  })();
  await done;
  const ctx = must([...fake.contexts.values()][0]);
  await until(() => ctx.cancelled, 5000, 'the cancel at the fake');
  const sent = ctx.chunksSent;
  await new Promise((r) => setTimeout(r, 100));
  t.equal(ctx.chunksSent, sent, 'no chunk after the cancel');
  t.ok(sent < 30 * (WORD_MS / 40), `cut short (${sent} chunks)`);
  t.ok(got.length <= 3);
});

t.test('errors are thrown from the iterator with a code and recoverability', async (t) => {
  const bad = await setup(t, {}, { CARTESIA_API_KEY: 'wrong' });
  t.match(await errorOf(collect(bad.tts, 'Hello.', call('bad-key'))), { code: 'CARTESIA_UNAUTHORIZED', recoverable: false, message: /401/ });
  t.equal(bad.fake.refused, 1);

  const voice = await setup(t, { voices: [VOICE] }, { CARTESIA_VOICE: '00000000-0000-4000-8000-000000000000' });
  t.match(await errorOf(collect(voice.tts, 'Hello.', call('no-voice'))), { code: 'CARTESIA_NOT_FOUND', recoverable: false, message: /Voice not found/ });
  t.same(await collect(voice.tts, 'Hello.', call('no-voice'), VOICE).then((c) => c.length > 0), true, 'the same socket serves the next request');

  const drop = await setup(t, { faults: [{ action: 'drop', afterChunks: 2 }] });
  const got: TtsChunk[] = [];
  const err = await errorOf(
    (async () => {
      for await (const c of drop.tts.synthesize({ text: 'one two three four five six.', call: call('drop-call'), signal: new AbortController().signal }))
        got.push(c);
    })(),
  );
  t.match(err, { code: 'CARTESIA_CONNECTION_LOST', recoverable: true }, 'a dropped socket: recoverable');
  t.equal(got.length, 2, 'after the audio that came');
  t.ok((await collect(drop.tts, 'Again.', call('drop-call'))).length > 0, "the call's next request opens a new socket");
  t.equal(drop.fake.connections.length, 2);

  const limited = await setup(t, { refuse: [429] });
  t.match(await errorOf(collect(limited.tts, 'Hello.', call('limited'))), { code: 'CARTESIA_RATE_LIMITED', recoverable: true });
  t.ok((await collect(limited.tts, 'Hello.', call('limited'))).length > 0, 'the next request connects');
});

t.test('in a TTS list, Cartesia failing before audio hands the text to the next adapter', async (t) => {
  const { tts } = await setup(t, {}, { CARTESIA_API_KEY: 'revoked' });
  const list = new FallbackTts([tts, createSine()], createLogger('silent'));
  const chunks = await collect(list, 'two words', call('fallback'));
  t.ok(chunks.length > 0 && chunks.every((c) => c.sampleRateHz === 22050), 'spoken by the sine adapter');
  t.match(list.stats, { fallbacks: 1, byAdapter: { cartesia: 1 } });
});

t.test('through the gateway: a streamed reply starts playing before the bot has finished it; a faulty call leaves a bystander alone', async (t) => {
  const fake = await startFakeCartesia({ key: KEY, faults: [{ action: 'drop', afterChunks: 1, match: 'aaaa' }] });
  t.teardown(() => fake.close());
  const g = await startGateway(t, {
    TTS_ADAPTER: 'cartesia',
    CARTESIA_API_KEY: KEY,
    CARTESIA_URL: fake.url,
    BOT_ADAPTER: './dist/test/fixtures/streaming-say-bot.js',
    STREAM_BOT_PIECES: 'How are you',
  });
  const faulty = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  faulty.handshake('audio/l16;rate=16000', { uuid: FAULTY });
  t.teardown(() => faulty.ws.terminate());
  const bystander = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  bystander.handshake('audio/l16;rate=16000', { uuid: BYSTANDER });
  t.teardown(() => bystander.ws.terminate());
  // The bystander's reply is not complete (its last piece waits for a key press), yet its audio is playing.
  await until(() => bystander.binary.length >= 10, 10000, 'bystander audio before the reply is complete');
  const bctx = [...fake.contexts.values()].find((c) => c.transcript.startsWith('Call bbbb'))!;
  t.notOk(bctx.done, 'its context is still open');
  t.same(
    bctx.requests.map((r) => r.continue),
    [true, true],
    'two continuations so far',
  );
  // The faulty call's socket dropped after one chunk: a recoverable TTS error on that call only.
  await untilLog(g, (l) => l.msg === 'tts adapter error' && l.call === FAULTY, 10000, "the faulty call's TTS error");
  t.match(
    g.logs.find((l) => l.msg === 'tts adapter error' && l.call === FAULTY),
    { code: 'CARTESIA_CONNECTION_LOST' },
  );
  press(bystander, '1');
  await untilLog(g, (l) => l.msg === 'reply played' && l.call === BYSTANDER, 10000, 'the bystander reply played');
  t.equal(bctx.transcript, 'Call bbbb. How are you today?');
  t.ok(bctx.done, 'the bystander context ended');
  const words = 6;
  t.ok(Math.abs(bystander.binary.length - (words * WORD_MS) / 20) <= 2, `the whole reply reached the bystander (${bystander.binary.length} frames)`);
  t.ok(
    bystander.binary.every((f) => f.length === 640),
    'every frame exactly 20 ms',
  );
  const pcm = Buffer.concat(bystander.binary);
  t.ok(goertzel(pcm, 16000, 440) > 10 * goertzel(pcm, 16000, 880), "the fake's 440 Hz voice");
  t.notOk(
    g.logs.some((l) => l.msg === 'tts adapter error' && l.call === BYSTANDER),
    'no error on the bystander',
  );
  t.equal(faulty.ws.readyState, faulty.ws.OPEN, 'the faulty call goes on');
  t.equal((await fetch(`${g.url}/healthz`)).status, 200);
});

t.test('no unhandled rejection from the SDK in any of the above (refused handshakes, drops, cancels)', async (t) => {
  t.equal(unhandled.count, 0);
  unhandled.stop();
});

t.test('settings: bad values are refused with the variable named; a missing key stops the start-up', async (t) => {
  t.throws(
    () => loadConfig({ TTS_ADAPTER: 'cartesia', CARTESIA_URL: 'not a url' }),
    /CARTESIA_URL="not a url" is invalid: expected an absolute ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL/,
  );
  t.throws(() => loadConfig({ TTS_ADAPTER: 'cartesia', CARTESIA_VOICE: '  ' }), /CARTESIA_VOICE/);
  const c = loadConfig({});
  t.match(c, { cartesiaUrl: 'https://api.cartesia.ai', cartesiaModel: 'sonic-3', cartesiaVoice: 'a0e99841-438c-4a64-b679-ae501e7d6091', cartesiaApiKey: '' });
  await t.rejects(createCartesiaTts(adapterContext(c, createLogger('silent'))), /needs CARTESIA_API_KEY/);
  const { loadAdapters } = await import('../../src/adapters.js');
  const env = { ASR_ADAPTER: 'none', TTS_ADAPTER: 'cartesia' };
  await t.rejects(loadAdapters(loadConfig(env), createLogger('silent'), env), /TTS_ADAPTER=cartesia: .*CARTESIA_API_KEY/);
});
