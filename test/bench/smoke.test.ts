/** `npm run bench -- --quick` completes and writes well-formed results (no timing asserts: shared, noisy machines). */
import t from 'tap';
import { benchOutDir } from '../../bench/out-dir.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { must } from '../helpers/must.js';

t.test('quick benchmark run writes JSON, Markdown and SVG of the documented shape', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  const r = spawnSync(process.execPath, ['dist/bench/run.js', '--quick', `--out=${dir}`], { encoding: 'utf8', timeout: 120000 });
  t.equal(r.status, 0, r.stderr.slice(-2000));
  const j = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as Record<'gateway' | 'baseline' | 'ratio', Record<string, unknown>>;
  for (const key of ['capacityLegs', 'cpuPerLegPct', 'rssPerLegKiB']) t.type(j.gateway[key], 'number', `gateway.${key}`);
  t.type(j.baseline.capacityLegs, 'number');
  t.type(j.ratio.capacity, 'number');
  t.type((j.gateway.ingressLatencyMs as Record<string, unknown>).p99, 'number');
  t.type((j.gateway.pacingIntervalMs as Record<string, unknown>).p99, 'number');
  const levels = j.gateway.levels as Array<Record<string, unknown>>;
  t.ok(levels.length >= 1);
  t.ok((must(levels[0]).framesReceived as number) > 0, 'frames flowed back from the gateway');
  t.ok((must(levels[0]).framesInAtTarget as number) > 0, 'frames reached the gateway');
  t.match(readFileSync(join(dir, 'latest.md'), 'utf8'), /\| gateway \| \d+ \|/);
  t.match(readFileSync(join(dir, 'latest.svg'), 'utf8'), /^<svg[\s\S]*<polyline[\s\S]*<\/svg>/);
});

t.test('a quick run never overwrites the committed full-run results', async (t) => {
  t.equal(benchOutDir(['--quick'], '/r'), '/r/quick', '--quick writes results/quick/');
  t.equal(benchOutDir([], '/r'), '/r', 'a full run writes results/');
  t.equal(benchOutDir(['--quick', '--out=/x'], '/r'), '/x', '--out wins');
});
