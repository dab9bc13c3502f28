/**
 * `bench/prosody-cue.ts --ab-root`: the survey judges every cut with this tree's cue and the other tree's, and times
 * both. Against this same tree the two must agree on every cut and report both timings; the counts it prints for the
 * other tree are this tree's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import t from 'tap';
import { TESTDATA_DIR } from '../../src/eval/turn-audio.js';

t.test(
  '--ab-root against the same tree: no verdict differs, both timed',
  { skip: !existsSync(`${TESTDATA_DIR}/goforward.raw`) && 'pocketsphinx-testdata not installed' },
  async (t) => {
    const r = spawnSync(process.execPath, ['dist/bench/prosody-cue.js', `--ab-root=${process.cwd()}`, '--rounds=1'], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
    const differ = /verdicts differ on (\d+) of (\d+) cuts/.exec(r.stdout);
    t.ok(differ, r.stdout);
    t.equal(Number(differ?.[1]), 0, 'the same cue agrees with itself');
    t.ok(Number(differ?.[2]) >= 100, `every cut judged by both (${differ?.[2]})`);
    t.notMatch(r.stdout, /^≠ /m, 'no cut listed as differing');
    const time = /time per cut \(1 rounds, interleaved\): ([\d.]+) ms here, ([\d.]+) ms --ab-root \(ratio ([\d.]+)\)/.exec(r.stdout);
    t.ok(time && Number(time[1]) > 0 && Number(time[2]) > 0, `both timed (${time?.[0]})`);
    // Each line's counts for the other tree equal this tree's.
    const lines = [...r.stdout.matchAll(/unfinished (\d+)\/(\d+); complete utterances held \(false\) (\d+)\/(\d+) \(--ab-root: (\d+)\/\d+; (\d+)\/\d+\)/g)];
    t.equal(lines.length, 6, 'three lines at two rates');
    for (const m of lines) t.same([m[5], m[6]], [m[1], m[3]], m[0]);
  },
);
