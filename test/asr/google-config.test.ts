/** Google Speech settings: defaults, parsing, and the combinations refused at start. */
import t from 'tap';
import { loadConfig } from '../../src/config/config.js';
import { parseEndpoint } from '../../src/asr/google.js';
import { backoffMs } from '../../src/asr/google-errors.js';

t.test('defaults', async (t) => {
  const c = loadConfig({});
  t.equal(c.googleSpeechModel, '');
  t.equal(c.googleSpeechInterim, true);
  t.same(c.googleSpeechPhrases, []);
  t.equal(c.googleSpeechSingleUtterance, false);
  t.equal(c.googleSpeechEndpoint, '');
  t.equal(c.googleSpeechInsecure, false);
  t.equal(c.googleSpeechKeyFile, '');
  t.equal(c.googleSpeechRotateMs, 290000);
  t.equal(c.googleSpeechReplayMs, 10000);
});

t.test('values', async (t) => {
  const c = loadConfig({
    GOOGLE_SPEECH_MODEL: 'telephony',
    GOOGLE_SPEECH_INTERIM: 'false',
    GOOGLE_SPEECH_PHRASES: ' account number ,, agent,',
    GOOGLE_SPEECH_SINGLE_UTTERANCE: 'yes',
    GOOGLE_SPEECH_ENDPOINT: 'eu-speech.googleapis.com:443',
    GOOGLE_SPEECH_KEY_FILE: '/secrets/k.json',
    GOOGLE_SPEECH_ROTATE_MS: '60000',
  });
  t.equal(c.googleSpeechModel, 'telephony');
  t.equal(c.googleSpeechInterim, false);
  t.same(c.googleSpeechPhrases, ['account number', 'agent']);
  t.ok(Object.isFrozen(c.googleSpeechPhrases));
  t.equal(c.googleSpeechSingleUtterance, true);
  t.equal(c.googleSpeechEndpoint, 'eu-speech.googleapis.com:443');
  t.equal(c.googleSpeechKeyFile, '/secrets/k.json');
  t.equal(c.googleSpeechRotateMs, 60000);
});

t.test('refused', async (t) => {
  t.throws(
    () => loadConfig({ ASR_ADAPTER: 'google', GOOGLE_SPEECH_INSECURE: 'true' }),
    /GOOGLE_SPEECH_INSECURE="true" is invalid: expected true only together with GOOGLE_SPEECH_ENDPOINT/,
  );
  t.throws(() => loadConfig({ ASR_ADAPTER: 'google', GOOGLE_SPEECH_ENDPOINT: 'http://x:1' }), /GOOGLE_SPEECH_ENDPOINT/);
  t.throws(() => loadConfig({ ASR_ADAPTER: 'google', GOOGLE_SPEECH_ROTATE_MS: '305000' }), /GOOGLE_SPEECH_ROTATE_MS/, 'not past the cap');
  t.throws(() => loadConfig({ ASR_ADAPTER: 'google', GOOGLE_SPEECH_PHRASES: 'x'.repeat(101) }), /GOOGLE_SPEECH_PHRASES/);
  t.ok(loadConfig({ GOOGLE_SPEECH_INSECURE: 'true', GOOGLE_SPEECH_ENDPOINT: '127.0.0.1:50051' }).googleSpeechInsecure);
});

t.test('endpoint parsing', async (t) => {
  t.same(parseEndpoint('127.0.0.1:50051'), { host: '127.0.0.1', port: 50051 });
  t.same(parseEndpoint('speech.example.com'), { host: 'speech.example.com', port: 443 });
  t.same(parseEndpoint('[::1]:8443'), { host: '[::1]', port: 8443 });
  t.throws(() => parseEndpoint('a:b:c'));
  t.throws(() => parseEndpoint('host:70000'));
});

t.test('backoff doubles to a cap, with jitter inside ±20 %', async (t) => {
  t.same(
    [1, 2, 3, 4, 5, 6, 10].map((n) => backoffMs(n, () => 0.5)),
    [100, 200, 400, 800, 1600, 2000, 2000],
  );
  t.equal(
    backoffMs(1, () => 0),
    80,
  );
  t.equal(
    backoffMs(1, () => 1),
    120,
  );
});
