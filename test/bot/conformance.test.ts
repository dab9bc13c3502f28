/**
 * The bot conformance suite (src/bot/conformance.ts): the echo bot and the SDK example pass; bots that break the
 * contract (throwing from input, output or start, hanging, wrong shapes, malformed outputs, output that outlives
 * close, a leaked timer) fail it with the right check named, and the suite itself never crashes nor leaves a rejection
 * unhandled.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { runBotConformance, malformedOutput, type ConformanceCheck } from '../../src/bot/conformance.js';
import { createEchoBot } from '../../src/bot/echo.js';
import type { BotAdapter, BotInput, BotOutput, BotSession } from '../../src/bot/types.js';
import type { AdapterContext } from '../../src/util/adapter-context.js';
import { Channel } from '../../src/util/channel.js';
import createFaulty from '../fixtures/faulty-bot.js';

const failed = (c: ConformanceCheck[]) => c.filter((x) => !x.ok).map((x) => `${x.name}: ${x.detail}`);
const failedNames = (c: ConformanceCheck[]) => c.filter((x) => !x.ok).map((x) => x.name);
const fast = { startTimeoutMs: 400, replyTimeoutMs: 500, endTimeoutMs: 400, settleMs: 100 };
const ctx = (env: Record<string, string> = {}) => ({ env }) as unknown as AdapterContext;

let unhandled = 0;
const onUnhandled = () => void unhandled++;
process.on('unhandledRejection', onUnhandled);
t.teardown(() => void process.off('unhandledRejection', onUnhandled));

/** A well-behaved bot whose parts a test replaces to break one rule at a time. */
function bot(
  over: {
    input?: (e: BotInput, out: Channel<BotOutput>) => void;
    output?: (out: Channel<BotOutput>) => AsyncIterable<BotOutput>;
    close?: (out: Channel<BotOutput>) => void;
  } = {},
  name = 'custom',
): BotAdapter {
  return {
    name,
    capabilities: { wantsUtteranceAudio: false },
    start: ({ signal }) => {
      const out = new Channel<BotOutput>(16);
      signal.addEventListener('abort', () => out.close(), { once: true });
      const s: BotSession = {
        input: (e) => (over.input ? over.input(e, out) : e.type === 'start' && void out.push({ type: 'say', text: 'hi', end: true })),
        output: over.output ? over.output(out) : out,
        close: () => (over.close ? over.close(out) : out.close()),
      };
      return s;
    },
  };
}

t.test('the echo bot and the SDK example pass', async (t) => {
  const echo = await runBotConformance({ adapter: await createEchoBot(ctx()) });
  t.same(failed(echo), []);
  t.ok(echo.length >= 8, `${echo.length} checks`);
  const mod = (await import(pathToFileURL(resolve('examples/my-bot.mjs')).href)) as { default: () => BotAdapter };
  t.same(failed(await runBotConformance({ adapter: mod.default() })), []);
  t.same(failed(await runBotConformance({ adapter: bot() })), [], 'the test baseline bot passes');
});

t.test('malformedOutput names what is wrong', async (t) => {
  t.equal(malformedOutput({ type: 'say', text: 'x', end: true }), undefined);
  t.equal(malformedOutput({ type: 'dtmf', digits: '12#p' }), undefined);
  t.equal(malformedOutput({ type: 'say' }), 'say without text');
  t.equal(malformedOutput({ type: 'play', audio: new Uint8Array(2), sampleRateHz: 8000 }), 'play audio is not an Int16Array');
  t.match(malformedOutput({ type: 'play', audio: new Int16Array(2), sampleRateHz: 8000.5 }), /not an integer/);
  t.match(malformedOutput({ type: 'transfer', ncco: [] }), /without an NCCO/);
  t.match(malformedOutput({ type: 'dtmf', digits: '12x' }), /are not 1–64/);
  t.match(malformedOutput({ type: 'hangup', immediate: 'yes' }), /non-boolean immediate/);
  t.match(malformedOutput({ type: 'dance' }), /unknown output type "dance"/);
  t.match(malformedOutput('say hi'), /output is string/);
});

