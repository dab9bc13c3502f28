/**
 * The `microsoft` TTS adapter drives the real `microsoft-cognitiveservices-speech-sdk` against the local fake of the
 * Azure Speech WebSocket protocol: SSML, output format per leg rate, streamed chunks, abort, errors.
 */
import t, { type Test } from 'tap';
import { startFakeMicrosoftSpeech, type FakeMicrosoftSpeechOptions } from '../fakes/microsoft-speech.js';
import { createMicrosoftTts, defaultAzureVoice } from '../../src/tts/microsoft.js';
import type { TtsAdapter, TtsChunk } from '../../src/tts/types.js';
import { until } from '../helpers/gateway.js';
import { must } from '../helpers/must.js';
import { testCall, vendorAdapter } from '../helpers/vendor.js';

async function setup(t: Test, fakeOpts: FakeMicrosoftSpeechOptions, env: Record<string, string> = {}) {
  const fake = await startFakeMicrosoftSpeech({ key: 'k', ...fakeOpts });
  t.teardown(() => fake.close());
  const full = { AZURE_SPEECH_HOST: fake.host, AZURE_SPEECH_KEY: 'k', ...env };
  const tts = await vendorAdapter(createMicrosoftTts, full);
  return { fake, tts };
}

const call = (sampleRateHz: number, language = 'en-US') => testCall('tts-test', sampleRateHz, language);

async function collect(
  tts: TtsAdapter,
  text: string,
  sampleRateHz: number,
  opts: { language?: string; voice?: string; signal?: AbortSignal } = {},
): Promise<TtsChunk[]> {
  const out: TtsChunk[] = [];
  for await (const c of tts.synthesize({
    text,
    call: call(sampleRateHz, opts.language),
    voice: opts.voice,
    signal: opts.signal ?? new AbortController().signal,
  }))
    out.push(c);
  return out;
}

const pcmOf = (chunks: TtsChunk[]) => Buffer.concat(chunks.map((c) => Buffer.from(c.audio.buffer, c.audio.byteOffset, c.audio.byteLength)));

t.test('SSML carries the voice and the escaped text', async (t) => {
  const { fake, tts } = await setup(t, { ttsFrames: 1 });
  await collect(tts, 'Fish & chips <now> for "Bob\'s" table', 16000, { language: 'en-GB' });
  const ssml = must(fake.syntheses()[0]).ssml ?? '';
  t.equal(must(fake.syntheses()[0]).path, '/tts/cognitiveservices/websocket/v1');
  t.match(ssml, /<voice name="en-GB-SoniaNeural">/, 'default voice for the call language');
  t.match(ssml, /xml:lang="en-GB"/);
  t.ok(ssml.includes('Fish &amp; chips &lt;now&gt; for &quot;Bob&apos;s&quot; table'), `text escaped: ${ssml}`);
  t.notOk(/<now>/.test(ssml), 'no raw markup from the text');
  await collect(tts, 'hello', 16000, { voice: 'en-US-GuyNeural' });
  t.match(must(fake.syntheses()[1]).ssml, /<voice name="en-US-GuyNeural">/, 'request.voice wins');
  t.equal(defaultAzureVoice('de-AT'), 'de-DE-KatjaNeural', 'same-language fallback');
  t.equal(defaultAzureVoice('xx-YY'), 'en-US-JennyNeural', 'unknown language: en-US');
});

t.test('TTS_VOICE is the default voice when the request names none', async (t) => {
  const { fake, tts } = await setup(t, { ttsFrames: 1 }, { TTS_VOICE: 'en-US-AriaNeural' });
  await collect(tts, 'hi', 8000, { language: 'fr-FR' });
  t.match(must(fake.syntheses()[0]).ssml, /<voice name="en-US-AriaNeural">/);
});

