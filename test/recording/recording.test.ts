/**
 * Call recording end to end: a real gateway, a raw Vonage leg sending recorded speech, the echo bot answering through
 * the sine TTS fixture. The WAV's left channel is what the caller sent (byte for byte: the jitter buffer is
 * pass-through), its right channel is what the gateway sent back; the header is valid while the call is live, after
 * an abrupt end, and a hostile uuid cannot place a file outside the directory.
 */
import t from 'tap';
import { closeSync, rmSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { RecordingStore } from '../../src/recording/store.js';
import { createLogger } from '../../src/observability/logger.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { metricValue, startGateway, until, untilEvent } from '../helpers/gateway.js';
import { goertzel, openRawLeg } from '../helpers/raw-leg.js';
import { firstMismatch, frames, readRecording, voiced } from '../helpers/recording.js';
import { openFilesUnder } from '../helpers/resources.js';
import type WebSocket from 'ws';
import { must } from '../helpers/must.js';

const FRAME = 640;
const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');

/** Speech, then 1.5 s of faint noise (never digital silence), as exact 20 ms frames. */
function callerFrames(): Buffer[] {
  const out = frames(SPEECH, FRAME).map((f) => Buffer.from(f));
  for (let i = 0; i < 75; i++) {
    const f = Buffer.alloc(FRAME);
    for (let j = 0; j < FRAME; j += 2) f.writeInt16LE(((i * 7919 + j * 104729) % 61) - 30 || 1, j);
    out.push(f);
  }
  return out;
}

/** Send frames every 20 ms on a drift-free schedule; `onSent(i)` after each. */
async function send(ws: WebSocket, fs: Buffer[], onSent?: (i: number) => Promise<void> | void): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < fs.length; i++) {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(must(fs[i]));
    await onSent?.(i);
    const wait = t0 + (i + 1) * 20 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

function recDir(): string {
  return join(mkdtempSync(join(tmpdir(), 'rec-')), 'recordings');
}

const ENV = { JITTER_TARGET_MS: '0', TTS_ADAPTER: './dist/test/fixtures/sine-tts.js', BARGE_IN: 'false' };

t.test('left channel = caller audio, right channel = reply frames as sent; header valid mid-call and at the end', async (t) => {
  const dir = recDir();
  const g = await startGateway(t, { ...ENV, RECORDING_DIR: dir });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'rec-call-1', conversation_uuid: 'CON-1', from: '447700900000', to: '447700900001' });
  const wav = join(dir, 'rec-call-1.wav');
  const sent = callerFrames();
  let midCall: { dataSize: number; fileSize: number } | undefined;
  await send(leg.ws, sent, async (i) => {
    // Once more than a second has been recorded, the file on disk must already be a complete WAV.
    if (i === 100) {
      await until(
        () => {
          if (!existsSync(wav)) return false;
          const b = readFileSync(wav);
          if (b.length < 44 || b.readUInt32LE(40) === 0 || b.readUInt32LE(40) !== b.length - 44) return false;
          midCall = { dataSize: b.readUInt32LE(40), fileSize: b.length };
          return true;
        },
        5000,
        'a patched header while the call is live',
      );
      const r = readRecording(wav);
      t.equal(r.channels, 2, 'mid-call: stereo');
      t.equal(r.sampleRateHz, 16000, 'mid-call: the leg rate');
      t.equal(r.riffSize, r.bytes.length - 8, 'mid-call: RIFF size matches the file');
    }
  });
  t.ok(midCall && midCall.dataSize > 0, `mid-call header read: ${JSON.stringify(midCall)}`);
  // The greeting and the played-back utterance both play out (the leg echoes notify like Vonage).
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 2, 15000, 'the echo of the utterance played');
  leg.ws.close(1000);
  await until(() => existsSync(join(dir, 'rec-call-1.json')), 5000, 'metadata written');

  const r = readRecording(wav);
  const size = statSync(wav).size;
  t.equal(r.dataSize, size - 44, 'data size matches the file');
  t.equal(r.riffSize, size - 8, 'RIFF size matches the file');
  t.equal(r.dataSize % 4, 0, 'whole stereo samples');

  const left = voiced(frames(r.left, FRAME));
  t.equal(firstMismatch(left, sent), -1, `left channel holds every caller frame, byte-exact, in order (${left.length}/${sent.length})`);

  const received = voiced(leg.binary);
  const right = voiced(frames(r.right, FRAME));
  t.ok(received.length > 50, `reply frames received: ${received.length}`);
  t.equal(firstMismatch(right, received), -1, `right channel holds every frame sent to the caller, byte-exact, in order (${right.length}/${received.length})`);
  // The greeting was the sine TTS (440 Hz); the echo is the caller's speech.
  const rightPcm = Buffer.concat(right.slice(0, 5));
  t.ok(goertzel(rightPcm, 16000, 440) > 10 * goertzel(rightPcm, 16000, 1000), 'the greeting on the right is the 440 Hz TTS');

  const meta = JSON.parse(readFileSync(join(dir, 'rec-call-1.json'), 'utf8')) as Record<string, unknown>;
  t.match(meta, {
    uuid: 'rec-call-1',
    conversationUuid: 'CON-1',
    from: '447700900000',
    to: '447700900001',
    sampleRateHz: 16000,
    file: 'rec-call-1.wav',
    closeCode: 1000,
    framesWritten: { caller: sent.length },
    framesDropped: 0,
    blocksDropped: 0,
    dataBytes: size - 44,
    error: null,
  });
  t.equal((meta.framesWritten as { bot: number }).bot, leg.binary.length, 'every frame sent is counted');
  t.ok(Date.parse(meta.end as string) >= Date.parse(meta.start as string));
  t.equal(meta.durationMs, Math.round(((size - 44) / 4 / 16000) * 1000));
  t.same(openFilesUnder(dir), [], 'no recording file left open');
  t.equal(g.gw.recordings?.stats.active, 0);
  t.equal(g.gw.recordings?.stats.completed, 1);
  const m = await g.metrics();
  t.equal(metricValue(m, 'gateway_recordings_total{result="completed"}'), 1, 'exported');
  t.equal(metricValue(m, 'gateway_recordings_active'), 0);
});

