/** `bench/burst.js --quick` runs every target of both parts and writes results of the documented shape (no timing asserts). */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { must } from '../helpers/must.js';

// Five targets started one after the other: about 1 minute on a quiet 2-core machine, more on a shared one.
t.setTimeout(300000);

t.test('burst bench, quick: per core and whole machine, gateway and baselines, every leg measured', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'burst-'));
  const r = spawnSync(process.execPath, ['dist/bench/burst.js', '--quick', `--out=${dir}`], { encoding: 'utf8', timeout: 280000 });
  t.equal(r.status, 0, `exit 0 ${r.stderr.slice(-500)}`);
  const res = JSON.parse(readFileSync(join(dir, 'burst.json'), 'utf8')) as {
    runs: Array<{
      perCore: Array<{ label: string; levels: Array<Record<string, unknown>> }>;
      machine: Array<{ label: string; levels: Array<Record<string, unknown>> }>;
    }>;
  };
  const run = must(res.runs[0]);
  t.same(
    run.perCore.map((s) => s.label),
    ['baseline', 'gateway WORKERS=1'],
  );
  t.same(
    run.machine.map((s) => s.label),
    ['2 baselines', 'gateway WORKERS=1', 'gateway WORKERS=2'],
  );
  for (const s of [...run.perCore, ...run.machine]) {
    const l = s.levels[0] as {
      legs: number;
      openLegs: number;
      pacingMs: { p99: number; p999: number };
      maxGapMs: number;
      maxGapBetweenRepliesMs: number;
      replyEnds: number;
      cpuPct: number;
    };
    t.equal(l.openLegs, l.legs, `${s.label}: every leg stayed open`);
    t.ok(l.maxGapBetweenRepliesMs >= 0 && l.replyEnds >= 0, `${s.label}: gaps between replies kept apart from gaps inside one`);
    // The bare servers echo one continuous stream: no reply boundaries (notify) at all.
    if (s.label.includes('baseline')) t.equal(l.replyEnds, 0, `${s.label}: no reply boundaries`);
    t.ok(l.pacingMs.p999 >= l.pacingMs.p99, `${s.label}: p99.9 ≥ p99 (${l.pacingMs.p999} ≥ ${l.pacingMs.p99})`);
    t.ok(l.cpuPct > 0, `${s.label}: CPU of the target's process tree measured`);
    // The echo servers answer every frame at once; a gateway's frames depend on its greeting (Flite) and the echo,
    // which a starved machine can delay past the short window, so only the baselines must have frames here.
    if (s.label.includes('baseline'))
      t.ok(l.pacingMs.p99 > 0 && l.maxGapMs >= 20, `${s.label}: pacing and the largest gap measured (p99 ${l.pacingMs.p99}, gap ${l.maxGapMs} ms)`);
  }
  t.match(readFileSync(join(dir, 'burst.md'), 'utf8'), /Legs held per machine: 2 baselines \d+, gateway WORKERS=1 \d+, gateway WORKERS=2 \d+/);
});

t.test('burst bench, quick, per core: a same-run A/B against another build, CPU profiles of each gateway', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'burst-ab-'));
  const prof = join(dir, 'prof');
  // This worktree as its own "before" build: the series is labelled by the root's directory name.
  const r = spawnSync(process.execPath, ['dist/bench/burst.js', '--quick', '--per-core-only', '--ab-root=.', `--profile=${prof}`, `--out=${dir}`], {
    encoding: 'utf8',
    timeout: 280000,
  });
  t.equal(r.status, 0, `exit 0 ${r.stderr.slice(-500)}`);
  const res = JSON.parse(readFileSync(join(dir, 'burst.json'), 'utf8')) as {
    runs: Array<{ perCore: Array<{ label: string; levels: Array<{ cpuPct: number; otherCpuPct: number }> }>; machine: unknown[] }>;
  };
  const run = must(res.runs[0]);
  t.same(
    run.perCore.map((s) => s.label),
    ['baseline', 'gateway WORKERS=1', `gateway (${basename(process.cwd())}) WORKERS=1`],
  );
  t.same(run.machine, [], '--per-core-only');
  for (const s of run.perCore) {
    const l = must(s.levels[0]);
    t.ok(l.cpuPct > 0 && l.otherCpuPct >= 0 && l.otherCpuPct <= l.cpuPct, `${s.label}: CPU ${l.cpuPct} %, of it not Node ${l.otherCpuPct} %`);
  }
  const series = readdirSync(prof).sort();
  t.same(series, ['baseline-run1', 'gateway_WORKERS=1-run1', `gateway_${basename(process.cwd())}_WORKERS=1-run1`], 'one profile directory per series');
  for (const s of series) {
    const files = readdirSync(join(prof, s));
    t.ok(
      files.some((f) => /^CPU\..*\.0\.\d+\.cpuprofile$/.test(f)),
      `${s}: the main thread's profile (${files.join(', ')})`,
    );
    const summary = spawnSync(process.execPath, ['dist/bench/cpuprofile.js', join(prof, s)], { encoding: 'utf8' });
    const own = s.startsWith('baseline') ? /bench\/target-baseline\.ts/ : /src\/leg\/leg\.ts/;
    t.match(summary.stdout, new RegExp(`total time by our file[^]*${own.source}`), `${s}: the summary names its own code`);
  }
});
