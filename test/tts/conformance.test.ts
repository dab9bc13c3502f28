/**
 * The TTS conformance suite (src/tts/conformance.ts): the built-in Flite TTS, a user-style module and the SDK example
 * pass; adapters that break the contract (throwing, hanging, wrong shapes, bad chunks, ignoring abort, leaking a
 * timer) fail it with the right check named, and the suite itself never crashes nor leaves a rejection unhandled.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { runTtsConformance, type ConformanceCheck } from '../../src/tts/conformance.js';
import { createFliteTts } from '../../src/tts/flite.js';
import type { TtsAdapter, TtsChunk, TtsRequest } from '../../src/tts/types.js';
import { AdapterError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import createSine from '../fixtures/sine-tts.js';
import { adapterContext } from '../../src/adapters.js';

const failed = (c: ConformanceCheck[]) => c.filter((x) => !x.ok).map((x) => `${x.name}: ${x.detail}`);
const failedNames = (c: ConformanceCheck[]) => c.filter((x) => !x.ok).map((x) => x.name);
const fast = { firstAudioTimeoutMs: 400, requestTimeoutMs: 3000, abortTimeoutMs: 400 };

let unhandled = 0;
const onUnhandled = () => void unhandled++;
process.on('unhandledRejection', onUnhandled);
t.teardown(() => void process.off('unhandledRejection', onUnhandled));

const tone = (n = 1600, rateHz = 16000): TtsChunk => ({ audio: new Int16Array(n).fill(1000), sampleRateHz: rateHz });

t.test('the built-in Flite TTS passes', async (t) => {
  const ctx = adapterContext(loadConfig({}), createLogger('silent'));
  const checks = await runTtsConformance({ adapter: createFliteTts(ctx) });
  t.same(failed(checks), []);
  t.ok(checks.length >= 7, `${checks.length} checks`);
});

t.test('a user-style module and the SDK example pass', async (t) => {
  t.same(failed(await runTtsConformance({ adapter: createSine() })), []);
  const mod = (await import(pathToFileURL(resolve('examples/my-tts.mjs')).href)) as { default: () => TtsAdapter };
  t.same(failed(await runTtsConformance({ adapter: mod.default() })), []);
});

t.test('a provoked provider failure must be thrown from the iterator with a code', async (t) => {
  let fail: 'coded' | 'bare' | undefined;
  const flaky = (): TtsAdapter => ({
    name: 'flaky',
    async *synthesize(req: TtsRequest) {
      const f = fail;
      fail = undefined;
      if (f === 'coded') throw new AdapterError('PROVIDER_DOWN', 'down');
      if (f === 'bare') throw new Error('down, no code');
      yield* createSine().synthesize(req);
    },
  });
  const ok = await runTtsConformance({ adapter: flaky(), provokeError: () => void (fail = 'coded') });
  t.same(failed(ok), []);
  t.ok(ok.some((c) => /provider failure/.test(c.name) && c.ok));
  const bad = await runTtsConformance({ adapter: flaky(), provokeError: () => void (fail = 'bare') });
  t.match(failed(bad).join('\n'), /provider failure is thrown from the iterator, with a code: thrown without a well-formed code/);
});

t.test('the suite fails adapters that break the contract, naming the check, and survives them', async (t) => {
  const shape = await runTtsConformance({ adapter: { name: 'no-synth' } as unknown as TtsAdapter, ...fast });
  t.same(failedNames(shape), ['adapter shape: name, synthesize(), optional close()']);
  t.equal(shape.length, 1, 'nothing else runs against a wrong shape');

  const nothing = await runTtsConformance({ adapter: null as unknown as TtsAdapter, ...fast });
  t.same(failedNames(nothing), ['adapter shape: name, synthesize(), optional close()']);

  const throwing: TtsAdapter = {
    name: 'throwing',
    // eslint-disable-next-line require-yield
    async *synthesize() {
      throw new Error('engine crashed');
    },
  };
  const a = await runTtsConformance({ adapter: throwing, ...fast });
  t.match(failed(a).join('\n'), /8000 Hz leg: text in, first audio.*: the iterator threw: engine crashed/);
  t.match(failed(a).join('\n'), /two requests at once.*engine crashed/);

  const syncThrow: TtsAdapter = {
    name: 'sync-throw',
    synthesize() {
      throw new Error('not even an iterable');
    },
  };
  t.match(
    failed(await runTtsConformance({ adapter: syncThrow, ...fast })).join('\n'),
    /synthesize\(\) threw: not even an iterable \(throw from the iterator instead\)/,
  );

  const notIterable: TtsAdapter = { name: 'array', synthesize: () => [tone()] as unknown as AsyncIterable<TtsChunk> };
  t.match(failed(await runTtsConformance({ adapter: notIterable, ...fast })).join('\n'), /did not return an async iterable/);

  const hanging: TtsAdapter = {
    name: 'hanging',
    // eslint-disable-next-line require-yield
    async *synthesize() {
      await new Promise(() => {});
    },
  };
  const h = await runTtsConformance({ adapter: hanging, ...fast });
  t.match(failed(h).join('\n'), /16000 Hz leg.*: no audio within 400 ms/);
  t.match(failed(h).join('\n'), /a request aborted before its first audio ends within 400 ms: still running after the abort/);
  t.notMatch(failed(h).join('\n'), /no handles/, 'a hang that holds no handle leaks nothing');

  const badChunks: TtsAdapter = {
    name: 'bad-chunks',
    async *synthesize(req) {
      yield { audio: new Float32Array(160), sampleRateHz: 16000 } as unknown as TtsChunk;
      yield* createSine().synthesize(req);
    },
  };
  t.match(failed(await runTtsConformance({ adapter: badChunks, ...fast })).join('\n'), /chunk audio is not an Int16Array \(\[object Float32Array\]\)/);
  const badRate: TtsAdapter = {
    name: 'bad-rate',
    async *synthesize() {
      yield tone(160, 0);
    },
  };
  t.match(failed(await runTtsConformance({ adapter: badRate, ...fast })).join('\n'), /chunk sampleRateHz 0 is not an integer/);
  const silent: TtsAdapter = {
    name: 'silent',
    async *synthesize() {
      yield { audio: new Int16Array(1600), sampleRateHz: 16000 };
    },
  };
  t.match(failed(await runTtsConformance({ adapter: silent, ...fast })).join('\n'), /only silence/);

  const deaf: TtsAdapter = {
    name: 'ignores-abort',
    async *synthesize() {
      for (;;) {
        await new Promise((r) => setTimeout(r, 5));
        yield tone();
      }
    },
  };
  const d = await runTtsConformance({ adapter: deaf, ...fast, requestTimeoutMs: 300 });
  t.match(failed(d).join('\n'), /aborting the signal mid-stream ends the iteration within 400 ms: the request did not end/);

  let timer: NodeJS.Timeout | undefined;
  const leaky: TtsAdapter = { ...createSine(), name: 'leaky', close: () => void (timer = setInterval(() => {}, 1000)) };
  const l = await runTtsConformance({ adapter: leaky, ...fast });
  clearInterval(timer);
  t.same(failedNames(l), ['close() settles and no handles are left once the adapter is closed']);
  t.match(failed(l).join('\n'), /left open: Timeout \+1/);

  const closeThrows: TtsAdapter = { ...createSine(), name: 'close-throws', close: () => Promise.reject(new Error('cannot close')) };
  t.match(failed(await runTtsConformance({ adapter: closeThrows, ...fast })).join('\n'), /close\(\) threw: cannot close/);

  await new Promise((r) => setTimeout(r, 50));
  t.equal(unhandled, 0, 'no rejection left unhandled by the suite');
});

t.test('vgw tts-conformance runs the suite from the command line (exit code 0 / 1)', async (t) => {
  const ok = spawnSync(process.execPath, ['dist/src/cli.js', 'tts-conformance', '--adapter', './examples/my-tts.mjs'], { encoding: 'utf8' });
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /my-tts: (\d+)\/\1 checks passed/);
  const bad = spawnSync(
    process.execPath,
    ['dist/src/cli.js', 'tts-conformance', '--adapter', './dist/test/fixtures/failing-tts.js', '--first-audio-timeout', '1s'],
    { encoding: 'utf8' },
  );
  t.equal(bad.status, 1, bad.stderr);
  t.match(bad.stdout, /FAIL +8000 Hz leg.*the iterator threw: PROVIDER_DOWN: provider unavailable/);
  const usage = spawnSync(process.execPath, ['dist/src/cli.js', 'tts-conformance'], { encoding: 'utf8' });
  t.equal(usage.status, 2);
  t.match(usage.stderr, /needs --adapter/);
});
