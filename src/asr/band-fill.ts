/**
 * Telephone-band fill for the local ASR. pocketsphinx's en-us model was trained on wideband speech and expects energy
 * up to 6.8 kHz; a phone caller's audio (300–3400 Hz) has none above 4 kHz, and on it the model hears "hm". Filling the
 * empty band with low-level high-passed white noise (−56 dBFS) gives the model's upper filter-bank channels the
 * noise floor they were trained with, and the speech below 4 kHz is recognised again. The level matters more than
 * anything else (see {@link FILL_LEVEL_DBFS}): too loud and the noise is heard as fricatives. On top of the noise, the
 * speech itself mirrored about 4 kHz ({@link FOLD_GAIN_DB}) gives those channels something that moves with the words.
 * The engine is also started with a telephone-band cepstral mean when the fill is on at its launch (`CMN_START` in
 * pocketsphinx.ts).
 *
 * Modes (`ASR_BAND_FILL`):
 * - `on`: always fill;
 * - `off`: never;
 * - `auto`: an 8 kHz leg is telephone band by construction (nothing above 4 kHz can exist after upsampling),
 *   so it is filled from the first frame. A 16 or 24 kHz leg may carry either, so it is measured: over loud frames
 *   only (speech, not the line's silence), the share of energy above {@link DETECT_SPLIT_HZ}. The first decision comes
 *   after {@link FIRST_DECISION_FRAMES} loud frames, then again every {@link DECISION_FRAMES}, with a hysteresis (fill
 *   when below {@link FILL_BELOW_DB}, stop when above {@link STOP_ABOVE_DB}) so a call never flaps. The measure is
 *   taken on the input, before any fill, so the fill cannot fool it. Until the first decision the audio is held
 *   (bounded, {@link HOLD_CHUNKS}) so the first utterance is conditioned one way from its start; pocketsphinx decodes
 *   faster than real time, so the hold costs the first answer no more than the 0.3 s it takes to decide.
 *
 * Hot path: `condition` runs once per 20 ms chunk and allocates nothing after the first decision (filter state and a
 * xorshift32 generator). `npm run bench:asr` reports its cost per chunk against the adapter's own 8→16 kHz resampling
 * of the same chunk (per-sample readInt16LE/writeInt16LE and two filter chains, room to optimise). The fill is not meant to sound
 * like anything: wideband calls are left alone, and only the recogniser hears it.
 */
import { Biquad, BiquadChain, butterworthQs } from '../audio/band.js';

export const BAND_FILL_MODES = ['auto', 'on', 'off'] as const;
export type BandFillMode = (typeof BAND_FILL_MODES)[number];

/** The rate the fill works at: the local ASR's (pocketsphinx is fed 16 kHz). */
export const BAND_FILL_RATE_HZ = 16000;
/**
 * RMS of the added noise, dBFS. Measured with pocketsphinx-testdata (an4 + cards + librivox, speech at −14 to −28
 * dBFS), the CLI on the conditioned files: −48 (the first guess) helps little on telephone band (16 kHz: 98 → 77 %
 * WER without dither) and costs wideband speech 10 points (37.5 → 48 %); at −56 telephone band is 98 → 68 % (16 kHz)
 * and 100 → 66 % (8 kHz), and wideband speech filled by mistake is unharmed (37.5 → 36.5 %), so a wrong `auto`
 * decision costs nothing. Lower (−60 … −74) helps less again; a level relative to the speech's did no better.
 * Rechecked with the telephone cepstral-mean start (`node dist/bench/asr-replay.js`, corpus in an 8 kHz leg, before the
 * fold): −50 / −56 / −62 dBFS → 61.5 / 58.3 / 64.6 % WER. (With the fold a wideband call filled by mistake also gets
 * its own 1.2–3.4 kHz mirrored onto its real upper band: `auto` fills only what measures band-limited.)
 */
export const FILL_LEVEL_DBFS = -56;
/** The noise is high-passed here: it must not mask speech, only fill what a phone line left empty. */
export const FILL_HIGH_PASS_HZ = 4000;
/**
 * Spectral folding, the oldest artificial bandwidth extension: the band-limited speech mirrored about 4 kHz
 * (f → 8000 − f, by multiplying the 16 kHz samples by (−1)ⁿ) and high-passed at {@link FOLD_HIGH_PASS_HZ} is added at
 * {@link FOLD_GAIN_DB}. The image of 1.2–3.4 kHz (where fricatives and the upper formants are) lands at 4.6–6.8 kHz,
 * the model's upper filter-bank channels, so they move with the speech as they did in training instead of sitting at
 * the noise floor; the image of the vowels' low formants lands above the model's 6.8 kHz and is ignored. Measured
 * with `node dist/bench/asr-replay.js` on the bench corpus (an4 + cards + librivox, telephone band in an 8 kHz leg,
 * with the telephone cepstral-mean start): WER 58.3 % without the fold; with it at −14 / −6 / −3 / 0 dB: 62.5 / 52.1
 * / 46.9 / 49.0 %. (The gain was picked on the corpus the bench reports: four levels tried.) Not under a grammar
 * (`ASR_GRAMMAR`, `ASR_KEYPHRASES`): there it turned the IVR example's off-menu sentence ("the weather is nice today",
 * telephone band, 8 kHz leg) into the menu word "help" (a choice instead of a re-prompt), and menu answers were no
 * better (replay: 30 of 32 right with it, 31 without).
 */
