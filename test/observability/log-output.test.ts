/**
 * Logging never blocks or grows without bound when stdout is slow (issue 13): a real child process logs a flood into
 * a stdout pipe this test never reads. Its memory stays bounded (lines past the buffer are dropped and counted), its
 * event loop keeps turning, and it exits when asked even though the reader is stuck.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { LOG_BUFFER_MAX_BYTES } from '../../src/observability/logger.js';
import { must } from '../helpers/must.js';

interface Report {
  phase: string;
  lines: number;
  dropped: number;
  counted: number;
  rss: number;
  peakRss: number;
  ticks: number;
}

const MB = 1024 * 1024;

t.test('a flood of log lines into a stdout nobody reads: bounded memory, drops counted, prompt exit', async (t) => {
  // ~250 MB of JSON: without a bound the child would hold it all. Bounded, the growth is the runtime's working set, not
  // the log's size: +24 MB on Node 20, +66 MB on Node 24 (the same for 300,000 and 900,000 lines).
  const LINES = 900000;
  // Through sh, to drop the NODE_OPTIONS tap injects into every child: its preload touches process.stdout, which
  // would hide a logger that forgets to make stdout non-blocking (see logger.ts).
  const p = spawn('/bin/sh', ['-c', 'unset NODE_OPTIONS; exec "$0" "$@"', process.execPath, 'dist/test/fixtures/log-flood.js'], {
    env: { ...process.env, LOG_FLOOD_LINES: String(LINES) },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'], // stdout: a pipe, never read
  });
  t.teardown(() => void p.kill('SIGKILL'));
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  const reports: Report[] = [];
  p.on('message', (m) => reports.push(m as Report));
  const deadline = Date.now() + 60000;
  while (!reports.some((r) => r.phase === 'done') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const start = reports.find((r) => r.phase === 'start') as Report;
  const done = reports.find((r) => r.phase === 'done') as Report;
  t.ok(done, 'the child logged the whole flood');
  t.equal(done.lines, LINES);
  t.ok(done.dropped > LINES / 2, `most lines were dropped, not buffered: ${done.dropped} of ${LINES}`);
  t.equal(done.counted, done.dropped, 'every drop reached the counter (gateway_log_lines_dropped_total in the gateway)');
  const growthMb = (done.peakRss - start.rss) / MB;
  t.ok(
    growthMb < 96,
    `the child's memory stayed bounded: +${growthMb.toFixed(1)} MB at its peak for ~${((LINES * 280) / MB).toFixed(0)} MB of log (buffer ${LOG_BUFFER_MAX_BYTES / MB} MB)`,
  );
  const during = reports.filter((r) => r.phase === 'flooding');
  t.ok(during.length > 0 || done.ticks > 0, `its event loop kept turning: ${done.ticks} timer ticks`);

  const t0 = performance.now();
  p.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15000))]);
  t.equal(code, 0, 'it exits (0) when asked, although stdout is stuck');
  t.comment(`exit took ${(performance.now() - t0).toFixed(0)} ms (the exit flush gives a stuck reader at most 1 s)`);
});

t.test('the in-memory destination the tests use still gets every line, synchronously', async (t) => {
  const { createLogger, logOutputOf } = await import('../../src/observability/logger.js');
  const got: string[] = [];
  const log = createLogger('info', { write: (s: string) => void got.push(s) });
  log.info({ a: 1 }, 'hello');
  t.equal(got.length, 1);
  t.match(JSON.parse(must(got[0])), { msg: 'hello', a: 1, svc: 'vonage-gateway' });
  t.equal(logOutputOf(log), undefined, 'no stdout output behind it');
});
