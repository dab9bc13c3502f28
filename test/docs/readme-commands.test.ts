/**
 * The README's conformance commands, run as a reader would (through npx and the package's own bin): each passes,
 * the built-in pocketsphinx adapter with the example's `--rates 8000,16000` too. The README's simulator calls run in
 * test/docs/readme-calls.test.ts.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { commandsOfMarkdown } from '../helpers/readme-commands.js';
import { must } from '../helpers/must.js';

const readme = readFileSync('README.md', 'utf8');
// Real suites and real-time calls, on a shared 2-core machine: more than tap's 120 s per file.
t.setTimeout(240_000);

/** Run one documented command through `sh`, as typed (npx resolves this package's own bin). */
function run(argv: string[], env: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync(must(argv[0]), argv.slice(1), { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'warn', ...env }, timeout: 90000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

t.test('the conformance commands in the README pass', async (t) => {
  const cmds = commandsOfMarkdown(readme).filter((c) => c.argv[0] === 'npx' && /-conformance$/.test(c.argv[2] ?? ''));
  t.ok(cmds.length >= 4, `${cmds.length} conformance commands`);
  t.ok(
    cmds.some((c) => c.argv.includes('local') && c.argv.join(' ').includes('--rates 8000,16000')),
    'the built-in ASR at 8 and 16 kHz is one of them',
  );
  for (const c of cmds) {
    const r = run(c.argv, c.env);
    t.equal(r.status, 0, c.line.trim());
    if (r.status !== 0) t.comment(r.out.slice(-1500));
    t.match(r.out, /(\d+)\/\1 checks passed/, `${c.argv[3]}: every check passed`);
  }
});

t.test('a conformance error names --adapter as typed, not the setting', async (t) => {
  const r = run(['node', 'dist/src/cli.js', 'asr-conformance', '--adapter', './my-asr.mjs']);
  t.equal(r.status, 1);
  t.match(r.out, /^vgw: --adapter \.\/my-asr\.mjs: cannot import module/m);
  t.notMatch(r.out, /ASR_ADAPTER/);
  const bot = run(['node', 'dist/src/cli.js', 'bot-conformance', '--adapter', 'nope']);
  t.match(bot.out, /vgw: --adapter nope: not a built-in/);
});
