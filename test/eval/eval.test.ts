/**
 * Call evals: the scenario schema refuses bad files clearly; each impairment does what it says on real recorded
 * speech; jitter holds frames and releases them together at a real socket; and a CI smoke of shipped scenarios against
 * a real gateway (offline pipeline, eval bot). Scoring rules: test/eval/scoring.test.ts. No timing asserts.
 */
import t from 'tap';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { EVAL_SCENARIO_SCHEMA } from '../../src/eval/scenario-schema.js';
import { loadScenarios, parseScenario, ScenarioError, type Scenario } from '../../src/eval/scenario.js';
import { EchoLine, JitterLine, LineNoise, TelephoneBand, activePower, coughSound } from '../../src/eval/impairments.js';
import { runEvalCall } from '../../src/eval/caller.js';
import { runEval } from '../../src/eval/runner.js';
import { SHIPPED_SCENARIOS } from '../../src/eval/cli.js';
import { withPause } from '../../src/eval/turn-audio.js';
import { startGateway } from '../helpers/gateway.js';
import type { CallInfo } from '../../src/call/call-info.js';
import type { TtsAdapter } from '../../src/tts/types.js';
import { must } from '../helpers/must.js';

// Real calls on a shared 2-core machine: the smoke alone is ~45 s when idle, much more under load (tap's default is 120 s).
t.setTimeout(300_000);

const raw = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
const SPEECH = new Int16Array(raw.buffer, raw.byteOffset, raw.length >> 1); // 16 kHz, "go forward ten meters"

t.test('docs/eval-scenario.schema.json is the schema the loader uses', async (t) => {
  t.same(JSON.parse(readFileSync('docs/eval-scenario.schema.json', 'utf8')), EVAL_SCENARIO_SCHEMA);
});

t.test('every shipped scenario is valid, and the set covers the brief', async (t) => {
  const all = await loadScenarios([SHIPPED_SCENARIOS]);
  const names = all.map((s) => s.name);
  for (const n of [
    'plain-turn',
    'noise-10db',
    'band-limited-8k',
    'jitter-bursts',
    'echo-40db',
    'echo-20db',
    'backchannel-uh-huh',
    'backchannel-okay',
    'cough',
    'interruption',
    'mid-sentence-pause',
  ])
    t.ok(names.includes(n), n);
  t.ok(
    all.some((s) => s.turns.some((x) => x.pauseMs !== undefined && x.pauseMs >= 700 && x.pauseMs <= 900)),
    'a 700–900 ms pause',
  );
});

t.test('bad scenarios are refused with the file and the field', async (t) => {
  const good = { name: 'x', turns: [{ audio: { type: 'silence', durationMs: 100 }, when: { type: 'atMs', ms: 0 }, kind: 'turn' }] };
  const bad = (mut: (s: Record<string, any>) => void, re: RegExp, what: string) => {
    const s = JSON.parse(JSON.stringify(good));
    mut(s);
    t.throws(() => parseScenario(s, 'f.json'), re, what);
  };
  t.ok(parseScenario(JSON.parse(JSON.stringify(good)), 'f.json'));
  bad((s) => delete s.name, /^f\.json: \(top level\): missing field "name"/, 'missing name');
  bad((s) => (s.rateHz = 44100), /f\.json: \/rateHz: must be one of 8000, 16000, 24000/, 'bad rate');
  bad((s) => (s.turns[0].when.type = 'soon'), /f\.json: \/turns\/0\/when\/type: unknown type "soon"/, 'bad when');
  bad((s) => (s.turns[0].kind = 'shout'), /\/turns\/0\/kind: must be one of "turn", "backchannel", "noise"/, 'bad kind');
  bad((s) => (s.turns[0].audio.durationMs = 'long'), /\/turns\/0\/audio\/durationMs: must be integer/, 'bad type');
  bad((s) => (s.impairments = { echo: { delayMs: 120 } }), /\/impairments\/echo: missing field "attenuationDb"/, 'half an echo');
  bad((s) => (s.impairments = { nosie: {} }), /\/impairments: unknown field "nosie"/, 'a typo');
  bad((s) => (s.turns[0].pauseAtMs = 100), /\/turns\/0\/pauseAtMs: needs pauseMs/, 'pause point without a pause');
  const dir = mkdtempSync(join(tmpdir(), 'vgw-eval-'));
  writeFileSync(join(dir, 'broken.json'), '{"name": "x",');
  await t.rejects(loadScenarios([join(dir, 'broken.json')]), /broken\.json: not valid JSON/);
  await t.rejects(loadScenarios([join(dir, 'missing.json')]), /missing\.json: no such file/);
  writeFileSync(join(dir, 'a.json'), JSON.stringify(good));
  writeFileSync(join(dir, 'b.json'), JSON.stringify(good));
  await t.rejects(loadScenarios([dir]), /b\.json: scenario name "x" is also used by .*a\.json/);
  writeFileSync(join(dir, 'y.yaml'), 'name: y\nturns: []\n');
  t.equal(must((await loadScenarios([join(dir, 'y.yaml')]))[0]).name, 'y', 'YAML too (the yaml dev dependency)');
  t.ok(new ScenarioError('x') instanceof Error);
});

