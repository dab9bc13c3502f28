/**
 * Issue 15, end to end: a real gateway leg with the local ASR, whose caller says something, goes quiet (faint hiss),
 * then sends digital silence (all-zero frames: the simulator's tail, a muted line, what an 8 kHz leg's empty upper band
 * resamples to), gets its final transcript while the call is still up. Before the engine's dither (`DITHER_ARGS` in
 * src/asr/pocketsphinx.ts) zeros after a faint sound kept pocketsphinx's VAD in speech, so the final came only at
 * hang-up. (Since the end-of-speech pad became the line's own silence, this stream no longer needs the dither to pass:
 * the test guards the behaviour, the order of final and hang-up, whatever provides it.) Ordering, not timing: the
 * caller stays on the line for {@link TAIL_MS} after speaking, far longer than a final takes even on a loaded machine.
 */
import t from 'tap';
import { readWavFile } from '../../src/audio/wav.js';
import { bandLimitToTelephone } from '../../src/audio/band.js';
import { findPocketsphinx } from '../../src/asr/pocketsphinx.js';
import { simulateCall } from '../../src/sim/simulator.js';
import { startGateway, untilLog } from '../helpers/gateway.js';

const skip = findPocketsphinx() ? false : 'pocketsphinx not installed';
/** How long the caller stays on the line (sending zeros) after the words. */
const TAIL_MS = 20000;

/**
 * The words, then what a line sends when the caller goes quiet and then mutes: 0.8 s of faint hiss (about −66 dBFS,
 * a fixed sequence), then zeros (the simulator's tail). The faint sound before the zeros is what kept the engine's VAD
 * in speech without dither.
 */
function wordsThenHissThenZeros(words: Int16Array, rateHz: number): Int16Array {
  const hiss = Math.round(rateHz * 0.8);
  const gap = Math.round(rateHz * 0.5);
  const out = new Int16Array(words.length + gap + hiss);
  out.set(words);
  let x = 0x2545f491;
  for (let i = 0; i < hiss; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[words.length + gap + i] = ((x >>> 0) % 33) - 16;
  }
  return out;
}

for (const rate of [16000, 8000] as const) {
  t.test(`${rate / 1000} kHz leg: speech then digital silence, the final comes before hang-up`, { skip }, async (t) => {
    const g = await startGateway(t, { ASR_ADAPTER: 'local', AUDIO_RATE: String(rate), LOCAL_ASR_MAX_PROCESSES: '2' });
    const words = readWavFile('/usr/share/pocketsphinx/test/data/cards/004.wav'); // 16 kHz, "five five"
    const samples = wordsThenHissThenZeros(rate === 8000 ? bandLimitToTelephone(words.samples, words.sampleRateHz) : words.samples, words.sampleRateHz);
    const uuid = `silence-e2e-${rate}`;
    const hangup = new AbortController();
    let hungUp = false;
    const call = simulateCall({ url: g.url, uuid, audio: { samples, sampleRateHz: words.sampleRateHz }, tailMs: TAIL_MS, signal: hangup.signal }).finally(
      () => (hungUp = true),
    );
    try {
      const final = await untilLog(g, (l) => l.msg === 'transcript' && l.call === uuid, TAIL_MS + 5000, 'a final transcript');
      t.notOk(hungUp, `the final ("${String(final.text)}") came while the caller was still on the line`);
      if (rate === 16000) t.equal(final.text, 'five five');
    } finally {
      hangup.abort();
      await call;
    }
  });
}
