/**
 * The settings grouped by owner (config/sections.ts): every setting the config holds is in exactly one section, and a
 * section carries the config's values, frozen, built once per config.
 */
import t from 'tap';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { loadConfig, withBoundPort } from '../../src/config/config.js';
import { CALL_SECTIONS, SECTION_KEYS, callSettingsOf, sectionsOf } from '../../src/config/sections.js';
import { must } from '../helpers/must.js';

t.test('every setting is in exactly one section', async (t) => {
  const config = loadConfig({});
  const owner = new Map<string, string[]>();
  for (const [name, keys] of Object.entries(SECTION_KEYS)) for (const k of keys) owner.set(k, [...(owner.get(k) ?? []), name]);
  for (const k of Object.keys(config)) t.same(owner.get(k)?.length, 1, `${k} is in one section (${owner.get(k)?.join(', ') ?? 'none'})`);
  for (const k of owner.keys()) t.ok(k in config, `section key ${k} is a setting`);
});

t.test('sections carry the values, frozen, once per config object', async (t) => {
  const config = loadConfig({ JITTER_TARGET_MS: '80', WS_AUTH: 'custom', WS_AUTH_TOKEN: 'token-123', ASR_ADAPTER: 'deepgram', DEEPGRAM_MODEL: 'nova-2' });
  const s = sectionsOf(config);
  t.equal(s.jitter.jitterTargetMs, 80);
  t.equal(s.security.wsAuth, 'custom');
  t.equal(s.asr.deepgramModel, 'nova-2');
  t.notOk('wsAuthToken' in s.jitter, 'a section holds only its own settings');
  t.ok(Object.isFrozen(s) && Object.isFrozen(s.leg));
  t.equal(sectionsOf(config), s, 'built once');
  const bound = withBoundPort(loadConfig({ PORT: '0' }), 4321);
  t.equal(sectionsOf(bound).server.port, 4321, 'a new config (the bound port) gets its own sections');
});

/**
 * Settings by owner, kept: outside the composition roots and the config code, no module under src/ imports the whole
 * `Config` type or turns a whole config into sections itself; each is handed its section(s) by whoever builds it.
 */
const MAY_HOLD_CONFIG: Readonly<Record<string, string>> = {
  'src/main.ts': 'the process entry: reads the settings once',
  'src/app.ts': 'builds the gateway and hands each part its sections',
  'src/adapters.ts': "builds the adapters' contexts (their deprecated `ctx.config` is the whole config)",
  'src/util/adapter-context.ts': 'declares the deprecated `ctx.config` of the adapter SDK (kept for adapters written against it)',
};
/** Commands that are their own process's composition root: they read the settings and hand out sections. */
const MAY_SPLIT_CONFIG: ReadonlySet<string> = new Set(['src/main.ts', 'src/app.ts', 'src/adapters.ts', 'src/vonage/call-command.ts']);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Whether `source` imports the `Config` type of config/config.ts (a named import, also renamed, or `import('…').Config`). */
function importsConfigType(source: string): boolean {
  for (const m of source.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['"][^'"]*config\/config(?:\.js)?['"]/g)) {
    const names = must(m[1], 'import list')
      .split(',')
      .map(
        (n) =>
          n
            .trim()
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)[0],
      );
    if (names.includes('Config')) return true;
  }
  return /import\(\s*['"][^'"]*config\/config(?:\.js)?['"]\s*\)\.Config\b/.test(source);
}

t.test('only the composition roots and src/config/ hold the whole Config; every other module is handed its sections', async (t) => {
  const files = sourceFiles('src').filter((f) => !f.startsWith('src/config/'));
  t.ok(files.length > 100, `the source files are read (${files.length})`);
  const holders = files.filter((f) => importsConfigType(readFileSync(f, 'utf8')));
  t.same(
    holders.filter((f) => !(f in MAY_HOLD_CONFIG)),
    [],
    'no other module imports the Config type',
  );
  for (const f of Object.keys(MAY_HOLD_CONFIG)) t.ok(existsSync(f), `${f} (allowed to hold Config) exists`);
  const splitters = files.filter((f) => /\b(?:sectionsOf|callSettingsOf)\(/.test(readFileSync(f, 'utf8')));
  t.same(
    splitters.filter((f) => !MAY_SPLIT_CONFIG.has(f)),
    [],
    'no other module turns a whole config into sections',
  );
  // The check itself sees the forms an import takes.
  t.ok(importsConfigType("import type { Config } from '../config/config.js';"));
  t.ok(importsConfigType("import { loadConfig, type Config as C } from './config/config.js';"));
  t.ok(importsConfigType("let c: import('../config/config.js').Config;"));
  t.notOk(importsConfigType("import { loadConfig, type ConfigFile } from '../config/config.js';"));
  t.notOk(importsConfigType("import type { Config } from 'some-package';"));
});

t.test('CallSettings: the call sections merged, frozen, once per config object', async (t) => {
  const config = loadConfig({ JITTER_TARGET_MS: '80', VAD_MODE: '3', BOT_REPLY_TIMEOUT_MS: '9000' });
  const c = callSettingsOf(config);
  t.equal(c.jitterTargetMs, 80);
  t.equal(c.vadMode, 3);
  t.equal(c.botReplyTimeoutMs, 9000);
  t.notOk('wsAuthToken' in c || 'vonagePrivateKey' in c || 'azureSpeechKey' in c, 'no setting of another section');
  for (const name of CALL_SECTIONS) for (const k of SECTION_KEYS[name]) t.ok(k in c, `${name}.${k} is in the call settings`);
  t.ok(Object.isFrozen(c));
  t.equal(callSettingsOf(config), c, 'built once');
});
