/**
 * End to end: a gateway with ASR_ADAPTER=microsoft and TTS_ADAPTER=microsoft pointed at the local Azure Speech fake,
 * and a raw Vonage leg streaming recorded speech in real time. The fake's transcript reaches the echo bot, and the
 * bot's reply, synthesised by the fake (a 440 Hz tone), comes back as exact 20 ms frames on the leg.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { startFakeMicrosoftSpeech } from '../fakes/microsoft-speech.js';
import { startGateway, untilEvent, metricValue } from '../helpers/gateway.js';
import { openRawLeg, streamFrames, goertzel } from '../helpers/raw-leg.js';
import { must } from '../helpers/must.js';

const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');

t.test('ASR and TTS microsoft: transcript to the echo bot, reply audio back on the leg', async (t) => {
  const fake = await startFakeMicrosoftSpeech({ key: 'e2e-key', finalEveryMs: 2000, text: () => 'go forward ten meters', ttsFrames: 5, ttsFrameMs: 100 });
  t.teardown(() => fake.close());
  const g = await startGateway(t, {
    ASR_ADAPTER: 'microsoft',
    TTS_ADAPTER: 'microsoft',
    AZURE_SPEECH_HOST: fake.host,
    AZURE_SPEECH_KEY: 'e2e-key',
    LANGUAGE: 'en-GB',
  });
  t.equal(g.gw.adapters.asr?.name, 'microsoft');
  t.equal(g.gw.adapters.tts?.name, 'microsoft');
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'ms-e2e-1' });
  // 2.2 s of real speech, then silence, at the real 20 ms pace: one final at 2 s of audio.
  const audio = Buffer.concat([SPEECH, Buffer.alloc(64000)]).subarray(0, 640 * 160);
  await streamFrames(leg.ws, audio, 640, 110);
  await untilEvent(g, 'transcript', (e) => e.final && e.text === 'go forward ten meters', 8000, 'transcript from the fake');
  const framesBefore = leg.binary.length;
  const streaming = streamFrames(leg.ws, Buffer.alloc(640), 640, 100);
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId >= 2, 8000, 'reply played');
  await streaming;
  const reco = must(fake.recognitions()[0]);
  t.equal(reco.language, 'en-GB', 'the call language reached the recogniser');
  t.equal(reco.rateHz, 16000);
  t.ok(reco.pcm().subarray(0, 32000).equals(audio.subarray(0, 32000)), 'the leg audio reached the service unchanged');
  const said = fake.syntheses().find((c) => (c.ssml ?? '').includes('You said: go forward ten meters'));
  t.ok(said, 'the echo bot reply was synthesised');
  t.match(said?.ssml, /<voice name="en-GB-SoniaNeural">/, 'voice for the call language');
  t.equal(said?.outputFormat, 'raw-16khz-16bit-mono-pcm');
  const reply = leg.binary.slice(framesBefore);
  t.ok(reply.length >= 25 && reply.every((f) => f.length === 640), `reply as exact 20 ms frames (${reply.length})`);
  const pcm = Buffer.concat(reply);
  t.ok(goertzel(pcm, 16000, 440) > 100 * goertzel(pcm, 16000, 1000), 'the frames carry the synthesised 440 Hz tone');
  const metrics = await g.metrics();
  t.ok(metricValue(metrics, 'gateway_asr_final_latency_seconds_count{adapter="microsoft"}') >= 1, 'ASR final latency observed');
  t.ok(metricValue(metrics, 'gateway_tts_first_audio_latency_seconds_count') >= 2, 'TTS first-audio latency observed');
  leg.ws.close();
  await leg.closed;
});
