/**
 * Bots drive the call through the (fake) Vonage REST API: the LLM bot (fake OpenAI server) and the sample sidecar bot
 * (a real child process) each transfer and hang up a call; the fake Voice API checks every request against Vonage's
 * OpenAPI document and verifies the JWT.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startGateway, until, type TestGateway } from '../helpers/gateway.js';
import { openRawLeg, type RawLeg } from '../helpers/raw-leg.js';
import { FakeOpenAi } from '../fakes/openai-server.js';
import { VonageApiFake } from '../fakes/vonage-api.js';
import { must } from '../helpers/must.js';

const APP_ID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
// Vonage call uuids (REST call control accepts only the UUID format).
const LLM_TRANSFER = '11111111-1111-4111-8111-000000000001';
const LLM_HANGUP = '11111111-1111-4111-8111-000000000002';
const SIDECAR_TRANSFER = '11111111-1111-4111-8111-000000000003';
const SIDECAR_HANGUP = '11111111-1111-4111-8111-000000000004';
const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const keyFile = join(mkdtempSync(join(tmpdir(), 'vgw-cc-')), 'private.key');
writeFileSync(keyFile, keys.privateKey, { mode: 0o600 });

async function vonage(t: Test): Promise<VonageApiFake> {
  const f = new VonageApiFake({ applicationId: APP_ID, publicKeyPem: keys.publicKey });
  await f.listen();
  t.teardown(() => f.close());
  return f;
}

/** Vonage's side of an inbound call: answer webhook → NCCO → leg with the NCCO headers (region_url = the fake). */
async function call(g: TestGateway, uuid: string, regionUrl: string): Promise<RawLeg> {
  const q = new URLSearchParams({ uuid, conversation_uuid: `CON-${uuid}`, from: '447700900001', to: '447700900000', region_url: regionUrl });
  const ncco = (await (await fetch(`${g.url}/webhooks/answer?${q}`)).json()) as Array<{ endpoint: Array<{ uri: string; headers: Record<string, string> }> }>;
  const ep = must(must(ncco[0]).endpoint[0]);
  const leg = await openRawLeg(ep.uri.replace('//localhost:', '//127.0.0.1:'));
  leg.handshake('audio/l16;rate=16000', ep.headers);
  return leg;
}
const press = (leg: RawLeg, digit: string) => leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit, duration: 120 }));
const updates = (f: VonageApiFake, uuid: string) =>
  f
    .accepted('updateCall')
    .filter((r) => r.path === `/v1/calls/${uuid}`)
    .map(
      (r) => r.body as { action: string; destination?: { type: string; ncco: Array<{ action: string; endpoint: Array<{ type: string; number: string }> }> } },
    );

t.test('LLM bot: the transfer and hang_up tools reach Vonage over REST', async (t) => {
  const api = await vonage(t);
  const llm = new FakeOpenAi({ apiKey: 'k', model: 'm' });
  const url = await llm.start();
  t.teardown(() => llm.close());
  const g = await startGateway(t, {
    BOT_ADAPTER: 'llm',
    LLM_BASE_URL: url,
    LLM_API_KEY: 'k',
    LLM_MODEL: 'm',
    LLM_TRANSFER_NUMBERS: '447700900002',
    TTS_ADAPTER: './dist/test/fixtures/sine-tts.js',
    VONAGE_APPLICATION_ID: APP_ID,
    VONAGE_PRIVATE_KEY: keyFile,
    VONAGE_API_URL: api.url,
  });

  // Call 1: the caller presses 0; the model transfers the call.
  llm.reply({
    type: 'stream',
    chunks: [
      'Transferring you now.',
      { tool: { index: 0, id: 't1', name: 'transfer' } },
      { tool: { index: 0, args: '{"number":"+447700900002"}' } },
      { finish: 'tool_calls' },
    ],
  });
  const a = await call(g, LLM_TRANSFER, api.url);
  press(a, '0');
  await until(() => updates(api, LLM_TRANSFER).length === 1, 15000, 'REST transfer');
  const tr = must(updates(api, LLM_TRANSFER)[0]);
  t.equal(tr.action, 'transfer');
  t.same(must(tr.destination?.ncco[0]).endpoint[0], { type: 'phone', number: '447700900002' }, 'to the number the model chose (an allowed one)');
  t.match(must(llm.requests[0]).body.messages?.at(-1), { role: 'user', content: /0/ }, 'the key press reached the model');
  a.ws.close();

  // Call 2: the model says goodbye and hangs up: the REST hangup comes after the goodbye has played.
  llm.reply({
    type: 'stream',
    chunks: ['Goodbye!', { tool: { index: 0, id: 'h1', name: 'hang_up' } }, { tool: { index: 0, args: '{"reason":"caller done"}' } }, { finish: 'tool_calls' }],
  });
  const b = await call(g, LLM_HANGUP, api.url);
  press(b, '9');
  const closed = await b.closed;
  t.equal(closed.code, 1000, 'the leg closes normally');
  t.same(
    updates(api, LLM_HANGUP).map((u) => u.action),
    ['hangup'],
    'one REST hangup for the call',
  );
  t.ok(b.binary.length >= 5, `the goodbye was heard first (${b.binary.length} frames)`);
});

t.test('sample sidecar bot (child process): 0 transfers and # hangs up, over REST', async (t) => {
  const api = await vonage(t);
  const child = spawn(process.execPath, ['examples/sidecar-bot.mjs', '--port', '0'], {
    env: { ...process.env, TRANSFER_NUMBER: '447700900003' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  });
  await until(() => lines.some((l) => l.event === 'listening'), 10000, 'sample bot listening');
  const port = lines.find((l) => l.event === 'listening')?.port as number;
  const g = await startGateway(t, {
    BOT_ADAPTER: 'remote',
    BOT_URL: `ws://127.0.0.1:${port}`,
    TTS_ADAPTER: './dist/test/fixtures/sine-tts.js',
    VONAGE_APPLICATION_ID: APP_ID,
    VONAGE_PRIVATE_KEY: keyFile,
    VONAGE_API_URL: api.url,
  });

  const a = await call(g, SIDECAR_TRANSFER, api.url);
  press(a, '0');
  await until(() => updates(api, SIDECAR_TRANSFER).length === 1, 15000, 'REST transfer');
  const tr = must(updates(api, SIDECAR_TRANSFER)[0]);
  t.equal(tr.action, 'transfer');
  t.same(must(tr.destination?.ncco[0]).endpoint[0], { type: 'phone', number: '447700900003' });
  a.ws.close();

  const b = await call(g, SIDECAR_HANGUP, api.url);
  press(b, '#');
  const closed = await b.closed;
  t.equal(closed.code, 1000);
  t.same(
    updates(api, SIDECAR_HANGUP).map((u) => u.action),
    ['hangup'],
    'one REST hangup for the call',
  );
});
