/**
 * Line impairments for the call evals, each a small stateful stage the caller runs per 20 ms frame (float samples in
 * int16 units): telephone band-limit, white noise at an SNR, line echo of what the caller hears, and network jitter
 * (frames held and released together). Randomness comes from a seeded PRNG so every run is reproducible.
 */

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
export class Rng {
  private s: number;
  private spare: number | undefined;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal (Box–Muller, the pair's second value kept for the next call). */
  gauss(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const u = Math.max(1e-12, this.next());
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }
}

/** One RBJ-cookbook biquad section (direct form I), state kept between frames. */
export class Biquad {
  private x1 = 0;
  private x2 = 0;
  private y1 = 0;
  private y2 = 0;
  private constructor(
    private readonly b0: number,
    private readonly b1: number,
    private readonly b2: number,
    private readonly a1: number,
    private readonly a2: number,
  ) {}

  static lowpass(rateHz: number, cutoffHz: number, q: number): Biquad {
    const w = (2 * Math.PI * cutoffHz) / rateHz;
    const alpha = Math.sin(w) / (2 * q);
    const c = Math.cos(w);
    const a0 = 1 + alpha;
    return new Biquad((1 - c) / 2 / a0, (1 - c) / a0, (1 - c) / 2 / a0, (-2 * c) / a0, (1 - alpha) / a0);
  }

  static highpass(rateHz: number, cutoffHz: number, q: number): Biquad {
    const w = (2 * Math.PI * cutoffHz) / rateHz;
    const alpha = Math.sin(w) / (2 * q);
    const c = Math.cos(w);
    const a0 = 1 + alpha;
    return new Biquad((1 + c) / 2 / a0, -(1 + c) / a0, (1 + c) / 2 / a0, (-2 * c) / a0, (1 - alpha) / a0);
  }

  process(buf: Float32Array): void {
    for (let i = 0; i < buf.length; i++) {
      const x = buf[i]!;
      const y = this.b0 * x + this.b1 * this.x1 + this.b2 * this.x2 - this.a1 * this.y1 - this.a2 * this.y2;
      this.x2 = this.x1;
      this.x1 = x;
      this.y2 = this.y1;
      this.y1 = y;
      buf[i] = y;
    }
  }
}

/** Butterworth section Qs: order 4 (two sections) and order 8 (four). */
const BUTTER4 = [0.5412, 1.3066];
const BUTTER8 = [0.5098, 0.6013, 0.9, 2.5629];

/**
 * The telephone band, 300–3400 Hz, as a PSTN line (G.712) passes it: a 4th-order Butterworth high-pass at 300 Hz and
 * an 8th-order low-pass at 3400 Hz (steeper, because wideband speech has a lot of energy just above the band).
 */
export class TelephoneBand {
  private readonly sections: Biquad[];
  constructor(rateHz: number) {
    this.sections = [
      ...BUTTER4.map((q) => Biquad.highpass(rateHz, 300, q)),
      ...(rateHz > 7000 ? BUTTER8.map((q) => Biquad.lowpass(rateHz, Math.min(3400, rateHz * 0.45), q)) : []),
    ];
  }
  process(buf: Float32Array): void {
    for (const s of this.sections) s.process(buf);
  }
}

/** Mean power (int16 units²) of the frames of `pcm` louder than −50 dBFS: the level of speech, not of its gaps. */
export function activePower(pcm: Int16Array, rateHz: number): number {
  const n = rateHz / 50;
  const floor = (32768 * 10 ** (-50 / 20)) ** 2;
  let acc = 0;
  let count = 0;
  for (let off = 0; off + n <= pcm.length; off += n) {
    let p = 0;
    for (let i = off; i < off + n; i++) p += pcm[i]! * pcm[i]!;
    p /= n;
    if (p > floor) {
      acc += p;
      count++;
    }
  }
  return count ? acc / count : 0;
}

/** White Gaussian noise at a fixed RMS, added to each frame. */
export class LineNoise {
  private readonly rng: Rng;
  constructor(
    readonly rms: number,
    seed = 1,
  ) {
    this.rng = new Rng(seed);
  }
  /** The noise RMS for `snrDb` against speech of mean power `speechPower` (int16 units²). */
  static rmsForSnr(speechPower: number, snrDb: number): number {
    return Math.sqrt(speechPower / 10 ** (snrDb / 10));
  }
  process(buf: Float32Array): void {
    for (let i = 0; i < buf.length; i++) buf[i]! += this.rms * this.rng.gauss();
  }
}

/**
 * Line echo: every heard sample comes back `delayMs` later, `attenuationDb` down, into what the caller sends (a hybrid
 * on a PSTN line does this). A ring of heard samples, written once per 20 ms slot with what the playout played.
 */
export class EchoLine {
  private readonly ring: Float32Array;
  private readonly delaySamples: number;
  private readonly gain: number;
  private w = 0;
  constructor(rateHz: number, delayMs: number, attenuationDb: number) {
    this.delaySamples = Math.round((delayMs * rateHz) / 1000);
    this.ring = new Float32Array(this.delaySamples + rateHz / 50 + 1);
    this.gain = 10 ** (-attenuationDb / 20);
  }
  /** Remember `heard` (the slot just played), then add the echo due now to `out` (the same slot, same length). */
  process(out: Float32Array, heard: Int16Array): void {
    const len = this.ring.length;
    // Write first: with a delay shorter than a frame, part of the echo is this very slot.
    for (let i = 0; i < heard.length; i++) this.ring[(this.w + i) % len] = heard[i]!;
    for (let i = 0; i < out.length; i++) out[i]! += this.gain * this.ring[(this.w + i - this.delaySamples + len) % len]!;
    this.w = (this.w + heard.length) % len;
  }
}

/**
 * Network jitter between the caller and the gateway: frames produced every 20 ms go out when the model lets them.
 * `bursts`: every burstEveryMs the line stalls for holdMs, then everything held goes at once. `random`: each frame is
 * late by a uniform 0..maxMs, order kept (TCP: a late frame holds the ones behind it).
 */
export class JitterLine {
  private readonly held: Array<{ dueMs: number; frame: Buffer }> = [];
  private readonly rng: Rng | undefined;
  private lastDueMs = 0;
  /** Frames that were held at least one slot. */
  heldFrames = 0;
  constructor(private readonly spec: { type: 'bursts'; burstEveryMs: number; holdMs: number } | { type: 'random'; maxMs: number; seed?: number }) {
    this.rng = spec.type === 'random' ? new Rng(spec.seed ?? 7) : undefined;
  }

