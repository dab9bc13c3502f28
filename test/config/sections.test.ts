/**
 * The settings grouped by owner (config/sections.ts): every setting the config holds is in exactly one section, and a
 * section carries the config's values, frozen, built once per config.
 */
import t from 'tap';
import { loadConfig, withBoundPort } from '../../src/config/config.js';
import { SECTION_KEYS, sectionsOf } from '../../src/config/sections.js';

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
