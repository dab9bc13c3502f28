/** The real process: starts, serves, and on SIGTERM drains (readiness off, no new legs, live calls finish) and exits 0. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { openRawLeg, upgradeStatus } from '../helpers/raw-leg.js';

t.test('SIGTERM drains live calls, then exits 0', async (t) => {
  const p = spawn(process.execPath, ['dist/src/main.js'], {
    env: { ...process.env, WORKERS: '1', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ASR_ADAPTER: 'none', TTS_ADAPTER: 'none', DRAIN_TIMEOUT_MS: '20000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"msg":"gateway listening"/.test(out) && /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    p.on('exit', () => reject(new Error(`exited early: ${out}`)));
  });
  t.match(out, /"asr":"none".*"bot":"echo".*"tts":"none"/, 'the start-up line says which adapters are active');
  const base = `http://127.0.0.1:${port}`;
  t.equal((await fetch(`${base}/readyz`)).status, 200);
  const leg = await openRawLeg(`ws://127.0.0.1:${port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'sigterm-1' });
  await new Promise((r) => setTimeout(r, 200));
  p.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  const ready = await fetch(`${base}/readyz`);
  t.equal(ready.status, 503, 'not ready while draining');
  t.equal((await upgradeStatus(`ws://127.0.0.1:${port}/socket`)).status, 503, 'new legs refused');
  t.equal(leg.ws.readyState, leg.ws.OPEN, 'the live call goes on');
  leg.ws.close(1000);
  t.equal(await exited, 0, 'exits 0 once the last call has ended');
  t.match(out, /"msg":"draining: no new calls"/);
});
