/**
 * Vonage answering-machine detection: `vgw call --amd` (a real child process) asks the fake Voice API — which checks
 * the body against Vonage's OpenAPI document — for `advanced_machine_detection`; the `human`/`machine`/beep events
 * posted to the event webhook reach the call's bot (an SDK bot in process, a sidecar bot over its socket, checked
 * against the protocol schema), also when they come before the leg connects (sync modes); the echo bot leaves its
 * voicemail after the beep and hangs up; malformed events get a 400 with a JSON reason; a bystander call never notices.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import WebSocket, { WebSocketServer } from 'ws';
import { buildGateway } from '../../src/app.js';
import { loadAdapters } from '../../src/adapters.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { defineBot } from '../../src/sdk/define-bot.js';
import { SIDECAR_SCHEMA } from '../../src/bot/remote-schema.js';
import type { BotInput } from '../../src/bot/types.js';
import { BEEP_WAIT_MS } from '../../src/bot/echo.js';
import { VonageApiFake, voiceApiValidator } from '../fakes/vonage-api.js';
import { eventsOf, startGateway, until, untilEvent, untilLog, type LogLine, type TestGateway } from '../helpers/gateway.js';
import { openRawLeg, type RawLeg } from '../helpers/raw-leg.js';
import { freshGet, startCluster } from '../helpers/cluster-child.js';
import { must } from '../helpers/must.js';
import { adapterContext } from '../../src/adapters.js';

const APP_ID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const dir = mkdtempSync(join(tmpdir(), 'vgw-amd-'));
const keyFile = join(dir, 'private.key');
writeFileSync(keyFile, keys.privateKey, { mode: 0o600 });
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['dist/src/cli.js', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** What Vonage posts to the event webhook for a detection result (Voice API webhook reference: human/machine). */
function amdEvent(callUuid: string, status: 'human' | 'machine', subState?: string): Record<string, unknown> {
  return {
    status,
    call_uuid: callUuid,
    conversation_uuid: `CON-${callUuid}`,
    direction: 'outbound',
    from: '447700900000',
    to: '447700900001',
    timestamp: new Date().toISOString(),
    ...(subState ? { sub_state: subState } : {}),
  };
}

