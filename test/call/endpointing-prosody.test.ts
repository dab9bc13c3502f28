/**
 * The prosodic end-of-turn cue end to end: a real gateway and a caller over a real WebSocket leg saying "go forward …
 * ten meters" (pocketsphinx-testdata, 16 kHz) with an 800 ms pause after "go forward", as the eval's
 * mid-sentence-pause scenario does. The recogniser is the scripted one (`text-asr`): it gives the words of each
 * utterance the moment the VAD ends it, so the first final ("go forward", which reads complete) is in well inside the
 * pause whatever the machine's load, and only the gate decides. With the cue (ENDPOINT_PROSODY_HOLD_MS=1000) the gate
 * hears that the first half does not sound finished and waits: the bot gets ONE final; without it (0) the gate ends the
 * turn at ENDPOINT_MIN_SILENCE_MS: two finals, the bot answered inside the caller's pause. Counts, not timings.
 */
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { TESTDATA_DIR, withPause } from '../../src/eval/turn-audio.js';
import { metricValue, startGateway, until, type TestGateway } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';

const PAUSE_MS = 800;

/** goforward.raw with the eval's 800 ms pause, in whole 20 ms frames. */
function speechWithPause(): Buffer {
  const raw = readFileSync(`${TESTDATA_DIR}/goforward.raw`);
  const pcm = new Int16Array(raw.buffer, raw.byteOffset, raw.length >> 1);
  const p = withPause(pcm, 16000, PAUSE_MS);
  const out = Buffer.alloc(Math.ceil(p.pcm.byteLength / 640) * 640);
  Buffer.from(p.pcm.buffer, p.pcm.byteOffset, p.pcm.byteLength).copy(out);
  return out;
}

const botFinals = (g: TestGateway, call: string) =>
  g.logs.filter((l) => l.msg === 'bot transcript' && l.final === true && l.call === call).map((l) => String(l.text));

async function call(t: Test, holdMs: number, audio: Buffer): Promise<{ finals: string[]; metrics: string }> {
  const g = await startGateway(t, {
    ASR_ADAPTER: './dist/test/fixtures/text-asr.js',
    SCRIPTED_ASR_TEXTS: 'go forward|ten meters',
    BOT_ADAPTER: './dist/test/fixtures/final-log-bot.js',
    ENDPOINTING: 'adaptive',
    ENDPOINT_PROSODY_HOLD_MS: String(holdMs),
    // The scripted recogniser gives its next text at every end of speech, so the early flush (a 200 ms gap between
    // words) would hand out the script's words at the wrong moments: this test is about the gate, not the flush.
    ENDPOINT_ASR_FLUSH_MS: '0',
  });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  const uuid = `prosody-${holdMs}`;
  leg.handshake('audio/l16;rate=16000', { uuid });
  await streamFrames(leg.ws, Buffer.alloc(640), 640, 25);
  await streamFrames(leg.ws, audio, 640, audio.length / 640);
  const silence = streamFrames(leg.ws, Buffer.alloc(640), 640, 1000); // up to 20 s, stopped below
  await until(() => botFinals(g, uuid).join(' ') === 'go forward ten meters', 15000, 'both parts at the bot');
  // 2 s more: a further final would have come by then.
  await new Promise((r) => setTimeout(r, 2000));
  leg.ws.close();
  await silence;
  return { finals: botFinals(g, uuid), metrics: await g.metrics() };
}

t.test('"go forward … ten meters": one turn with the prosodic cue, answered inside the pause without it', async (t) => {
  const audio = speechWithPause();
  const held = await call(t, 1000, audio);
  t.same(held.finals, ['go forward ten meters'], 'the cue held "go forward" through the pause: ONE final');
  // Judged in the cue's worker thread (the default), not on the event loop, and in time.
  t.ok(metricValue(held.metrics, 'gateway_prosody_cues_worker_total') >= 1, 'the worker judged the cue');
  t.equal(metricValue(held.metrics, 'gateway_prosody_cues_event_loop_total'), 0, 'none on the event loop');
  t.equal(metricValue(held.metrics, 'gateway_prosody_cues_late_total'), 0, 'none late');
  // The gate's decisions in /metrics: one hold, the second final joined to the held one, one turn released.
  t.equal(metricValue(held.metrics, 'gateway_turn_gate_prosody_holds_total'), 1, 'the hold counted');
  t.equal(metricValue(held.metrics, 'gateway_turn_gate_joined_total'), 1, 'the join counted');
  t.equal(metricValue(held.metrics, 'gateway_turn_gate_released_total'), 1, 'one turn released');
  const plain = await call(t, 0, audio);
  t.same(plain.finals, ['go forward', 'ten meters'], 'without it the first half went to the bot on its own');
  t.equal(metricValue(plain.metrics, 'gateway_prosody_cues_worker_total'), 0, 'cue off: no worker judgement');
  t.equal(metricValue(plain.metrics, 'gateway_turn_gate_released_total'), 2, 'two turns released');
  t.equal(metricValue(plain.metrics, 'gateway_turn_gate_joined_total'), 0, 'nothing joined');
});
