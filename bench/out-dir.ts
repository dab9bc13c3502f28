/**
 * Where a bench run writes its results: `--out=DIR` if given; a `--quick` run (short windows, a few levels) writes to
 * `results/quick/` (not committed), so it never overwrites the committed full-run results in `results/`.
 */
import { join } from 'node:path';

export function benchOutDir(argv: readonly string[], resultsDir: string): string {
  const out = argv.find((a) => a.startsWith('--out='));
  if (out) return out.slice('--out='.length);
  return argv.includes('--quick') ? join(resultsDir, 'quick') : resultsDir;
}
