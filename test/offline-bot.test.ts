/**
 * The default offline pipeline, all real: WebRTC VAD, pocketsphinx ASR in a child process, the echo bot, Flite TTS in
 * worker threads. Real recorded speech in; the reply that comes back is itself transcribed by pocketsphinx.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { startGateway, metricValue, until } from './helpers/gateway.js';
import { openRawLeg, streamFrames } from './helpers/raw-leg.js';
import { transcribe16k, wer } from './helpers/transcribe.js';

const GOFORWARD = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw'); // 16 kHz raw: "go forward ten meters"

t.test('recorded speech in, spoken echo out', async (t) => {
  const g = await startGateway(t, { ASR_ADAPTER: 'local', TTS_ADAPTER: 'flite' });
  t.equal(g.gw.adapters.asr?.name, 'pocketsphinx');
  t.equal(g.gw.adapters.tts?.name, 'flite');
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'offline-1' });
  await streamFrames(leg.ws, Buffer.alloc(640), 640, 25);
  await until(() => g.logs.some((l) => l.msg === 'reply played' && l.replyId === 1), 8000, 'greeting played');
  const greeting = Buffer.concat(leg.binary);
  const heardGreeting = await transcribe16k(greeting);
  t.ok(wer('say something and i will repeat it', heardGreeting.replace(/^.*?(say)/, '$1')) <= 0.34, `greeting is speech: "${heardGreeting}"`);

  const before = leg.binary.length;
  const audio = Buffer.concat([GOFORWARD, Buffer.alloc(32000)]);
  await streamFrames(leg.ws, audio, 640, Math.floor(audio.length / 640));
  await until(() => g.logs.some((l) => l.msg === 'reply played' && l.replyId === 2), 10000, 'reply played').catch((e) => { for (const l of g.logs) if (l.call === 'offline-1') console.error(l.msg, JSON.stringify(l).slice(0, 300)); throw e; });
  const transcript = g.logs.find((l) => l.msg === 'transcript');
  t.equal(transcript?.text, 'go forward ten meters', 'the gateway heard the caller');
  const reply = Buffer.concat(leg.binary.slice(before));
  t.ok(reply.length / 32000 > 1.2, `reply has length (${(reply.length / 32000).toFixed(2)} s)`);
  const heard = await transcribe16k(reply);
  t.ok(wer('you said go forward ten meters', heard) <= 0.34, `the reply says it back: "${heard}"`);
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_turn_latency_seconds_count'), 1);
  t.equal(metricValue(m, 'gateway_asr_final_latency_seconds_count'), 1);
  const turn = g.logs.find((l) => l.msg === 'reply started' && l.replyId === 2)?.turnLatencyMs;
  t.type(turn, 'number');
  t.comment(`offline turn latency (end of speech → first reply frame): ${turn} ms`);
  leg.ws.close();
});
