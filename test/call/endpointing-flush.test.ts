/**
 * ENDPOINT_ASR_FLUSH_MS end to end: a real gateway, recorded speech over a real WebSocket leg, and an ASR adapter that
 * answers each end of speech with how many frames it had been given (test/fixtures/counting-asr). With the early flush
 * the ASR is told the speech ended ~200 ms into the trailing silence (fewer frames), while the VAD still waits
 * ENDPOINT_MIN_SILENCE_MS to end the utterance; once per utterance either way, and the bot gets one final for the turn.
 * Counts, not timings.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { asrFlushMsFor, AUTO_ASR_FLUSH_MS, loadConfig } from '../../src/config/config.js';
import { startGateway, until, type TestGateway } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';

const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw'); // 16 kHz: "go forward ten meters"
const FRAME = 640;
const speech = Buffer.alloc(Math.ceil(SPEECH.length / FRAME) * FRAME);
SPEECH.copy(speech);

const asrFinals = (g: TestGateway, call: string) => g.logs.filter((l) => l.msg === 'transcript' && l.call === call).map((l) => String(l.text));
const botFinals = (g: TestGateway, call: string) =>
  g.logs.filter((l) => l.msg === 'bot transcript' && l.final === true && l.call === call).map((l) => String(l.text));

async function framesAtEndOfSpeech(t: Test, flushMs: string): Promise<{ frames: number; asr: string[]; bot: string[] }> {
  const g = await startGateway(t, {
    ASR_ADAPTER: './dist/test/fixtures/counting-asr.js',
    BOT_ADAPTER: './dist/test/fixtures/final-log-bot.js',
    ENDPOINTING: 'adaptive',
    ENDPOINT_ASR_FLUSH_MS: flushMs,
  });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  const call = `flush-${flushMs}`;
  leg.handshake('audio/l16;rate=16000', { uuid: call });
  await streamFrames(leg.ws, Buffer.alloc(FRAME), FRAME, 25);
  await streamFrames(leg.ws, speech, FRAME, speech.length / FRAME);
  await streamFrames(leg.ws, Buffer.alloc(FRAME), FRAME, 100); // 2 s of silence: the utterance ends
  await until(() => botFinals(g, call).length >= 1, 10000, 'a final at the bot');
  leg.ws.close();
  const asr = asrFinals(g, call);
  return { frames: Number(/heard (\d+) frames/.exec(asr[0] ?? '')?.[1] ?? NaN), asr, bot: botFinals(g, call) };
}

t.test('the early flush tells the ASR sooner, once per utterance, and the bot still gets one final', async (t) => {
  const early = await framesAtEndOfSpeech(t, '200');
  const atEnd = await framesAtEndOfSpeech(t, '0');
  t.comment(`frames written before the end of speech: flush at 200 ms ${early.frames}, at the VAD's end ${atEnd.frames}`);
  t.equal(early.asr.length, 1, 'one end of speech for the utterance (not again at the VAD end)');
  t.equal(atEnd.asr.length, 1);
  t.ok(early.frames < atEnd.frames, 'the early flush came before the VAD ended the utterance');
  t.same(early.bot, early.asr, 'the bot got that final, once');
  t.same(atEnd.bot, atEnd.asr);
});

t.test('auto (the default) flushes early only the local recogniser', async (t) => {
  t.equal(loadConfig({}).endpointAsrFlushMs, 'auto', 'the default');
  t.equal(loadConfig({ ENDPOINT_ASR_FLUSH_MS: '150' }).endpointAsrFlushMs, 150);
  t.throws(() => loadConfig({ ENDPOINT_ASR_FLUSH_MS: 'soon' }), /ENDPOINT_ASR_FLUSH_MS/);
  t.equal(asrFlushMsFor('auto', 'pocketsphinx'), AUTO_ASR_FLUSH_MS);
  t.equal(asrFlushMsFor('auto', 'pocketsphinx>google'), AUTO_ASR_FLUSH_MS, 'a chain that starts with the local recogniser');
  t.equal(asrFlushMsFor('auto', 'google>pocketsphinx'), 0, 'a cloud recogniser first: at the VAD end');
  t.equal(asrFlushMsFor('auto', 'deepgram'), 0);
  t.equal(asrFlushMsFor(0, 'pocketsphinx'), 0, 'a number is taken as it is');
  t.equal(asrFlushMsFor(300, 'deepgram'), 300);
  // End to end with a user's adapter: auto is the VAD's end, exactly as 0.
  const auto = await framesAtEndOfSpeech(t, 'auto');
  const atEnd = await framesAtEndOfSpeech(t, '0');
  t.equal(auto.asr.length, 1);
  // The early flush would come ~10 frames (200 ms) sooner; a frame or two of slack for the jitter buffer's gap filling.
  t.ok(Math.abs(auto.frames - atEnd.frames) <= 3, `a user adapter under auto is told at the VAD end, as with 0 (${auto.frames} vs ${atEnd.frames} frames)`);
});
