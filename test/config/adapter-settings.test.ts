/**
 * Settings by owner: a built-in adapter's settings are validated only when it is selected; a custom adapter declares
 * its own (SDK `settings`), validated at start-up with errors naming the variable and the adapter, and handed to it
 * parsed; the config file may hold them; docs/configuration.md lists the built-ins' settings under their adapter.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CONFIG_SPECS, loadConfig, selectedAdapters } from '../../src/config/config.js';
import { ADAPTER_SETTINGS } from '../../src/config/adapter-specs.js';
import { readConfigFile } from '../../src/config/config-file.js';
import { closeAdapters, loadAdapters, selectsCustomAdapter } from '../../src/adapters.js';
import { createLogger } from '../../src/observability/logger.js';
import { defineAsr, defineTts } from '../../src/sdk/index.js';
import type { BotOutput } from '../../src/bot/types.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { watchGateway } from '../helpers/child-gateway.js';
import { configError } from '../helpers/config-error.js';
import { adapterContext } from '../../src/adapters.js';

const dir = mkdtempSync(join(tmpdir(), 'vgw-adapter-settings-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger('silent');

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('did not reject');
}

t.test("a built-in adapter's settings are validated only when it is selected (chains and lists included)", async (t) => {
  const bad = { GOOGLE_SPEECH_ROTATE_MS: '5', DEEPGRAM_URL: 'ftp://x', LLM_BASE_URL: 'nope', TTS_WORKERS: '0', AZURE_SPEECH_HOST: 'mailto:x' };
  const c = loadConfig({ ...bad, ASR_ADAPTER: 'local', TTS_ADAPTER: 'none' });
  t.equal(c.googleSpeechRotateMs, 290000, 'not selected: the invalid value is ignored, the default stands');
  t.equal(c.deepgramUrl, 'wss://api.deepgram.com');
  t.equal(c.llmBaseUrl, 'https://api.openai.com/v1');
  t.equal(loadConfig({ ASR_ADAPTER: 'none', GOOGLE_SPEECH_ROTATE_MS: '1000' }).googleSpeechRotateMs, 1000, 'a valid value is kept');
  t.match(
    configError(() => loadConfig({ ...bad, ASR_ADAPTER: 'local,google', TTS_ADAPTER: 'none' })),
    /^Invalid configuration:\n {2}GOOGLE_SPEECH_ROTATE_MS="5" is invalid[^\n]*$/,
    'a chain selects google: only its setting is reported',
  );
  t.match(
    configError(() => loadConfig({ ...bad, ASR_ADAPTER: 'none', BOT_ADAPTER: 'llm', TTS_ADAPTER: 'none' })),
    /^Invalid configuration:\n {2}LLM_BASE_URL="nope" is invalid[^\n]*$/,
  );
  t.match(
    configError(() => loadConfig({ ...bad, ASR_ADAPTER: 'none', TTS_ADAPTER: 'microsoft,flite' })),
    /AZURE_SPEECH_HOST="mailto:x" is invalid[\s\S]*TTS_WORKERS="0" is invalid/,
  );
  t.match(
    configError(() => loadConfig({ ...bad, ASR_ADAPTER: 'deepgram', TTS_ADAPTER: 'none' })),
    /DEEPGRAM_URL="ftp:\/\/x"/,
  );
  t.match(
    configError(() => loadConfig({ BOT_ADAPTER: 'remote' })),
    /BOT_URL="" is invalid: expected a ws:\/\/ or wss:\/\/ URL \(required with BOT_ADAPTER=remote\)/,
  );
  t.match(
    configError(() => loadConfig({ BOT_ADAPTER: 'openai-realtime', LLM_GREETING: '', OPENAI_REALTIME_VOICE: 'bad voice!' })),
    /OPENAI_REALTIME_VOICE/,
  );
  t.match(
    configError(() => loadConfig({ ASR_ADAPTER: 'auto', ASR_BAND_FILL: 'sometimes' })),
    /ASR_BAND_FILL="sometimes"/,
    '`auto` owns the local ASR settings',
  );
  t.match(
    configError(() => loadConfig({ GOOGLE_SPEECH_ROTATE_MS: '5', ASR_ADAPTER: 'none', AUDIO_RATE: '1' })),
    /^Invalid configuration:\n {2}AUDIO_RATE="1"[^\n]*$/,
    'core settings are always checked',
  );
  t.same([...selectedAdapters({ ASR_ADAPTER: ' google , local', TTS_ADAPTER: '' })].sort(), ['asr:google', 'asr:local', 'bot:echo', 'tts:flite']);
});

t.test('every owner names a built-in adapter, every built-in setting has one place, and the page lists them by adapter', async (t) => {
  const kinds = { asr: 'asrAdapter', bot: 'botAdapter', tts: 'ttsAdapter' } as const;
  const base = { asrAdapter: 'none', botAdapter: 'echo', ttsAdapter: 'none' };
  for (const g of ADAPTER_SETTINGS) {
    for (const s of g.specs) {
      t.ok(s.owners?.length, `${s.env} has owners`);
      for (const o of s.owners ?? []) {
        const [kind, name] = o.split(':') as [keyof typeof kinds, string];
        t.notOk(selectsCustomAdapter({ ...base, [kinds[kind]]: name }), `${s.env}: owner ${o} is a built-in`);
      }
    }
  }
  const envs = CONFIG_SPECS.map((s) => s.env);
  t.equal(new Set(envs).size, envs.length, 'no setting twice');
  const doc = readFileSync('docs/configuration.md', 'utf8');
  const section = (title: RegExp) => doc.split(/^### /m).find((s) => title.test(s.split('\n')[0] ?? '')) ?? '';
  t.match(section(/^Google Cloud Speech/), /\| `GOOGLE_SPEECH_ROTATE_MS` \|/);
  t.match(section(/^Microsoft Azure Speech/), /\| `AZURE_SPEECH_KEY` \|/);
  t.match(section(/^Sidecar bot/), /\| `BOT_URL` \|/);
  t.notMatch(doc.split('## Adapter settings')[0] ?? '', /`GOOGLE_SPEECH_ROTATE_MS`/, 'not among the core settings');
});

/** A custom bot module (through the SDK) that declares settings and greets with them. */
const SDK = pathToFileURL(resolve('dist/src/sdk/index.js')).href;
const BOT = join(dir, 'settings-bot.mjs');
writeFileSync(
  BOT,
  `import { defineBot } from ${JSON.stringify(SDK)};
export default defineBot({
  name: 'settings-bot',
  settings: {
    SHOP_NAME: { doc: 'the shop the bot greets for' },
    SHOP_OPENS_AT: { doc: 'opening hour, 0-23', default: '9', parse: (raw) => { const n = Number(raw); if (!Number.isInteger(n) || n < 0 || n > 23) throw new Error('an hour from 0 to 23'); return n; } },
    SHOP_API_KEY: { doc: 'backend key', default: 'not-configured', secret: true, parse: (raw) => { if (raw.length < 8) throw new Error('at least 8 characters'); return raw; } },
  },
  onStart: (_e, ctx) => \`Welcome to \${ctx.settings.SHOP_NAME}, open from \${ctx.settings.SHOP_OPENS_AT + 1 - 1} (\${typeof ctx.settings.SHOP_OPENS_AT})\`,
});
`,
);
writeFileSync(join(dir, 'shop.yaml'), 'SHOP_NAME: Corner Shop\nSHOP_OPENS_AT: 8\n');
writeFileSync(join(dir, 'typo.yaml'), 'SHOP_OPENS: 8\n');
const CALL: CallInfo = { callId: 'c1', conversationUuid: undefined, from: '1', to: '2', sampleRateHz: 16000, language: 'en-US', metadata: {} };

