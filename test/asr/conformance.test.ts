/**
 * The ASR conformance suite (src/asr/conformance.ts) run against the adapters that need no vendor fake: the offline
 * pocketsphinx engine, a user-style module loaded by path, and a fallback chain. The cloud adapters run it against
 * their fakes in their own test files. Also proves the suite itself fails adapters that break the contract.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { runAsrConformance, type ConformanceCheck } from '../../src/asr/conformance.js';
import { createFallbackAsr } from '../../src/asr/fallback.js';
import { createPocketsphinxAsr, findPocketsphinx } from '../../src/asr/pocketsphinx.js';
import type { AsrAdapter, AsrEvent } from '../../src/asr/types.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { Channel } from '../../src/util/channel.js';
import { createAsrAdapter as createCounting } from '../fixtures/counting-asr.js';
import { scriptedAsr } from '../fixtures/scripted-asr.js';
import { adapterContext } from '../../src/adapters.js';
import { TEST_ASR_ENV } from '../helpers/gateway.js';

const raw = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
const speech = { samples: new Int16Array(raw.buffer, raw.byteOffset, raw.length >> 1), sampleRateHz: 16000 };
const failed = (c: ConformanceCheck[]) => c.filter((x) => !x.ok).map((x) => `${x.name}: ${x.detail}`);

t.test('a user-style adapter module passes', async (t) => {
  const checks = await runAsrConformance({ adapter: createCounting(), speech });
  t.same(failed(checks), []);
  t.ok(checks.length >= 6);
});

t.test(
  'the offline pocketsphinx adapter passes, and recognises the recorded words at 16 and 24 kHz',
  { skip: findPocketsphinx() ? false : 'pocketsphinx not installed' },
  async (t) => {
    const ctx = adapterContext(loadConfig({ ...TEST_ASR_ENV }), createLogger('silent'), process.env);
    const wide = await runAsrConformance({ adapter: createPocketsphinxAsr(ctx), speech, ratesHz: [16000, 24000], expectText: /go forward/ });
    t.same(failed(wide), []);
    // Narrowband: the engine's accuracy on 8 kHz is poor (README), so only the contract is checked there.
    const narrow = await runAsrConformance({ adapter: createPocketsphinxAsr(ctx), speech, ratesHz: [8000] });
    t.same(failed(narrow), []);
  },
);

t.test('a fallback chain passes, including a provoked provider failure', async (t) => {
  let failNext = false;
  const flaky = scriptedAsr({ name: 'flaky' });
  const flakyOnCue: AsrAdapter = {
    ...flaky,
    start: (o) => (failNext ? ((failNext = false), scriptedAsr({ name: 'flaky', failAfterFrames: 5 }).start(o)) : flaky.start(o)),
  };
  const chain = createFallbackAsr([flakyOnCue, createCounting()]);
  const checks = await runAsrConformance({ adapter: chain, speech, provokeError: () => void (failNext = true) });
  t.same(failed(checks), []);
  t.ok(
    checks.some((c) => /error event/.test(c.name) && c.ok),
    'the provoked failure was checked',
  );
});

t.test('the suite fails adapters that break the contract', async (t) => {
  const neverFinal: AsrAdapter = {
    name: 'mute',
    capabilities: { interim: false, sampleRatesHz: [16000] },
    start: () => ({ events: new Channel<AsrEvent>(1), write() {}, close() {} }), // events never end
  };
  const a = await runAsrConformance({ adapter: neverFinal, speech, ratesHz: [16000], finalTimeoutMs: 300 });
  t.match(failed(a).join('\n'), /no final within 300 ms/);
  t.match(failed(a).join('\n'), /events did not end/);

  const thrower: AsrAdapter = {
    name: 'thrower',
    capabilities: { interim: false, sampleRatesHz: [16000] },
    start: () => {
      const ch = new Channel<AsrEvent>(4);
      return {
        events: ch,
        write() {
          throw new Error('boom');
        },
        close: () => ch.close(),
      };
    },
  };
  const b = await runAsrConformance({ adapter: thrower, speech, ratesHz: [16000], finalTimeoutMs: 300 });
  t.match(failed(b).join('\n'), /write\(\) threw: boom/);

  let timer: NodeJS.Timeout | undefined;
  const leaky: AsrAdapter = { ...createCounting(), name: 'leaky', close: () => void (timer = setInterval(() => {}, 1000)) };
  const c = await runAsrConformance({ adapter: leaky, speech, ratesHz: [16000] });
  clearInterval(timer);
  t.match(failed(c).join('\n'), /no handles left.*Timeout \+1/);

  const badEvents: AsrAdapter = {
    name: 'bad-events',
    capabilities: { interim: false, sampleRatesHz: [16000] },
    start: () => {
      const ch = new Channel<AsrEvent>(8);
      return {
        events: ch,
        write() {},
        endOfSpeech: () => {
          ch.push({ type: 'final' } as unknown as AsrEvent);
          ch.push({ type: 'final', text: 'ok' });
        },
        close: () => ch.close(),
      };
    },
  };
  const d = await runAsrConformance({ adapter: badEvents, speech, ratesHz: [16000] });
  t.match(failed(d).join('\n'), /final without text/);
});

t.test('vgw asr-conformance runs the suite from the command line (exit code 0 / 1)', async (t) => {
  const ok = spawnSync(process.execPath, ['dist/src/cli.js', 'asr-conformance', '--adapter', './dist/test/fixtures/counting-asr.js'], { encoding: 'utf8' });
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /counting: (\d+)\/\1 checks passed/);
  const bad = spawnSync(
    process.execPath,
    ['dist/src/cli.js', 'asr-conformance', '--adapter', './dist/test/fixtures/counting-asr.js', '--expect', 'never said'],
    { encoding: 'utf8' },
  );
  t.equal(bad.status, 1);
  t.match(bad.stdout, /FAIL .*does not match/);
});
