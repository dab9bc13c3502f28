/**
 * Graceful drain of the real process with a call being recorded: SIGTERM → /readyz 503 → new legs refused → at the
 * drain deadline the live call hears a spoken goodbye and is closed with 1001 → exit 0 → the recording and its
 * metadata are complete: header sizes match the file, the caller's speech is on the left, the replies on the right.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContinuousCaller, goertzel, openRawLeg, upgradeStatus } from '../helpers/raw-leg.js';
import { until } from '../helpers/gateway.js';
import { firstMismatch, frames, readRecording, voiced } from '../helpers/recording.js';
import { GOODBYE_TEXT } from '../../src/call/apology.js';
import { must } from '../helpers/must.js';

const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');

t.test('SIGTERM with a recorded live call: goodbye at the deadline, 1001, exit 0, a complete recording', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'drain-')), 'rec');
  const p = spawn(process.execPath, ['dist/src/main.js'], {
    env: {
      ...process.env,
      WORKERS: '1',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ASR_ADAPTER: 'none',
      TTS_ADAPTER: './dist/test/fixtures/sine-tts.js',
      RECORDING_DIR: dir,
      DRAIN_TIMEOUT_MS: '1500',
      JITTER_TARGET_MS: '0',
      BARGE_IN: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void p.kill('SIGKILL'));
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await until(() => /"msg":"gateway listening"/.test(out), 15000, 'the gateway to listen');
  const port = Number(/"port":(\d+)/.exec(out)?.[1]);
  const base = `http://127.0.0.1:${port}`;

  const leg = await openRawLeg(`ws://127.0.0.1:${port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'drain-rec-1', conversation_uuid: 'CON-drain' });
  const caller = new ContinuousCaller(leg.ws, 640);
  caller.start();
  t.teardown(() => caller.stop());
  const speech = frames(SPEECH, 640);
  await caller.say(Buffer.concat(speech));
  // The echo bot plays the utterance back (reply 2, after the greeting).
  await until(() => /"replyId":2[^}]*"msg":"reply played"/.test(out), 15000, 'the echo to play');
  const heardBefore = leg.binary.length;

  p.kill('SIGTERM');
  await until(() => /"msg":"draining: no new calls"/.test(out), 5000, 'draining');
  const ready = await fetch(`${base}/readyz`);
  t.equal(ready.status, 503, 'not ready while draining');
  t.match(await ready.json(), { ready: false, reason: 'draining' });
  t.equal((await upgradeStatus(`ws://127.0.0.1:${port}/socket`)).status, 503, 'new legs refused');
  t.equal(leg.ws.readyState, leg.ws.OPEN, 'the live call goes on until the deadline');

  const closed = await leg.closed;
  caller.stop();
  t.equal(closed.code, 1001, 'closed with 1001 after the goodbye');
  t.match(out, /"msg":"drain deadline passed: closing live calls"/);
  t.match(out, /"msg":"saying goodbye: gateway shutting down"/);
  const goodbye = leg.binary.slice(heardBefore);
  const words = GOODBYE_TEXT.split(/\s+/).length;
  t.ok(Math.abs(goodbye.length - words * 5) <= 2, `the goodbye was heard in full: ${goodbye.length} frames for ${words} words`);
  const gpcm = Buffer.concat(goodbye);
  t.ok(goertzel(gpcm, 16000, 440) > 10 * goertzel(gpcm, 16000, 1000), 'spoken through the TTS');
  t.equal(await exited, 0, 'exit 0');

  // The recording is complete on disk before the process exited.
  const wav = join(dir, 'drain-rec-1.wav');
  t.ok(existsSync(join(dir, 'drain-rec-1.json')), 'metadata written');
  const r = readRecording(wav);
  const size = statSync(wav).size;
  t.equal(r.dataSize, size - 44, 'data size matches the file');
  t.equal(r.riffSize, size - 8, 'RIFF size matches the file');
  t.equal(r.channels, 2);
  const left = voiced(frames(r.left, 640));
  const at = left.findIndex((f) => f.equals(must(speech[0])));
  t.ok(at >= 0, 'the caller channel has the speech that was sent');
  t.equal(firstMismatch(left.slice(at, at + speech.length), speech), -1, 'all of it, byte-exact');
  const right = voiced(frames(r.right, 640));
  t.equal(firstMismatch(right, voiced(leg.binary)), -1, `the bot channel has every frame sent, the goodbye last (${right.length} frames)`);
  const meta = JSON.parse(readFileSync(join(dir, 'drain-rec-1.json'), 'utf8')) as Record<string, unknown>;
  t.match(meta, {
    uuid: 'drain-rec-1',
    conversationUuid: 'CON-drain',
    closeCode: 1001,
    closeReason: 'gateway shutting down',
    dataBytes: size - 44,
    error: null,
  });
  t.equal((meta.framesWritten as { bot: number }).bot, leg.binary.length);
});