/** Power at `hz` (Goertzel over the whole signal), relative units. */
function powerAt(x: Float32Array | Int16Array, rateHz: number, hz: number): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / rateHz);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const s0 = must(x[i]) + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - k * s1 * s2) / x.length;
}
const band = (x: Float32Array | Int16Array, hzs: number[]) => hzs.reduce((a, hz) => a + powerAt(x, 16000, hz), 0);
const db = (a: number, b: number) => 10 * Math.log10(a / b);

t.test('band-limit: real speech loses its energy below 300 Hz and above 3400 Hz, keeps the band', async (t) => {
  const x = Float32Array.from(SPEECH);
  const f = new TelephoneBand(16000);
  for (let off = 0; off < x.length; off += 320) f.process(x.subarray(off, off + 320)); // frame by frame, state kept
  const low = [100, 150, 200];
  const high = [4500, 5000, 6000, 7000];
  const mid = [500, 1000, 2000, 3000];
  t.ok(db(band(SPEECH, low), band(x, low)) > 20, `below 300 Hz: −${db(band(SPEECH, low), band(x, low)).toFixed(1)} dB`);
  t.ok(db(band(SPEECH, high), band(x, high)) > 20, `above 3400 Hz: −${db(band(SPEECH, high), band(x, high)).toFixed(1)} dB`);
  t.ok(Math.abs(db(band(SPEECH, mid), band(x, mid))) < 3, `in band: ${db(band(x, mid), band(SPEECH, mid)).toFixed(2)} dB`);
});

t.test('noise: the line noise sits at the asked SNR against the caller speech (within 1 dB)', async (t) => {
  const speech = activePower(SPEECH, 16000);
  for (const snr of [0, 10, 20]) {
    const n = new LineNoise(LineNoise.rmsForSnr(speech, snr), 3);
    const buf = new Float32Array(SPEECH.length);
    for (let off = 0; off < buf.length; off += 320) n.process(buf.subarray(off, off + 320));
    let p = 0;
    for (const v of buf) p += v * v;
    const got = db(speech, p / buf.length);
    t.ok(Math.abs(got - snr) < 1, `asked ${snr} dB, got ${got.toFixed(2)} dB`);
  }
  const a = new Float32Array(320);
  const b = new Float32Array(320);
  new LineNoise(100, 9).process(a);
  new LineNoise(100, 9).process(b);
  t.same(a, b, 'the same seed, the same noise');
});

