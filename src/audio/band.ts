/**
 * Biquad filters (RBJ audio-EQ cookbook, Butterworth sections) and the telephone band: what a PSTN caller's audio
 * sounds like once the network has band-limited it to about 300–3400 Hz. Used offline (benchmarks, evaluations, tests
 * that need a "real phone line" version of a wideband recording) and, one section at a time, by the local ASR's band
 * fill (`src/asr/band-fill.ts`), which needs a cheap streaming high-pass.
 */

/** Q of each 2nd-order section of an order-`order` Butterworth filter (order even). */
export function butterworthQs(order: number): number[] {
  const qs: number[] = [];
  for (let k = 0; k < order / 2; k++) qs.push(1 / (2 * Math.cos(((2 * k + 1) * Math.PI) / (2 * order))));
  return qs;
}

/**
 * One 2nd-order IIR section (transposed direct form II), streaming: its two state values carry across calls, so
 * 20 ms pieces filter exactly as one long buffer. No allocation after construction.
 */
export class Biquad {
  private b0 = 1;
  private b1 = 0;
  private b2 = 0;
  private a1 = 0;
  private a2 = 0;
  private z1 = 0;
  private z2 = 0;

  private constructor() {}

  /** A low-pass at `cutoffHz` (−3 dB for Q = 1/√2). */
  static lowPass(sampleRateHz: number, cutoffHz: number, q = Math.SQRT1_2): Biquad {
    const f = new Biquad();
    const w = (2 * Math.PI * cutoffHz) / sampleRateHz;
    const cos = Math.cos(w);
    const alpha = Math.sin(w) / (2 * q);
    f.set((1 - cos) / 2, 1 - cos, (1 - cos) / 2, 1 + alpha, -2 * cos, 1 - alpha);
    return f;
  }

  /** A high-pass at `cutoffHz`. */
  static highPass(sampleRateHz: number, cutoffHz: number, q = Math.SQRT1_2): Biquad {
    const f = new Biquad();
    const w = (2 * Math.PI * cutoffHz) / sampleRateHz;
    const cos = Math.cos(w);
    const alpha = Math.sin(w) / (2 * q);
    f.set((1 + cos) / 2, -(1 + cos), (1 + cos) / 2, 1 + alpha, -2 * cos, 1 - alpha);
    return f;
  }

  private set(b0: number, b1: number, b2: number, a0: number, a1: number, a2: number): void {
    this.b0 = b0 / a0;
    this.b1 = b1 / a0;
    this.b2 = b2 / a0;
    this.a1 = a1 / a0;
    this.a2 = a2 / a0;
  }

  /** Filter one sample. */
  step(x: number): number {
    const y = this.b0 * x + this.z1;
    this.z1 = this.b1 * x - this.a1 * y + this.z2;
    this.z2 = this.b2 * x - this.a2 * y;
    return y;
  }

  /** Forget the past (state to zero). */
  reset(): void {
    this.z1 = 0;
    this.z2 = 0;
  }
}

/** A cascade of biquads applied in order. */
export class BiquadChain {
  constructor(private readonly sections: readonly Biquad[]) {}

  step(x: number): number {
    let y = x;
    for (let i = 0; i < this.sections.length; i++) y = this.sections[i]!.step(y);
    return y;
  }
}

/** Lower and upper edges of the telephone band (ITU-T G.712 voice channel, what PSTN callers send). */
export const TELEPHONE_BAND_LOW_HZ = 300;
export const TELEPHONE_BAND_HIGH_HZ = 3400;

/**
 * The telephone band-pass: 4th-order Butterworth high-pass at 300 Hz, 8th-order Butterworth low-pass at 3400 Hz
 * (−3 dB at the edges; about −21 dB at 4 kHz and −45 dB at 5 kHz, like a codec's anti-alias filter).
 */
export function telephoneBandFilter(sampleRateHz: number): BiquadChain {
  const hp = butterworthQs(4).map((q) => Biquad.highPass(sampleRateHz, TELEPHONE_BAND_LOW_HZ, q));
  const lpCutoff = Math.min(TELEPHONE_BAND_HIGH_HZ, sampleRateHz * 0.45);
  const lp = butterworthQs(8).map((q) => Biquad.lowPass(sampleRateHz, lpCutoff, q));
  return new BiquadChain([...hp, ...lp]);
}

/**
 * A recording as a phone line delivers it: band-passed to 300–3400 Hz at its own rate (returns a new array; the
 * input is not changed). Offline use: a whole recording at once.
 */
export function bandLimitToTelephone(samples: Int16Array, sampleRateHz: number): Int16Array {
  const f = telephoneBandFilter(sampleRateHz);
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const y = Math.round(f.step(samples[i]!));
    out[i] = y > 32767 ? 32767 : y < -32768 ? -32768 : y;
  }
  return out;
}