async function postEvent(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const r = await fetch(`${url}/webhooks/event`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}

async function leg(g: { port: number }, uuid: string): Promise<RawLeg> {
  const l = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  l.handshake('audio/l16;rate=16000', { uuid, conversation_uuid: `CON-${uuid}` });
  return l;
}

/** A gateway whose bot (an SDK bot, in process) records every input per call. */
async function recordingGateway(t: Test): Promise<{ url: string; port: number; inputs: Map<string, BotInput[]>; logs: LogLine[]; size: () => number }> {
  const inputs = new Map<string, BotInput[]>();
  const logs: LogLine[] = [];
  const env = { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'debug', ASR_ADAPTER: 'none', TTS_ADAPTER: 'none' };
  const config = loadConfig(env);
  const logger = createLogger(config.logLevel, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const adapters = await loadAdapters(config, logger, env);
  const record = (id: string, e: BotInput) => inputs.set(id, [...(inputs.get(id) ?? []), e]);
  adapters.bot = defineBot<string>({
    name: 'amd-recorder',
    state: (call) => call.callId,
    onStart: (e, ctx) => void record(ctx.state, e),
    onMachineDetection: (e, ctx) => {
      record(ctx.state, e);
      return e.result === 'beep'
        ? [
            { type: 'say', text: 'after the beep' },
            { type: 'hangup', reason: 'voicemail left' },
          ]
        : undefined;
    },
  })(adapterContext(config, logger, env));
  const gw = await buildGateway({ config, logger, env, adapters });
  const port = await gw.listen();
  t.teardown(() => gw.close());
  return { url: `http://127.0.0.1:${port}`, port, inputs, logs, size: () => gw.tracker.size };
}

const detections = (list: BotInput[] | undefined) => (list ?? []).filter((e) => e.type === 'machine-detection');

t.test("vgw call --amd: the create-call body carries advanced_machine_detection, valid per Vonage's spec", async (t) => {
  const home = new VonageApiFake({ applicationId: APP_ID, publicKeyPem: keys.publicKey });
  await home.listen();
  t.teardown(() => home.close());
  const env = { VONAGE_APPLICATION_ID: APP_ID, VONAGE_PRIVATE_KEY: keyFile, VONAGE_API_URL: home.url };
  const r = await runCli(['call', '--to', '447700900001', '--url', 'https://gw.example.com', '--amd', '--amd-beep-timeout', '45s', '--json'], env);
  t.equal(r.code, 0, r.stderr);
  const post = home.accepted('createCall');
  t.equal(post.length, 1, 'accepted by the spec-checking fake');
  const body = must(post[0]).body as { advanced_machine_detection?: unknown; machine_detection?: unknown };
  t.same(
    body.advanced_machine_detection,
    { behavior: 'continue', mode: 'detect_beep', beep_timeout: 45 },
    'behavior continue, mode detect_beep (AMD_MODE default), beep_timeout',
  );
  t.notOk('machine_detection' in body, 'the standard detection is not asked for as well');
  t.match(JSON.parse(r.stdout), { amd: 'detect_beep' });

  const r2 = await runCli(['call', '--to', '447700900001', '--url', 'https://gw.example.com', '--amd'], { ...env, AMD_MODE: 'detect' });
  t.equal(r2.code, 0, r2.stderr);
  t.same(
    (must(home.accepted('createCall')[1]).body as { advanced_machine_detection?: unknown }).advanced_machine_detection,
    { behavior: 'continue', mode: 'detect' },
    'AMD_MODE, and no beep_timeout by default',
  );
  const r3 = await runCli(['call', '--to', '447700900001', '--url', 'https://gw.example.com'], env);
  t.equal(r3.code, 0, r3.stderr);
  t.notOk('advanced_machine_detection' in (must(home.accepted('createCall')[2]).body as object), 'without --amd no detection is asked for');

  for (const bad of [
    ['--amd', '--amd-mode', 'guess'],
    ['--amd', '--amd-beep-timeout', '10'],
    ['--amd-mode', 'detect'],
    ['--amd', '--amd-beep-timeout', 'soon'],
  ]) {
    const b = await runCli(['call', '--to', '447700900001', '--url', 'https://gw.example.com', ...bad], env);
    t.equal(b.code, 2, `usage error: ${bad.join(' ')}`);
  }
  t.equal(home.accepted('createCall').length, 3, 'nothing sent for bad flags');
  // The fake refuses what Vonage would: the test above would catch a wrong shape.
  const create = voiceApiValidator().match('POST', '/v1/calls');
  if ('error' in create) return t.fail(create.error);
  const ok = { to: [{ type: 'phone', number: '447700900001' }], answer_url: ['https://gw.example.com/webhooks/answer'] };
  t.not(
    voiceApiValidator().check(create.route, { ...ok, advanced_machine_detection: { behavior: 'continue', mode: 'guess' } }).length,
    0,
    'unknown mode refused by the spec',
  );
  t.not(
    voiceApiValidator().check(create.route, { ...ok, advanced_machine_detection: { behavior: 'continue', mode: 'detect', beep_timeout: 5 } }).length,
    0,
    'beep_timeout below 30 refused by the spec',
  );
});

t.test('machine then beep events reach the in-process bot of that call only; the bystander call never notices', async (t) => {
  const g = await recordingGateway(t);
  const a = await leg(g, 'amd-call-a');
  const b = await leg(g, 'amd-call-b');
  await until(() => g.inputs.get('amd-call-a')?.length === 1 && g.inputs.get('amd-call-b')?.length === 1, 5000, 'both bots started');
  t.equal((await postEvent(g.url, amdEvent('amd-call-a', 'machine'))).status, 204, 'machine accepted (204)');
  t.equal((await postEvent(g.url, amdEvent('amd-call-a', 'machine', 'beep_start'))).status, 204, 'beep accepted');
  await until(() => detections(g.inputs.get('amd-call-a')).length === 2, 5000, 'both results delivered');
  t.same(
    detections(g.inputs.get('amd-call-a')),
    [
      { type: 'machine-detection', result: 'machine' },
      { type: 'machine-detection', result: 'beep', subState: 'beep_start' },
    ],
    'machine, then the beep',
  );
  const closed = await a.closed;
  t.equal(closed.code, 1000, 'the bot hung up after its message');
  t.same(detections(g.inputs.get('amd-call-b')), [], "the bystander's bot got nothing");
  t.equal(b.ws.readyState, WebSocket.OPEN, 'the bystander call goes on');
  t.equal((await postEvent(g.url, amdEvent('amd-call-b', 'human'))).status, 204, 'human accepted');
  await until(() => detections(g.inputs.get('amd-call-b')).length === 1, 5000, 'human delivered');
  t.same(detections(g.inputs.get('amd-call-b')), [{ type: 'machine-detection', result: 'human' }]);
  t.equal(b.ws.readyState, WebSocket.OPEN, 'a human: the call goes on');
  b.ws.close();
});

t.test('with a sync mode the result comes before the leg: held, and given to the bot right after start', async (t) => {
  const g = await recordingGateway(t);
  t.equal((await postEvent(g.url, amdEvent('amd-early', 'machine', 'beep_timeout'))).status, 204);
  t.equal((await postEvent(g.url, amdEvent('amd-someone-else', 'human'))).status, 204);
  const l = await leg(g, 'amd-early');
  await until(() => detections(g.inputs.get('amd-early')).length === 1, 5000, 'held result delivered');
  const got = g.inputs.get('amd-early') ?? [];
  t.equal(must(got[0]).type, 'start', 'start comes first');
  t.same(got[1], { type: 'machine-detection', result: 'beep-timeout', subState: 'beep_timeout' }, 'then the held result');
  t.equal(g.inputs.get('amd-someone-else'), undefined, "another call's result stays with it");
  l.ws.close();
});

t.test('malformed detection events get a 400 with a JSON reason; nothing reaches any bot', async (t) => {
  const g = await recordingGateway(t);
  const l = await leg(g, 'amd-malformed');
  await until(() => g.inputs.get('amd-malformed')?.length === 1, 5000, 'bot started');
  const cases: Array<[string, unknown]> = [
    ['no call uuid', { status: 'machine', conversation_uuid: 'CON-amd-malformed' }],
    ['call uuid not a string', { status: 'machine', call_uuid: 42 }],
    ['sub_state not a string', { ...amdEvent('amd-malformed', 'machine'), sub_state: { beep: true } }],
    ['sub_state on a human', amdEvent('amd-malformed', 'human', 'beep_start')],
    ['status not a string', { status: ['machine'], call_uuid: 'amd-malformed' }],
  ];
  for (const [what, body] of cases) {
    const r = await postEvent(g.url, body);
    t.equal(r.status, 400, `${what}: 400`);
    t.match(r.json, { error: 'WEBHOOK_MALFORMED', reason: String }, `${what}: JSON reason`);
  }
  const future = await postEvent(g.url, amdEvent('amd-malformed', 'machine', 'voice_detected'));
  t.equal(future.status, 204, 'a sub_state Vonage may add later is taken as a plain machine result');
  await until(() => detections(g.inputs.get('amd-malformed')).length === 1, 5000, 'delivered');
  t.same(
    detections(g.inputs.get('amd-malformed')),
    [{ type: 'machine-detection', result: 'machine', subState: 'voice_detected' }],
    'only the well-formed event reached the bot',
  );
  t.equal(g.size(), 1, 'the call is still up');
  l.ws.close();
});

t.test('the echo bot: silent after machine, its voicemail after the beep, then it hangs up', async (t) => {
  const g: TestGateway = await startGateway(t, { TTS_ADAPTER: 'flite', TTS_FIRST_AUDIO_TIMEOUT_MS: '30000', VOICEMAIL_TEXT: 'This is your voicemail test.' });
  const l = await leg(g, 'amd-echo');
  await until(() => l.binary.length > 0, 30000, 'the greeting starts');
  t.equal((await postEvent(g.url, amdEvent('amd-echo', 'machine'))).status, 204);
  await until(() => l.texts.some((m) => (m as { action?: string }).action === 'clear'), 5000, 'the greeting is cut');
  const atMachine = l.binary.length;
  t.equal((await postEvent(g.url, amdEvent('amd-echo', 'machine', 'beep_start'))).status, 204);
  await untilLog(g, (x) => x.msg === 'bot hangup' && x.reason === 'voicemail left', 30000, 'hang up after the voicemail');
  const closed = await l.closed;
  t.equal(closed.code, 1000, 'the call ends normally');
  t.ok(l.binary.length - atMachine > 50, `the voicemail was spoken (${l.binary.length - atMachine} frames after the beep)`);
  t.ok(
    eventsOf(g, 'reply-done', 'amd-echo').some((e) => !e.interrupted && e.totalMs > 1000),
    'the voicemail reply played to its end',
  );
});

t.test('a sidecar bot gets machine.detection, valid per the protocol schema', async (t) => {
  const ajv = new Ajv({ allErrors: true });
  ajv.addSchema(SIDECAR_SCHEMA);
  const validate = ajv.getSchema(`${SIDECAR_SCHEMA.$id}#/definitions/GatewayMessage`)!;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  const got: Array<{ type?: string; [k: string]: unknown }> = [];
  wss.on('connection', (s) => s.on('message', (d) => got.push(JSON.parse(d.toString()) as { type?: string })));
  const g = await startGateway(t, { BOT_ADAPTER: 'remote', BOT_URL: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/bot` });
  const l = await leg(g, 'amd-sidecar');
  await until(() => got.some((m) => m.type === 'call.started'), 5000, 'call.started');
  t.equal((await postEvent(g.url, amdEvent('amd-sidecar', 'machine'))).status, 204);
  t.equal((await postEvent(g.url, amdEvent('amd-sidecar', 'machine', 'beep_start'))).status, 204);
  await until(() => got.filter((m) => m.type === 'machine.detection').length === 2, 5000, 'machine.detection twice');
  const msgs = got.filter((m) => m.type === 'machine.detection');
  t.same(msgs, [
    { type: 'machine.detection', result: 'machine' },
    { type: 'machine.detection', result: 'beep', subState: 'beep_start' },
  ]);
  for (const m of msgs) t.ok(validate(m), `valid per the schema ${JSON.stringify(validate.errors)}`);
  l.ws.close();
});

t.test('WORKERS=2: a result reaches its call whichever worker the webhook lands on, also before the leg', async (t) => {
  const g = await startCluster({ WORKERS: '2' });
  t.teardown(() => void g.proc.kill('SIGKILL'));
  const ws = `ws://127.0.0.1:${g.port}/socket`;
  const ids = ['amd-cl-1', 'amd-cl-2', 'amd-cl-3', 'amd-cl-4'];
  const legs: RawLeg[] = [];
  for (const id of ids) {
    const l = await openRawLeg(ws);
    l.handshake('audio/l16;rate=16000', { uuid: id });
    legs.push(l);
  }
  const where = new Map<string, number>();
  for (const id of ids) where.set(id, (await g.untilLog((l) => l.msg === 'call started' && l.call === id, 10000, `${id} to start`)).worker as number);
  t.equal(new Set(where.values()).size, 2, 'calls on both workers');
  // Each result posted twice on fresh connections (GET, as Vonage may): round robin spreads them over the workers.
  const get = (id: string, sub?: string) =>
    freshGet(g.port, `/webhooks/event?${new URLSearchParams({ status: 'machine', call_uuid: id, ...(sub ? { sub_state: sub } : {}) })}`);
  for (const id of ids) for (let i = 0; i < 2; i++) t.equal((await get(id)).status, 204);
  const delivered = (id: string) => g.logs.filter((l) => l.msg === 'machine detection' && l.call === id);
  await until(() => ids.every((id) => delivered(id).length === 2), 10000, 'every result delivered');
  for (const id of ids)
    t.ok(
      delivered(id).every((l) => l.worker === where.get(id)),
      `${id}: both results told to its bot, on its worker ${where.get(id)}`,
    );
  const relayed = g.logs.filter((l) => l.msg === 'vonage event' && l.kind === 'machine' && l.live === false);
  t.ok(relayed.length > 0, `${relayed.length} results landed on the other worker and were relayed`);
  // Before the leg (sync modes): held on every worker, given to the leg wherever it connects.
  for (let i = 0; i < 2; i++) t.equal((await get('amd-cl-early', 'beep_start')).status, 204);
  const early = await openRawLeg(ws);
  early.handshake('audio/l16;rate=16000', { uuid: 'amd-cl-early' });
  await until(() => delivered('amd-cl-early').length === 2, 10000, 'held results delivered at connect');
  t.same(
    delivered('amd-cl-early').map((l) => l.result),
    ['beep', 'beep'],
    'the beep, from both posts',
  );
  for (const l of [...legs, early]) l.ws.close();
});

t.test("the echo bot after machine with no beep (Vonage's detect mode): the voicemail anyway, once the wait is over", async (t) => {
  const g: TestGateway = await startGateway(t, { TTS_ADAPTER: 'flite', TTS_FIRST_AUDIO_TIMEOUT_MS: '30000', VOICEMAIL_TEXT: 'No beep came.' });
  const l = await leg(g, 'amd-echo-nobeep');
  await untilEvent(g, 'call-start', (e) => e.call === 'amd-echo-nobeep', 5000, 'call started');
  t.equal((await postEvent(g.url, amdEvent('amd-echo-nobeep', 'machine'))).status, 204);
  await untilLog(g, (x) => x.msg === 'machine detection', 5000, 'told to the bot');
  t.notOk(
    g.logs.some((x) => x.msg === 'bot hangup'),
    'it waits for a beep first',
  );
  await untilLog(g, (x) => x.msg === 'bot hangup' && x.reason === 'voicemail left', BEEP_WAIT_MS + 20000, 'the voicemail after the wait');
  t.equal((await l.closed).code, 1000, 'then the call ends');
});
