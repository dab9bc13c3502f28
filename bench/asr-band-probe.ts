/**
 * `node dist/bench/asr-band-probe.js`: what the band-fill detector (`src/asr/band-fill.ts`) sees on every kind of
 * input a 16 kHz leg can carry, and what `auto` decides. Sources: every 16 kHz recording in pocketsphinx-testdata
 * (wideband), Flite's four 16 kHz voices on the loopback test's sentences and IVR answers (the synthetic speech the
 * old measure took for band-limited), white noise; each as is, band-passed to 300–3400 Hz at 16 kHz, and band-passed
 * then carried through an 8 kHz line (16 → 8 → 16 kHz). Per row, over the first decision's loud frames: the highest and
 * the median share of a frame's energy above 5 and 6 kHz, the highest high band against the mean loud-frame energy;
 * the old energy-weighted measure (above 5 kHz, first 15 loud frames: `old15`); the decision `BandFill('auto')` takes
 * (first/last). Then the worst case per group. Deterministic; no recogniser runs.
 *
 *   node dist/bench/asr-band-probe.js [--first=N loud frames] [--evidence=DB: when frames pass a 6 kHz share of DB]
 */
import { readFileSync, readdirSync } from 'node:fs';
import { bandLimitToTelephone, Biquad, BiquadChain, butterworthQs } from '../src/audio/band.js';
import { loadResampler } from '../src/audio/resampler.js';
import { readWavFile } from '../src/audio/wav.js';
import { BandFill, FIRST_DECISION_FRAMES } from '../src/asr/band-fill.js';
import { resamplePcm } from '../src/sim/simulator.js';
import { TESTDATA } from './asr-corpus.js';
import { withFlite } from './asr-flite.js';

const LOUD_RMS = 328;
/** The old measure's first decision (15 loud frames, energy-weighted share above 5 kHz). */
const OLD_FIRST = 15;

interface Source {
  name: string;
  kind: 'recorded' | 'flite' | 'noise';
  samples: Int16Array;
}

