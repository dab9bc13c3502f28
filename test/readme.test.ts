/** The README stays true: every setting, close code and metric it must document, and the example bot it shows. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { CONFIG_SPECS } from '../src/config/config.js';
import { CloseCode } from '../src/errors.js';
import { Metrics } from '../src/observability/metrics.js';

const readme = readFileSync('README.md', 'utf8');

t.test('the first two commands are the install+run and test commands', async (t) => {
  const block = /## Two commands\s+```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const lines = block.trim().split('\n').map((l) => l.replace(/#.*$/, '').trim());
  t.same(lines, ['npm ci && npm start', 'npm test']);
  const ci = readFileSync('.ci/run', 'utf8');
  t.match(ci, /^npm test$/m, '.ci/run runs exactly the README test command');
});

t.test('every environment variable is documented with its default', async (t) => {
  for (const s of CONFIG_SPECS) t.ok(readme.includes(`| \`${s.env}\` | \`${s.def}\` |`), s.env);
});

t.test('every close code is documented', async (t) => {
  for (const [name, code] of Object.entries(CloseCode)) t.match(readme, new RegExp(`\\| \`${code}\` \\|`), `${name} ${code}`);
});

t.test('every gateway metric is documented', async (t) => {
  const m = new Metrics();
  const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name).filter((n) => !n.startsWith('gateway_process_'));
  t.ok(names.length > 20);
  for (const n of names) t.ok(readme.includes(n), n);
});

t.test('the README example bot is the file the tests load', async (t) => {
  const file = readFileSync('examples/my-bot.mjs', 'utf8');
  t.ok(readme.includes(file.trim()), 'README block equals examples/my-bot.mjs');
});