t.test('the suite fails bots that break the contract, naming the check, and survives them', async (t) => {
  const shape = await runBotConformance({ adapter: { name: 'no-caps', start: () => ({}) } as unknown as BotAdapter, ...fast });
  t.same(failedNames(shape), ['adapter shape: name, capabilities {wantsUtteranceAudio}, start(), optional close()']);
  t.equal(shape.length, 1);

  const startThrows = await runBotConformance({
    adapter: {
      ...bot(),
      start: () => {
        throw new Error('no backend');
      },
    },
    ...fast,
  });
  t.match(failed(startThrows).join('\n'), /start\(\) settles within 400 ms with a session.*: start\(\) threw: no backend/);
  const startHangs = await runBotConformance({ adapter: { ...bot(), start: () => new Promise<BotSession>(() => {}) }, ...fast });
  t.match(failed(startHangs).join('\n'), /start\(\) did not settle within 400 ms/);
  const badSession = await runBotConformance({ adapter: { ...bot(), start: () => ({ input() {}, close() {} }) as unknown as BotSession }, ...fast });
  t.match(failed(badSession).join('\n'), /the session lacks output \(an async iterable\)/);

  const inputThrows = await runBotConformance({
    adapter: bot({
      input: (e, out) => {
        if (e.type === 'dtmf') throw new Error('keypad');
        if (e.type === 'start') out.push({ type: 'say', text: 'hi' });
      },
    }),
    ...fast,
  });
  t.ok(failedNames(inputThrows).includes('input() never throws nor returns a promise, for every kind of input'));
  t.match(failed(inputThrows).join('\n'), /input\(dtmf\) threw: keypad/);
  t.match(failed(inputThrows).join('\n'), /after close: input\(dtmf\) threw: keypad/, 'also after close');

  const asyncInput = await runBotConformance({
    adapter: bot({
      input: ((e: BotInput, out: Channel<BotOutput>) =>
        (async () => {
          if (e.type === 'transcript') throw new Error('late');
          out.push({ type: 'clear' });
        })()) as unknown as (e: BotInput, out: Channel<BotOutput>) => void,
    }),
    ...fast,
  });
  t.match(failed(asyncInput).join('\n'), /input\(start\) returned a promise/);

  const throwing = await runBotConformance({ adapter: createFaulty(ctx({ FAULTY_BOT: 'throw' })), ...fast });
  t.match(failed(throwing).join('\n'), /output yields well-formed outputs and answers the call: output threw: bot backend crashed/);

  const stalled = await runBotConformance({ adapter: createFaulty(ctx({ FAULTY_BOT: 'stall' })), ...fast });
  t.same(failedNames(stalled), ['output yields well-formed outputs and answers the call']);
  t.match(failed(stalled).join('\n'), /no output within 500 ms of the inputs/);
  t.same(
    failed(await runBotConformance({ adapter: createFaulty(ctx({ FAULTY_BOT: 'stall' })), ...fast, expectOutput: false })),
    [],
    'a silent bot may opt out of answering',
  );

  const malformed = await runBotConformance({
    adapter: bot({
      input: (e, out) => void (e.type === 'start' && out.push({ type: 'say' } as unknown as BotOutput) && out.push({ type: 'dance' } as unknown as BotOutput)),
    }),
    ...fast,
  });
  t.match(failed(malformed).join('\n'), /output yields well-formed.*: say without text; unknown output type "dance"/);

  const immortal = await runBotConformance({
    adapter: bot({ close: () => {}, output: (out) => ({ [Symbol.asyncIterator]: () => ({ next: () => (out.size ? out.next() : new Promise(() => {})) }) }) }),
    ...fast,
  });
  t.match(failed(immortal).join('\n'), /close\(\) is idempotent and ends output within 400 ms.*: output did not end within 400 ms of close\(\)/);
  t.match(failed(immortal).join('\n'), /aborting the call's signal ends output within 400 ms: output did not end within 400 ms of the abort/);

  const closeThrows = await runBotConformance({
    adapter: bot({
      close: (out) => {
        out.close();
        throw new Error('close failed');
      },
    }),
    ...fast,
  });
  t.match(failed(closeThrows).join('\n'), /close\(\) threw: close failed/);

  const asyncClose = await runBotConformance({
    adapter: bot({
      close: ((out: Channel<BotOutput>) =>
        (async () => {
          out.close();
          throw new Error('async close failed');
        })()) as unknown as (out: Channel<BotOutput>) => void,
    }),
    ...fast,
  });
  t.match(
    failed(asyncClose).join('\n'),
    /close\(\) is idempotent.*: close\(\) rejected: async close failed/,
    'a rejecting close() is reported, not left unhandled',
  );

  let timer: NodeJS.Timeout | undefined;
  const leaky: BotAdapter = { ...bot(), name: 'leaky', close: () => void (timer = setInterval(() => {}, 1000)) };
  const l = await runBotConformance({ adapter: leaky, ...fast });
  clearInterval(timer);
  t.same(failedNames(l), ['no handles are left once the sessions and the adapter are closed']);
  t.match(failed(l).join('\n'), /left open: Timeout \+1/);

  await new Promise((r) => setTimeout(r, 50));
  t.equal(unhandled, 0, 'no rejection left unhandled by the suite');
});

t.test('vgw bot-conformance runs the suite from the command line (exit code 0 / 1)', async (t) => {
  for (const adapter of ['echo', './examples/my-bot.mjs']) {
    const ok = spawnSync(process.execPath, ['dist/src/cli.js', 'bot-conformance', '--adapter', adapter], { encoding: 'utf8' });
    t.equal(ok.status, 0, ok.stderr);
    t.match(ok.stdout, /: (\d+)\/\1 checks passed/, adapter);
  }
  const bad = spawnSync(process.execPath, ['dist/src/cli.js', 'bot-conformance', '--adapter', './dist/test/fixtures/faulty-bot.js', '--reply-timeout', '1s'], {
    encoding: 'utf8',
    env: { ...process.env, FAULTY_BOT: 'stall' },
  });
  t.equal(bad.status, 1, bad.stderr);
  t.match(bad.stdout, /FAIL +output yields well-formed outputs and answers the call — no output within 1000 ms/);
  t.match(bad.stdout, /faulty-stall: \d+\/\d+ checks passed/);
});
