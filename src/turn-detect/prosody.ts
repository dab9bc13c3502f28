/**
 * A prosodic end-of-turn cue: does the end of the caller's last utterance *sound* finished? Computed once per utterance
 * end, from its audio (what `call/utterance-capture.ts` keeps), for the adaptive endpointing gate: a final transcript
 * that reads complete but whose audio sounds unfinished waits longer (`ENDPOINT_PROSODY_HOLD_MS`).
 *
 * Why audio: pocketsphinx hears the first half of "go forward … ten meters" as "go forward", which reads as a finished
 * command; only how it was said differs. Speakers who hold the floor end the stretch before a pause still loud and
 * with the pitch level or rising; a finished statement ends quieter than its loudest part ("final lowering") and with
 * the pitch fallen to low in the speaker's range (Gravano & Hirschberg 2011, *Turn-taking cues in task-oriented
 * dialogue*: lower intensity and lower, falling pitch before a yield; higher intensity and level pitch before a hold).
 *
 * What is measured (all on the audio downsampled to ~8 kHz, 20 ms frames):
 * - the loudness of every frame, less the line's noise (the quietest frame's); `peakDb` = the loudest
 *   60 ms of the utterance;
 * - the pitch (f0, 60–400 Hz, YIN) of the frames in the last {@link ANALYSIS_MS} before the sound ends (octave errors,
 *   frames nearly an octave off the median, dropped; the frames before the tail at half the rate, see Cost);
 * - `dropDb`: how far the last {@link TAIL_MS} of voiced frames lie below `peakDb`;
 * - `endSt`: the pitch of the last three voiced frames against the median pitch of the analysed stretch, semitones;
 * - `slopeStPerS`: the pitch slope over the last {@link TAIL_MS} of voiced frames (reported, not judged; from the
 *   half-rate track but for the last three frames).
 *
 * Verdict ({@link ProsodyCue.unfinished}, {@link judge}): never when the line is too noisy to hear how loud the end is
 * (the loudest part less than {@link MIN_SNR_DB} above the noise) or fewer than {@link MIN_VOICED_FRAMES} voiced frames
 * were found (no evidence: the turn is not delayed); otherwise unfinished when the end is still loud (`dropDb` below
 * `loudEndDb`) and the pitch ends level: neither fallen (`endSt` above `lowEndSt`) nor risen high (below `highEndSt`:
 * a high rise is a question, which yields the turn).
 *
 * Cost, once per utterance end: one pass over the utterance for loudness, YIN on at most {@link ANALYSIS_MS} at ~4 kHz,
 * and at the full ~8 kHz only for the last {@link FINE_END_FRAMES} voiced frames (the end pitch the verdict compares
 * with the stretch's median); no allocation beyond a few small arrays. History (`node dist/bench/prosody-cue.js
 * --ab-root=<the build before>`, 144 cuts of pocketsphinx-testdata, clean, band-limited and noisy): tracking the whole
 * stretch at 8 kHz → the tail's 300 ms at 8 kHz, 0.50–0.53 × the time (~0.39 against ~0.75 ms per cut), the same
 * verdict on 142 of the 144; the tail → the last three voiced frames at 8 kHz, 0.81–0.84 × again, the same verdict on
 * 143 of 144 (one band-limited finished answer, its end 9.9 dB below its peak against 10.0, now held). Runs in a worker
 * thread in the gateway (`prosody-pool.ts`). Pure: tests run it on recorded speech.
 */

/** The stretch (ending where the sound ends) whose pitch is tracked. */
export const ANALYSIS_MS = 1000;
/** The end of the utterance whose loudness and pitch slope are judged. */
export const TAIL_MS = 300;
/** Fewer voiced frames than this: no verdict (not unfinished). */
export const MIN_VOICED_FRAMES = 5;

/** Where the verdict draws its lines (see {@link judge}). */
export interface ProsodyThresholds {
  /** The end less than this far below the loudest part (dB) is still loud: the speaker is holding the floor. */
  readonly loudEndDb: number;
  /** The pitch ending at or below this (semitones against the stretch's median) has fallen: the turn sounds finished. */
  readonly lowEndSt: number;
  /** The pitch ending at or above this has risen high: a question or a rise that yields the turn (not unfinished). */
  readonly highEndSt: number;
}

