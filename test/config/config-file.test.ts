/**
 * The optional config file (`--config`, `CONFIG_FILE`): structured values, precedence (environment > file > default),
 * unknown keys and malformed YAML refused at start with the file, key and line named, values never printed. Unit
 * checks on the reader, then the real process (`node dist/src/main.js`, `vgw`).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_SPECS, loadConfig } from '../../src/config/config.js';
import { checkFileKeys, configFileArg, layerEnv, readConfigFile } from '../../src/config/config-file.js';
import { watchGateway } from '../helpers/child-gateway.js';
import { configError } from '../helpers/config-error.js';

const dir = mkdtempSync(join(tmpdir(), 'vgw-config-file-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const KNOWN = new Set(CONFIG_SPECS.map((s) => s.env));
const read = (p: string) => readConfigFile(p, CONFIG_SPECS);

t.test('structured values become the settings the environment would give', async (t) => {
  const file = read(
    write(
      'structured.yaml',
      [
        'LANGUAGE_BY_NUMBER:',
        '  "447700900001": en-GB/en-GB-SoniaNeural',
        '  33170000000: { language: fr-FR }',
        '  "4930000000": { language: de-DE, voice: de-DE-KatjaNeural }',
        'BACKCHANNEL_WORDS: [uh-huh, mm-hmm, got it]',
        'LLM_TRANSFER_NUMBERS:',
        '  - "+44 7700 900002"',
        '  - 33170000001',
        'LLM_SYSTEM_PROMPT: |',
        '  You are the front desk.',
        '  Be brief.',
        'OTEL_EXPORTER_OTLP_HEADERS: { api-key: "a b,c" }',
        'BARGE_IN: false',
        'JITTER_TARGET_MS: 80',
        'BOT_ADAPTER: llm',
      ].join('\n'),
    ),
  );
  const c = loadConfig({}, file);
  t.same(c.languageByNumber, {
    '447700900001': { language: 'en-GB', voice: 'en-GB-SoniaNeural' },
    '33170000000': { language: 'fr-FR' },
    '4930000000': { language: 'de-DE', voice: 'de-DE-KatjaNeural' },
  });
  t.same(c.backchannelWords, ['uh-huh', 'mm-hmm', 'got it']);
  t.same(c.llmTransferNumbers, ['447700900002', '33170000001']);
  t.equal(c.llmSystemPrompt, 'You are the front desk.\nBe brief.');
  t.same(c.otelHeaders, { 'api-key': 'a b,c' }, 'a header value with a comma survives (URL-encoded on the way)');
  t.equal(c.bargeIn, false);
  t.equal(c.jitterTargetMs, 80);
  const json = loadConfig({}, read(write('same.json', JSON.stringify({ BACKCHANNEL_WORDS: ['uh-huh', 'mm-hmm', 'got it'], JITTER_TARGET_MS: 80 }))));
  t.same(json.backchannelWords, c.backchannelWords, 'JSON reads the same');
  t.equal(json.jitterTargetMs, 80);
});

t.test('precedence: a non-empty environment variable > the file > the default', async (t) => {
  const file = read(write('prec.yaml', 'VAD_SILENCE_MS: 900\nLOG_LEVEL: warn\nLANGUAGE: fr-FR\n'));
  const c = loadConfig({ VAD_SILENCE_MS: '700', LANGUAGE: '' }, file);
  t.equal(c.vadSilenceMs, 700, 'the environment wins over the file');
  t.equal(c.logLevel, 'warn', 'the file wins over the default');
  t.equal(c.language, 'fr-FR', 'an empty variable does not hide the file');
  t.equal(c.vadMinSpeechMs, 120, 'neither: the default');
  t.equal(loadConfig({}).logLevel, 'info', 'no file: the default');
  const env = layerEnv({ VAD_SILENCE_MS: '700', OTHER: 'x' }, file);
  t.equal(env.VAD_SILENCE_MS, '700');
  t.equal(env.LOG_LEVEL, 'warn', 'adapters see the file under the environment too');
  t.equal(env.OTHER, 'x');
});

t.test('which file: --config beats CONFIG_FILE; a stray argument is refused', async (t) => {
  t.equal(configFileArg(['--config', 'a.yaml'], { CONFIG_FILE: 'b.yaml' }), 'a.yaml');
  t.equal(configFileArg(['--config=a.yaml'], {}), 'a.yaml');
  t.equal(configFileArg([], { CONFIG_FILE: 'b.yaml' }), 'b.yaml');
  t.equal(configFileArg([], { CONFIG_FILE: '' }), undefined);
  t.match(
    configError(() => configFileArg(['--config'], {})),
    /--config needs a file path/,
  );
  t.match(
    configError(() => configFileArg(['--cofnig', 'a.yaml'], {})),
    /unknown argument "--cofnig"/,
  );
});

t.test('refused: unknown keys, malformed YAML, wrong shapes, bad values; the file is named, values are not shown', async (t) => {
  const unknown = read(write('unknown.yaml', 'LLM_MODLE: gpt\nPORT: 0\nNOT_A_SETTING: 1\n'));
  const m = configError(() => checkFileKeys(unknown, KNOWN));
  t.match(m, /config file .*unknown\.yaml: unknown setting LLM_MODLE \(did you mean LLM_MODEL\?\)/);
  t.match(m, /unknown setting NOT_A_SETTING: not a gateway setting/);
  t.notMatch(m, /PORT/, 'known keys pass');
  t.doesNotThrow(() => checkFileKeys(read(write('ok.yaml', 'PORT: 0\n')), KNOWN));

  const broken = write('broken.yaml', 'PORT: 0\nLLM_API_KEY: "sk-live-123456\nLOG_LEVEL: warn\n');
  const b = configError(() => read(broken));
  t.match(b, /config file .*broken\.yaml: line 2, column 14: malformed YAML\/JSON: Missing closing "quote/);
  t.notMatch(b, /sk-live/, 'the secret on the broken line is not printed');
  t.match(
    configError(() => read(write('indent.yaml', 'PORT: 0\n  LOG_LEVEL: warn\n'))),
    /indent\.yaml: line 1, column \d+: malformed YAML/,
  );
  t.match(
    configError(() => read(write('dup.yaml', 'PORT: 1\nPORT: 2\n'))),
    /dup\.yaml: line 2, column 1: malformed YAML\/JSON: Map keys must be unique/,
  );
  t.match(
    configError(() => read(write('badjson.json', '{"PORT": 1,,}'))),
    /badjson\.json: line 1, column \d+: malformed/,
  );
  t.match(
    configError(() => read(write('list.yaml', '- PORT\n'))),
    /list\.yaml: expected a map of SETTING: value at the top level/,
  );
  t.match(
    configError(() => read(join(dir, 'missing.yaml'))),
    /config file .*missing\.yaml: cannot read it/,
  );

  const shapes = configError(() =>
    read(write('shapes.yaml', 'PORT: [1, 2]\nBACKCHANNEL_WORDS: ["a,b"]\nLANGUAGE_BY_NUMBER: [x]\nLLM_API_KEY: { k: sk-live-9 }\n')),
  );
  t.match(shapes, /shapes\.yaml: PORT \(line 1, column 1\): expected a single value, not a list/);
  t.match(shapes, /BACKCHANNEL_WORDS \(line 2, column 1\): expected a list of items without commas/);
  t.match(shapes, /LANGUAGE_BY_NUMBER \(line 3, column 1\): expected a map of number: language/);
  t.match(shapes, /LLM_API_KEY \(line 4, column 1\): expected a single value, not a map/);
  t.notMatch(shapes, /sk-live/);

  const bad = read(write('bad.yaml', 'AUDIO_RATE: 44100\nVONAGE_SIGNATURE_SECRET: short\n'));
  const v = configError(() => loadConfig({}, bad));
  t.match(v, /AUDIO_RATE="44100" \(from .*bad\.yaml\) is invalid: expected one of 8000, 16000, 24000/);
  t.match(v, /VONAGE_SIGNATURE_SECRET=\(secret, not shown\) \(from .*bad\.yaml\) is invalid/);
  t.notMatch(v, /short/);
  t.match(
    configError(() => loadConfig({ AUDIO_RATE: '11025' }, bad)),
    /AUDIO_RATE="11025" is invalid/,
    'a bad value from the environment is not blamed on the file',
  );
});

t.test('the example in docs/configuration.md is a valid config file', async (t) => {
  const doc = readFileSync('docs/configuration.md', 'utf8');
  const block = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  t.ok(block, 'the page has a YAML example');
  const file = read(write('doc-example.yaml', block ?? ''));
  t.doesNotThrow(() => checkFileKeys(file, KNOWN));
  const c = loadConfig({}, file);
  t.equal(c.botAdapter, 'llm');
  t.match(c.llmSystemPrompt, /\n/, 'the prompt keeps its lines');
  t.same(Object.keys(c.languageByNumber), ['447700900001', '33170000000']);
});

/** Run the gateway (or `vgw`) with `args` until it listens or exits; returns what it printed and its socket path. */
async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; socket?: string }> {
  const p = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', WORKERS: '1', PORT: '0', HOST: '127.0.0.1', ASR_ADAPTER: 'none', TTS_ADAPTER: 'none', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const w = watchGateway(p);
  const timer = setTimeout(() => p.kill('SIGKILL'), 30000);
  try {
    await w.port;
    const socket = /"socket":"[^"]*?(\/[^"/]*)"/.exec(w.out())?.[1];
    p.kill('SIGTERM');
    return { code: await w.exited, out: w.out(), socket };
  } catch {
    return { code: await w.exited, out: w.out() };
  } finally {
    clearTimeout(timer);
  }
}

t.test('the real process: --config, CONFIG_FILE and vgw read the file; the environment wins; errors exit 1', async (t) => {
  const good = write('gw.yaml', 'WS_PATH: /from-file\nLOG_LEVEL: info\nLLM_API_KEY: sk-live-abcdef\n');
  const a = await run(['dist/src/main.js', '--config', good]);
  t.equal(a.socket, '/from-file', 'main.js --config: the file is read');
  t.notMatch(a.out, /sk-live/, 'a secret in the file is not logged');
  t.equal((await run(['dist/src/main.js'], { CONFIG_FILE: good })).socket, '/from-file', 'CONFIG_FILE');
  t.equal((await run(['dist/src/main.js', '--config', good], { WS_PATH: '/from-env' })).socket, '/from-env', 'the environment wins');
  t.equal((await run(['dist/src/cli.js', '--config', good])).socket, '/from-file', 'vgw --config');
  t.equal((await run(['dist/src/cli.js', 'serve', `--config=${good}`])).socket, '/from-file', 'vgw serve --config=');

  const typo = await run(['dist/src/main.js', '--config', write('typo.yaml', 'WS_PAHT: /x\n')]);
  t.equal(typo.code, 1);
  t.match(typo.out, /config file .*typo\.yaml: unknown setting WS_PAHT \(did you mean WS_PATH\?\)/);
  const broken = await run(['dist/src/main.js', '--config', write('broken2.yaml', "WS_PATH: /x\nCONSOLE_TOKEN: '0123456789abcdef-secret\nPORT: 0\n")]);
  t.equal(broken.code, 1);
  t.match(broken.out, /broken2\.yaml: line 2, column 16: malformed YAML\/JSON/);
  t.notMatch(broken.out, /0123456789abcdef/);
});