  /** The frame produced at `nowMs`; returns the frames to send now, in order (maybe none, maybe several). */
  push(frame: Buffer, nowMs: number): Buffer[] {
    let due = nowMs;
    if (this.spec.type === 'bursts') {
      const phase = nowMs % this.spec.burstEveryMs;
      const start = this.spec.burstEveryMs - this.spec.holdMs;
      if (phase >= start) due = nowMs - phase + this.spec.burstEveryMs;
    } else {
      due = Math.max(this.lastDueMs, nowMs + Math.floor((this.rng as Rng).next() * (this.spec.maxMs + 1)));
    }
    this.lastDueMs = due;
    if (due > nowMs) this.heldFrames++;
    this.held.push({ dueMs: due, frame });
    const out: Buffer[] = [];
    while (this.held.length && this.held[0]!.dueMs <= nowMs) out.push((this.held.shift() as { frame: Buffer }).frame);
    return out;
  }
}

/** A cough: noise shaped like one (low-passed, 5 ms attack, exponential decay), peak at `levelDbfs`. Deterministic. */
export function coughSound(rateHz: number, durationMs = 350, levelDbfs = -10, seed = 11): Int16Array {
  const n = Math.round((durationMs * rateHz) / 1000);
  const rng = new Rng(seed);
  const buf = new Float32Array(n);
  for (let i = 0; i < n; i++) buf[i] = rng.gauss();
  // A cough's energy sits mostly between ~200 Hz and ~2 kHz.
  for (const f of [Biquad.highpass(rateHz, 200, 0.707), Biquad.lowpass(rateHz, Math.min(2000, rateHz * 0.45), 0.707)]) f.process(buf);
  const attack = Math.max(1, Math.round(0.005 * rateHz));
  const tau = n / 4;
  let peak = 0;
  for (let i = 0; i < n; i++) {
    buf[i]! *= i < attack ? i / attack : Math.exp(-(i - attack) / tau);
    peak = Math.max(peak, Math.abs(buf[i]!));
  }
  const scale = (32767 * 10 ** (levelDbfs / 20)) / Math.max(1e-9, peak);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(buf[i]! * scale);
  return out;
}