async function greeting(env: Record<string, string>, file?: ReturnType<typeof readConfigFile>): Promise<string> {
  const config = loadConfig({ ASR_ADAPTER: 'none', TTS_ADAPTER: 'none', BOT_ADAPTER: BOT, ...env }, file);
  const adapters = await loadAdapters(config, logger, { ...(file?.values ?? {}), ...env }, { configFile: file });
  try {
    const ctl = new AbortController();
    const session = await adapters.bot.start({ call: CALL, signal: ctl.signal, hasAsr: false, hasTts: false });
    session.input({ type: 'start' });
    const it = session.output[Symbol.asyncIterator]();
    const first = (await it.next()).value as BotOutput;
    ctl.abort();
    return first.type === 'say' ? first.text : first.type;
  } finally {
    await closeAdapters(adapters);
  }
}

t.test('a custom adapter declares its settings: validated at start, parsed into ctx.settings, read from the file too', async (t) => {
  t.equal(await greeting({ SHOP_NAME: 'Acme' }), 'Welcome to Acme, open from 9 (number)', 'defaults and parse applied');
  t.equal(await greeting({ SHOP_NAME: 'Acme', SHOP_OPENS_AT: '7' }), 'Welcome to Acme, open from 7 (number)');
  const file = readConfigFile(join(dir, 'shop.yaml'), CONFIG_SPECS);
  t.equal(await greeting({}, file), 'Welcome to Corner Shop, open from 8 (number)', 'declared keys may live in the config file');
  t.equal(await greeting({ SHOP_OPENS_AT: '10' }, file), 'Welcome to Corner Shop, open from 10 (number)', 'the environment wins');

  const missing = await rejection(greeting({}));
  t.match(missing, /^Invalid configuration:\n {2}SHOP_NAME is required \(declared by BOT_ADAPTER=.*settings-bot\.mjs: the shop the bot greets for\)/);
  const bad = await rejection(greeting({ SHOP_NAME: 'Acme', SHOP_OPENS_AT: '25', SHOP_API_KEY: 'short' }));
  t.match(bad, /SHOP_OPENS_AT="25" is invalid \(declared by BOT_ADAPTER=.*settings-bot\.mjs\): expected an hour from 0 to 23/);
  t.match(bad, /SHOP_API_KEY=\(secret, not shown\) is invalid/);
  t.notMatch(bad, /short/);

  const typo = readConfigFile(join(dir, 'typo.yaml'), CONFIG_SPECS);
  t.match(
    await rejection(greeting({ SHOP_NAME: 'Acme' }, typo)),
    /config file .*typo\.yaml: unknown setting SHOP_OPENS \(did you mean SHOP_NAME\?|config file .*typo\.yaml: unknown setting SHOP_OPENS/,
    'a key nobody declares is refused once the module is loaded',
  );
});

t.test('defineAsr and defineTts hand the parsed settings to start() and synthesize(), and carry the declaration', async (t) => {
  const settings = { VOICE_SPEED: { doc: 'speed', default: '1.5', parse: (r: string) => Number(r) } };
  let seen: unknown;
  const tts = defineTts({ name: 't', settings, sampleRateHz: 16000, synthesize: (_text, req) => ((seen = req.settings.VOICE_SPEED), new Int16Array(320)) });
  t.equal(tts.settings, settings, 'the factory carries the declaration for the gateway');
  const adapter = tts(adapterContext(loadConfig({}), logger, {}, { VOICE_SPEED: 1.5 }));
  for await (const _ of adapter.synthesize({ text: 'hi', call: CALL, voice: undefined, signal: new AbortController().signal })) void _;
  t.equal(seen, 1.5);
  let asrSeen: unknown;
  const asr = defineAsr({ name: 'a', settings: { MODEL_DIR: { doc: 'where' } }, start: (_c, io) => ((asrSeen = io.settings.MODEL_DIR), { write() {} }) });
  t.same(Object.keys(asr.settings ?? {}), ['MODEL_DIR']);
  const s = await asr(adapterContext(loadConfig({}), logger, {}, { MODEL_DIR: '/models' })).start({
    call: CALL,
    signal: new AbortController().signal,
  });
  s.close();
  t.equal(asrSeen, '/models');
});

t.test('the real process: a bad setting of an adapter not selected does not stop the start; selected, it does', async (t) => {
  const start = async (env: Record<string, string>) => {
    const p = spawn(process.execPath, ['dist/src/main.js'], {
      env: { PATH: process.env.PATH ?? '', WORKERS: '1', PORT: '0', HOST: '127.0.0.1', TTS_ADAPTER: 'none', GOOGLE_SPEECH_ROTATE_MS: '5', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const w = watchGateway(p);
    const timer = setTimeout(() => p.kill('SIGKILL'), 30000);
    const listened = await w.port.then(
      () => true,
      () => false,
    );
    if (listened) p.kill('SIGTERM');
    const code = await w.exited;
    clearTimeout(timer);
    return { listened, code, out: w.out() };
  };
  t.ok((await start({ ASR_ADAPTER: 'none' })).listened, 'ASR_ADAPTER=none starts');
  const google = await start({ ASR_ADAPTER: 'google' });
  t.notOk(google.listened);
  t.equal(google.code, 1);
  t.match(google.out, /GOOGLE_SPEECH_ROTATE_MS="5" is invalid: expected an integer from 100 to 300000/);
});
