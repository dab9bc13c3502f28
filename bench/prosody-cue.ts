/**
 * How the prosodic end-of-turn cue (`src/turn-detect/prosody.ts`) judges recorded speech: every recording of Debian's
 * pocketsphinx-testdata is cut at each of its pauses inside the speech (the speaker went on: "unfinished" is right) and
 * at its end (the speaker was done: "unfinished" is a false hold, which would cost that turn
 * `ENDPOINT_PROSODY_HOLD_MS − ENDPOINT_MIN_SILENCE_MS`), at 8 kHz and 16 kHz (resampled as the eval does).
 *
 *   node dist/bench/prosody-cue.js [--verbose] [--ab-root=DIR [--rounds=N]]
 *
 * Prints one line per cut with the cue's figures (with --verbose), then the counts. Counts, not timings: valid on a
 * loaded machine. `--ab-root=DIR` (another checkout, built) also judges every cut with that tree's cue, prints its
 * counts and the cuts where the verdicts differ, then times both over every cut, interleaved, `--rounds` times
 * (default 20): the ratio is the cost of this tree's cue against that one's, in the same run (quiet machine).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { loadResampler } from '../src/audio/resampler.js';
import { readAudioFile } from '../src/cli.js';
import { activePower, LineNoise, TelephoneBand } from '../src/eval/impairments.js';
import { withPause, TESTDATA_DIR } from '../src/eval/turn-audio.js';
import { resamplePcm } from '../src/sim/simulator.js';
import { judge, PROSODY_THRESHOLDS, prosodyCue, type ProsodyThresholds } from '../src/turn-detect/prosody.js';

export const RECORDINGS = [
  'goforward.raw',
  'numbers.raw',
  'something.raw',
  'tidigits/dhd.2934z.raw',
  'cards/001.wav',
  'cards/002.wav',
  'cards/003.wav',
  'cards/004.wav',
  'cards/005.wav',
  'librivox/sense_and_sensibility_01_austen_64kb-0870.wav',
  'librivox/sense_and_sensibility_01_austen_64kb-0880.wav',
  'librivox/sense_and_sensibility_01_austen_64kb-0890.wav',
  'librivox/sense_and_sensibility_01_austen_64kb-0920.wav',
  'librivox/sense_and_sensibility_01_austen_64kb-0930.wav',
];

/** A pause inside the speech: at least this long below the speech floor. */
const MIN_PAUSE_MS = 100;
/** Speech needed on each side of a pause for it to count as inside the speech. */
const MIN_SIDE_MS = 300;
/** Frames this far below the loudest frame are not speech. */
const FLOOR_DB = 25;
/** What the capture keeps after the last voiced frame (VAD silence minus the trim): ENDPOINT_MIN_SILENCE_MS − 300. */
const KEEP_AFTER_MS = 100;
/** What it keeps before the onset: its 200 ms pre-roll before the VAD's start, which comes after 120 ms of voice. */
const KEEP_BEFORE_MS = 80;

export interface Cut {
  file: string;
  /** Where the cut utterance ends, ms from the start of the recording. */
  atMs: number;
  /** True: the speaker went on after this point (a pause inside the speech). */
  mid: boolean;
  /** The utterance as the capture would keep it: samples [from, to) of the recording. */
  from: number;
  to: number;
}

/** The recording cut at each pause inside its speech and at its end, at `rateHz`. */
export function cutsOf(file: string, pcm: Int16Array, rateHz: number): Cut[] {
  const n = rateHz / 50;
  const frames = Math.floor(pcm.length / n);
  const db: number[] = [];
  for (let f = 0; f < frames; f++) {
    let acc = 0;
    for (let i = f * n; i < (f + 1) * n; i++) acc += pcm[i]! * pcm[i]!;
    db.push(10 * Math.log10(acc / n + 1));
  }
  const peak = Math.max(...db);
  const loud = db.map((d) => d > peak - FLOOR_DB);
  const first = loud.indexOf(true);
  const last = loud.lastIndexOf(true);
  const keep = KEEP_AFTER_MS / 20;
  const from = Math.max(0, first - KEEP_BEFORE_MS / 20) * n;
  const cuts: Cut[] = [];
  for (let f = first; f <= last; f++) {
    if (loud[f]) continue;
    let g = f;
    while (!loud[g]) g++;
    const before = loud.slice(first, f).filter(Boolean).length * 20;
    const after = loud.slice(g, last + 1).filter(Boolean).length * 20;
    // Real speech on both sides (not a click before the speech or a breath after it).
    if ((g - f) * 20 >= MIN_PAUSE_MS && before >= MIN_SIDE_MS && after >= MIN_SIDE_MS) cuts.push({ file, atMs: f * 20, mid: true, from, to: (f + keep) * n });
    f = g;
  }
  cuts.push({ file, atMs: (last + 1) * 20, mid: false, from, to: Math.min(pcm.length, (last + 1 + keep) * n) });
  return cuts;
}