function raw16(path: string): Int16Array {
  const b = readFileSync(path);
  return new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

function recordings(): Source[] {
  const out: Source[] = [];
  for (const f of ['goforward.raw', 'numbers.raw', 'something.raw', 'tidigits/dhd.2934z.raw'])
    out.push({ name: f.replace(/^.*\//, '').replace('.raw', ''), kind: 'recorded', samples: raw16(`${TESTDATA}/${f}`) });
  for (const dir of ['cards', 'librivox'])
    for (const f of readdirSync(`${TESTDATA}/${dir}`)
      .filter((x) => x.endsWith('.wav'))
      .sort()) {
      const w = readWavFile(`${TESTDATA}/${dir}/${f}`);
      if (w.sampleRateHz !== 16000) throw new Error(`${f}: ${w.sampleRateHz} Hz`);
      out.push({ name: `${dir}/${f.replace('.wav', '').replace('sense_and_sensibility_01_austen_64kb-', '')}`, kind: 'recorded', samples: w.samples });
    }
  return out;
}

const SENTENCES = [
  'the weather is nice today',
  'i would like to speak to an agent',
  'my account number is four five six',
  'can you tell me the opening hours',
  'i want to pay my bill',
  'say something and i will repeat it',
  'sales',
  'operator',
  'two',
];

async function flite(): Promise<Source[]> {
  const out: Source[] = [];
  await withFlite(async (say) => {
    for (const voice of ['slt', 'kal16', 'awb', 'rms'])
      for (const text of SENTENCES) {
        const { samples, sampleRateHz } = await say(text, voice);
        out.push({ name: `${voice}: ${text}`, kind: 'flite', samples: resamplePcm(samples, sampleRateHz, 16000) });
      }
  });
  return out;
}

function noise(dbfs: number, seconds: number): Int16Array {
  let s = 12345;
  const g = 32768 * 10 ** (dbfs / 20) * Math.sqrt(3);
  return Int16Array.from({ length: 16000 * seconds }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return Math.round((g * (s | 0)) / 2147483648);
  });
}

/** Per loud 20 ms frame: shares of energy above 5 and 6 kHz, and the high bands against the mean loud-frame energy so far. */
interface Frames {
  s5: number[];
  s6: number[];
  r5: number[];
  r6: number[];
  oldFirstDb: number;
}
function frameShares(x: Int16Array): Frames {
  const f5 = new BiquadChain(butterworthQs(8).map((q) => Biquad.highPass(16000, 5000, q)));
  const f6 = new BiquadChain(butterworthQs(8).map((q) => Biquad.highPass(16000, 6000, q)));
  const out: Frames = { s5: [], s6: [], r5: [], r6: [], oldFirstDb: Number.NaN };
  const db = (r: number) => 10 * Math.log10(Math.max(r, 1e-12));
  let hi = 0;
  let tot = 0;
  let sum = 0;
  for (let i = 0; i + 320 <= x.length; i += 320) {
    let t = 0;
    let h5 = 0;
    let h6 = 0;
    for (let j = i; j < i + 320; j++) {
      const v = x[j]!;
      t += v * v;
      const y = f5.step(v);
      h5 += y * y;
      const z = f6.step(v);
      h6 += z * z;
    }
    if (t < LOUD_RMS * LOUD_RMS * 320) continue;
    sum += t;
    const n = out.s5.length + 1;
    out.s5.push(db(h5 / t));
    out.s6.push(db(h6 / t));
    out.r5.push(db(h5 / (sum / n)));
    out.r6.push(db(h6 / (sum / n)));
    if (n <= OLD_FIRST) {
      hi += h5;
      tot += t;
    }
  }
  out.oldFirstDb = tot ? db(hi / tot) : Number.NaN;
  return out;
}

function decide(x: Int16Array): { first: string; last: string; decisions: number } {
  const fill = new BandFill('auto', 16000);
  let first = '';
  for (let i = 0; i + 320 <= x.length; i += 320) {
    fill.condition(Buffer.from(x.buffer, x.byteOffset + i * 2, 640)); // x is a copy: the fill works in place
    if (!first && fill.decisions > 0) first = fill.active ? 'FILL' : 'wide';
  }
  fill.flush();
  return { first: first || '-', last: fill.decisions ? (fill.active ? 'FILL' : 'wide') : '-', decisions: fill.decisions };
}

/** A 16 kHz source as a 16 kHz leg carries it: as is, band-passed, or band-passed through an 8 kHz line. */
function asWay(x: Int16Array, way: 'wide' | 'tel16' | 'tel8'): Int16Array {
  if (way === 'wide') return x;
  const band = bandLimitToTelephone(x, 16000);
  return way === 'tel16' ? band : resamplePcm(resamplePcm(band, 16000, 8000), 8000, 16000);
}

const pct = (a: number[], p: number) => {
  if (!a.length) return Number.NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const f1 = (n: number) => (Number.isNaN(n) ? '  –  ' : n.toFixed(1).padStart(6));

async function main(): Promise<void> {
  await loadResampler();
  const sources = [
    ...recordings(),
    ...(await flite()),
    { name: 'white −30 dBFS', kind: 'noise' as const, samples: noise(-30, 2) },
    { name: 'white −45 dBFS', kind: 'noise' as const, samples: noise(-45, 2) },
  ];
  const n = Number(process.argv.find((a) => a.startsWith('--first='))?.slice(8) ?? FIRST_DECISION_FRAMES);
  console.log(
    `features over the first ${n} loud frames: max and median of the share above 5 / 6 kHz, max of the high band against the mean loud-frame energy so far (5 / 6 kHz)`,
  );
  console.log('way       kind      source                                     loud  mx5    mx6    md5    md6    rl5    rl6   old15  decision');
  const worst = new Map<string, number[]>();
  for (const way of ['wide', 'tel16', 'tel8'] as const)
    for (const s of sources) {
      const x = asWay(s.samples, way);
      const copy = Int16Array.from(x); // the fill works in place
      const fr = frameShares(x);
      const cut = (a: number[]) => a.slice(0, n);
      const feats = [
        Math.max(...cut(fr.s5)),
        Math.max(...cut(fr.s6)),
        pct(cut(fr.s5), 0.5),
        pct(cut(fr.s6), 0.5),
        Math.max(...cut(fr.r5)),
        Math.max(...cut(fr.r6)),
      ];
      const d = decide(copy);
      if (fr.s5.length >= 5) {
        const key = `${way} ${s.kind}`;
        const w = worst.get(key) ?? feats.map(() => (way === 'wide' ? Infinity : -Infinity));
        worst.set(
          key,
          w.map((v, i) => (way === 'wide' ? Math.min(v, feats[i]!) : Math.max(v, feats[i]!))),
        );
      }
      console.log(
        `${way.padEnd(9)} ${s.kind.padEnd(9)} ${s.name.slice(0, 42).padEnd(42)} ${String(fr.s5.length).padStart(4)} ${feats.map(f1).join(' ')} ${f1(fr.oldFirstDb)}  ${d.first}/${d.last} (${d.decisions})`,
      );
    }
  const ev = Number(process.argv.find((a) => a.startsWith('--evidence='))?.slice(11) ?? Number.NaN);
  if (!Number.isNaN(ev)) {
    console.log(`\nframes with a share above 6 kHz over ${ev} dB: loud frames, index of the 1st and 2nd (loud frames before it), how many`);
    for (const way of ['wide', 'tel16', 'tel8'] as const)
      for (const s of sources) {
        const x = asWay(s.samples, way);
        const fr = frameShares(x);
        const idx = fr.s6.flatMap((v, i) => (v > ev ? [i] : []));
        console.log(
          `${way.padEnd(6)} ${s.kind.padEnd(9)} ${s.name.slice(0, 42).padEnd(42)} ${String(fr.s6.length).padStart(4)} ${String(idx[0] ?? '-').padStart(4)} ${String(idx[1] ?? '-').padStart(4)} ${String(idx.length).padStart(4)}`,
        );
      }
  }
  console.log('\nworst case per group (wide: lowest; tel: highest), same columns');
  for (const [k, w] of worst) console.log(`${k.padEnd(20)} ${w.map(f1).join(' ')}`);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