for (const rateHz of [8000, 16000, 24000]) {
  t.test(`${rateHz} Hz leg: raw PCM at the leg rate, every frame in order`, async (t) => {
    const { fake, tts } = await setup(t, { ttsFrames: 4, ttsFrameMs: 100 });
    const chunks = await collect(tts, 'Hello there.', rateHz);
    const conn = must(fake.syntheses()[0]);
    t.equal(conn.outputFormat, `raw-${rateHz / 1000}khz-16bit-mono-pcm`, 'output format asked for the leg rate');
    t.ok(chunks.length >= 1 && chunks.every((c) => c.sampleRateHz === rateHz), 'chunks at the leg rate');
    t.ok(pcmOf(chunks).equals(Buffer.concat(conn.sent)), `the PCM the service sent, byte for byte (${pcmOf(chunks).length} B = 400 ms)`);
    t.equal(pcmOf(chunks).length, (rateHz / 10) * 2 * 4);
    await until(() => conn.closed, 5000, 'synthesizer socket closed after the request');
  });
}

t.test('the first chunk is yielded before the service has sent the last frame', async (t) => {
  const { fake, tts } = await setup(t, { ttsFrames: 6, ttsHoldAfterFrames: 2 });
  const it = tts.synthesize({ text: 'A longer sentence.', call: call(16000), signal: new AbortController().signal })[Symbol.asyncIterator]();
  const first = await it.next();
  t.notOk(first.done, 'a chunk arrived');
  const conn = must(fake.syntheses()[0]);
  t.equal(conn.framesSent, 2, 'the fake is holding after 2 of 6 frames');
  fake.release();
  const rest: TtsChunk[] = [first.value as TtsChunk];
  for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
  t.equal(conn.framesSent, 6);
  t.ok(pcmOf(rest).equals(Buffer.concat(conn.sent)), 'all frames, in order');
});

t.test('abort mid-synthesis stops the iteration and closes the socket', async (t) => {
  const openHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length;
  const { fake, tts } = await setup(t, { ttsFrames: 10, ttsHoldAfterFrames: 3 });
  const before = openHandles();
  const ac = new AbortController();
  const got: TtsChunk[] = [];
  const done = (async () => {
    for await (const c of tts.synthesize({ text: 'Stop me.', call: call(16000), signal: ac.signal })) {
      got.push(c);
    }
  })();
  await until(() => got.length > 0, 5000, 'first chunk');
  ac.abort();
  await done;
  t.pass('iteration ended on abort');
  const conn = must(fake.syntheses()[0]);
  await until(() => conn.closed, 5000, 'socket closed');
  fake.release();
  t.equal(conn.framesSent, 3, 'the rest was never sent');
  t.ok(got.length <= 3);
  await until(() => openHandles() <= before, 5000, 'no sockets or timers left');
});

t.test('errors are thrown from the iterator with a code: wrong key, lost connection', async (t) => {
  const { fake, tts } = await setup(t, { ttsFrames: 1 }, { AZURE_SPEECH_KEY: 'wrong' });
  await t.rejects(collect(tts, 'hello', 16000), { code: 'AZURE_AUTHENTICATION_FAILURE', message: /401/ });
  t.ok(fake.rejected >= 1, 'upgrade refused by the fake');
  t.equal(fake.syntheses().length, 0);
  await t.resolves(collect(tts, '   ', 16000), 'empty text: nothing to do, no connection');

  const lost = await setup(t, { ttsFrames: 5, ttsCloseAfterFrames: 2 });
  const got: TtsChunk[] = [];
  const err = await (async () => {
    for await (const c of lost.tts.synthesize({ text: 'hello', call: call(16000), signal: new AbortController().signal })) got.push(c);
  })().catch((e: unknown) => e);
  t.match(err, { code: 'AZURE_CONNECTION_FAILURE' }, 'a socket lost mid-synthesis is an error after the audio that came');
  t.ok(pcmOf(got).equals(Buffer.concat(must(lost.fake.syntheses()[0]).sent)), 'the 2 frames sent were yielded first');
});