/** The recording as a line would deliver it: `clean`, `band` (300–3400 Hz) or `noise` (white, 10 dB SNR). */
function impair(pcm: Int16Array, rateHz: number, line: string): Int16Array {
  if (line === 'clean') return pcm;
  const buf = Float32Array.from(pcm);
  if (line === 'band') new TelephoneBand(rateHz).process(buf);
  else new LineNoise(LineNoise.rmsForSnr(activePower(pcm, rateHz), 10), 3).process(buf);
  return Int16Array.from(buf, (v) => Math.max(-32768, Math.min(32767, Math.round(v))));
}

/** Alternative thresholds, judged on the same figures (`--rules`). */
const RULES: Array<[string, ProsodyThresholds]> = process.argv.includes('--rules')
  ? [
      ['level pitch only (lowEndSt -1.5)', { ...PROSODY_THRESHOLDS, lowEndSt: -1.5 }],
      ['loud end 8 dB', { ...PROSODY_THRESHOLDS, loudEndDb: 8 }],
    ]
  : [];

export const LINES = ['clean', 'band', 'noise'] as const;

type CueFn = typeof prosodyCue;

/** Every cut of every recording on every line, at 8 and 16 kHz. */
function allCuts(): Array<{ line: string; rateHz: number; cuts: Array<Cut & { pcm: Int16Array }> }> {
  const out = [];
  for (const line of LINES)
    for (const rateHz of [8000, 16000]) {
      const cuts: Array<Cut & { pcm: Int16Array }> = [];
      for (const file of RECORDINGS) {
        const path = join(TESTDATA_DIR, file);
        if (!existsSync(path)) continue;
        const wav = readAudioFile(path, 16000);
        const clean = resamplePcm(wav.samples, wav.sampleRateHz, rateHz);
        const pcm = impair(clean, rateHz, line);
        // Where the speaker paused is found on the clean recording; the cue hears the line's version.
        for (const c of cutsOf(file, clean, rateHz)) cuts.push({ ...c, pcm: pcm.subarray(c.from, c.to) });
        if (file === 'goforward.raw') {
          // The eval's mid-sentence-pause cut (src/eval/turn-audio.ts), exactly.
          const p = withPause(clean, rateHz, 800);
          const at = p.pause?.startSample ?? 0;
          const from = Math.max(0, p.onsetSample - (KEEP_BEFORE_MS * rateHz) / 1000);
          const to = at + (KEEP_AFTER_MS * rateHz) / 1000;
          cuts.push({ file: `${file} (eval cut)`, atMs: (at * 1000) / rateHz, mid: true, from, to, pcm: pcm.subarray(from, to) });
        }
      }
      out.push({ line, rateHz, cuts });
    }
  return out;
}

/** Mean ms per cut of each cue over every cut, the cues interleaved round by round. */
function timeCues(cues: CueFn[], sets: ReturnType<typeof allCuts>, rounds: number): number[] {
  const total = cues.map(() => 0);
  let n = 0;
  for (const set of sets) n += set.cuts.length;
  for (let r = 0; r < rounds; r++)
    for (let k = 0; k < cues.length; k++) {
      const t0 = performance.now();
      for (const set of sets) for (const c of set.cuts) cues[k]!(c.pcm, set.rateHz);
      total[k]! += performance.now() - t0;
    }
  return total.map((t) => t / rounds / n);
}

