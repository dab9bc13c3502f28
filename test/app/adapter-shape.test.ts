/**
 * A newcomer's adapter module of the wrong shape is refused with a message that names everything missing: at load
 * for the adapter (name, start/synthesize, close), at call start for a bot session (input, output).
 */
import t from 'tap';
import { checkAdapter } from '../../src/adapters.js';
import { startGateway, untilLog } from '../helpers/gateway.js';
import { simulateCall } from '../../src/sim/simulator.js';

t.test('at load: every missing member named in one message', async (t) => {
  t.throws(
    () => checkAdapter('bot', './b.mjs', {}),
    /^BOT_ADAPTER=\.\/b\.mjs: the adapter has no name \(a non-empty string property `name`\); the adapter is missing method start\(\)$/,
  );
  t.throws(
    () => checkAdapter('tts', './t.mjs', { name: 't', close: 1 }),
    /TTS_ADAPTER=\.\/t\.mjs: the adapter is missing method synthesize\(\); close is not a function/,
  );
  t.throws(
    () => checkAdapter('bot', './s.mjs', { name: 's', input() {}, output: [] }),
    /missing method start\(\) \(this looks like a bot session: the factory must return \{ name, start\(opts\) \} and start\(\) returns \{ input\(event\), output, close\(\) \}\)/,
    'a factory that returned the session is told what to return instead',
  );
  t.doesNotThrow(() => checkAdapter('asr', 'x', { name: 'x', start() {} }));
});

t.test('at call start: a bot session without output is named, and only that call fails', async (t) => {
  const g = await startGateway(t, { BOT_ADAPTER: './dist/test/fixtures/no-output-bot.js', LOG_LEVEL: 'info' });
  const s = await simulateCall({ url: g.url, tailMs: 1500 });
  const line = await untilLog(
    g,
    (l) => JSON.stringify(l).includes('start() returned a bot session without output (an async iterable)'),
    5000,
    'the missing output named',
  );
  t.ok(line, JSON.stringify(line).slice(0, 300));
  t.equal(s.closeCode, 4007, 'the call is closed with 4007 (the bot failed to start for this call)');
  t.equal((await fetch(`${g.url}/healthz`)).status, 200, 'the gateway goes on');
});
