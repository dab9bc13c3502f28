/**
 * The cloud ASR adapters with their real SDKs against the local fakes of the vendors' wire protocols: the conformance
 * suite for each, and a failover from Google to Microsoft in one call with the audio checked byte for byte.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { runAsrConformance } from '../../src/asr/conformance.js';
import { createFallbackAsr } from '../../src/asr/fallback.js';
import { createGoogleAsr } from '../../src/asr/google.js';
import { createMicrosoftAsr } from '../../src/asr/microsoft.js';
import type { AsrEvent } from '../../src/asr/types.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { startFakeGoogleSpeech, type FakeErrorCue } from '../fakes/google-speech.js';
import { startFakeMicrosoftSpeech, type FakeFailure } from '../fakes/microsoft-speech.js';
import { must } from '../helpers/must.js';
import { adapterContext } from '../../src/adapters.js';

const raw = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
const speech = { samples: new Int16Array(raw.buffer, raw.byteOffset, raw.length >> 1), sampleRateHz: 16000 };
const logger = createLogger('silent');
const PERMISSION_DENIED = 7;

function ctx(env: Record<string, string>) {
  return adapterContext(loadConfig(env), logger, env);
}
const failed = (c: Array<{ ok: boolean; name: string; detail: string }>) => c.filter((x) => !x.ok).map((x) => `${x.name}: ${x.detail}`);

t.test('Google (real @google-cloud/speech → local gRPC fake) passes the ASR conformance suite', async (t) => {
  const errors: FakeErrorCue[] = [];
  const fake = await startFakeGoogleSpeech({ finalEveryMs: 1000, errors });
  t.teardown(() => fake.close());
  const adapter = createGoogleAsr(ctx({ GOOGLE_SPEECH_ENDPOINT: `127.0.0.1:${fake.port}`, GOOGLE_SPEECH_INSECURE: 'true' }));
  const checks = await runAsrConformance({
    adapter,
    speech,
    expectText: /segment/,
    // A fatal status on the next stream the fake serves.
    provokeError: () => void errors.push({ stream: fake.streams.length, afterBytes: 0, code: PERMISSION_DENIED, message: 'denied on cue' }),
  });
  t.same(failed(checks), []);
  t.ok(fake.streams.length >= 5, `the fake served ${fake.streams.length} streams`);
});

t.test('Microsoft (real Speech SDK → local USP fake) passes the ASR conformance suite', async (t) => {
  const failures: FakeFailure[] = [];
  const fake = await startFakeMicrosoftSpeech({ finalEveryMs: 1000, failures });
  t.teardown(() => fake.close());
  const adapter = await createMicrosoftAsr(ctx({ AZURE_SPEECH_HOST: fake.host, AZURE_SPEECH_KEY: 'any', AZURE_SPEECH_UNTHROTTLED_MS: '600000' }));
  const checks = await runAsrConformance({
    adapter,
    speech,
    expectText: /phrase/,
    provokeError: () => void failures.push({ connection: fake.recognitions().length + 1, afterBytes: 0, action: 'status', status: 'Forbidden' }),
  });
  t.same(failed(checks), []);
});

t.test('failover Google → Microsoft mid-call: nothing lost, nothing repeated but the unfinalised audio', async (t) => {
  const gFake = await startFakeGoogleSpeech({
    finalEveryMs: 1000,
    errors: [{ stream: 0, afterBytes: 32000 * 2.5, code: PERMISSION_DENIED, message: 'key revoked' }],
  });
  const mFake = await startFakeMicrosoftSpeech({ finalEveryMs: 1000 });
  t.teardown(() => Promise.all([gFake.close(), mFake.close()]));
  const google = createGoogleAsr(ctx({ GOOGLE_SPEECH_ENDPOINT: `127.0.0.1:${gFake.port}`, GOOGLE_SPEECH_INSECURE: 'true' }));
  const microsoft = await createMicrosoftAsr(ctx({ AZURE_SPEECH_HOST: mFake.host, AZURE_SPEECH_KEY: 'any', AZURE_SPEECH_UNTHROTTLED_MS: '600000' }));
  const chain = createFallbackAsr([google, microsoft]);
  const call: CallInfo = {
    callId: 'failover-1',
    conversationUuid: undefined,
    from: undefined,
    to: undefined,
    sampleRateHz: 16000,
    language: 'en-US',
    metadata: {},
  };
  const ctl = new AbortController();
  const stream = await chain.start({ call, signal: ctl.signal });
  const events: AsrEvent[] = [];
  const done = (async () => {
    for await (const e of stream.events) events.push(e);
  })();
  // 6 s of the recorded speech, looped, with a marker in every frame so any reordering shows.
  const frames = 300;
  const written = Buffer.alloc(frames * 640);
  for (let i = 0; i < frames; i++) {
    raw.copy(written, i * 640, (i * 640) % (raw.length - 640), ((i * 640) % (raw.length - 640)) + 640);
    written.writeUInt16LE(i, i * 640);
  }
  for (let i = 0; i < frames; i++) {
    stream.write(written.subarray(i * 640, i * 640 + 640), performance.now());
    if (i % 5 === 4) await new Promise((r) => setTimeout(r, 5)); // let the SDKs breathe, as 20 ms pacing would
  }
  // Everything after the failover reaches Microsoft; wait until it has all of it.
  const fo = () => events.find((e): e is Extract<AsrEvent, { type: 'failover' }> => e.type === 'failover');
  const until = async (cond: () => boolean, what: string) => {
    const end = Date.now() + 15000;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await until(() => !!fo(), 'failover');
  const foIndex = events.indexOf(fo()!);
  const gFinals = events.slice(0, foIndex).filter((e): e is Extract<AsrEvent, { type: 'final' }> => e.type === 'final');
  t.ok(gFinals.length >= 1 && gFinals.every((f) => f.text.startsWith('segment')), `Google finalised ${gFinals.length} segment(s) before failing`);
  const ackedBytes = Math.round((must(gFinals[gFinals.length - 1]).endMs as number) * 32);
  // The Speech SDK forwards audio in 100 ms chunks: everything but at most the last one must reach the fake.
  await until(() => (mFake.recognitions()[0]?.audioBytes ?? 0) >= written.length - ackedBytes - 3200, 'microsoft audio');
  await until(() => events.some((e) => e.type === 'final' && e.text.startsWith('phrase')), 'a Microsoft final');
  stream.close();
  ctl.abort();
  await done;
  await chain.close?.();

  t.match(fo(), { from: 'google', to: 'microsoft', reason: /GOOGLE_PERMISSION_DENIED/ });
  const g = must(gFake.streams[0]);
  t.ok(written.subarray(0, g.audioBytes).equals(g.audio()), 'Google got an exact prefix of the call');
  const m = must(mFake.recognitions()[0]).pcm();
  t.equal(ackedBytes + m.length <= written.length, true);
  t.ok(m.equals(written.subarray(ackedBytes, ackedBytes + m.length)), 'Microsoft got the call from the last Google final on, byte for byte, in order');
  const replayed = fo()!.replayedMs;
  t.ok(replayed * 32 >= g.audioBytes - ackedBytes - 640, `the replay (${replayed} ms) covers what Google received but never finalised`);
  t.ok(ackedBytes + m.length >= written.length - 3200, 'nothing after the failover is missing (the SDK holds back at most its last 100 ms chunk)');
  const mFinals = events.filter((e): e is Extract<AsrEvent, { type: 'final' }> => e.type === 'final' && e.text.startsWith('phrase'));
  t.ok(
    mFinals.length >= 1 && (must(mFinals[0]).startMs as number) >= (must(gFinals[gFinals.length - 1]).endMs as number) - 1,
    "Microsoft finals continue the call timeline after Google's",
  );
});