async function main(): Promise<void> {
  const verbose = process.argv.includes('--verbose');
  const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const abRoot = arg('ab-root');
  const other: CueFn | undefined = abRoot
    ? ((await import(pathToFileURL(resolve(abRoot, 'dist/src/turn-detect/prosody.js')).href)) as { prosodyCue: CueFn }).prosodyCue
    : undefined;
  await loadResampler();
  const sets = allCuts();
  let differ = 0;
  let total = 0;
  for (const { line, rateHz, cuts } of sets) {
    let midCaught = 0;
    let mids = 0;
    let endsHeld = 0;
    let ends = 0;
    let otherMid = 0;
    let otherHeld = 0;
    const judged: Array<[Cut, ReturnType<typeof prosodyCue>]> = [];
    for (const c of cuts) {
      const q = prosodyCue(c.pcm, rateHz);
      judged.push([c, q]);
      if (c.mid) {
        mids++;
        if (q.unfinished) midCaught++;
      } else {
        ends++;
        if (q.unfinished) endsHeld++;
      }
      if (other) {
        const o = other(c.pcm, rateHz);
        total++;
        if (o.unfinished && c.mid) otherMid++;
        if (o.unfinished && !c.mid) otherHeld++;
        if (o.unfinished !== q.unfinished) {
          differ++;
          console.log(
            `≠ ${line} ${rateHz} ${c.file} @${c.atMs} ms ${c.mid ? 'mid' : 'END'}: ${q.unfinished ? 'unfinished' : 'finished'} here (voiced ${q.voicedFrames}, drop ${q.dropDb.toFixed(1)} dB, end ${q.endSt.toFixed(1)} st), ${o.unfinished ? 'unfinished' : 'finished'} there (voiced ${o.voicedFrames}, drop ${o.dropDb.toFixed(1)} dB, end ${o.endSt.toFixed(1)} st)`,
          );
        }
      }
      if (process.argv.includes('--json'))
        console.log(JSON.stringify({ line, rateHz, file: c.file, atMs: c.atMs, mid: c.mid, lenMs: (c.pcm.length * 1000) / rateHz, ...q }));
      else if (verbose) {
        const right = q.unfinished === c.mid ? '  ' : 'x ';
        const fig = `drop ${q.dropDb.toFixed(1)} dB, end ${q.endSt.toFixed(1)} st, slope ${q.slopeStPerS.toFixed(0)} st/s, voiced ${q.voicedFrames}, snr ${q.snrDb.toFixed(0)} dB, len ${Math.round((c.pcm.length * 1000) / rateHz)}`;
        console.log(`${right}${line} ${rateHz} ${c.file} @${c.atMs} ms ${c.mid ? 'mid' : 'END'} -> ${q.unfinished ? 'unfinished' : 'finished'} (${fig})`);
      }
    }
    for (const [name, th] of RULES) {
      let m = 0;
      let e = 0;
      for (const [c, q] of judged) {
        if (!judge(q.dropDb, q.endSt, th)) continue;
        if (c.mid) m++;
        else e++;
      }
      console.log(`${line} ${rateHz} Hz ${name}: pauses judged unfinished ${m}/${mids}; complete utterances held ${e}/${ends}`);
    }
    const there = other ? ` (--ab-root: ${otherMid}/${mids}; ${otherHeld}/${ends})` : '';
    console.log(
      `${line} ${rateHz} Hz: pauses inside speech judged unfinished ${midCaught}/${mids}; complete utterances held (false) ${endsHeld}/${ends}${there}`,
    );
  }
  if (!other) return;
  const rounds = Number(arg('rounds') ?? 20);
  const [here, there] = timeCues([prosodyCue, other], sets, rounds);
  console.log(`verdicts differ on ${differ} of ${total} cuts`);
  console.log(
    `time per cut (${rounds} rounds, interleaved): ${here!.toFixed(3)} ms here, ${there!.toFixed(3)} ms --ab-root (ratio ${(here! / there!).toFixed(2)})`,
  );
}

if (process.argv[1] && /prosody-cue\.js$/.test(process.argv[1])) await main();
