/**
 * `npm run bench:asr -- --quick`: the small version of the ASR word-error-rate bench (a few recorded utterances and
 * menu answers through real gateway legs, three ways) completes and writes results of the documented shape. Accuracy
 * figures are reported by the bench, not asserted (shared, noisy machines make the recognisers' finals late).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { must } from '../helpers/must.js';

t.test('quick bench:asr run writes asr.json and asr.md', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-asr-'));
  const r = spawnSync(process.execPath, ['dist/bench/asr.js', '--quick', `--out=${dir}`], {
    encoding: 'utf8',
    timeout: 110000,
    env: { ...process.env, CONCURRENCY: '3', MAX_TAIL_MS: '6000' },
  });
  t.equal(r.status, 0, r.stderr.slice(-2000));
  const j = JSON.parse(readFileSync(join(dir, 'asr.json'), 'utf8')) as {
    quick: boolean;
    wer: Array<{ setup: string; way: string; utterances: number }>;
    menu: Array<{ answers: number; right: number }>;
    fillCost: Record<string, number>;
    utterances: Array<{ hyp: string; errors: number; words: number; way: string }>;
  };
  t.equal(j.quick, true);
  t.same([...new Set(j.wer.map((w) => w.way))].sort(), ['telephone-16k', 'telephone-8k', 'wideband-16k'], 'three ways');
  t.ok(j.wer.some((w) => w.setup.includes('fill off')) && j.wer.some((w) => w.setup.includes('fill auto')), 'with and without the fill');
  t.ok(
    j.wer.some((w) => w.setup.includes('grammar')),
    'with the set grammar',
  );
  t.equal(j.menu.length, 2);
  t.ok(j.menu.every((m) => m.answers > 0 && m.right <= m.answers));
  for (const k of ['fillUsPerChunk', 'measureUsPerChunk', 'resampleUsPerChunk']) t.ok(must(j.fillCost[k]) > 0, k);
  t.ok(j.utterances.every((u) => Number.isInteger(u.errors) && u.words > 0));
  t.ok(
    j.utterances.some((u) => u.hyp.length > 0),
    'the gateway heard something: transcripts reached the bot',
  );
  t.match(readFileSync(join(dir, 'asr.md'), 'utf8'), /\| local, fill auto \| telephone-8k \|/);
});
