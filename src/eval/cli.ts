/**
 * `vgw eval`: scripted calls with line impairments against a running gateway, scored at the caller (see runner.ts).
 * Argument parsing lives here so src/cli.ts stays a dispatcher.
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadScenarios } from './scenario.js';
import { runEval } from './runner.js';
import { formatEval } from './report.js';

/** The shipped scenarios (eval/scenarios at the package root; this file is dist/src/eval/cli.js). */
export const SHIPPED_SCENARIOS = fileURLToPath(new URL('../../../eval/scenarios/', import.meta.url));

/** Run `vgw eval`; `usage(msg)` makes the error the CLI prints with its usage text. */
export async function evalCommand(argv: string[], usage: (msg: string) => Error): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string', default: 'http://localhost:8080' },
        scenarios: { type: 'string', multiple: true },
        repeat: { type: 'string', default: '1' },
        concurrency: { type: 'string', default: '2' },
        rate: { type: 'string' },
        words: { type: 'string', default: 'first' },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw usage((err as Error).message);
  }
  const int = (name: string, v: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw usage(`--${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  const repeat = int('repeat', values.repeat, 1, 1000);
  const concurrency = int('concurrency', values.concurrency, 1, 64);
  const rateHz = values.rate === undefined ? undefined : Number(values.rate);
  if (rateHz !== undefined && ![8000, 16000, 24000].includes(rateHz)) throw usage('--rate must be 8000, 16000 or 24000');
  if (!['first', 'all', 'none'].includes(values.words)) throw usage('--words must be first, all or none');
  const scenarios = await loadScenarios(values.scenarios?.length ? values.scenarios : [SHIPPED_SCENARIOS]);
  const tty = process.stderr.isTTY;
  const result = await runEval({
    url: values.url,
    scenarios,
    repeat,
    concurrency,
    rateHz,
    words: values.words as 'first' | 'all' | 'none',
    onCall: tty ? (done, total, name) => process.stderr.write(`\rcall ${done}/${total} (${name})        `) : undefined,
  });
  if (tty) process.stderr.write('\n');
  const json = JSON.stringify(result, null, 2) + '\n';
  if (values.out) writeFileSync(values.out, json);
  process.stdout.write(values.json ? json : formatEval(result) + '\n');
  return result.aggregate.calls > 0 ? 0 : 1;
}
