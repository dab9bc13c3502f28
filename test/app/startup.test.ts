/**
 * Start-up and the last resort, on the real process (`node dist/src/main.js`): a failing adapter factory or a module
 * that is not an adapter stops the start with one clear stderr line naming the setting, the module and the cause (exit
 * 1); `WS_AUTH=none` with call control or costly adapters is warned about once; a fault that escapes every guard is
 * logged once (a storm is not logged line by line), counted, and the process keeps serving.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricValue, until } from '../helpers/gateway.js';
import { tryUpgrade } from '../helpers/security.js';
import { exposedWithoutLegAuth } from '../../src/security/exposure.js';
import { loadConfig } from '../../src/config/config.js';
import { sectionsOf } from '../../src/config/sections.js';
import { LastResort } from '../../src/observability/last-resort.js';
import { Metrics } from '../../src/observability/metrics.js';
import { must } from '../helpers/must.js';

const FIXTURE = './dist/test/fixtures/startup-faults.js';

interface Child {
  exited: Promise<number | null>;
  /** Resolves with the port once `gateway listening` is logged; rejects if the process exits first. */
  listening: Promise<number>;
  out: () => string;
  err: () => string;
  kill: () => void;
}

function startMain(env: Record<string, string>): Child {
  const p = spawn(process.execPath, ['dist/src/main.js'], {
    env: { PATH: process.env.PATH ?? '', WORKERS: '1', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ASR_ADAPTER: 'none', TTS_ADAPTER: 'none', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  const listening = new Promise<number>((resolve, reject) => {
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"msg":"gateway listening"/.test(out) && /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  listening.catch(() => {});
  return { exited, listening, out: () => out, err: () => err, kill: () => p.kill('SIGKILL') };
}

t.test('an adapter factory that throws or rejects, or a module that is not an adapter: exit 1, one clear error naming it', async (t) => {
  const cases: Array<[env: Record<string, string>, expected: RegExp]> = [
    [
      { BOT_ADAPTER: FIXTURE, STARTUP_FAULT: 'throw' },
      /^gateway failed to start: BOT_ADAPTER=\.\/dist\/test\/fixtures\/startup-faults\.js: the adapter factory failed: licence server refused the key \(test fixture\)\n/,
    ],
    [
      { BOT_ADAPTER: FIXTURE, STARTUP_FAULT: 'reject' },
      /^gateway failed to start: BOT_ADAPTER=\.\/dist\/test\/fixtures\/startup-faults\.js: the adapter factory failed: TypeError: cannot read the model file \(test fixture\)\n/,
    ],
    [
      { BOT_ADAPTER: FIXTURE, STARTUP_FAULT: 'no-name' },
      /^gateway failed to start: BOT_ADAPTER=\.\/dist\/test\/fixtures\/startup-faults\.js: the adapter has no name/,
    ],
    [
      { BOT_ADAPTER: FIXTURE, STARTUP_FAULT: 'no-start' },
      /^gateway failed to start: BOT_ADAPTER=\.\/dist\/test\/fixtures\/startup-faults\.js: the adapter is missing method start\(\)/,
    ],
    [
      { BOT_ADAPTER: FIXTURE, STARTUP_FAULT: 'not-object' },
      /^gateway failed to start: BOT_ADAPTER=\.\/dist\/test\/fixtures\/startup-faults\.js: the factory returned number, not an adapter object/,
    ],
    [
      { ASR_ADAPTER: FIXTURE, STARTUP_FAULT: 'no-name' },
      /^gateway failed to start: ASR_ADAPTER=\.\/dist\/test\/fixtures\/startup-faults\.js: the adapter has no name/,
    ],
    [
      { TTS_ADAPTER: FIXTURE, STARTUP_FAULT: 'no-start' },
      /^gateway failed to start: TTS_ADAPTER=\.\/dist\/test\/fixtures\/startup-faults\.js: the adapter is missing method synthesize\(\)/,
    ],
    [
      { TTS_ADAPTER: FIXTURE, STARTUP_FAULT: 'throw' },
      /^gateway failed to start: TTS_ADAPTER=\.\/dist\/test\/fixtures\/startup-faults\.js: the adapter factory failed: licence server/,
    ],
  ];
  const runs = cases.map(([env]) => startMain(env));
  for (let i = 0; i < cases.length; i++) {
    const [env, expected] = must(cases[i]);
    const c = must(runs[i]);
    const what = `${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`;
    t.equal(await c.exited, 1, `${what}: exit 1`);
    t.match(c.err(), expected, `${what}: ${c.err().split('\n')[0]}`);
    t.notMatch(c.out(), /gateway listening/, `${what}: never listened`);
  }
  // A throwing factory: where in the user's module it threw is on stderr too.
  t.match(must(runs[0]).err(), /startup-faults\.[jt]s:\d+/, 'the stack points into the module');
});

t.test('WS_AUTH=none with call control or costly adapters: one start-up warning naming what is exposed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vgw-startup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'private.key');
  writeFileSync(
    keyFile,
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    }).privateKey,
    { mode: 0o600 },
  );
  const vonage = { VONAGE_APPLICATION_ID: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', VONAGE_PRIVATE_KEY: keyFile };
  const open = startMain(vonage);
  const closed = startMain({ ...vonage, WS_AUTH: 'custom', WS_AUTH_TOKEN: 'a-long-enough-token-1234', VONAGE_SIGNATURE_SECRET: 'x'.repeat(32) });
  const plain = startMain({});
  t.teardown(() => [open, closed, plain].forEach((c) => c.kill()));
  await Promise.all([open.listening, closed.listening, plain.listening]);
  const warnings = (c: Child) =>
    c
      .out()
      .split('\n')
      .filter((l) => l.includes('WS_AUTH=none'));
  t.equal(warnings(open).length, 1, 'one warning');
  const w = JSON.parse(must(warnings(open)[0])) as { level: number; msg: string; exposed: string[] };
  t.equal(w.level, 40, 'a warning');
  t.match(w.msg, /call control \(VONAGE_APPLICATION_ID\)/, 'naming call control');
  t.same(w.exposed, ['call control (VONAGE_APPLICATION_ID)']);
  t.equal(warnings(closed).length, 0, 'no warning with authenticated legs');
  t.equal(warnings(plain).length, 0, 'no warning for the echo bot with nothing costly');

  // Which parts count (the same function the start-up uses).
  const d = sectionsOf(loadConfig({}));
  const exposed = (o: { wsAuth?: 'none' | 'vonage'; vonageApplicationId?: string; asrAdapter?: string; ttsAdapter?: string; botAdapter?: string }) =>
    exposedWithoutLegAuth({
      security: { ...d.security, wsAuth: o.wsAuth ?? 'none' },
      vonage: { ...d.vonage, vonageApplicationId: o.vonageApplicationId ?? '' },
      asr: { ...d.asr, asrAdapter: o.asrAdapter ?? 'auto' },
      tts: { ...d.tts, ttsAdapter: o.ttsAdapter ?? 'flite' },
      bot: { ...d.bot, botAdapter: o.botAdapter ?? 'echo' },
    });
  t.same(exposed({}), [], 'offline pipeline: nothing costly');
  t.same(exposed({ asrAdapter: 'google,microsoft,local', ttsAdapter: 'microsoft,flite', botAdapter: 'llm' }), [
    'cloud ASR (ASR_ADAPTER: google, microsoft)',
    'cloud TTS (TTS_ADAPTER: microsoft)',
    'the LLM bot (BOT_ADAPTER=llm)',
  ]);
  t.same(exposed({ botAdapter: 'remote' }), ['the remote bot (BOT_ADAPTER=remote)']);
  t.same(exposed({ wsAuth: 'vonage', botAdapter: 'llm', vonageApplicationId: 'x' }), [], 'authenticated legs: nothing exposed');
});

t.test('last resort: a throw outside any guard is logged once and counted; the process keeps serving', async (t) => {
  const c = startMain({ BOT_ADAPTER: FIXTURE, STARTUP_FAULT: 'async-throw', STARTUP_FAULT_DELAY_MS: '500' });
  t.teardown(() => c.kill());
  const port = await c.listening;
  const base = `http://127.0.0.1:${port}`;
  const faults = async () => metricValue(await (await fetch(`${base}/metrics`)).text(), 'gateway_process_faults_total{type="uncaughtException"}');
  let n = 0;
  const end = Date.now() + 10000;
  while (n < 1 && Date.now() < end) {
    n = await faults();
    if (n < 1) await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(n, 1, 'gateway_process_faults_total{type="uncaughtException"} 1');
  t.equal((await fetch(`${base}/healthz`)).status, 200, 'still serving /healthz');
  const leg = await tryUpgrade(`ws://127.0.0.1:${port}/socket`);
  t.equal(leg.status, 101, 'and new calls');
  leg.ws?.terminate();
  const lines = (c.out() + c.err()).split('\n').filter((l) => l.includes('last resort'));
  t.equal(lines.length, 1, 'one log line');
  t.match(JSON.parse(must(lines[0])), { level: 50, type: 'uncaughtException', err: { message: 'late failure 1 (test fixture)' } });
  t.equal(await Promise.race([c.exited, new Promise((r) => setTimeout(() => r('running'), 200))]), 'running', 'the process is still up');
});

t.test('last resort: a storm of 300 unhandled rejections is counted, not logged 300 times', async (t) => {
  const c = startMain({ BOT_ADAPTER: FIXTURE, STARTUP_FAULT: 'async-reject', STARTUP_FAULT_COUNT: '300', STARTUP_FAULT_DELAY_MS: '500' });
  t.teardown(() => c.kill());
  const port = await c.listening;
  const base = `http://127.0.0.1:${port}`;
  let n = 0;
  const end = Date.now() + 10000;
  while (n < 300 && Date.now() < end) {
    n = metricValue(await (await fetch(`${base}/metrics`)).text(), 'gateway_process_faults_total{type="unhandledRejection"}');
    if (n < 300) await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(n, 300, 'every rejection counted');
  t.equal((await fetch(`${base}/healthz`)).status, 200, 'still serving');
  const lines = (c.out() + c.err()).split('\n').filter((l) => l.includes('last resort'));
  t.equal(lines.length, 1, 'one line for the first (the rest are summarised when the 10 s window ends)');
  t.match(JSON.parse(must(lines[0])), { type: 'unhandledRejection', err: { message: 'late rejection 1 (test fixture)' } });
});

t.test('LastResort: one line per window per type, then one summary line with the count', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const lr = new LastResort({ intervalMs: 200, write: (l) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  for (let i = 0; i < 1000; i++) lr.fault('uncaughtException', new Error(`boom ${i}`));
  lr.fault('unhandledRejection', 'not an error');
  t.equal(lines.length, 2, 'the first of each type, at once');
  t.match(lines[0], { type: 'uncaughtException', err: { name: 'Error', message: 'boom 0' } });
  t.match(lines[1], { type: 'unhandledRejection', err: { message: 'not an error' } });
  await until(() => lines.length === 3, 3000, 'summary');
  t.match(lines[2], { type: 'uncaughtException', suppressed: 999 }, 'then one summary for the rest');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(lines.length, 3, 'nothing more');
  // Faults before the gateway exists are counted once it does.
  const m = new Metrics();
  lr.attach(m, { error: () => {} } as never);
  const text = await m.registry.metrics();
  t.equal(metricValue(text, 'gateway_process_faults_total{type="uncaughtException"}'), 1000);
  t.equal(metricValue(text, 'gateway_process_faults_total{type="unhandledRejection"}'), 1);
});
