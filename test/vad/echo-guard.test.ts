/**
 * The echo guard on real recorded speech: a line that sends the bot's audio back (120 ms later, 10–40 dB down, full band
 * or telephone band) never starts an utterance, while the raw VAD does; a caller really speaking over that echo still
 * reaches the barge-in threshold; the delay is estimated within ±20 ms; the reference tap follows `clear`.
 */
import t from 'tap';
import { loadVad } from '../../src/vad/fvad.js';
import { CallVad, VadEvent } from '../../src/vad/vad.js';
import { loadResampler } from '../../src/audio/resampler.js';
import { EchoGuard } from '../../src/vad/echo-guard.js';
import { EchoReferenceSink } from '../../src/vad/echo-reference.js';
import { CLEAR_MESSAGE } from '../../src/egress/pacer.js';
import { speech16k, toRate, echoOf, mix, frameAt } from '../helpers/echo-audio.js';
import { runGuard, echoShare } from '../helpers/echo-run.js';
import { must } from '../helpers/must.js';

const RATES = [8000, 16000] as const;
/** The bot starts talking 0.5 s into the call (the VAD has settled on the line's noise by then). */
const LEAD_S = 0.5;

// Loaded before the tests are declared: the audio they share is built at declaration.
await Promise.all([loadVad(), loadResampler()]);

type Clip = Parameters<typeof speech16k>[0];

/** The bot's speech (by default about 6 s of recorded speech) after LEAD_S of silence, at `rate`. */
function botAt(rate: number, clips: readonly Clip[] = ['goforward', '001', '003']): Int16Array {
  const s = toRate(new Int16Array(clips.flatMap((c) => [...speech16k(c)])), rate);
  const out = new Int16Array(s.length + rate * LEAD_S);
  out.set(s, rate * LEAD_S);
  return out;
}

for (const rate of RATES) {
  const bot = botAt(rate);
  const botStart = LEAD_S * 50;
  // Before its first estimate the guard takes only audio ≥ 10 dB below what it just played for echo (so a caller talking
  // over the bot at its own level barges in at once): the strongest echo tested is −12 dB.
  for (const lossDb of [-40, -20, -12]) {
    for (const band of [false, true]) {
      t.test(`${rate} Hz, echo 120 ms at ${lossDb} dB${band ? ', 300–3400 Hz' : ''}: echo is not speech`, async (t) => {
        const echo = echoOf(bot, rate, { delayMs: 120, lossDb, band });
        // A quiet line (−80 dBFS noise): even a −40 dB echo is what the VAD hears.
        const caller = mix(bot.length + rate, [{ at: 0, s: echo }], -80);
        const r = runGuard(rate, bot, caller);
        const s = echoShare(r, botStart);
        t.ok(r.rawStarts.length >= 1, `without the guard the echo starts speech (${r.rawStarts.length} times)`);
        t.ok(s.voiced >= 20, `the raw VAD calls ${s.voiced} echo frames voiced`);
        t.ok(s.share >= 0.95, `${s.echo} of ${s.voiced} voiced frames judged echo (${(s.share * 100).toFixed(1)} %)`);
        t.same(r.guardedStarts, [], 'with the guard no utterance starts');
        t.ok(Math.abs(r.guard.stats.delayMs - 120) <= 20, `delay estimated at ${r.guard.stats.delayMs} ms`);
        // The telephone band takes away the bot's energy below 300 Hz and above 3.4 kHz too: the loss only grows.
        const erl = r.guard.stats.erlDb;
        t.ok(erl >= -lossDb - 3 && erl <= -lossDb + (band ? 10 : 3), `echo return loss estimated at ${erl} dB`);
      });
    }
  }

  for (const lossDb of [-40, -20, -10]) {
    t.test(`${rate} Hz: a caller speaking over a ${lossDb} dB telephone-band echo barges in`, async (t) => {
      const echo = echoOf(bot, rate, { delayMs: 120, lossDb, band: true });
      const other = toRate(speech16k('002'), rate);
      const atFrame = 125;
      const caller = mix(
        bot.length + rate,
        [
          { at: 0, s: echo },
          { at: (atFrame * rate) / 50, s: other },
        ],
        -80,
      );
      const r = runGuard(rate, bot, caller);
      const words = echoShare(r, atFrame, atFrame + Math.floor(other.length / (rate / 50)));
      t.ok(r.bargeInFrame >= atFrame, `no barge-in before the caller speaks (at frame ${r.bargeInFrame})`);
      t.ok(r.bargeInFrame - atFrame <= 25, `barge-in threshold reached ${(r.bargeInFrame - atFrame) * 20} ms after the caller starts`);
      t.ok(1 - words.share >= 0.6, `${((1 - words.share) * 100).toFixed(0)} % of the caller's voiced frames count as speech`);
    });
  }

  for (const line of ['a −20 dB echo', 'no echo, digital silence'] as const) {
    t.test(`${rate} Hz, ${line}: a caller who interrupts in the first ½ s (delay not yet known) still barges in`, async (t) => {
      // The bot says one card recording, the caller another at the same level, 300 ms in (test/call/bargein.test.ts's call).
      const said = toRate(speech16k('001'), rate);
      const other = toRate(speech16k('002'), rate);
      const echo = line === 'no echo, digital silence' ? new Float64Array(0) : echoOf(said, rate, { delayMs: 120, lossDb: -20, band: true });
      const atFrame = 15;
      const caller = mix(
        said.length + rate,
        [
          { at: 0, s: echo },
          { at: (atFrame * rate) / 50, s: other },
        ],
        line === 'no echo, digital silence' ? -200 : -80,
      );
      const r = runGuard(rate, said, caller);
      // Energy alone cannot tell a caller at the bot's level from a loud echo before the delay is known: the
      // conservative rule costs up to ~300 ms here (measured 160–300 ms), once per call.
      t.ok(
        r.bargeInFrame >= atFrame && r.bargeInFrame - atFrame <= 30,
        `barge-in ${(r.bargeInFrame - atFrame) * 20} ms after the caller starts (raw VAD: ${(r.rawBargeInFrame - atFrame) * 20} ms)`,
      );
    });
  }

  t.test(`${rate} Hz: no echo on the line: the caller's speech is never held back`, async (t) => {
    const other = toRate(speech16k('002'), rate);
    const atFrame = 125;
    const caller = mix(bot.length + rate, [{ at: (atFrame * rate) / 50, s: other }], -65);
    const r = runGuard(rate, bot, caller);
    const words = echoShare(r, atFrame, atFrame + Math.floor(other.length / (rate / 50)));
    t.equal(r.guard.stats.delayMs, -1, 'no echo delay claimed');
    t.same(r.guardedStarts, r.rawStarts, 'utterances start exactly where the raw VAD starts them');
    t.equal(r.bargeInFrame, r.rawBargeInFrame, 'barge-in at the same frame as without the guard');
    // Only the quiet ends of words (below what a −40 dB echo of the bot's loudest frame could be) may be held back.
    t.ok(words.share <= 0.15, `${words.echo} of ${words.voiced} voiced caller frames judged echo`);
  });
}

