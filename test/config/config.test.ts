import t from 'tap';
import { loadConfig, withBoundPort } from '../../src/config/config.js';
import { GatewayError } from '../../src/errors.js';

t.test('defaults', async (t) => {
  const c = loadConfig({});
  t.equal(c.port, 8080);
  t.equal(c.publicUrl, 'http://localhost:8080');
  t.equal(c.publicWsUrl, 'ws://localhost:8080');
  t.equal(c.audioRateHz, 16000);
  t.equal(c.logLevel, 'info');
  t.ok(Object.isFrozen(c));
  t.equal(loadConfig({ PUBLIC_URL: 'https://gw.example.com/' }).publicWsUrl, 'wss://gw.example.com');
  t.equal(loadConfig({ PORT: '9000' }).publicUrl, 'http://localhost:9000');
  const bound = withBoundPort(loadConfig({ PORT: '0' }), 43210);
  t.equal(bound.publicUrl, 'http://localhost:43210');
  t.equal(withBoundPort(loadConfig({ PORT: '0', PUBLIC_URL: 'https://x.io' }), 43210).publicUrl, 'https://x.io');
});

t.test('invalid values name the variable and the allowed values, all at once', async (t) => {
  try {
    loadConfig({ AUDIO_RATE: '44100', PORT: 'abc', LOG_LEVEL: 'loud', PUBLIC_URL: 'ftp://x', BARGE_IN: 'maybe' });
    t.fail('accepted');
  } catch (e) {
    t.ok(e instanceof GatewayError);
    const m = (e as Error).message;
    t.match(m, /AUDIO_RATE="44100" is invalid: expected one of 8000, 16000, 24000/);
    t.match(m, /PORT="abc" is invalid: expected an integer from 0 to 65535/);
    t.match(m, /LOG_LEVEL="loud" is invalid: expected one of fatal, error, warn, info, debug, trace, silent/);
    t.match(m, /PUBLIC_URL="ftp:\/\/x" is invalid/);
    t.match(m, /BARGE_IN="maybe"/);
  }
  t.throws(() => loadConfig({ JITTER_TARGET_MS: '30' }), /multiple of 20/);
  t.throws(() => loadConfig({ JITTER_TARGET_MS: '200', JITTER_CAPACITY_MS: '220' }), /JITTER_CAPACITY_MS must be at least/);
});

t.test('main exits with the message on a bad value', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, ['dist/src/main.js'], { env: { ...process.env, AUDIO_RATE: '11025' }, encoding: 'utf8', timeout: 10000 });
  t.equal(r.status, 1);
  t.match(r.stderr, /AUDIO_RATE="11025" is invalid: expected one of 8000, 16000, 24000/);
});
