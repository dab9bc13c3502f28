/**
 * Starting the gateway as the README says: `npm start` builds only when dist/ is stale, SIGTERM sent to the `npm`
 * process reaches the gateway (which drains, then exits, and npm with it), and a person at a terminal gets a
 * "listening on …, call it with …" line while the JSON log stays on stdout.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openRawLeg } from '../helpers/raw-leg.js';
import { watchGateway } from '../helpers/child-gateway.js';
import { startBanner } from '../../src/observability/banner.js';

const ENV = { WORKERS: '1', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ASR_ADAPTER: 'none', TTS_ADAPTER: 'none', DRAIN_TIMEOUT_MS: '20000' };

/** The pids of a process's children (Linux /proc). */
function childrenOf(pid: number): number[] {
  const task = `/proc/${pid}/task/${pid}/children`;
  return existsSync(task) ? readFileSync(task, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number) : [];
}

t.test('npm start: no rebuild when dist is fresh; SIGTERM to npm drains the gateway', async (t) => {
  const npm = spawn('npm', ['start'], { env: { ...process.env, ...ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void npm.kill('SIGKILL'));
  const w = watchGateway(npm);
  const port = await w.port;
  t.notMatch(w.out(), /building|> tsc/, 'dist/ is up to date (the suite built it): nothing is compiled');
  const gateways = childrenOf(npm.pid!);
  t.equal(gateways.length, 1, 'npm runs the gateway as its direct child (exec: no shell in between)');
  t.match(readFileSync(`/proc/${gateways[0]}/cmdline`, 'utf8'), /dist\/src\/main\.js/);
  t.notMatch(w.out(), /listening on http/, 'no terminal: no human start-up line, JSON only');

  const leg = await openRawLeg(`ws://127.0.0.1:${port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'npm-start-1' });
  await new Promise((r) => setTimeout(r, 200));
  npm.kill('SIGTERM');
  await w.until(/"msg":"draining: no new calls"/);
  t.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 503, 'the gateway got the signal: draining');
  t.equal(leg.ws.readyState, leg.ws.OPEN, 'the live call goes on');
  leg.ws.close(1000);
  t.equal(await w.exited, 0, 'npm exits 0 once the gateway has drained');
  t.notOk(existsSync(`/proc/${gateways[0]}`), 'no orphaned gateway left behind');
});

t.test('prestart builds only when dist is missing or older than a source', async (t) => {
  const { staleReason } = (await import(resolve('scripts/build-if-stale.mjs'))) as { staleReason: (root: string) => string | undefined };
  const dir = mkdtempSync(join(tmpdir(), 'vgw-stale-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'src', 'call'), { recursive: true });
  writeFileSync(join(dir, 'src', 'call', 'a.ts'), '');
  t.match(staleReason(dir), /missing/, 'no dist: build');
  mkdirSync(join(dir, 'dist', 'src'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'src', 'main.js'), '');
  utimesSync(join(dir, 'src', 'call', 'a.ts'), 1000, 1000);
  utimesSync(join(dir, 'dist', 'src', 'main.js'), 2000, 2000);
  t.equal(staleReason(dir), undefined, 'dist newer than every source: no build');
  utimesSync(join(dir, 'src', 'call', 'a.ts'), 3000, 3000);
  t.match(staleReason(dir), /newer/, 'a nested source edited after the build: build');
  writeFileSync(join(dir, 'tsconfig.json'), '{}');
  utimesSync(join(dir, 'src', 'call', 'a.ts'), 1000, 1000);
  utimesSync(join(dir, 'tsconfig.json'), 3000, 3000);
  t.match(staleReason(dir), /newer/, 'tsconfig.json edited: build');
});

t.test('on a terminal, start-up prints where it listens and how to call it', async (t) => {
  // `script` gives the gateway a pseudo-terminal, as a person's shell would.
  const envs = Object.entries(ENV)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const p = spawn('script', ['-qec', `env ${envs} ${process.execPath} dist/src/main.js`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => void p.kill('SIGKILL'));
  const w = watchGateway(p);
  const port = await w.port;
  await w.until(/stop with Ctrl-C/);
  t.match(w.out(), new RegExp(`listening on http://127\\.0\\.0\\.1:${port} \\(bot echo, asr none, tts none, 16000 Hz\\)`));
  t.match(w.out(), new RegExp(`call it with: npx vgw simulate --url http://127\\.0\\.0\\.1:${port}`));
  for (const pid of childrenOf(p.pid!)) process.kill(pid, 'SIGTERM');
  await w.exited;
});

t.test('the banner names localhost for a wildcard HOST and the workers', async (t) => {
  const b = startBanner({
    port: 8080,
    host: '0.0.0.0',
    answerUrl: 'https://gw.example.com/webhooks/answer',
    asr: 'local',
    bot: 'echo',
    tts: 'flite',
    rate: 16000,
    workers: 2,
  });
  t.match(b, /^listening on http:\/\/localhost:8080 \(bot echo, asr local, tts flite, 16000 Hz, 2 workers\)\n/);
  t.match(b, /answer URL https:\/\/gw\.example\.com\/webhooks\/answer/);
  t.match(startBanner({ port: 1, host: '::1', answerUrl: '', asr: 'none', bot: 'echo', tts: 'none', rate: 8000 }), /http:\/\/\[::1\]:1 /);
});