/** The built-in thresholds. */
export const PROSODY_THRESHOLDS: ProsodyThresholds = Object.freeze({ loudEndDb: 10, lowEndSt: -4, highEndSt: 2 });

/** Frames quieter than this below the peak are not speech (no pitch tracked, not the end of the sound). */
const SPEECH_FLOOR_DB = 35;
/** The rate the analysis runs at (the input is decimated by an integer factor to about this). */
const ANALYSIS_RATE_HZ = 8000;
const FRAME_MS = 20;
/** YIN window: two periods of the lowest pitch fit. */
const WINDOW_MS = 40;
const F0_MIN_HZ = 60;
const F0_MAX_HZ = 400;
/** The loudest 60 ms at least this far above the line's noise, dB, or no verdict. */
export const MIN_SNR_DB = 25;
/** A pitch more than this ratio from the median is an octave error, not intonation (about 11 semitones). */
const OCTAVE_GUARD = 1.9;
/** YIN's aperiodicity threshold: a frame below it is voiced. */
const YIN_THRESHOLD = 0.2;
/**
 * A tail frame whose aperiodicity at half the analysis rate stays at or above this is unvoiced without being tracked at
 * the full rate. Looser than {@link YIN_THRESHOLD}, so what is voiced at the full rate passes: over the 144 cuts of
 * `bench/prosody-cue.ts` the verdicts are the full-rate tracker's but for two, each one voiced frame short of
 * {@link MIN_VOICED_FRAMES} (one finished band-limited answer no longer held, one band-limited pause no longer caught).
 */
const COARSE_GATE = 0.3;
/** The last voiced frames tracked at the full rate (their pitch is the end's); the rest at half the rate. */
const FINE_END_FRAMES = 3;

/** What the cue found; `unfinished` is the verdict, the rest explains it (logs, tests, tuning). */
export interface ProsodyCue {
  /** The end of the utterance sounds like the caller will go on. */
  readonly unfinished: boolean;
  /** Voiced frames found in the analysed stretch (20 ms each). */
  readonly voicedFrames: number;
  /** Loudness of the last voiced {@link TAIL_MS} below the utterance's loudest 60 ms, dB (NaN: no verdict). */
  readonly dropDb: number;
  /** Pitch at the end against the stretch's median, semitones (NaN: no verdict). */
  readonly endSt: number;
  /** Pitch slope over the last voiced {@link TAIL_MS}, semitones per second (NaN: no verdict). */
  readonly slopeStPerS: number;
  /** The utterance's loudest 60 ms above the line's noise (its quietest frame), dB. */
  readonly snrDb: number;
}

const NO_VERDICT: ProsodyCue = Object.freeze({ unfinished: false, voicedFrames: 0, dropDb: NaN, endSt: NaN, slopeStPerS: NaN, snrDb: NaN });

/** `pcm` (16-bit mono at `sampleRateHz`) decimated by an integer factor to about 8 kHz (box filter), as floats. */
function decimate(pcm: Int16Array, sampleRateHz: number): { x: Float32Array; rateHz: number } {
  const k = Math.max(1, Math.round(sampleRateHz / ANALYSIS_RATE_HZ));
  const n = Math.floor(pcm.length / k);
  const x = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++) {
    let acc = 0;
    for (let m = 0; m < k; m++) acc += pcm[j++]!;
    x[i] = acc / k;
  }
  return { x, rateHz: sampleRateHz / k };
}

/**
 * YIN (de Cheveigné & Kawahara 2002) on `x[from, from + win)`: the pitch in Hz, or 0 when no lag's aperiodicity falls
 * below `threshold`. `d` is scratch of at least `tauMax + 1`. The difference function is computed lag by lag and stops
 * at the first dip below the threshold once it stops descending (a lag's normalised value depends only on the lags
 * before it, so the answer is the one the whole function would give); an unvoiced frame still costs every lag.
 */
