/**
 * A short soak (20 legs, 3 cycles of 8 s, every call recorded) completes, writes well-formed results, and after each
 * cycle's legs close the gateway is back to its idle handles and fds with no recording open; every recording is a
 * complete WAV. No timing or growth asserts: shared, noisy machines (the full soak's figures are in bench/README.md).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRecording } from '../helpers/recording.js';

t.test('short soak: completes, well-formed JSON and Markdown, handles back to baseline after every cycle', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'soak-'));
  const rec = join(dir, 'rec');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync(
    process.execPath,
    ['dist/bench/soak.js', '--legs=20', '--seconds=24', '--cycle-seconds=8', '--sample-seconds=2', `--out=${dir}`, `--record=${rec}`],
    {
      encoding: 'utf8',
      timeout: 150000,
    },
  );
  t.equal(r.status, 0, r.stderr.slice(-2000));
  const j = JSON.parse(readFileSync(join(dir, 'soak.json'), 'utf8')) as {
    legs: number;
    cycles: number;
    recording: boolean;
    growth: Record<string, number>;
    handlesReturned: boolean;
    pass: boolean;
    baseline: { handles: number; fds: number };
    idleAfterCycles: Array<{ cycle: number; handles: number; fds: number; recordingsOpen: number; returned: boolean }>;
    samples: Array<{ phase: string; cycle: number; calls: number; rssMiB: number; heapMiB: number; handles: number; fds: number }>;
  };
  t.equal(j.legs, 20);
  t.equal(j.cycles, 3);
  t.equal(j.recording, true);
  for (const k of ['rssPct', 'heapPct', 'handlesPct', 'fdsPct']) t.type(j.growth[k], 'number', `growth.${k}`);
  t.type(j.pass, 'boolean');
  const loaded = j.samples.filter((s) => s.phase === 'load');
  t.ok(loaded.length >= 3, `loaded samples: ${loaded.length}`);
  t.ok(
    loaded.every((s) => s.calls === 20),
    'every loaded sample saw all 20 legs',
  );
  t.ok(
    loaded.every((s) => s.rssMiB > 0 && s.heapMiB > 0 && s.handles > j.baseline.handles),
    'memory and handle figures are real',
  );
  t.equal(j.idleAfterCycles.length, 3);
  for (const c of j.idleAfterCycles) {
    t.ok(c.returned, `cycle ${c.cycle}: handles ${c.handles} ≤ ${j.baseline.handles}, fds ${c.fds} ≤ ${j.baseline.fds}, recordings open ${c.recordingsOpen}`);
  }
  t.equal(j.handlesReturned, true);
  t.match(readFileSync(join(dir, 'soak.md'), 'utf8'), /\| RSS \(MiB\) \| [\d.]+ \| [\d.]+ \| [\d.]+ \| -?[\d.]+ % \|/);
  const wavs = readdirSync(rec).filter((n) => n.endsWith('.wav'));
  t.equal(wavs.length, 60, '20 legs × 3 cycles recorded');
  t.ok(
    wavs.every((n) => {
      const w = readRecording(join(rec, n));
      return w.channels === 2 && w.dataSize === w.bytes.length - 44 && w.dataSize > 0;
    }),
    'every recording is a complete stereo WAV',
  );
});
