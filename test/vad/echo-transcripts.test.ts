/**
 * Transcripts of the bot's own echo, on recorded speech: before the echo guard has the line's echo path, the echo
 * reaches the ASR as it is and a recogniser may transcribe it. Once the path locks, the guard judges those frames again
 * with the fitted delay and gain: a final that can only have come from them is the echo's (dropped by the turn state),
 * while a caller who talks over the greeting, even from its first frame and even quietly, keeps their final.
 */
import t from 'tap';
import { loadVad } from '../../src/vad/fvad.js';
import { loadResampler } from '../../src/audio/resampler.js';
import type { EchoGuard } from '../../src/vad/echo-guard.js';
import { speech16k, toRate, echoOf, mix } from '../helpers/echo-audio.js';
import { runGuard } from '../helpers/echo-run.js';

await Promise.all([loadVad(), loadResampler()]);

/** The greeting: about 6 s of recorded speech from the first frame (the guard wakes with it: no estimate yet). */
const greeting = (rate: number) => toRate(new Int16Array([...speech16k('goforward'), ...speech16k('001'), ...speech16k('003')]), rate);

/**
 * The greeting as a synthetic voice sounds: peaks at −3 dBFS, and each of its quiet stretches (below −45 dBFS over
 * 20 ms) digital silence.
 */
function ttsLike(s: Int16Array, rate: number): Int16Array {
  let peak = 1;
  for (const v of s) peak = Math.max(peak, Math.abs(v));
  const out = new Int16Array(s.length);
  const g = (32767 * 10 ** (-3 / 20)) / peak;
  const n = rate / 50;
  for (let i = 0; i < s.length; i += n) {
    let e = 0;
    const stop = Math.min(s.length, i + n);
    for (let j = i; j < stop; j++) e += (s[j]! * g) ** 2;
    if (e / (stop - i) < 32768 ** 2 * 10 ** (-45 / 10)) continue;
    for (let j = i; j < stop; j++) out[j] = Math.round(s[j]! * g);
  }
  return out;
}

/** Ask the guard about a final at each of `atFrames` (as the turn state does when one arrives). */
function finals(rate: 8000 | 16000, bot: Int16Array, caller: Int16Array, atFrames: number[]): { echo: boolean[]; guard: EchoGuard } {
  const echo: boolean[] = [];
  const r = runGuard(rate, bot, caller, {}, 200, (k, g) => {
    if (atFrames.includes(k)) echo.push(g.heardOnlyEcho(true));
  });
  return { echo, guard: r.guard };
}

for (const rate of [8000, 16000] as const) {
  const bot = greeting(rate);
  for (const lossDb of [-40, -20]) {
    t.test(`${rate} Hz, echo at ${lossDb} dB: a final of what the ASR heard before the lock is the echo's; the next is not`, async (t) => {
      const line = mix(bot.length + rate, [{ at: 0, s: echoOf(bot, rate, { delayMs: 120, lossDb, band: true }) }], -80);
      // 1.5 s in (the final of the echo heard before the lock at ~½ s), then 4 s in (after the lock the ASR got silence).
      const { echo, guard } = finals(rate, bot, line, [75, 200]);
      t.ok(guard.stats.delayMs > 0, `locked: ${guard.stats.delayMs} ms, ${guard.stats.erlDb} dB`);
      t.same(echo, [true, false], 'the first final dropped, the second kept');
      t.equal(guard.stats.transcriptsDropped, 1);
      t.same(finals(rate, bot, line, [75, 76]).echo, [true, false], 'a final closes what the ASR heard: the next is asked afresh');
      t.same(finals(rate, bot, line, [10]).echo, [false], 'a final before the lock is kept (nothing is confirmed yet)');
      // A synthetic voice is loud and falls to digital silence between words: after each echoed word the VAD's
      // hangover calls a few frames voiced that are only the line's noise, louder than the faded echo the path
      // predicts. The guard knows the line's floor: a final at the end of the greeting is still the echo's.
      const tts = ttsLike(bot, rate);
      const ttsLine = mix(tts.length + rate, [{ at: 0, s: echoOf(tts, rate, { delayMs: 120, lossDb, band: true }) }], -80);
      const end = Math.ceil(tts.length / (rate / 50)) + 30;
      const late = finals(rate, tts, ttsLine, [end]);
      t.ok(late.guard.stats.delayMs > 0, `locked on the synthetic greeting: ${late.guard.stats.delayMs} ms`);
      t.same(late.echo, [true], `a final after the whole synthetic greeting (${end} frames) is the echo's`);
    });

    t.test(`${rate} Hz, echo at ${lossDb} dB: a caller talking over the greeting from its first frame keeps the final`, async (t) => {
      const other = toRate(speech16k('002'), rate);
      const line = mix(
        bot.length + rate,
        [
          { at: 0, s: echoOf(bot, rate, { delayMs: 120, lossDb, band: true }) },
          { at: 0, s: other },
        ],
        -80,
      );
      const words = Math.ceil(other.length / (rate / 50));
      t.same(finals(rate, bot, line, [words + 30]).echo, [false], "at the bot's level");
      // Quiet enough (−15 dB) that before the lock the guard takes it for echo: the lock's second look says otherwise.
      const quiet = mix(
        bot.length + rate,
        [
          { at: 0, s: echoOf(bot, rate, { delayMs: 120, lossDb, band: true }) },
          { at: 0, s: other, gain: 10 ** (-15 / 20) },
        ],
        -80,
      );
      const q = finals(rate, bot, quiet, [words + 30]);
      t.same(q.echo, [false], `15 dB below the bot (lock: ${q.guard.stats.delayMs} ms)`);
    });
  }
}