function yin(x: Float32Array, from: number, win: number, rateHz: number, d: Float64Array, threshold: number): number {
  const tauMin = Math.floor(rateHz / F0_MAX_HZ);
  const tauMax = Math.ceil(rateHz / F0_MIN_HZ);
  const w = win - tauMax;
  if (w <= 0) return 0;
  let sum = 0;
  let dipping = false; // a lag below the threshold was found; the lags since have kept descending
  d[0] = 1;
  for (let tau = 1; tau <= tauMax; tau++) {
    let acc = 0;
    for (let i = from; i < from + w; i++) {
      const e = x[i]! - x[i + tau]!;
      acc += e * e;
    }
    sum += acc;
    // The cumulative-mean-normalised difference, then a look at the lag before (its right neighbour is now known).
    d[tau] = sum > 0 ? (acc * tau) / sum : 1;
    const c = tau - 1;
    if (!dipping) {
      if (c < tauMin || d[c]! >= threshold) continue;
      dipping = true;
    }
    if (c + 1 < tauMax && d[c + 1]! < d[c]!) continue; // still descending: the dip is further on
    // Parabolic interpolation around the dip.
    const a = d[c - 1]!;
    const b = d[c]!;
    const e = d[c + 1]!;
    const den = a - 2 * b + e;
    const off = den !== 0 ? (0.5 * (a - e)) / den : 0;
    return rateHz / (c + off);
  }
  return 0;
}

/** `x` decimated by two (mean of each pair): the coarse track's signal. */
function halve(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length >> 1);
  for (let i = 0, j = 0; i < out.length; i++, j += 2) out[i] = (x[j]! + x[j + 1]!) / 2;
  return out;
}

/** Unfinished: the end still loud and the pitch level (neither fallen nor risen high). */
export function judge(dropDb: number, endSt: number, th: ProsodyThresholds): boolean {
  return dropDb < th.loudEndDb && endSt > th.lowEndSt && endSt < th.highEndSt;
}

