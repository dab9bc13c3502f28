/**
 * The default offline pipeline, all real: WebRTC VAD, pocketsphinx ASR in a child process, the echo bot, Flite TTS in
 * worker threads. Real recorded speech in; the reply that comes back is itself transcribed by pocketsphinx.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { eventsOf, startGateway, metricValue, until, untilEvent } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';
import { transcribe16k, wer } from '../helpers/transcribe.js';

const GOFORWARD = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw'); // 16 kHz raw: "go forward ten meters"

t.test('recorded speech in, spoken echo out', async (t) => {
  const g = await startGateway(t, { ASR_ADAPTER: 'local', TTS_ADAPTER: 'flite' });
  t.equal(g.gw.adapters.asr?.name, 'pocketsphinx');
  t.equal(g.gw.adapters.tts?.name, 'flite');
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'offline-1' });
  await streamFrames(leg.ws, Buffer.alloc(640), 640, 25);
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 1, 20000, 'greeting played');
  const greeting = Buffer.concat(leg.binary);
  const heardGreeting = await transcribe16k(greeting);
  t.ok(wer('say something and i will repeat it', heardGreeting.replace(/^.*?(say)/, '$1')) <= 0.34, `greeting is speech: "${heardGreeting}"`);

  const before = leg.binary.length;
  const audio = Buffer.concat([GOFORWARD, Buffer.alloc(32000)]);
  await streamFrames(leg.ws, audio, 640, Math.floor(audio.length / 640));
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 2, 10000, 'reply played').catch((e) => {
    for (const l of g.logs) if (l.call === 'offline-1') console.error(l.msg, JSON.stringify(l).slice(0, 300));
    throw e;
  });
  const transcript = eventsOf(g, 'transcript').find((e) => e.final);
  t.equal(transcript?.text, 'go forward ten meters', 'the gateway heard the caller');
  const reply = Buffer.concat(leg.binary.slice(before));
  t.ok(reply.length / 32000 > 1.2, `reply has length (${(reply.length / 32000).toFixed(2)} s)`);
  const heard = await transcribe16k(reply);
  t.ok(wer('you said go forward ten meters', heard) <= 0.34, `the reply says it back: "${heard}"`);
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_turn_latency_seconds_count'), 1);
  t.equal(metricValue(m, 'gateway_asr_final_latency_seconds_count{adapter="pocketsphinx"}'), 1);
  const turn = eventsOf(g, 'reply-start').find((e) => e.replyId === 2)?.turnLatencyMs;
  t.type(turn, 'number');
  t.comment(`offline turn latency (end of speech → first reply frame): ${turn} ms`);
  leg.ws.close();
});

t.test('DTMF read-back and goodbye on # with the offline voice', async (t) => {
  const g = await startGateway(t, { ASR_ADAPTER: 'none', TTS_ADAPTER: 'flite' });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'offline-dtmf' });
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 1, 20000, 'greeting played');
  const before = leg.binary.length;
  leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '7', duration: 200 }));
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 2, 8000, 'read-back played');
  const readBack = await transcribe16k(Buffer.concat(leg.binary.slice(before)));
  t.match(readBack, /seven/, `read back: "${readBack}"`);
  const beforeBye = leg.binary.length;
  leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: '#', duration: 200 }));
  const c = await leg.closed;
  t.equal(c.code, 1000);
  t.equal(c.reason, 'bot hung up');
  const bye = await transcribe16k(Buffer.concat(leg.binary.slice(beforeBye)));
  t.match(bye, /thank you/, `said goodbye before hanging up: "${bye}"`);
});

t.test('event loop stays responsive while several calls synthesise (figure reported, not asserted)', async (t) => {
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const g = await startGateway(t, { ASR_ADAPTER: 'none', TTS_ADAPTER: 'flite' });
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const legs = await Promise.all(Array.from({ length: 4 }, () => openRawLeg(`ws://127.0.0.1:${g.port}/socket`)));
  legs.forEach((l, i) => l.handshake('audio/l16;rate=16000', { uuid: `loop-${i}` }));
  await until(() => eventsOf(g, 'reply-done').filter((e) => !e.interrupted && e.replyId === 1).length === 4, 15000, 'four greetings played');
  for (let i = 0; i < 3; i++) legs.forEach((l) => l.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: String(i + 1), duration: 100 })));
  await until(() => eventsOf(g, 'reply-done').filter((e) => !e.interrupted).length >= 16, 20000, 'all read-backs played');
  h.disable();
  const p99 = h.percentile(99) / 1e6;
  const max = h.max / 1e6;
  t.ok(
    legs.every((l) => l.binary.every((f) => f.length === 640)),
    'every frame exact while synthesising',
  );
  t.comment(`event-loop delay with 4 calls synthesising: p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms`);
  for (const l of legs) l.ws.close();
});

t.test('ASR_GRAMMAR: a JSGF grammar makes the recorded card names come out right', async (t) => {
  const g = await startGateway(t, { ASR_ADAPTER: 'local', TTS_ADAPTER: 'none', ASR_GRAMMAR: '/usr/share/pocketsphinx/test/data/cards/cards.gram' });
  const expected = readFileSync('/usr/share/pocketsphinx/test/data/cards/cards.transcription', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/<\/?s>|\(\d+\)/g, '').trim());
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'grammar-1' });
  for (const n of ['001', '002', '003']) {
    const pcm = Buffer.concat([readFileSync(`/usr/share/pocketsphinx/test/data/cards/${n}.wav`).subarray(44), Buffer.alloc(40000)]);
    await streamFrames(leg.ws, pcm, 640, Math.floor(pcm.length / 640));
  }
  const finals = () => eventsOf(g, 'transcript').filter((e) => e.final);
  await until(() => finals().length >= 3, 8000, 'three transcripts');
  const got = finals().map((e) => e.text);
  // Without the grammar the engine hears "i've been up close" for 001; with it, only card words can come out.
  const vocabulary = new Set('ace two three four five six seven eight nine ten jack queen king lady of clubs hearts diamonds spades'.split(' '));
  t.ok(
    got
      .join(' ')
      .split(' ')
      .every((w) => vocabulary.has(w)),
    `only grammar words: ${got.join(' | ')}`,
  );
  const w = wer(expected.slice(0, 3).join(' '), got.join(' '));
  t.ok(w <= 0.2, `WER ${(w * 100).toFixed(0)} % against the reference transcription`);
  leg.ws.close();
});