t.test('echo: what the caller heard comes back at the delay and the level', async (t) => {
  const echo = new EchoLine(16000, 120, 40);
  const sent = new Float32Array(SPEECH.length + 4000);
  const heardFrame = new Int16Array(320);
  for (let off = 0; off + 320 <= sent.length; off += 320) {
    heardFrame.fill(0);
    if (off < SPEECH.length) heardFrame.set(SPEECH.subarray(off, Math.min(SPEECH.length, off + 320)));
    echo.process(sent.subarray(off, off + 320), heardFrame);
  }
  let best = -1;
  let bestCorr = -Infinity;
  for (let lag = 0; lag <= 4000; lag += 8) {
    let c = 0;
    for (let i = 0; i < SPEECH.length; i += 4) c += must(SPEECH[i]) * must(sent[i + lag]);
    if (c > bestCorr) [bestCorr, best] = [c, lag];
  }
  t.equal(best, 1920, 'strongest at 120 ms (1920 samples at 16 kHz)');
  let ps = 0;
  let pe = 0;
  for (let i = 0; i < SPEECH.length; i++) {
    ps += must(SPEECH[i]) * must(SPEECH[i]);
    pe += must(sent[i + 1920]) ** 2;
  }
  t.ok(Math.abs(db(ps, pe) - 40) < 0.1, `level −${db(ps, pe).toFixed(2)} dB`);
});

t.test('jitter model: bursts hold frames, then release them together, in order', async (t) => {
  const j = new JitterLine({ type: 'bursts', burstEveryMs: 200, holdMs: 60 });
  const out: number[][] = [];
  for (let n = 0; n < 20; n++) out.push(j.push(Buffer.from([n]), n * 20).map((b) => must(b[0])));
  t.same(out.slice(0, 10), [[0], [1], [2], [3], [4], [5], [6], [], [], []], 'held at 140, 160, 180 ms');
  t.same(out[10], [7, 8, 9, 10], 'released together at 200 ms');
  t.equal(out.flat().length, 20 - 3, 'the last burst is still held');
  const r = new JitterLine({ type: 'random', maxMs: 100, seed: 1 });
  const got: number[] = [];
  for (let n = 0; n < 200; n++) got.push(...r.push(Buffer.from([n]), n * 20).map((b) => must(b[0])));
  t.same(
    got,
    [...got].sort((a, b) => a - b),
    'random jitter keeps the order',
  );
  t.ok(r.heldFrames > 50, `${r.heldFrames} frames held`);
});

t.test('jitter at a real socket: the caller sends held frames together', async (t) => {
  // A tiny Vonage-facing server: the answer webhook's NCCO points at its own WebSocket, which records arrivals.
  const arrivals: number[] = [];
  const http = createServer((req, res) => {
    const port = (http.address() as { port: number }).port;
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify([{ action: 'connect', endpoint: [{ type: 'websocket', uri: `ws://127.0.0.1:${port}/ws`, 'content-type': 'audio/l16;rate=8000' }] }]),
    );
  });
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws) => ws.on('message', (d, bin) => bin && arrivals.push(performance.now())));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    http.close();
    http.closeAllConnections(); // fetch's keep-alive socket would hold close() for seconds
  });
  const scenario: Scenario = { name: 'j', turns: [], durationMs: 2000, impairments: { jitter: { type: 'bursts', burstEveryMs: 500, holdMs: 200 } } };
  const tl = await runEvalCall({ url: `http://127.0.0.1:${(http.address() as { port: number }).port}`, scenario, render: async () => [] });
  await new Promise((r) => setTimeout(r, 100));
  // Group frames that arrived within 5 ms of each other: a release of 10 held frames is one group.
  const groups: number[] = [];
  for (let i = 0; i < arrivals.length; i++) {
    if (i && must(arrivals[i]) - must(arrivals[i - 1]) < 5) groups[groups.length - 1]!++;
    else groups.push(1);
  }
  t.ok(tl.framesHeldByJitter >= 20, `${tl.framesHeldByJitter} frames held`);
  t.ok(Math.max(...groups) >= 10, `largest group ${Math.max(...groups)} frames`);
  t.equal(arrivals.length, tl.framesSent, 'every frame sent arrived');
});