export const FOLD_GAIN_DB = -3;
/** The fold's image is kept above this (8th order): clear of the 3.4 kHz band edge's own mirror at 4.6 kHz. */
export const FOLD_HIGH_PASS_HZ = 4400;
/**
 * The measure's split: energy above 5 kHz (8th-order high-pass), well clear of the telephone band's 3.4 kHz edge, so
 * the edge's roll-off does not leak into it.
 */
export const DETECT_SPLIT_HZ = 5000;
/** A frame counts as speech for the measure above this RMS (−40 dBFS). */
const LOUD_RMS = 328;
/** Loud 20 ms frames before the first decision (0.3 s of speech). */
export const FIRST_DECISION_FRAMES = 15;
/** Loud frames per later decision (1 s of speech). */
export const DECISION_FRAMES = 50;
/**
 * High-band share (dB) below which a call is band-limited. Measured on pocketsphinx-testdata: wideband recordings
 * −4 to −45 dB (most above −30; librivox's MP3-sourced reading dips to −48 for a second), the same band-passed to
 * 300–3400 Hz −36 to −72 dB (cards/004, loud, −36), through an 8 kHz leg −44 to −79. Set where every band-passed
 * recording is filled: at {@link FILL_LEVEL_DBFS} a wideband call filled by mistake loses nothing, a telephone call
 * left unfilled loses most of its words.
 */
export const FILL_BELOW_DB = -34;
/** High-band share (dB) above which a filled call is treated as wideband again (hysteresis: never flaps). */
export const STOP_ABOVE_DB = -24;
/**
 * Chunks held (auto mode, 16/24 kHz legs) until the first decision, so a whole first utterance is conditioned one
 * way: a switch in the middle of a word costs the recogniser that word. Past this the oldest goes on unconditioned
 * (it is the line's silence before the caller spoke). 75 chunks ≈ 1.5 s.
 */
export const HOLD_CHUNKS = 75;

/**
 * Per-call state of the fill: one per recogniser stream. Feed it 16 kHz PCM with {@link BandFill.condition}; pass on
 * what it returns.
 */
export class BandFill {
  /** Filling now (changes only at a decision in `auto`). */
  active: boolean;
  /** Decisions taken so far (auto mode), for tests and the bench. */
  decisions = 0;
  /** The last measured high-band share, dB (NaN before the first decision). */
  lastHighBandDb = Number.NaN;
  private readonly measuring: boolean;
  private readonly noiseFilter: BiquadChain;
  private readonly detectFilter: BiquadChain;
  private readonly noiseGain: number;
  private readonly foldFilter: BiquadChain;
  private readonly foldGain: number;
  /** (−1)ⁿ of the next sample, carried across chunks so the fold is continuous. */
  private foldSign = -1;
  private seed: number;
  private loudFrames = 0;
  private highEnergy = 0;
  private totalEnergy = 0;
  /** Held chunks before the first decision (a ring); undefined once decided or when not measuring. */
  private held: Buffer[] | undefined;
  private heldStart = 0;
  private heldCount = 0;

  /**
   * @param mode `ASR_BAND_FILL`.
   * @param legRateHz the call's rate as Vonage sends it (8000 ⇒ telephone band by construction).
   * @param seed PRNG seed (fixed by default: the same audio always gets the same fill, so results repeat).
   * @param fold add the folded speech ({@link FOLD_GAIN_DB}); off under a grammar (see there).
   */
  constructor(mode: BandFillMode, legRateHz: number, seed = 0x9e3779b9, fold = true) {
    this.measuring = mode === 'auto' && legRateHz > 8000;
    this.active = mode === 'on' || (mode === 'auto' && legRateHz <= 8000);
    if (this.measuring) this.held = new Array<Buffer>(HOLD_CHUNKS);
    this.noiseFilter = new BiquadChain(butterworthQs(4).map((q) => Biquad.highPass(BAND_FILL_RATE_HZ, FILL_HIGH_PASS_HZ, q)));
    this.foldFilter = new BiquadChain(butterworthQs(8).map((q) => Biquad.highPass(BAND_FILL_RATE_HZ, FOLD_HIGH_PASS_HZ, q)));
    this.foldGain = fold ? 10 ** (FOLD_GAIN_DB / 20) : 0;
    this.detectFilter = new BiquadChain(butterworthQs(8).map((q) => Biquad.highPass(BAND_FILL_RATE_HZ, DETECT_SPLIT_HZ, q)));
    // Uniform white noise in [-1, 1) has RMS 1/√3; a 4 kHz high-pass at 16 kHz keeps half its power (the top half of
    // the spectrum), so the gain that makes the filtered noise's RMS the target is target·√3·√2.
    this.noiseGain = 32768 * 10 ** (FILL_LEVEL_DBFS / 20) * Math.sqrt(3) * Math.SQRT2;
    this.seed = seed >>> 0 || 1;
  }

