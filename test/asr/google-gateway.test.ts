/**
 * End to end: a real gateway with `ASR_ADAPTER=google` pointed at the local Google Speech fake, a raw Vonage leg
 * streaming recorded speech in real time; the fake's transcripts reach the session and the echo bot.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { startGateway, untilEvent } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';
import { startFakeGoogleSpeech } from '../fakes/google-speech.js';
import { must } from '../helpers/must.js';

const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');

t.test('a call through the gateway: leg audio → Google fake → transcript → bot', async (t) => {
  const fake = await startFakeGoogleSpeech({ finalEveryMs: 1000, text: (k) => (k === 1 ? 'go forward ten meters' : `segment ${k}`) });
  t.teardown(() => fake.close());
  const g = await startGateway(t, {
    ASR_ADAPTER: 'google',
    GOOGLE_SPEECH_ENDPOINT: `127.0.0.1:${fake.port}`,
    GOOGLE_SPEECH_INSECURE: 'true',
    GOOGLE_SPEECH_PHRASES: 'go forward',
    LANGUAGE: 'en-AU',
    TTS_ADAPTER: 'flite',
  });
  t.equal(g.gw.adapters.asr?.name, 'google');
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'google-e2e-1' });
  await streamFrames(leg.ws, SPEECH, 640, Math.ceil(SPEECH.length / 640));
  const heard = await untilEvent(g, 'transcript', (e) => e.final && e.text === 'go forward ten meters', 10000, 'transcript from the fake');
  t.equal(heard.call, 'google-e2e-1', 'on the call');
  // The echo bot answers the final ("You said: go forward ten meters"): reply 2, after the greeting.
  const answer = await untilEvent(g, 'reply-start', (e) => e.replyId === 2, 10000, 'the bot answered the transcript');
  t.ok(g.events.indexOf(heard) < g.events.indexOf(answer), 'transcript, then the answer');
  const cfg = must(fake.streams[0]).config!;
  t.equal(cfg.config.sampleRateHertz, 16000, 'leg rate');
  t.equal(cfg.config.languageCode, 'en-AU', 'LANGUAGE');
  t.same(must(cfg.config.speechContexts[0]).phrases, ['go forward']);
  t.ok(must(fake.streams[0]).audioBytes >= 1000 * 32, 'the fake heard the leg audio');
  leg.ws.close();
  await leg.closed;
  await untilEvent(g, 'call-end', () => true, 5000, 'call ended');
  await t.resolveMatch(
    (async () => {
      const end = Date.now() + 5000;
      while (!must(fake.streams[0]).cancelled && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      return must(fake.streams[0]).end;
    })(),
    'cancelled',
    'the call end cancelled the gRPC stream',
  );
});