t.test('a longer delay (250 ms, 8 kHz telephone band) is found too', async (t) => {
  const bot = botAt(8000);
  const caller = mix(bot.length + 8000, [{ at: 0, s: echoOf(bot, 8000, { delayMs: 250, lossDb: -20, band: true }) }], -80);
  const r = runGuard(8000, bot, caller);
  t.ok(Math.abs(r.guard.stats.delayMs - 250) <= 20, `delay estimated at ${r.guard.stats.delayMs} ms`);
  t.same(r.guardedStarts, []);
});

t.test('asleep while the bot is silent; wakes on the next frame sent; the estimate is kept across replies', async (t) => {
  const rate = 16000;
  const g = new EchoGuard({ sampleRateHz: rate, maxDelayMs: 400, marginDb: 6 });
  const loud = toRate(speech16k('001'), rate);
  t.notOk(g.active, 'asleep before the bot says anything');
  t.notOk(g.onCallerFrame(frameAt(loud, rate, 20), false), 'caller audio with no bot audio is never echo');
  t.equal(g.stats.estimates, 0);
  const echo = mix(loud.length + rate, [{ at: 0, s: echoOf(loud, rate, { delayMs: 120, lossDb: -20 }) }], -80);
  const frames = Math.ceil(echo.length / (rate / 50));
  for (let k = 0; k < frames; k++) {
    if (k * (rate / 50) < loud.length) g.reference(frameAt(loud, rate, k));
    g.onCallerFrame(frameAt(echo, rate, k), false);
  }
  t.notOk(g.active, 'asleep again once the echo of the last frame could no longer arrive');
  t.ok(Math.abs(g.stats.delayMs - 120) <= 20, `delay ${g.stats.delayMs} ms`);
  const estimates = g.stats.estimates;
  g.reference(frameAt(loud, rate, 30));
  t.ok(g.active, 'awake on the next reply');
  g.onCallerFrame(frameAt(loud, rate, 0), false);
  t.equal(g.stats.estimates, estimates, 'no estimate from a cold start');
  t.ok(Math.abs(g.stats.delayMs - 120) <= 20, 'the delay found earlier still holds');
});

