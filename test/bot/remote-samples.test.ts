/**
 * The sample sidecar bots as real child processes, driven through the Vonage simulator (the path users take): the
 * Python bot (examples/sidecar_bot.py, asyncio + Debian's python3-websockets) and the 1.0 sample bot exactly as it
 * shipped (test/fixtures/sidecar-bot-1.0.mjs), which must keep working unchanged against the 1.1 gateway. One call
 * each: greeting, real recorded speech answered, a key read back, # says goodbye and the gateway hangs up.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Ajv } from 'ajv';
import { startGateway, until } from '../helpers/gateway.js';
import { simulateCall, type SimSummary } from '../../src/sim/simulator.js';
import { SIDECAR_SCHEMA } from '../../src/bot/remote-schema.js';

const raw = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
const SPEECH = new Int16Array(raw.buffer, raw.byteOffset, raw.length >> 1);
// 2.5 s of silence first, so the greeting plays out before the caller speaks (no barge-in in this scenario).
const AUDIO = new Int16Array(16000 * 2.5 + SPEECH.length);
AUDIO.set(SPEECH, 16000 * 2.5);
const ajv = new Ajv({ allErrors: true });
ajv.addSchema(SIDECAR_SCHEMA);
const validateToBot = ajv.getSchema(`${SIDECAR_SCHEMA.$id}#/definitions/GatewayMessage`)!;

type Line = { event?: string; received?: Record<string, unknown>; [k: string]: unknown };

/** The first Python 3 that can import `websockets`: PATH's python3 may be a pyenv build without Debian's packages. */
function pythonWithWebsockets(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import websockets'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}

async function startBot(t: Test, cmd: string, args: string[]) {
  const child = spawn(cmd, [...args, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Line[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(JSON.parse(l) as Line));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  await until(() => lines.some((l) => l.event === 'listening'), 10000, `${args[0]} listening`);
  const port = lines.find((l) => l.event === 'listening')?.port as number;
  const received = () => lines.filter((l) => l.received).map((l) => l.received as Record<string, unknown>);
  return { port, lines, received };
}

/** One simulated call against a gateway driven by the bot on `port`. */
async function call(t: Test, port: number, uuid: string): Promise<SimSummary> {
  const g = await startGateway(t, {
    BOT_ADAPTER: 'remote',
    BOT_URL: `ws://127.0.0.1:${port}`,
    ASR_ADAPTER: './dist/test/fixtures/text-asr.js',
    TTS_ADAPTER: './dist/test/fixtures/sine-tts.js',
    SCRIPTED_ASR_TEXTS: 'go forward ten meters',
  });
  return simulateCall({
    url: g.url,
    uuid,
    audio: { samples: AUDIO, sampleRateHz: 16000 },
    dtmf: [
      { digit: '5', atMs: 7500 },
      { digit: '#', atMs: 9000 },
    ],
    tailMs: 10000,
  });
}

function checkCall(t: Test, s: SimSummary, got: Array<Record<string, unknown>>, uuid: string): void {
  t.equal(s.closedBy, 'gateway', 'the gateway ended the call (the bot hung up after its goodbye)');
  t.equal(s.closeCode, 1000);
  // greeting, "You said go forward ten meters.", "You pressed 5.", the goodbye
  t.ok(s.replies.length >= 4, `four replies heard (${s.replies.length})`);
  t.match(got[0], { type: 'call.started', callId: uuid, protocol: 1, sampleRateHz: 16000 }, 'call.started first');
  t.match(
    got.find((m) => m.type === 'transcript'),
    { text: 'go forward ten meters', final: true },
  );
  t.match(
    got.find((m) => m.type === 'dtmf'),
    { digit: '5' },
  );
  t.ok(got.filter((m) => m.type === 'playback.finished').length >= 3, 'playback events for its replies');
  t.equal(got.at(-1)?.type, 'call.ended', 'call.ended last');
  t.notOk(
    got.some((m) => m.type === 'error'),
    'nothing it sent was refused',
  );
  for (const m of got) t.ok(validateToBot(m), `${m.type} matches the schema`);
}

const py = pythonWithWebsockets();
t.test(
  'the Python sample bot (1.1) through the simulator',
  { skip: py ? false : 'no python3 with the websockets module (Debian: apt-get install python3-websockets)' },
  async (t) => {
    const bot = await startBot(t, py as string, ['examples/sidecar_bot.py']);
    const uuid = '22222222-2222-4222-8222-000000000001';
    const s = await call(t, bot.port, uuid);
    await until(() => bot.lines.some((l) => l.event === 'closed'), 5000, 'bot saw the close');
    const got = bot.received();
    checkCall(t, s, got, uuid);
    t.match(
      bot.lines.find((l) => l.event === 'connected'),
      { callId: uuid, header: uuid, subprotocol: 'vonage-gateway.v1' },
      'call id (query and header) and subprotocol seen on the upgrade',
    );
    t.match(
      got.find((m) => m.type === 'playback.finished'),
      { id: 'greeting' },
      'its reply ids come back',
    );
    t.ok(
      got.some((m) => m.type === 'playback.finished' && m.id === 'goodbye'),
      'the goodbye played whole before the hang-up',
    );
    t.match(got.at(-1), { type: 'call.ended', code: 'bot-hung-up' });
    t.equal(bot.lines.find((l) => l.event === 'closed')?.code, 1000, 'the gateway closed its socket with 1000');
  },
);

t.test('the 1.0 sample bot, unchanged, through the simulator', async (t) => {
  const bot = await startBot(t, process.execPath, ['test/fixtures/sidecar-bot-1.0.mjs']);
  const uuid = '22222222-2222-4222-8222-000000000002';
  const s = await call(t, bot.port, uuid);
  await until(() => bot.lines.some((l) => l.event === 'closed'), 5000, 'bot saw the close');
  const got = bot.received();
  checkCall(t, s, got, uuid);
  t.match(got.at(-1), { type: 'call.ended', reason: 'bot hung up' }, 'the reason text 1.0 documented');
  t.notOk(
    got.some((m) => 'id' in m && m.type !== 'call.started'),
    'no reply ids it never gave',
  );
});
