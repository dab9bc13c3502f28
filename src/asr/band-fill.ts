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
 * - `auto` (the default): an 8 kHz leg is telephone band by construction (nothing above 4 kHz can exist after
 *   upsampling), so it is filled from the first frame. A 16 or 24 kHz leg may carry either, so it is measured, on loud
 *   frames only (speech, not the line's silence), frame by frame: a frame with a real share of its energy above
 *   {@link DETECT_SPLIT_HZ} ({@link WIDE_FRAME_DB}: a fricative) is evidence of wideband audio, which no phone line
 *   carries. One such frame makes the call wideband at once, for good; {@link FIRST_DECISION_FRAMES} loud frames
 *   without one, or a shorter utterance's end, make it band-limited (until {@link SWITCH_BACK_FRAMES} evidence frames
 *   come). The measure is taken on the input, before any fill, so the fill cannot fool it. Until the first decision
 *   the audio is held (bounded, {@link HOLD_CHUNKS}) so the first utterance is conditioned one way from its start;
 *   pocketsphinx decodes faster than real time, so the hold delays the first answer little. Audio judged
 *   band-limited in a 16/24 kHz leg is passed through the 8 kHz leg's path by the adapter first (`narrow`, `NARROW`
 *   in pocketsphinx.ts), so both legs hand the engine the same thing.
 *
 * Hot path: `condition` runs once per 20 ms chunk and allocates nothing after the first decision (filter state and a
 * xorshift32 generator; a band-limited 16/24 kHz leg's `narrow` allocates as the adapter's own resampling does). `npm run bench:asr` reports its cost per chunk against the adapter's own 8→16 kHz resampling
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
/**
 * The noise is high-passed here: it must not mask speech, only fill what a phone line left empty. Tried (2026-12-04,
 * `node dist/bench/asr-replay.js --set=corpus --way=telephone-8k`, 42.7 % WER with these settings): the noise from
 * 3.5 kHz instead, 44.8 %; also filling the empty band below 300 Hz (the model's filter bank starts at 130 Hz) with
 * low-passed noise at −46 / −56 / −66 dBFS, 80.2 / 64.6 / 56.3 %: the low channels are better left empty.
 */
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
 *
 * How sharp the pick is (2026-12-04, night, `node dist/bench/asr-replay.js --way=telephone-8k`, the gain scaled by
 * hand): on the bench corpus (96 words) −5 / −4 / −3 / −2 dB give 46 / 50 / **41** / 48 errors, while the held-out set
 * (178 words) gives 51 / 47 / **47** / 47 / 49 at −5 / −4 / −3 / −2 / −1 dB. The corpus's 41 is a narrow dip that
 * the held-out recordings do not share: a step of 1 dB moves it by 5–9 words, more than the 5 words between today's
 * 42.7 % and the ≤ 38 % goal at 16 kHz, so tuning further on these 96 words fits their noise. Also tried and worse on
 * the corpus: a fold gain that follows the frame (per 10 ms, raised 3–6 dB above this one where the image carries much
 * of the frame's energy, as in a fricative, lowered 3–14 dB or more below it where little, as in a vowel): 47–56
 * errors over four shapes; 41 again when only the vowels' gain was lowered (by up to 6 dB).
 */
export const FOLD_GAIN_DB = -3;
/** The fold's image is kept above this (8th order): clear of the 3.4 kHz band edge's own mirror at 4.6 kHz. */
export const FOLD_HIGH_PASS_HZ = 4400;
/**
 * The measure's split: energy above 6 kHz (8th-order high-pass). A phone line leaves nothing there: an 8 kHz leg
 * nothing above 4 kHz at all, and a telephone band-pass's own leakage (an 8th-order Butterworth at 3.4 kHz: −45 dB at
 * 5 kHz) is below −70 dB by 6 kHz, where a split at 5 kHz still caught the leakage of a loud band-passed "s"
 * (`node dist/bench/asr-band-probe.js`: a frame's share above 5 kHz up to −21 dB on band-passed recordings, as high
 * as Flite's wideband frames).
 */
export const DETECT_SPLIT_HZ = 6000;
/** A frame counts as speech for the measure above this RMS (−40 dBFS). */
const LOUD_RMS = 328;
/**
 * A loud frame with more than this share of its energy above {@link DETECT_SPLIT_HZ} (dB) is evidence of wideband
 * audio: a fricative or a burst (s, sh, f, z, t) of a wideband talker, recorded or synthetic. Per frame, not averaged
 * over the call: the old energy-weighted share over all loud frames was dominated by vowels, and Flite's vowels carry
 * little up there, so its 16 kHz speech measured "band-limited" and was filled (the loopback test's first sentence
 * became "thought"). Measured with `node dist/bench/asr-band-probe.js` (every pocketsphinx-testdata recording, Flite's
 * four 16 kHz voices on nine sentences, white noise; each as is, band-passed to 300–3400 Hz, and through an 8 kHz
 * line): the highest frame of every wideband source is −27 dB or more (Flite awb "i want to pay my bill"), of every
 * band-limited one −36 dB or less (band-passed at 16 kHz; through an 8 kHz line −44 dB or less). Set between.
 */
export const WIDE_FRAME_DB = -32;
const WIDE_FRAME_SHARE = 10 ** (WIDE_FRAME_DB / 10);
/**
 * Loud frames without wideband evidence before the first decision says "band-limited" (0.8 s of speech). One
 * evidence frame decides "wideband" at once. Most wideband sources show one within their first 25 loud frames, the
 * slowest Flite sentence in its 40th (awb, "the weather is nice today"); a read recording with little above 6 kHz
 * (librivox 0920 and 0930, MP3-sourced) only after 100–165, and is decided band-limited until then: see
 * {@link SWITCH_BACK_FRAMES}. An utterance that ends sooner (a one-word answer) is decided at its end, when the
 * gateway's VAD hears it end ({@link BandFill.flush}).
 */
export const FIRST_DECISION_FRAMES = 40;
/** A shorter first utterance is decided at its end only with at least this many loud frames (0.1 s of speech). */
export const MIN_DECISION_FRAMES = 5;
/**
 * Evidence frames after a "band-limited" decision that make the call wideband (for good: a leg's band does not change
 * during a call, so a call switches at most once and never flaps).
 */
export const SWITCH_BACK_FRAMES = 2;
/**
 * Chunks held (auto mode, 16/24 kHz legs) until the first decision, so a whole first utterance is conditioned one
 * way: a switch in the middle of a word costs the recogniser that word. Past this the oldest goes on unconditioned
 * (it is the line's silence before the caller spoke). 150 chunks = 3 s, 96 KB.
 */
export const HOLD_CHUNKS = 150;

/** Options of a {@link BandFill}. */
export interface BandFillOptions {
  /** PRNG seed (fixed by default: the same audio always gets the same fill, so results repeat). */
  seed?: number;
  /** Add the folded speech ({@link FOLD_GAIN_DB}); off under a grammar (see there). Default on. */
  fold?: boolean;
  /**
   * Applied to audio judged band-limited before it is filled (16/24 kHz legs): the adapter passes it through the
   * 8 kHz leg's path (see `NARROW` in pocketsphinx.ts). Returns the audio to fill (a new buffer, or the same one).
   */
  narrow?: (pcm: Buffer) => Buffer;
}

/**
 * Per-call state of the fill: one per recogniser stream. Feed it 16 kHz PCM with {@link BandFill.condition}; pass on
 * what it returns.
 */
export class BandFill {
  /** Filling now (changes only at a decision in `auto`). */
  active: boolean;
  /** Decisions taken so far (auto mode), for tests and the bench. */
  decisions = 0;
  /** The highest per-frame high-band share (dB) heard up to the last decision (NaN before the first). */
  lastHighBandDb = Number.NaN;
  private measuring: boolean;
  private readonly noiseFilter: BiquadChain;
  private readonly detectFilter: BiquadChain;
  private readonly noiseGain: number;
  private readonly foldFilter: BiquadChain;
  private readonly foldGain: number;
  /** (−1)ⁿ of the next sample, carried across chunks so the fold is continuous. */
  private foldSign = -1;
  private seed: number;
  private loudFrames = 0;
  /** Loud frames with wideband evidence since the last decision. */
  private wideFrames = 0;
  /** The highest per-frame high-band share (ratio) so far. */
  private maxHigh = 0;
  /** Held chunks before the first decision (a ring); undefined once decided or when not measuring. */
  private held: Buffer[] | undefined;
  private heldStart = 0;
  private heldCount = 0;

  private readonly narrow: ((pcm: Buffer) => Buffer) | undefined;

  /**
   * @param mode `ASR_BAND_FILL`.
   * @param legRateHz the call's rate as Vonage sends it (8000 ⇒ telephone band by construction).
   */
  constructor(mode: BandFillMode, legRateHz: number, opts: BandFillOptions = {}) {
    const { seed = 0x9e3779b9, fold = true } = opts;
    this.narrow = opts.narrow;
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
   * to pass on now: usually the chunk itself (a new buffer when `narrow` ran); `undefined` while it is held for the first decision (or the oldest held
   * chunk, unconditioned, when the hold is full); at the first decision, everything held in one new buffer.
   */
  condition(chunk: Buffer): Buffer | undefined {
    if (this.measuring) this.measure(chunk);
    const held = this.held;
    if (!held) return this.active ? this.filled(chunk) : chunk;
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

  /**
   * The utterance ended (the gateway's VAD) or the call did, before a decision: decide on what was heard (no
   * wideband evidence in at least {@link MIN_DECISION_FRAMES} loud frames: band-limited), and hand on what is held,
   * conditioned that way; undefined when nothing is held. Later audio is then conditioned as decided, at once.
   */
  flush(): Buffer | undefined {
    if (this.held && this.decisions === 0 && this.loudFrames >= MIN_DECISION_FRAMES) this.decide(false);
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
    return this.active ? this.filled(all) : all;
  }

  /** Band-limited audio as the recogniser gets it: narrowed (when the adapter asks) and filled. */
  private filled(pcm: Buffer): Buffer {
    const out = this.narrow ? this.narrow(pcm) : pcm;
    this.fill(out);
    return out;
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

  /**
   * Band-limited or not, from loud chunks only; taken on the input, before any fill. Asymmetric, because the evidence
   * is: wideband audio shows itself (a fricative frame), band-limited audio only by its absence.
   */
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
    this.loudFrames++;
    if (high > this.maxHigh * total) this.maxHigh = high / total;
    if (high > total * WIDE_FRAME_SHARE) this.wideFrames++;
    if (this.decisions === 0) {
      if (this.wideFrames > 0) this.decide(true);
      else if (this.loudFrames >= FIRST_DECISION_FRAMES) this.decide(false);
    } else if (this.active && this.wideFrames >= SWITCH_BACK_FRAMES) this.decide(true);
  }

  private decide(wideband: boolean): void {
    this.active = !wideband;
    this.decisions++;
    this.lastHighBandDb = 10 * Math.log10(Math.max(this.maxHigh, 1e-12));
    this.wideFrames = 0;
    // Once wideband, for good: nothing left to measure (and the per-chunk cost of measuring goes away).
    if (wideband) this.measuring = false;
  }
}
