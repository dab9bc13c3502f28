/** Audio for the echo-guard tests: recorded speech at a leg rate, and a phone line's echo of it (delay, loss, band). */
import { readFileSync } from 'node:fs';
import { StreamResampler } from '../../src/audio/resampler.js';
import { must } from './must.js';

const DATA = '/usr/share/pocketsphinx/test/data';

/** 16 kHz 16-bit PCM of recorded speech: goforward.raw and cards/00N.wav (header stripped). */
export function speech16k(name: 'goforward' | '001' | '002' | '003' | '004' | '005'): Int16Array {
  const buf = name === 'goforward' ? readFileSync(`${DATA}/goforward.raw`) : readFileSync(`${DATA}/cards/${name}.wav`).subarray(44);
  const out = new Int16Array(buf.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(i * 2);
  return out;
}

/** Resample 16 kHz samples to `rateHz` (needs `loadResampler()`). */
export function toRate(s: Int16Array, rateHz: number): Int16Array {
  if (rateHz === 16000) return s;
  const r = new StreamResampler(16000, rateHz);
  const out = r.process(s);
  const copy = new Int16Array(out);
  r.close();
  return copy;
}

/** RBJ biquad (high-pass or low-pass, Q = 0.707) over float samples, in place. */
function biquad(x: Float64Array, rateHz: number, fc: number, kind: 'hp' | 'lp'): void {
  const w = (2 * Math.PI * fc) / rateHz;
  const alpha = Math.sin(w) / (2 * Math.SQRT1_2);
  const c = Math.cos(w);
  const b0 = kind === 'lp' ? (1 - c) / 2 : (1 + c) / 2;
  const b1 = kind === 'lp' ? 1 - c : -(1 + c);
  const a0 = 1 + alpha;
  const a1 = -2 * c;
  const a2 = 1 - alpha;
  let x1 = 0,
    x2 = 0,
    y1 = 0,
    y2 = 0;
  for (let i = 0; i < x.length; i++) {
    const y = (b0 * must(x[i]) + b1 * x1 + b0 * x2 - a1 * y1 - a2 * y2) / a0;
    x2 = x1;
    x1 = must(x[i]);
    y2 = y1;
    y1 = y;
    x[i] = y;
  }
}

export interface EchoLine {
  delayMs: number;
  /** Echo level relative to the bot's audio, dB (negative). */
  lossDb: number;
  /** Telephone band-limit of the return path (300–3400 Hz, two poles each side, twice). */
  band?: boolean;
}

/** What a line sends back of `ref`: delayed, attenuated, optionally band-limited, as float samples. */
export function echoOf(ref: Int16Array, rateHz: number, line: EchoLine): Float64Array {
  const d = Math.round((line.delayMs * rateHz) / 1000);
  const g = 10 ** (line.lossDb / 20);
  const out = new Float64Array(ref.length + d);
  for (let i = 0; i < ref.length; i++) out[i + d] = must(ref[i]) * g;
  if (line.band) {
    for (let k = 0; k < 2; k++) {
      biquad(out, rateHz, 300, 'hp');
      if (rateHz > 8000) biquad(out, rateHz, 3400, 'lp');
    }
  }
  return out;
}

/** Sum float tracks (each placed at a sample offset) plus white noise at `noiseDbfs`, clipped to 16 bits. */
export function mix(lengthSamples: number, tracks: Array<{ at: number; s: Float64Array | Int16Array; gain?: number }>, noiseDbfs = -65, seed = 1): Int16Array {
  const out = new Int16Array(lengthSamples);
  let r = seed;
  const amp = 32768 * 10 ** (noiseDbfs / 20) * Math.sqrt(12);
  for (let i = 0; i < lengthSamples; i++) {
    r = (r * 1103515245 + 12345) & 0x7fffffff;
    let v = (r / 0x7fffffff - 0.5) * amp;
    for (const t of tracks) {
      const j = i - t.at;
      if (j >= 0 && j < t.s.length) v += must(t.s[j]) * (t.gain ?? 1);
    }
    out[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
  }
  return out;
}

/** Frame `k` (20 ms) of `s` as 16-bit LE bytes (zero-padded past the end). */
export function frameAt(s: Int16Array, rateHz: number, k: number): Buffer {
  const n = rateHz / 50;
  const f = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const j = k * n + i;
    if (j < s.length) f.writeInt16LE(must(s[j]), i * 2);
  }
  return f;
}