  /** Holding audio until the first decision (auto mode on a 16/24 kHz leg). */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /**
   * Condition one chunk of 16 kHz 16-bit little-endian PCM, owned by the caller and changed in place. Returns what
   * to pass on now: usually the chunk itself; `undefined` while it is held for the first decision (or the oldest held
   * chunk, unconditioned, when the hold is full); at the first decision, everything held in one new buffer.
   */
  condition(chunk: Buffer): Buffer | undefined {
    if (this.measuring) this.measure(chunk);
    const held = this.held;
    if (!held) {
      if (this.active) this.fill(chunk);
      return chunk;
    }
    if (this.decisions > 0) return this.release(chunk);
    const slot = (this.heldStart + this.heldCount) % HOLD_CHUNKS;
    if (this.heldCount < HOLD_CHUNKS) {
      held[slot] = chunk;
      this.heldCount++;
      return undefined;
    }
    const oldest = held[this.heldStart];
    held[this.heldStart] = chunk;
    this.heldStart = (this.heldStart + 1) % HOLD_CHUNKS;
    return oldest;
  }

  /** Audio still held (the call ended before a decision): conditioned as things stand, or undefined. */
  flush(): Buffer | undefined {
    if (!this.held || this.heldCount === 0) {
      this.held = undefined;
      return undefined;
    }
    return this.release(undefined);
  }

  /** The first decision came: condition what was held (and `last`) one way, hand it all on together. */
  private release(last: Buffer | undefined): Buffer {
    const held = this.held as Buffer[];
    this.held = undefined;
    const parts: Buffer[] = [];
    for (let i = 0; i < this.heldCount; i++) parts.push(held[(this.heldStart + i) % HOLD_CHUNKS]!);
    if (last) parts.push(last);
    this.heldCount = 0;
    const all = Buffer.concat(parts);
    if (this.active) this.fill(all);
    return all;
  }

  /** Add the high-band noise in place. */
  private fill(pcm: Buffer): void {
    const n = pcm.length >> 1;
    let s = this.seed;
    const g = this.noiseGain;
    const f = this.noiseFilter;
    const fold = this.foldFilter;
    const fg = this.foldGain;
    let sign = this.foldSign;
    for (let i = 0; i < n; i++) {
      // xorshift32: fast, deterministic, good enough for noise.
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const white = (s | 0) / 2147483648;
      const x = pcm.readInt16LE(i * 2);
      // The fold: x·(−1)ⁿ mirrors the spectrum about 4 kHz (f → 8000 − f), high-passed to keep only the image.
      const folded = fg === 0 ? 0 : fold.step(x * sign);
      sign = -sign;
      const y = Math.round(x + fg * folded + g * f.step(white));
      pcm.writeInt16LE(y > 32767 ? 32767 : y < -32768 ? -32768 : y, i * 2);
    }
    this.seed = s >>> 0;
    this.foldSign = sign;
  }

  /** Band-limited or not, from loud chunks only; taken on the input, before any fill. */
  private measure(pcm: Buffer): void {
    const n = pcm.length >> 1;
    let total = 0;
    let high = 0;
    const f = this.detectFilter;
    for (let i = 0; i < n; i++) {
      const x = pcm.readInt16LE(i * 2);
      total += x * x;
      const h = f.step(x);
      high += h * h;
    }
    if (n === 0 || total < LOUD_RMS * LOUD_RMS * n) return;
    this.totalEnergy += total;
    this.highEnergy += high;
    this.loudFrames++;
    if (this.loudFrames < (this.decisions === 0 ? FIRST_DECISION_FRAMES : DECISION_FRAMES)) return;
    const db = 10 * Math.log10(Math.max(this.highEnergy, 1e-9) / this.totalEnergy);
    this.lastHighBandDb = db;
    this.decisions++;
    if (!this.active && db < FILL_BELOW_DB) this.active = true;
    else if (this.active && db > STOP_ABOVE_DB) this.active = false;
    this.loudFrames = 0;
    this.highEnergy = 0;
    this.totalEnergy = 0;
  }
}