t.test('a leg destroyed abruptly still leaves a complete WAV and its metadata', async (t) => {
  const dir = recDir();
  const g = await startGateway(t, { ...ENV, RECORDING_DIR: dir });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=8000', { uuid: 'abrupt-1' });
  const sent = callerFrames().map((f) => f.subarray(0, 320));
  await send(leg.ws, sent.slice(0, 80));
  leg.ws.terminate();
  await until(() => existsSync(join(dir, 'abrupt-1.json')), 5000, 'metadata after an abrupt end');
  const r = readRecording(join(dir, 'abrupt-1.wav'));
  t.equal(r.sampleRateHz, 8000);
  t.equal(r.dataSize, r.bytes.length - 44, 'header sizes match the file');
  t.equal(firstMismatch(voiced(frames(r.left, 320)), sent.slice(0, 80)), -1, 'every frame sent before the drop is there');
  const meta = JSON.parse(readFileSync(join(dir, 'abrupt-1.json'), 'utf8')) as { closeCode: number };
  t.equal(meta.closeCode, 1006, 'abnormal closure recorded');
  t.same(openFilesUnder(dir), [], 'file closed');
});

t.test('a hostile uuid cannot escape the recording directory; a repeated uuid gets a new file', async (t) => {
  const dir = recDir();
  const g = await startGateway(t, { ...ENV, RECORDING_DIR: dir });
  for (const uuid of ['../../etc/x', '../../etc/x', '', '/abs/path\u0000evil']) {
    const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
    leg.handshake('audio/l16;rate=16000', { uuid });
    await until(() => g.gw.tracker.size === 1, 3000, 'session');
    leg.ws.close(1000);
    await until(() => g.gw.tracker.size === 0, 3000, 'closed');
  }
  await g.gw.recordings?.whenIdle();
  const names = readdirSync(dir).sort();
  t.ok(names.includes('______etc_x.wav') && names.includes('______etc_x-2.wav'), `sanitised names: ${names.join(' ')}`);
  t.ok(
    names.every((n) => /^[A-Za-z0-9_-]+\.(wav|json)$/.test(n)),
    'only plain names in the directory',
  );
  t.notOk(existsSync(resolve(dir, '../../etc/x.wav')) || existsSync(resolve(dir, '../etc')), 'nothing written outside');
  t.equal(names.filter((n) => n.endsWith('.wav')).length, 4, 'four calls, four recordings');
  for (const n of names.filter((x) => x.endsWith('.wav'))) {
    const r = readRecording(join(dir, n));
    t.equal(r.dataSize, r.bytes.length - 44, `${n} is complete`);
  }
});

t.test('recording off: no directory, no files', async (t) => {
  const g = await startGateway(t, ENV);
  t.equal(g.gw.recordings, undefined);
});

t.test('a uuid repeated 1,500 times gets 1,500 files (it failed from the 1000th); so does a new process over a full directory', async (t) => {
  const dir = recDir();
  t.teardown(() => rmSync(resolve(dir, '..'), { recursive: true, force: true }));
  const logger = createLogger('silent');
  const open = (store: RecordingStore, name: string) =>
    new Promise<string>((res, rej) => store.openUnique(name, (err, fd, base) => (err ? rej(err) : (closeSync(fd), res(base)))));
  const store = new RecordingStore({ dir, logger });
  await store.init();
  const bases: string[] = [];
  for (let i = 0; i < 1500; i++) bases.push(await open(store, 'same-uuid'));
  t.equal(new Set(bases).size, 1500, 'every repeat got its own name');
  t.same(bases.slice(0, 3), ['same-uuid', 'same-uuid-2', 'same-uuid-3'], 'the first repeats are numbered');
  t.equal(bases[1499], 'same-uuid-1500', 'numbered on, from where this store left off');
  // A fresh store (a restarted gateway) over the same directory: the numbered names are taken; it still finds new ones.
  const again = new RecordingStore({ dir, logger });
  const more = [await open(again, 'same-uuid'), await open(again, 'same-uuid')];
  t.equal(new Set([...bases, ...more]).size, 1502, 'still unique after a restart');
  t.ok(
    more.every((b) => b.startsWith('same-uuid-')),
    `suffixed: ${more.join(' ')}`,
  );
  t.equal(readdirSync(dir).filter((n) => n.endsWith('.wav')).length, 1502, 'one file each, nothing overwritten');
});
