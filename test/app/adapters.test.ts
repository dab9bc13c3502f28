/**
 * User adapters loaded from module paths (ASR_ADAPTER / TTS_ADAPTER = ./path.js) drive a real call: frames reach the
 * ASR, its final goes to the bot, the bot's text goes to the TTS, and the TTS audio (22.05 kHz) comes back resampled
 * to exact 16 kHz frames.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { eventsOf, startGateway, metricValue, untilEvent } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';
import { resolveFactory } from '../../src/util/load-adapter.js';
import { GatewayError } from '../../src/errors.js';

const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/cards/001.wav').subarray(44);

t.test('adapters from module paths carry a call end to end', async (t) => {
  const g = await startGateway(t, { ASR_ADAPTER: './dist/test/fixtures/counting-asr.js', TTS_ADAPTER: './dist/test/fixtures/sine-tts.js' });
  t.equal(g.gw.adapters.asr?.name, 'counting');
  t.equal(g.gw.adapters.tts?.name, 'sine');
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'adapters-1' });
  // Greeting: "Hi! Say something, and I will repeat it." = 8 words = 0.8 s.
  await streamFrames(leg.ws, Buffer.alloc(640), 640, 90);
  const greeting = await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 1, 3000, 'greeting played');
  t.ok(Math.abs(greeting.totalMs - 800) <= 40, `greeting ≈ 800 ms of audio (${greeting.totalMs})`);
  const framesBefore = leg.binary.length;
  await streamFrames(leg.ws, Buffer.concat([SPEECH, Buffer.alloc(32000)]), 640, Math.ceil(SPEECH.length / 640) + 50);
  const reply = await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 2, 4000, 'reply played');
  const transcript = eventsOf(g, 'transcript').find((e) => e.final);
  const m = /^heard (\d+) frames (\d+) bytes$/.exec(String(transcript?.text));
  t.ok(m, `final transcript from the custom ASR: ${transcript?.text}`);
  t.equal(Number(m?.[2]), Number(m?.[1]) * 640, 'every frame the ASR got was exactly 640 bytes');
  t.ok(Number(m?.[1]) >= 90 + Math.floor(SPEECH.length / 640), 'the ASR got every frame up to the end of speech');
  // "You said: heard N frames M bytes" = 7 words = 700 ms at 22.05 kHz → 16 kHz, padded to whole frames.
  t.ok(Math.abs(reply.totalMs - 700) <= 40, `reply ≈ 700 ms (${reply.totalMs})`);
  const replyFrames = leg.binary.slice(framesBefore);
  t.ok(replyFrames.length >= 35 && replyFrames.every((f) => f.length === 640), `exact frames (${replyFrames.length})`);
  const started = eventsOf(g, 'reply-start').find((e) => e.replyId === 2);
  t.type(started?.turnLatencyMs, 'number', 'turn latency measured');
  // The counting ASR finalises on the gateway's end of speech: with adaptive endpointing (default) that is ENDPOINT_MIN_SILENCE_MS.
  t.ok((started?.turnLatencyMs ?? 0) >= 250, 'turn latency includes the endpointing silence the caller heard');
  const text = await g.metrics();
  t.equal(metricValue(text, 'gateway_asr_final_latency_seconds_count{adapter="counting"}'), 1);
  t.equal(metricValue(text, 'gateway_turn_latency_seconds_count'), 1);
  t.ok(metricValue(text, 'gateway_tts_first_audio_latency_seconds_count') >= 2);
  t.ok(metricValue(text, 'gateway_bot_first_text_latency_seconds_count') >= 1);
  leg.ws.close();
});

t.test('resolveFactory: built-ins, named exports, and clear errors', async (t) => {
  const builtins = { echo: () => 'builtin' };
  t.equal(await resolveFactory('bot', 'echo', builtins), builtins.echo);
  const asr = await resolveFactory('asr', './dist/test/fixtures/counting-asr.js', {});
  t.equal(typeof asr, 'function');
  const tts = await resolveFactory('tts', `${process.cwd()}/dist/test/fixtures/sine-tts.js`, {});
  t.equal(typeof tts, 'function');
  await t.rejects(resolveFactory('asr', 'whisper', { none: () => 1 }), { code: 'ADAPTER_LOAD_FAILED', message: /not a built-in \(none\)/ });
  await t.rejects(resolveFactory('asr', './no/such/file.js', {}), { code: 'ADAPTER_LOAD_FAILED', message: /cannot import/ });
  const err = await resolveFactory('asr', './dist/src/errors.js', {}).catch((e: unknown) => e);
  t.ok(err instanceof GatewayError && /exports no factory/.test(err.message), 'a module without a factory is refused');
});
