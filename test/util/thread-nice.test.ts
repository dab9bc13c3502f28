/**
 * V8's helper threads get the niceness asked for, the event loop and every other thread keep theirs. Run in a child
 * process (a niceness cannot be lowered back without privilege), reading the kernel's own per-thread figures.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('../../src/util/thread-nice.js', import.meta.url));

/** In a fresh Node: call niceV8Workers(nice), then list every thread as [name, niceness]. */
function run(nice: number): { changed: number; threads: Array<[string, number]> } {
  const script = `
    import { niceV8Workers } from ${JSON.stringify(MODULE)};
    import { readdirSync, readFileSync } from 'node:fs';
    const changed = niceV8Workers(${nice});
    const threads = readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync('/proc/self/task/' + tid + '/stat', 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = tid === String(process.pid) ? 'main' : readFileSync('/proc/self/task/' + tid + '/comm', 'utf8').trim();
      return [name, Number(f[16])];
    });
    process.stdout.write(JSON.stringify({ changed, threads }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { changed: number; threads: Array<[string, number]> };
}

t.test(
  'niceV8Workers(10): every V8Worker thread at 10, the event loop and the rest unchanged',
  { skip: process.platform !== 'linux' && 'Linux only' },
  async (t) => {
    const { changed, threads } = run(10);
    const v8 = threads.filter(([name]) => name.startsWith('V8Worker'));
    // Node names its platform threads since v22; an older Node has none to find (and changes nothing).
    t.equal(changed, v8.length, `changed ${changed} threads: ${JSON.stringify(threads)}`);
    if (Number(process.versions.node.split('.')[0]) >= 22) t.ok(v8.length > 0, 'Node ≥ 22 has named V8 worker threads');
    for (const [name, nice] of threads) t.equal(nice, name.startsWith('V8Worker') ? 10 : 0, `${name} at ${nice}`);
  },
);

t.test('niceV8Workers(0) leaves every thread alone', { skip: process.platform !== 'linux' && 'Linux only' }, async (t) => {
  const { changed, threads } = run(0);
  t.equal(changed, 0);
  for (const [name, nice] of threads) t.equal(nice, 0, `${name} at ${nice}`);
});