t.test('turn audio: a cough is deterministic, and a pause splits the speech where it is quiet', async (t) => {
  t.same(coughSound(8000, 300, -10, 4), coughSound(8000, 300, -10, 4));
  t.notSame(coughSound(8000, 300, -10, 4), coughSound(8000, 300, -10, 5));
  const plain = withPause(SPEECH, 16000);
  const paused = withPause(SPEECH, 16000, 800);
  t.ok(plain.onsetSample > 0 && plain.endSample > plain.onsetSample);
  t.equal(paused.pcm.length, SPEECH.length + 12800);
  t.equal(paused.endSample, plain.endSample + 12800, 'the speech ends 800 ms later');
  const p = paused.pause as { startSample: number; endSample: number };
  t.ok(p.startSample > plain.onsetSample && p.startSample < plain.endSample, 'inside the speech');
  t.ok(
    paused.pcm.subarray(p.startSample, p.endSample).every((v) => v === 0),
    'silent',
  );
});

t.test('CI smoke: shipped scenarios against a real gateway (offline pipeline, eval bot)', async (t) => {
  // Under tap the first Flite synthesis can take over 5 s on a busy machine (its worker boots with tap's import hooks):
  // the greeting must not be dropped as a TTS failure, or the scenarios wait for a bot that never speaks.
  const env = {
    ASR_ADAPTER: 'local',
    TTS_ADAPTER: 'flite',
    TTS_FIRST_AUDIO_TIMEOUT_MS: '30000',
    BOT_ADAPTER: join(process.cwd(), 'eval/eval-bot.mjs'),
    LOG_LEVEL: 'warn',
  };
  const g = await startGateway(t, env);
  // Boot the Flite workers before the calls (a cold pool on a loaded machine can delay the greeting past the scenarios'
  // trigger timeouts).
  const call = { callId: 'warm', sampleRateHz: 16000, language: 'en-US', headers: {} } as unknown as CallInfo;
  for await (const _ of (g.gw.adapters.tts as TtsAdapter).synthesize({ text: 'Hello.', call, signal: new AbortController().signal })) break;
  const scenarios = (await loadScenarios([SHIPPED_SCENARIOS])).filter((s) => ['plain-turn', 'interruption'].includes(s.name));
  const r = await runEval({ url: g.url, scenarios, concurrency: 2, repeat: 1, words: 'first' });
  t.equal(r.legRateHz, 16000);
  t.equal(r.aggregate.failedCalls, 0, JSON.stringify(r.scenarios.flatMap((s) => s.errors)));
  t.equal(r.aggregate.calls, 2);
  const plain = r.scenarios.find((s) => s.name === 'plain-turn')?.scores;
  const intr = r.scenarios.find((s) => s.name === 'interruption')?.scores;
  t.ok(plain && plain.turnLatencyMs.n === 1 && Number.isFinite(plain.turnLatencyMs.p50), 'the plain turn was answered, with a latency');
  t.ok(intr && intr.missedBargeIns.chances >= 1, 'the interruption fell inside a reply');
  t.equal(intr?.missedBargeIns.count, 0, 'and barged in');
  t.ok(intr && intr.bargeInStopMs.n >= 1 && Number.isFinite(intr.bargeInStopMs.p95), 'with a stop latency');
  t.ok(intr && intr.clears >= 1, 'the caller received a clear');
  const a = r.aggregate;
  for (const v of [a.turnLatencyMs.p50, a.turnLatencyMs.p90, a.bargeInStopMs.p50, a.bargeInStopMs.p95, a.heardMsPerReply]) t.ok(Number.isFinite(v), 'finite');
  t.ok(a.wordsHeardPerReply !== null && a.wordsHeardPerReply > 3, `pocketsphinx heard ${a.wordsHeardPerReply} words per reply`);
  for (const k of ['falseBargeIns', 'missedBargeIns', 'prematureCutoffs'] as const) t.type(a[k].chances, 'number');
  t.equal(a.prematureCutoffs.count, 0);
  const ends = r.scenarios.map((s) => `${s.name}: ${s.calls[0]?.replies.map((x) => `${x.startMs}-${x.endMs} ${x.end}`).join(', ')}`).join('; ');
  t.ok(a.replies >= 4, `greetings and answers heard (${ends})`);
  t.comment(`smoke: turn p50 ${a.turnLatencyMs.p50} ms, stop p95 ${a.bargeInStopMs.p95} ms, ${r.durationS} s`);
});
