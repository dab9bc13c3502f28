/**
 * The simulator calls the docs show, run against a real gateway as a reader would: the README's call to the echo bot,
 * and the sidecar walkthrough of docs/adapters.md (the sample bot, the gateway, the call). Each `--lead` must let the
 * bot's greeting finish before the caller speaks.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/child-gateway.js';
import { commandsOfMarkdown, type SimpleCommand } from '../helpers/readme-commands.js';
import { parseDuration } from '../../src/cli.js';
import type { SimSummary } from '../../src/sim/simulator.js';
import { must } from '../helpers/must.js';

const readme = readFileSync('README.md', 'utf8');
const adaptersDoc = readFileSync('docs/adapters.md', 'utf8');
// Real suites and real-time calls, on a shared 2-core machine: more than tap's 120 s per file.
t.setTimeout(240_000);

/** Run a documented `npm run simulate -- …` line against `url`, with --json added, the WAV written to a temp dir. */
async function simulate(t: Test, c: SimpleCommand, url: string): Promise<{ summary: SimSummary; leadMs: number; dtmfAtMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'vgw-readme-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const argv = c.argv.map((a) => a.replace('http://localhost:8080', url)).map((a, i, all) => (all[i - 1] === '--out' ? join(dir, 'heard.wav') : a));
  // Asynchronously: the gateway under test runs in this process.
  const p = spawn(must(argv[0]), [...argv.slice(1), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void p.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const status = await new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  t.equal(status, 0, c.line.trim());
  if (status !== 0) throw new Error(stderr.slice(-1000));
  const summary = JSON.parse(stdout.slice(stdout.indexOf('{'))) as SimSummary;
  const flag = (name: string) => must(argv[argv.indexOf(name) + 1], `${name}'s value`);
  return { summary, leadMs: parseDuration(flag('--lead')), dtmfAtMs: parseDuration(must(flag('--dtmf').split('@')[1], '--dtmf …@time')) };
}

/** The greeting (the replies that start before the caller speaks) fits in the lead, by its audio length. */
function greetingFits(t: Test, s: SimSummary, leadMs: number, what: string): void {
  const greeting = s.replies.filter((r) => r.startMs < leadMs);
  t.ok(greeting.length >= 1, `${what}: the bot greets first`);
  const ms = greeting.reduce((n, r) => n + r.frames * 20, 0);
  t.ok(ms + 500 <= leadMs, `${what}: the greeting (${ms} ms of audio) ends before the caller speaks at ${leadMs} ms`);
}

t.test('the README simulator call against the echo bot', async (t) => {
  const c = commandsOfMarkdown(readme).find((x) => x.argv[2] === 'simulate');
  t.ok(c, 'the README shows a simulator call');
  if (!c) return;
  const g = await startGateway(t, { ASR_ADAPTER: 'local', TTS_ADAPTER: 'flite', LOG_LEVEL: 'info' });
  const { summary, leadMs, dtmfAtMs } = await simulate(t, c, g.url);
  greetingFits(t, summary, leadMs, 'echo bot');
  t.ok(
    summary.replies.some((r) => r.startMs > dtmfAtMs),
    'the key press is read back',
  );
  t.equal(summary.wrongSizeFrames, 0);
});

t.test('the sidecar walkthrough: the sample bot, the gateway, the simulator call', async (t) => {
  const cmds = commandsOfMarkdown(adaptersDoc);
  const sidecar = cmds.find((x) => x.argv[0] === 'node' && x.argv[1] === 'examples/sidecar-bot.mjs');
  const gateway = cmds.find((x) => x.env.BOT_ADAPTER === 'remote' && x.argv.join(' ') === 'npm start');
  const call = cmds.filter((x) => x.argv[2] === 'simulate').at(-1);
  t.ok(sidecar && gateway && call, 'the walkthrough shows the bot, the gateway and the call');
  if (!sidecar || !gateway || !call) return;
  // Another test may hold the documented port: the same command on a free one.
  const port = await freePort();
  const argv = sidecar.argv.map((a) => (a === gateway.env.BOT_URL?.split(':').at(-1) ? String(port) : a));
  const bot: ChildProcess = spawn(must(argv[0]), argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void bot.kill('SIGTERM'));
  await new Promise<void>((resolve, reject) => {
    bot.stdout?.on('data', (d: Buffer) => /listening/i.test(d.toString()) && resolve());
    bot.stderr?.on('data', (d: Buffer) => /listening/i.test(d.toString()) && resolve());
    bot.on('exit', (code) => reject(new Error(`sample bot exited ${code}`)));
  });
  const g = await startGateway(t, { ...gateway.env, BOT_URL: `ws://127.0.0.1:${port}`, ASR_ADAPTER: 'local', TTS_ADAPTER: 'flite', LOG_LEVEL: 'info' });
  const { summary, leadMs, dtmfAtMs } = await simulate(t, call, g.url);
  greetingFits(t, summary, leadMs, 'sample sidecar bot');
  t.ok(
    summary.replies.some((r) => r.startMs > dtmfAtMs),
    'the key press is read back',
  );
});
