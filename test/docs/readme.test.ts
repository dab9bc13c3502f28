/**
 * The README and docs/ stay true: the README is short and every shell command it shows exists (scripts, bin commands,
 * files, settings, Debian packages); docs/configuration.md is what the settings specs generate; every close code,
 * metric and link is where the docs say. test/docs/readme-commands.test.ts runs the README's commands for real.
 */
import t from 'tap';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { CONFIG_SPECS } from '../../src/config/config.js';
import { renderConfigDoc, CONFIG_DOC } from '../../src/config/config-doc.js';
import { CloseCode } from '../../src/errors.js';
import { Metrics } from '../../src/observability/metrics.js';
import { commandsOfMarkdown, commandsOfLine, shellWords } from '../helpers/readme-commands.js';
import { must } from '../helpers/must.js';

const readme = readFileSync('README.md', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
const ci = readFileSync('.ci/run', 'utf8');
const settings = new Set(CONFIG_SPECS.map((s) => s.env));
/** The `vgw` commands, as src/cli.ts dispatches them. */
const VGW = new Set([...readFileSync('src/cli.ts', 'utf8').matchAll(/cmd === '([a-z-]+)'/g)].map((m) => m[1]));
/** The Debian packages .ci/run installs. */
const DEBIAN = new Set(
  must(/for pkg in ([^;]+);/.exec(ci)?.[1])
    .trim()
    .split(/\s+/) ?? [],
);

t.test('the README is short: what it is, install, two commands, a bot, a real number, how a call feels, where next', async (t) => {
  t.ok(Buffer.byteLength(readme) <= 10.5 * 1024, `${Buffer.byteLength(readme)} bytes`);
  const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
  t.same(headings, [
    'What to install',
    'Two commands',
    'Writing a bot: which way',
    'Connecting a real Vonage number',
    'How a call feels on a phone line',
    'Where to go next',
  ]);
  t.match(readme, /Node\.js 24 LTS\*\* \(22\.12 at least/);
});

t.test('the first two commands are the install+run and test commands; CI runs the same test command', async (t) => {
  const block = /## Two commands\s+```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const lines = block
    .trim()
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim());
  t.same(lines, ['npm ci && npm start', 'npm test']);
  t.match(ci, /^npm test$/m, '.ci/run runs exactly the README test command');
});

t.test('every shell command in the README names a script, bin command, file, setting and package that exist', async (t) => {
  const cmds = commandsOfMarkdown(readme);
  t.ok(cmds.length >= 12, `${cmds.length} commands found`);
  const isPath = (w: string) => /^(\.\/|\/usr\/|examples\/|dist\/)/.test(w);
  for (const c of cmds) {
    const [prog, ...args] = c.argv;
    const what = c.line.trim();
    for (const [k, v] of Object.entries(c.env)) {
      t.ok(settings.has(k), `${what}: ${k} is a setting`);
      if (isPath(v)) t.ok(existsSync(v), `${what}: ${v} exists`);
    }
    for (const w of args.flatMap((a) => (a.includes('=') ? [a, a.slice(a.indexOf('=') + 1)] : [a]))) {
      if (isPath(w) && !w.startsWith('dist/')) t.ok(existsSync(w), `${what}: ${w} exists`);
    }
    switch (prog) {
      case 'npm': {
        const sub = args[0];
        if (sub === 'run') t.ok(pkg.scripts[must(args[1])], `${what}: npm script ${args[1]}`);
        else if (sub === 'ci') t.pass(`${what}: npm ci`);
        else t.ok(sub && pkg.scripts[sub], `${what}: npm script ${sub}`);
        break;
      }
      case 'npx':
        t.ok(pkg.bin[must(args[0])], `${what}: ${args[0]} is this package's bin`);
        t.ok(VGW.has(args[1]) || args[1] === '--help', `${what}: vgw ${args[1]} is a command`);
        break;
      case 'vgw':
        t.ok(pkg.bin.vgw && VGW.has(args[0]), `${what}: vgw ${args[0]} is a command`);
        break;
      case 'node':
      case 'python3':
        t.ok(existsSync(must(args[0])), `${what}: ${args[0]} exists`);
        break;
      case 'apt-get':
        t.equal(args[0], 'install');
        for (const p of args.slice(1)) t.ok(DEBIAN.has(p), `${what}: ${p} is one .ci/run installs`);
        break;
      default:
        t.fail(`${what}: unknown program ${prog}`);
    }
  }
});

t.test('the command reader reads shell as documented', async (t) => {
  t.same(shellWords(`a "b c" 'd e' f\\ g t=$(openssl rand -hex 24)`), ['a', 'b c', 'd e', 'f g', 't=$(openssl rand -hex 24)']);
  const both = commandsOfLine('X=1 Y="a b" npm run bench -- --quick && npm test   # comment');
  const one = must(both[0], 'the first command');
  const two = must(both[1], 'the second command');
  t.same(one.env, { X: '1', Y: 'a b' });
  t.same(one.argv, ['npm', 'run', 'bench', '--', '--quick']);
  t.same(two.argv, ['npm', 'test']);
  t.same(commandsOfMarkdown('see `npx vgw call --to 1` and `not a command`'), [
    { line: 'npx vgw call --to 1', env: {}, argv: ['npx', 'vgw', 'call', '--to', '1'] },
  ]);
});

t.test('the README example bot is the file the tests load', async (t) => {
  const file = readFileSync('examples/my-bot.mjs', 'utf8');
  t.ok(readme.includes(file.trim()), 'README block equals examples/my-bot.mjs');
});

t.test('docs/configuration.md is generated from the settings specs and is up to date', async (t) => {
  const doc = readFileSync(CONFIG_DOC, 'utf8');
  t.equal(doc, renderConfigDoc(), `${CONFIG_DOC} is stale: run npm run docs:config`);
  for (const s of CONFIG_SPECS) t.ok(doc.includes(`| \`${s.env}\` | ${s.def === '' ? '(empty)' : `\``}`), s.env);
  t.match(renderConfigDoc([{ env: 'A_B', def: '', doc: 'x | y\nz' }]), /\| `A_B` \| \(empty\) \| x \\\| y z \|/, 'cells escaped');
});

t.test('every close code is documented in docs/protocol.md', async (t) => {
  const doc = readFileSync('docs/protocol.md', 'utf8');
  for (const [name, code] of Object.entries(CloseCode)) t.match(doc, new RegExp(`\\| \`${code}\` \\|`), `${name} ${code}`);
});