function median(v: number[]): number {
  const s = v.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The cue for one utterance (see the file comment). `pcm` is 16-bit mono at `sampleRateHz`; it is only read.
 * An utterance too short or too quiet to judge gives `unfinished: false`.
 */
export function prosodyCue(pcm: Int16Array, sampleRateHz: number, th: ProsodyThresholds = PROSODY_THRESHOLDS): ProsodyCue {
  const { x, rateHz } = decimate(pcm, sampleRateHz);
  const frame = Math.round((rateHz * FRAME_MS) / 1000);
  const win = Math.round((rateHz * WINDOW_MS) / 1000);
  const frames = Math.floor(x.length / frame);
  if (frames < MIN_VOICED_FRAMES || x.length < win) return NO_VERDICT;
  const db = new Float64Array(frames);
  for (let f = 0; f < frames; f++) {
    let acc = 0;
    for (let i = f * frame; i < (f + 1) * frame; i++) acc += x[i]! * x[i]!;
    db[f] = acc / frame;
  }
  // The line's noise (the quietest frame: the capture keeps a little silence before and after the speech) is taken
  // out of every frame's power, so noise that fills the quiet end of a finished sentence does not make it sound loud.
  let noise = Infinity;
  for (let f = 0; f < frames; f++) if (db[f]! < noise) noise = db[f]!;
  for (let f = 0; f < frames; f++) db[f] = 10 * Math.log10(Math.max(db[f]! - noise, 0) + 1);
  // The loudest 60 ms (a single click cannot set the reference).
  let peakDb = -Infinity;
  for (let f = 1; f < frames - 1; f++) peakDb = Math.max(peakDb, (db[f - 1]! + db[f]! + db[f + 1]!) / 3);
  if (!Number.isFinite(peakDb)) peakDb = db[0]!;
  // On a noisy line the quiet end of a finished sentence drowns, and what is left of the voice is its loud part: the
  // loudness cue would hear every end as loud. Below MIN_SNR_DB the cue gives no verdict.
  const snrDb = peakDb - 10 * Math.log10(noise + 1);
  if (snrDb < MIN_SNR_DB) return { ...NO_VERDICT, snrDb };
  const floorDb = peakDb - SPEECH_FLOOR_DB;
  let endFrame = frames - 1;
  while (endFrame > 0 && db[endFrame]! < floorDb) endFrame--;
  // Pitch of every speech frame in the analysed stretch (a window of WINDOW_MS centred on the frame), walking back from
  // the end. The last FINE_END_FRAMES voiced frames (their pitch is the end's, which decides the verdict) are tracked at
  // the full analysis rate; a frame is first asked at half the rate whether it is voiced at all (COARSE_GATE, looser
  // than YIN_THRESHOLD, so a frame voiced at the full rate passes). Every other frame (which voiced frames make the
  // tail's loudness; the stretch's median pitch) is tracked at half the rate (a quarter of the work per frame).
  const firstFrame = Math.max(0, endFrame - Math.round(ANALYSIS_MS / FRAME_MS) + 1);
  const fine = new Float64Array(Math.ceil(rateHz / F0_MIN_HZ) + 2);
  const xc = halve(x);
  const rateC = rateHz / 2;
  const frameC = frame >> 1;
  const winC = win >> 1;
  const coarse = new Float64Array(Math.ceil(rateC / F0_MIN_HZ) + 2);
  const voiced: number[] = [];
  const f0: number[] = [];
  for (let f = endFrame; f >= firstFrame; f--) {
    if (db[f]! < floorDb) continue;
    const fromC = Math.max(0, Math.min(xc.length - winC, f * frameC + (frameC >> 1) - (winC >> 1)));
    let hz: number;
    if (voiced.length < FINE_END_FRAMES) {
      const from = Math.max(0, Math.min(x.length - win, f * frame + (frame >> 1) - (win >> 1)));
      hz = yin(xc, fromC, winC, rateC, coarse, COARSE_GATE) > 0 ? yin(x, from, win, rateHz, fine, YIN_THRESHOLD) : 0;
    } else {
      hz = yin(xc, fromC, winC, rateC, coarse, YIN_THRESHOLD);
    }
    if (hz > 0) {
      voiced.push(f);
      f0.push(hz);
    }
  }
  voiced.reverse();
  f0.reverse();
  // An octave error (on a telephone band the fundamental is gone; noise fools the tracker) is not a pitch movement:
  // frames further than OCTAVE_GUARD from the stretch's median are dropped.
  const mid = f0.length ? median(f0) : 0;
  let kept = 0;
  for (let i = 0; i < f0.length; i++) {
    const r = f0[i]! / mid;
    if (r > OCTAVE_GUARD || r < 1 / OCTAVE_GUARD) continue;
    voiced[kept] = voiced[i]!;
    f0[kept++] = f0[i]!;
  }
  voiced.length = kept;
  f0.length = kept;
  if (voiced.length < MIN_VOICED_FRAMES) return { ...NO_VERDICT, voicedFrames: voiced.length, snrDb };
  const lastVoiced = voiced[voiced.length - 1]!;
  const tailFrom = lastVoiced - Math.round(TAIL_MS / FRAME_MS) + 1;
  let tailDb = 0;
  let n = 0;
  // Least squares of semitones against time over the tail.
  let st0 = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < voiced.length; i++) {
    const f = voiced[i]!;
    if (f < tailFrom) continue;
    const t = (f * FRAME_MS) / 1000;
    const st = 12 * Math.log2(f0[i]!);
    if (n === 0) st0 = st;
    tailDb += db[f]!;
    sx += t;
    sy += st - st0;
    sxx += t * t;
    sxy += t * (st - st0);
    n++;
  }
  const dropDb = peakDb - tailDb / n;
  const den = n * sxx - sx * sx;
  const slopeStPerS = n > 2 && den > 0 ? (n * sxy - sx * sy) / den : 0;
  const endSt = 12 * Math.log2(median(f0.slice(-3)) / median(f0));
  const unfinished = judge(dropDb, endSt, th);
  return { unfinished, voicedFrames: voiced.length, dropDb, endSt, slopeStPerS, snrDb };
}
