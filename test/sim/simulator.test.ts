/** The Vonage simulator against a real gateway: speech in, reply out, at every rate; and its CLI. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventsOf, startGateway, metricValue } from '../helpers/gateway.js';
import { simulateCall } from '../../src/sim/simulator.js';
import { readWav, readWavFile } from '../../src/audio/wav.js';
import { parseDtmfSpec, parseDuration } from '../../src/cli.js';
import { must } from '../helpers/must.js';

const CARDS = readWavFile('/usr/share/pocketsphinx/test/data/cards/001.wav'); // 16 kHz, ~1.1 s

for (const rate of [8000, 16000, 24000]) {
  t.test(`echo pipeline end to end at ${rate} Hz`, async (t) => {
    const g = await startGateway(t, { AUDIO_RATE: String(rate) });
    const s = await simulateCall({ url: g.url, audio: { samples: CARDS.samples, sampleRateHz: CARDS.sampleRateHz }, tailMs: 2500 });
    t.equal(s.sampleRateHz, rate, 'leg rate from the NCCO');
    t.equal(s.frameBytes, rate / 25);
    t.equal(s.wrongSizeFrames, 0, 'every frame exact');
    t.equal(s.replies.length, 1, 'one reply: the echo');
    // The echo is the utterance (with 200 ms pre-roll, minus the endpointing tail): about the speech's length.
    t.ok(s.framesReceived >= 45 && s.framesReceived <= 75, `echo length ${s.framesReceived * 20} ms`);
    t.ok(s.pacing.intervals >= s.framesReceived - 2);
    t.same(s.notifies, [{ gw: 'seg', id: 1 }], 'the reply ended with a notify, echoed after playout');
    t.type(s.replyLatencyMs, 'number');
    t.ok((s.replyLatencyMs as number) >= 500, 'reply latency includes the endpointing silence');
    t.equal(s.closeCode, 1000);
    t.equal(s.closedBy, 'simulator');
    // What the caller heard holds the echo: energy in the heard timeline where the reply played.
    let energy = 0;
    for (const v of s.heard) energy += v * v;
    t.ok(Math.sqrt(energy / s.heard.length) > 100, 'the caller heard audible audio');
    t.equal(s.heard.length, (s.framesSent * rate) / 50, 'one heard frame per 20 ms');
    const m = await g.metrics();
    t.equal(metricValue(m, 'gateway_frames_out_total'), s.framesReceived, 'gateway and simulator agree on frames out');
    t.equal(metricValue(m, 'gateway_turn_latency_seconds_count'), 1);
    t.comment(`${rate} Hz: pacing p50 ${s.pacing.p50Ms} ms, p99 ${s.pacing.p99Ms} ms; reply latency ${s.replyLatencyMs} ms`);
  });
}

t.test('POST answer webhook, DTMF and a caller hangup', async (t) => {
  const g = await startGateway(t);
  const s = await simulateCall({ url: g.url, answerMethod: 'POST', dtmf: [{ digit: '9', atMs: 200 }], tailMs: 5000, hangupAtMs: 1200 });
  t.equal(s.replies.length, 1, 'the DTMF tone');
  t.equal(s.framesReceived, 10);
  t.ok((must(s.replies[0]).latencyMs as number) >= 0 && (must(s.replies[0]).latencyMs as number) < 1000, 'latency measured from the key press');
  t.equal(s.closedBy, 'simulator');
  t.ok(s.framesSent <= 61, 'hung up at 1.2 s');
  t.equal(metricValue(await g.metrics(), 'gateway_webhook_requests_total{hook="answer",code="200"}'), 1, 'the answer webhook was called');
  t.equal(eventsOf(g, 'call-start', s.uuid).length, 1, 'and the call carries its uuid');
});

t.test('a refused handshake is reported, not thrown', async (t) => {
  const g = await startGateway(t);
  const s = await simulateCall({ url: g.url, handshakeOverrides: { 'content-type': 'audio/l16;rate=44100' } });
  t.equal(s.closeCode, 4002);
  t.equal(s.closedBy, 'gateway');
  t.match(s.closeReason, /unsupported content-type/);
});

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['dist/src/cli.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

t.test('CLI: simulate writes what the caller heard and prints a summary', async (t) => {
  const g = await startGateway(t);
  const dir = mkdtempSync(join(tmpdir(), 'vgw-'));
  const out = join(dir, 'heard.wav');
  const r = await run([
    'simulate',
    '--url',
    g.url,
    '--wav',
    '/usr/share/pocketsphinx/test/data/cards/001.wav',
    '--out',
    out,
    '--dtmf',
    '5@3.3s',
    '--tail',
    '3s',
    '--json',
  ]);
  t.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out) as { framesReceived: number; replies: unknown[]; wrongSizeFrames: number; heard?: unknown };
  t.equal(summary.wrongSizeFrames, 0);
  t.equal(summary.replies.length, 2, 'echo and DTMF tone');
  t.notOk('heard' in summary, 'big arrays left out of the JSON');
  const wav = readWav(readFileSync(out));
  t.equal(wav.sampleRateHz, 16000);
  t.ok(wav.samples.length > 16000 * 2.5, 'the heard WAV covers the call');
  const human = await run(['simulate', '--url', g.url, '--tail', '0.3s']);
  t.equal(human.code, 0);
  t.match(human.out, /frames sent \d+, received 0, wrong size 0/);
  t.match(human.out, /closed 1000/);
});

t.test('CLI: bad flags exit 2, an unreachable gateway exits 1', async (t) => {
  const bad = await run(['simulate', '--bogus']);
  t.equal(bad.code, 2);
  t.match(bad.err, /Usage/);
  t.equal((await run(['simulate', '--dtmf', 'x@1s'])).code, 2);
  t.equal((await run(['frobnicate'])).code, 2);
  const down = await run(['simulate', '--url', 'http://127.0.0.1:1', '--tail', '0.1s']);
  t.equal(down.code, 1);
  t.match(down.err, /vgw: /);
});

t.test('CLI argument parsers', async (t) => {
  t.equal(parseDuration('3s'), 3000);
  t.equal(parseDuration('1.5s'), 1500);
  t.equal(parseDuration('250ms'), 250);
  t.equal(parseDuration('40'), 40);
  t.throws(() => parseDuration('soon'));
  t.same(parseDtmfSpec('1@3s,#@5.5s,*@100ms'), [
    { digit: '1', atMs: 3000 },
    { digit: '#', atMs: 5500 },
    { digit: '*', atMs: 100 },
  ]);
  t.throws(() => parseDtmfSpec('12@1s'));
  t.throws(() => parseDtmfSpec('5'));
});
