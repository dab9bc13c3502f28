/**
 * The bot link at unit level: inputs that arrive while the bot starts are kept in a bounded backlog (drops counted and
 * logged once), delivered in order after `start`; a start that resolves to no session is a start failure; a throwing
 * `input()` is a bot failure only for inputs the caller awaits an answer to; after the output fails, nothing more is
 * delivered.
 */
import t from 'tap';
import { ManualClock } from '../../src/util/clock.js';
import { Metrics } from '../../src/observability/metrics.js';
import { createLogger } from '../../src/observability/logger.js';
import { AdapterBoundary } from '../../src/call/boundary.js';
import { BotLink, MAX_BACKLOG, type BotLinkOwner } from '../../src/call/bot-link.js';
import type { BotAdapter, BotInput, BotOutput, BotSession } from '../../src/bot/types.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { Channel } from '../../src/util/channel.js';
import { must } from '../helpers/must.js';

const call: CallInfo = { callId: 'c1', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: 16000, language: 'en-US', metadata: {} };
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function setup(adapter: BotAdapter) {
  const metrics = new Metrics();
  const lines: Array<{ msg: string; [k: string]: unknown }> = [];
  const log = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s)) });
  const boundary = new AdapterBoundary(metrics, log);
  const seen = { ready: 0, failed: [] as string[], startFailed: 0, outputs: [] as BotOutput[] };
  const owner: BotLinkOwner = {
    onBotReady: () => void seen.ready++,
    onBotOutput: async (o) => void seen.outputs.push(o),
    onBotFailed: (why) => void seen.failed.push(why),
    onBotStartFailed: () => void seen.startFailed++,
  };
  const link = new BotLink(
    { adapter, call, signal: new AbortController().signal, hasAsr: true, hasTts: true, clock: new ManualClock(), metrics, log, boundary },
    owner,
  );
  return { link, seen, lines, boundary };
}

class Session implements BotSession {
  readonly inputs: BotInput[] = [];
  readonly output = new Channel<BotOutput>(8);
  constructor(private readonly throwOn: string[] = []) {}
  input(e: BotInput): void {
    if (this.throwOn.includes(e.type)) throw new Error(`no ${e.type}`);
    this.inputs.push(e);
  }
  close(): void {
    this.output.close();
  }
}

t.test('inputs while the bot starts: bounded backlog, in order after start, drops counted and logged once', async (t) => {
  let resolve: (s: BotSession) => void = () => {};
  const session = new Session();
  const { link, seen, lines } = setup({ name: 'slow', capabilities: { wantsUtteranceAudio: false }, start: () => new Promise((r) => (resolve = r)) });
  link.start();
  await settle(); // start() has been called and is pending
  for (let i = 0; i < MAX_BACKLOG + 8; i++) link.input({ type: 'dtmf', digit: String(i % 10), durationMs: i }, true);
  t.equal(link.dropped, 8, 'past the backlog, inputs are dropped and counted');
  resolve(session);
  await settle();
  t.equal(must(session.inputs[0]).type, 'start', 'start first');
  t.same(
    session.inputs.slice(1).map((e) => (e as { durationMs: number }).durationMs),
    [...Array(MAX_BACKLOG).keys()],
    'then the backlog, in order',
  );
  t.equal(seen.ready, 1);
  t.equal(lines.filter((l) => l.msg === 'bot started late: early inputs dropped').length, 1);
  link.close();
});

t.test('a start that resolves to no session fails the start (the call closes with 4007)', async (t) => {
  const { link, seen, lines } = setup({ name: 'bad', capabilities: { wantsUtteranceAudio: false }, start: () => ({}) as BotSession });
  link.start();
  await settle();
  t.equal(seen.startFailed, 1);
  t.match(
    lines.find((l) => l.msg === 'bot adapter error'),
    { point: 'start', code: 'BOT_START_FAILED' },
  );
});

t.test('a throwing input(): a failure (apology) for answerable inputs, only counted for notifications', async (t) => {
  const session = new Session(['dtmf', 'playback']);
  const { link, seen, boundary } = setup({ name: 'x', capabilities: { wantsUtteranceAudio: false }, start: () => session });
  link.start();
  await settle();
  link.input({ type: 'dtmf', digit: '1', durationMs: 100 }, true);
  link.input({ type: 'playback', replyId: 1, interrupted: false, heardMs: 0, totalMs: 0 }, false);
  link.input({ type: 'transcript', text: 'still delivered', final: true }, true);
  t.same(seen.failed, ['the bot failed on input dtmf'], 'one failure: the DTMF');
  t.equal(boundary.faults, 2, 'both throws counted');
  t.equal(session.inputs.at(-1)?.type, 'transcript', 'later inputs are still delivered');
  link.close();
});

t.test('after the output throws, the bot is dead: inputs are dropped', async (t) => {
  const session = new Session();
  (session as { output: unknown }).output = { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('gone')) }) };
  const { link, seen } = setup({ name: 'x', capabilities: { wantsUtteranceAudio: false }, start: () => session });
  link.start();
  await settle();
  t.same(seen.failed, ['the bot failed']);
  t.ok(link.isDead);
  const before = session.inputs.length;
  link.input({ type: 'dtmf', digit: '1', durationMs: 100 }, true);
  t.equal(session.inputs.length, before, 'not delivered');
  link.close();
});