t.test('a clear drops what Vonage held: frames sent but never played are never expected back', async (t) => {
  const rate = 16000;
  const loud = toRate(speech16k('001'), rate);
  const quiet = new Int16Array(loud.length);
  for (let i = 0; i < loud.length; i++) quiet[i] = Math.round(must(loud[i]) / 10);
  const sent: Buffer[] = [];
  const texts: string[] = [];
  const leg = { sendFrame: (f: Buffer) => void sent.push(f), sendText: (s: string) => void texts.push(s), bufferedAmount: 7 };
  const judge = (clear: boolean): boolean => {
    const g = new EchoGuard({ sampleRateHz: rate, maxDelayMs: 400, marginDb: 6 });
    const sink = new EchoReferenceSink(leg, g);
    for (let k = 20; k < 25; k++) sink.sendFrame(frameAt(loud, rate, k));
    if (clear) sink.sendText(CLEAR_MESSAGE);
    return g.onCallerFrame(frameAt(quiet, rate, 20), false);
  };
  t.ok(judge(false), 'the echo (−20 dB) of a frame sent is echo');
  t.notOk(judge(true), 'after a clear the same audio is the caller');
  t.equal(sent.length, 10, 'frames forwarded to the leg');
  t.same(texts, [CLEAR_MESSAGE], 'texts forwarded to the leg');
  const g = new EchoGuard({ sampleRateHz: rate, maxDelayMs: 400, marginDb: 6 });
  t.equal(new EchoReferenceSink(leg, g).bufferedAmount, 7, "buffered amount is the leg's");
});

t.test('the VAD counts a frame the guard calls echo as silence, and still reports its own decision', async (t) => {
  const s = toRate(speech16k('001'), 16000);
  const vad = new CallVad({ sampleRateHz: 16000, mode: 2, minSpeechMs: 120, silenceMs: 600 });
  let voiced = 0;
  for (let k = 0; k < s.length / 320; k++) {
    t.equal(vad.push(frameAt(s, 16000, k), true), VadEvent.None);
    if (vad.voiced) voiced++;
  }
  t.ok(voiced > 20, `the VAD still says voiced (${voiced} frames)`);
  t.notOk(vad.endpointer.speaking, 'no utterance');
  vad.close();
});

// A caller who talks over the first seconds of the greeting leaves the guard no quiet window to estimate in: after 1 s
// it trusts the VAD, and on an echoing line the echo then passes for the caller's voice, so every window holds "voice"
// and no estimate ever ran: the bot paused on its own echo all call long (the eval's `echo-40db` under load, one call
// in six). Estimates now also run over windows that hold voice, and lock only on a strong peak found twice in a row.
for (const rate of RATES) {
  for (const lossDb of [-35, -30]) {
    t.test(`${rate} Hz, ${lossDb} dB echo: a caller who talks over the greeting's start does not leave the echo unguarded`, async (t) => {
      // ~12 s of the bot's speech after LEAD_S of silence.
      const bot = botAt(rate, ['goforward', '001', '003', '005', '002']);
      const botStart = LEAD_S * 50;
      const echo = echoOf(bot, rate, { delayMs: 120, lossDb, band: true });
      const words = toRate(new Int16Array([...speech16k('004'), ...speech16k('001')]), rate);
      const wordsEnd = botStart + Math.ceil(words.length / (rate / 50));
      const caller = mix(
        bot.length + rate,
        [
          { at: 0, s: echo },
          { at: (botStart * rate) / 50, s: words },
        ],
        -80,
      );
      const r = runGuard(rate, bot, caller);
      // Once the caller has stopped (and the VAD's utterance with them), what is left on the line is the bot's echo.
      const settle = wordsEnd + 100;
      const late = r.guardedStarts.filter((k) => k >= settle);
      t.ok(r.rawStarts.filter((k) => k >= settle).length >= 1, `without the guard the echo starts speech after the caller stopped`);
      t.same(late, [], `no utterance starts on the echo after frame ${settle} (starts: ${r.guardedStarts.join(', ')})`);
      t.ok(Math.abs(r.guard.stats.delayMs - 120) <= 20, `delay estimated at ${r.guard.stats.delayMs} ms`);
      t.ok(r.bargeInFrame >= botStart && r.bargeInFrame - botStart <= 30, `the caller over the greeting still barged in (frame ${r.bargeInFrame})`);
    });
  }
}
