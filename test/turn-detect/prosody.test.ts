/**
 * The prosodic end-of-turn cue on recorded speech (Debian pocketsphinx-testdata) and on voiced tones whose pitch and
 * loudness contours are known: a sentence cut inside its pause sounds unfinished, the same sentence at its end sounds
 * finished, at 8 kHz and 16 kHz; a level, loud end is unfinished, a fall, a high rise or a fading end is not; no
 * verdict without voice.
 */
import t from 'tap';
import { loadResampler } from '../../src/audio/resampler.js';
import { readAudioFile } from '../../src/cli.js';
import { TESTDATA_DIR, withPause } from '../../src/eval/turn-audio.js';
import { resamplePcm } from '../../src/sim/simulator.js';
import { judge, PROSODY_THRESHOLDS, prosodyCue } from '../../src/turn-detect/prosody.js';

/** What the utterance capture keeps after the last loud frame (VAD silence minus its trim). */
const KEEP_AFTER_MS = 100;

await loadResampler();

function recording(file: string, rateHz: number): Int16Array {
  const wav = readAudioFile(`${TESTDATA_DIR}/${file}`, 16000);
  return resamplePcm(wav.samples, wav.sampleRateHz, rateHz);
}

/** The recording up to its pause near `pauseAtMs` after the onset (the eval's cut), plus what the capture keeps. */
function cutInPause(pcm: Int16Array, rateHz: number, pauseAtMs?: number): Int16Array {
  const p = withPause(pcm, rateHz, 800, pauseAtMs);
  const at = p.pause?.startSample;
  if (at === undefined) throw new Error('no pause found');
  return pcm.subarray(0, at + (KEEP_AFTER_MS * rateHz) / 1000);
}

/** The whole recording up to its last loud frame, plus what the capture keeps. */
function toEnd(pcm: Int16Array, rateHz: number): Int16Array {
  const { endSample } = withPause(pcm, rateHz);
  return pcm.subarray(0, Math.min(pcm.length, endSample + (KEEP_AFTER_MS * rateHz) / 1000));
}

for (const rateHz of [8000, 16000]) {
  t.test(`recorded speech at ${rateHz} Hz`, async (t) => {
    const go = recording('goforward.raw', rateHz);
    const mid = prosodyCue(cutInPause(go, rateHz), rateHz);
    t.ok(mid.unfinished, `"go forward | ten meters" cut in its pause sounds unfinished (${JSON.stringify(mid)})`);
    const end = prosodyCue(toEnd(go, rateHz), rateHz);
    t.notOk(end.unfinished, `"go forward ten meters" at its end sounds finished (${JSON.stringify(end)})`);
    t.ok(end.dropDb > mid.dropDb + 3, 'the finished end is quieter against the loudest part than the paused one');

    const four = prosodyCue(cutInPause(recording('cards/002.wav', rateHz), rateHz, 520), rateHz);
    t.ok(four.unfinished, `"four | queen of clubs" cut after "four" sounds unfinished (${JSON.stringify(four)})`);
    for (const file of ['numbers.raw', 'something.raw', 'cards/005.wav']) {
      const q = prosodyCue(toEnd(recording(file, rateHz), rateHz), rateHz);
      t.notOk(q.unfinished, `${file} at its end sounds finished (${JSON.stringify(q)})`);
    }
  });
}

const RATE = 16000;

/**
 * A voiced sound: 200 ms of silence, then `ms` of a harmonic-rich tone whose pitch goes from `f0From` to `f0To` Hz and
 * whose level from 0 dB to `fadeDb` over the last `changeMs` (level before), then 100 ms of silence.
 */
function tone(ms: number, f0From: number, f0To: number, fadeDb = 0, changeMs = 400): Int16Array {
  const lead = 0.2 * RATE;
  const n = Math.round((ms * RATE) / 1000);
  const out = new Int16Array(lead + n + 0.1 * RATE);
  const changeAt = n - Math.round((changeMs * RATE) / 1000);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const k = i < changeAt ? 0 : (i - changeAt) / (n - changeAt);
    const f0 = f0From + (f0To - f0From) * k;
    const gain = 10 ** ((fadeDb * k) / 20);
    phase += (2 * Math.PI * f0) / RATE;
    let v = 0;
    for (let h = 1; h <= 6; h++) v += Math.sin(h * phase) / h;
    out[lead + i] = Math.round(6000 * gain * v);
  }
  return out;
}

t.test('a level, loud end is unfinished; a fall, a high rise or a fading end is not', async (t) => {
  const level = prosodyCue(tone(1000, 140, 140), RATE);
  t.ok(level.unfinished, `level pitch, level loudness (${JSON.stringify(level)})`);
  t.ok(Math.abs(level.endSt) < 0.5, 'the level pitch measures level');
  const fall = prosodyCue(tone(1000, 160, 95), RATE);
  t.notOk(fall.unfinished, `a fall to low pitch (${JSON.stringify(fall)})`);
  t.ok(fall.endSt < -6, 'the fall measures as one');
  const rise = prosodyCue(tone(1000, 140, 230), RATE);
  t.notOk(rise.unfinished, `a high rise, a question (${JSON.stringify(rise)})`);
  t.ok(rise.endSt > 4, 'the rise measures as one');
  const fade = prosodyCue(tone(1000, 140, 140, -24), RATE);
  t.notOk(fade.unfinished, `level pitch fading out (${JSON.stringify(fade)})`);
  t.ok(fade.dropDb >= PROSODY_THRESHOLDS.loudEndDb, 'the fade measures as a quiet end');
});

t.test('no voice, no verdict', async (t) => {
  t.notOk(prosodyCue(new Int16Array(RATE), RATE).unfinished, 'silence');
  t.notOk(prosodyCue(new Int16Array(10), RATE).unfinished, 'a few samples');
  t.notOk(prosodyCue(tone(60, 140, 140), RATE).unfinished, '60 ms of voice');
  const noise = new Int16Array(RATE);
  let s = 1;
  for (let i = 0; i < noise.length; i++) noise[i] = ((s = (s * 1103515245 + 12345) >>> 0) % 4000) - 2000;
  const q = prosodyCue(noise, RATE);
  t.notOk(q.unfinished, `white noise (${JSON.stringify(q)})`);
});

t.test('judge draws the lines it documents', async (t) => {
  const th = PROSODY_THRESHOLDS;
  t.ok(judge(th.loudEndDb - 1, 0, th), 'loud and level');
  t.notOk(judge(th.loudEndDb, 0, th), 'quiet enough');
  t.notOk(judge(0, th.lowEndSt, th), 'fallen');
  t.notOk(judge(0, th.highEndSt, th), 'risen high');
  t.notOk(judge(NaN, NaN, th), 'no figures');
});