t.test('every gateway metric is documented in docs/operations.md', async (t) => {
  const doc = readFileSync('docs/operations.md', 'utf8');
  const m = new Metrics();
  const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name).filter((n) => !n.startsWith('gateway_process_'));
  t.ok(names.length > 20);
  for (const n of names) t.ok(doc.includes(n), n);
});

t.test('the built-in providers are in one delimited table in docs/adapters.md', async (t) => {
  const doc = readFileSync('docs/adapters.md', 'utf8');
  const table = /<!-- providers:start[^>]*-->\n([\s\S]*?)<!-- providers:end -->/.exec(doc)?.[1] ?? '';
  for (const v of [
    'ASR_ADAPTER=local',
    'ASR_ADAPTER=google',
    'ASR_ADAPTER=microsoft',
    'BOT_ADAPTER=echo',
    'BOT_ADAPTER=llm',
    'BOT_ADAPTER=remote',
    'TTS_ADAPTER=flite',
    'TTS_ADAPTER=microsoft',
  ]) {
    t.ok(table.includes(v), v);
  }
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(md: string): Set<string> {
  const out = new Set<string>();
  for (const m of md.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6} (.+)$/gm)) {
    out.add(
      must(m[1])
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}_\- ]/gu, '')
        .replace(/ /g, '-'),
    );
  }
  return out;
}

t.test('every relative link in the README and docs/ leads to a file and heading that exist', async (t) => {
  const pages = [
    'README.md',
    ...readdirSync('docs')
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ];
  let links = 0;
  for (const page of pages) {
    const md = readFileSync(page, 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const m of md.matchAll(/\]\(([^)\s]+)\)/g)) {
      const href = must(m[1]);
      if (/^[a-z]+:/.test(href)) continue;
      links++;
      const [file, hash] = href.split('#');
      const target = file ? normalize(join(dirname(page), file)) : page;
      t.ok(existsSync(target), `${page}: ${href} → ${target}`);
      if (hash && target.endsWith('.md') && existsSync(target))
        t.ok(anchors(readFileSync(target, 'utf8')).has(hash), `${page}: #${hash} is a heading of ${target}`);
    }
  }
  t.ok(links >= 15, `${links} links checked`);
});

t.test("the README's call-eval table is the committed full run (bench/results/eval.json), with its goals", async (t) => {
  interface Agg {
    turnLatencyMs: { p50: number };
    bargeInStopMs: { p95: number };
    falseBargeIns: { count: number; chances: number };
    missedBargeIns: { count: number; chances: number };
    prematureCutoffs: { count: number; chances: number };
    echoAnswered: { count: number; chances: number };
  }
  const evalRun = JSON.parse(readFileSync('bench/results/eval.json', 'utf8')) as {
    quick: boolean;
    repeat: number;
    runs: Array<{ label: string; result: { aggregate: Agg } }>;
  };
  t.equal(evalRun.quick, false, 'a full run');
  const on = (rate: string): Agg => must(evalRun.runs.find((r) => r.label === `${rate} kHz on`)).result.aggregate;
  const section = must(/## How a call feels on a phone line\n([\s\S]*?)\n## /.exec(readme)?.[1]);
  t.match(section, `--repeat=${evalRun.repeat}`, 'the command gives the run its repeat count');
  const row = (name: string): string[] =>
    must(section.split('\n').find((l) => l.startsWith(`| ${name}`)))
      .split('|')
      .map((c) => c.trim());
  const [a8, a16] = [on('8'), on('16')];
  t.same(row('turn latency p50').slice(2, 4), [`${a8.turnLatencyMs.p50} ms`, `${a16.turnLatencyMs.p50} ms`]);
  t.same(row('barge-in stop latency p95').slice(2, 4), [`${a8.bargeInStopMs.p95} ms`, `${a16.bargeInStopMs.p95} ms`]);
  const counts = (k: 'falseBargeIns' | 'missedBargeIns' | 'prematureCutoffs' | 'echoAnswered') => [a8, a16].map((a) => `${a[k].count} / ${a[k].chances}`);
  t.same(row('false barge-ins').slice(2, 4), counts('falseBargeIns'));
  t.same(row('missed barge-ins').slice(2, 4), counts('missedBargeIns'));
  t.same(row('premature cut-offs').slice(2, 4), counts('prematureCutoffs'));
  t.same(row('the bot answered its own echo').slice(2, 4), counts('echoAnswered'));
});
