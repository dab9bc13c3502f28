/**
 * The adapter SDK (src/sdk): defineBot runs handlers in order and answers in order, streams replies, turns handler
 * failures into AdapterErrors thrown from `output` (and goes on), bounds its queues with counted drops, and stops
 * everything on close or abort; defineTts and defineAsr keep their contracts whatever the user's function does.
 */
import t from 'tap';
import { defineAsr, defineBot, defineTts, AdapterError, Channel, toAdapterError } from '../../src/sdk/index.js';
import type { AsrEvent, BotInput, BotOutput, BotSession, CallInfo, DefinedBotSession, TtsChunk } from '../../src/sdk/index.js';

const call: CallInfo = {
  callId: 'sdk-1',
  conversationUuid: undefined,
  from: '447700900000',
  to: '447700900001',
  sampleRateHz: 16000,
  language: 'en-US',
  metadata: {},
};
const tick = () => new Promise((r) => setImmediate(r));

function open(bot: ReturnType<ReturnType<typeof defineBot>>, ctl = new AbortController()): { s: DefinedBotSession; ctl: AbortController } {
  return { s: bot.start({ call, signal: ctl.signal, hasAsr: true, hasTts: true }) as DefinedBotSession, ctl };
}

/** Read `n` outputs (or until the end), recording a rejection as an entry instead of stopping. */
async function take(s: BotSession, n: number): Promise<Array<BotOutput | AdapterError>> {
  const it = s.output[Symbol.asyncIterator]();
  const got: Array<BotOutput | AdapterError> = [];
  while (got.length < n) {
    try {
      const r = await it.next();
      if (r.done) break;
      got.push(r.value);
    } catch (err) {
      got.push(err as AdapterError);
    }
  }
  return got;
}

const transcript = (text: string): BotInput => ({ type: 'transcript', text, final: true });

t.test('defineBot: handlers answer with strings, outputs, arrays; in input order even when an earlier one is slow', async (t) => {
  const bot = defineBot({
    name: 'order',
    onStart: () => 'hello',
    onTranscript: async ({ text }) => {
      if (text === 'slow') await new Promise((r) => setTimeout(r, 50));
      return [`heard ${text}`, { type: 'clear' }];
    },
    onDtmf: ({ digit }) => ({ type: 'dtmf', digits: digit }),
  })();
  t.equal(bot.name, 'order');
  t.same(bot.capabilities, { wantsUtteranceAudio: false });
  const { s } = open(bot);
  s.input({ type: 'start' });
  s.input(transcript('slow'));
  s.input({ type: 'transcript', text: 'interim, no handler', final: false });
  s.input(transcript('   ')); // an empty final is skipped
  s.input({ type: 'dtmf', digit: '7', durationMs: 100 });
  s.input(transcript('fast'));
  t.same(await take(s, 6), [
    { type: 'say', text: 'hello', end: true },
    { type: 'say', text: 'heard slow', end: true },
    { type: 'clear' },
    { type: 'dtmf', digits: '7' },
    { type: 'say', text: 'heard fast', end: true },
    { type: 'clear' },
  ]);
  s.close();
});

t.test('defineBot: an async iterable streams one reply, the last piece ends it; ctx actions and per-call state', async (t) => {
  const bot = defineBot({
    name: 'stream',
    state: (c) => ({ turns: 0, caller: c.from }),
    onStart: () => 'hello',
    async *onTranscript({ text }, ctx) {
      ctx.state.turns++;
      yield 'You ';
      await tick();
      yield 'said ';
      yield text;
      yield { type: 'hangup', reason: `after ${ctx.state.turns} turn(s) with ${ctx.state.caller}` };
    },
    onDtmf: (_e, ctx) => {
      ctx.say('one', { interruptible: false });
      ctx.play(new Int16Array(4), 8000);
      ctx.transfer([{ action: 'talk' }]);
      return 'two';
    },
  })();
  const { s } = open(bot);
  s.input({ type: 'start' });
  s.input(transcript('hi'));
  s.input({ type: 'dtmf', digit: '1', durationMs: 100 });
  t.same(await take(s, 9), [
    { type: 'say', text: 'hello', end: true },
    { type: 'say', text: 'You ', end: false },
    { type: 'say', text: 'said ', end: false },
    { type: 'say', text: 'hi', end: true },
    { type: 'hangup', reason: 'after 1 turn(s) with 447700900000' },
    { type: 'say', text: 'one', end: true, interruptible: false },
    { type: 'play', audio: new Int16Array(4), sampleRateHz: 8000 },
    { type: 'transfer', ncco: [{ action: 'talk' }] },
    { type: 'say', text: 'two', end: true },
  ]);
  s.close();
});

t.test('defineBot: a throwing or rejecting handler becomes an AdapterError from output, in order, and the session goes on', async (t) => {
  const bot = defineBot({
    name: 'faulty',
    onTranscript: async ({ text }) => {
      if (text === 'reject') throw new Error('backend down');
      if (text === 'coded') throw new AdapterError('MY_BACKEND_DOWN', 'no backend', { recoverable: false });
      return `ok ${text}`;
    },
    onDtmf: () => {
      throw new TypeError('sync throw');
    },
    // @ts-expect-error a handler returning something that is not a reply
    onSpeechStart: () => 42,
  })();
  const { s } = open(bot);
  s.input(transcript('one'));
  s.input(transcript('reject'));
  s.input({ type: 'dtmf', digit: '1', durationMs: 100 });
  s.input({ type: 'speech-start' });
  s.input(transcript('coded'));
  s.input(transcript('two'));
  const got = await take(s, 6);
  t.same(got[0], { type: 'say', text: 'ok one', end: true });
  t.ok(got[1] instanceof AdapterError, 'a rejection is an AdapterError');
  t.match(got[1], { code: 'BOT_HANDLER_FAILED', recoverable: true, message: /^transcript: backend down/ });
  t.match(got[2], { code: 'BOT_HANDLER_FAILED', recoverable: true, message: /dtmf: sync throw/ });
  t.match(got[3], { code: 'BOT_BAD_REPLY', recoverable: true });
  t.match(got[4], { code: 'MY_BACKEND_DOWN', recoverable: false }, 'a thrown AdapterError keeps its code');
  t.same(got[5], { type: 'say', text: 'ok two', end: true }, 'later inputs are answered');
  t.equal(s.failures, 4);
  s.close();

  // The gateway's own loop (`for await` on output) sees the failure as a rejection it can catch.
  const again = open(bot).s;
  again.input(transcript('reject'));
  await t.rejects(
    (async () => {
      for await (const _ of again.output) void _;
    })(),
    { code: 'BOT_HANDLER_FAILED' },
  );
  again.close();
});

t.test('defineBot: close and abort end output, abort ctx.signal, run onClose once, ignore later input', async (t) => {
  let closes = 0;
  let handlerSignal: AbortSignal | undefined;
  const bot = defineBot({
    name: 'life',
    onTranscript: (_e, ctx) => {
      handlerSignal = ctx.signal;
      return new Promise<string>(() => {}); // a handler that never settles (a hung backend)
    },
    onClose: ({ reason }) => {
      closes++;
      t.equal(reason, closes === 1 ? 'bye' : 'call ended');
    },
  })();
  const a = open(bot);
  a.s.input(transcript('hang'));
  await tick();
  a.s.close('bye');
  a.s.close('again');
  t.same(await take(a.s, 1), [], 'output ended although a handler is still running');
  t.equal(handlerSignal?.aborted, true, 'ctx.signal aborted');
  t.equal(closes, 1, 'onClose once');
  t.doesNotThrow(() => a.s.input(transcript('late')));

  const b = open(bot);
  const reading = take(b.s, 1);
  b.ctl.abort();
  t.same(await reading, [], 'aborting the call signal ends output');
  t.equal(closes, 2);
});

t.test('defineBot: bounded input queue (drop oldest, counted) and no dropped replies when the gateway is slow', async (t) => {
  let release: (() => void) | undefined;
  const seen: string[] = [];
  const bot = defineBot({
    name: 'bounded',
    inputCapacity: 2,
    onTranscript: async ({ text }) => {
      seen.push(text);
      if (text === 'block') await new Promise<void>((r) => (release = r));
      return Array.from({ length: 100 }, (_, i) => `${text} ${i}`);
    },
  })();
  const { s } = open(bot);
  s.input(transcript('block'));
  await tick();
  for (const x of ['a', 'b', 'c', 'd']) s.input(transcript(x));
  t.equal(s.inputsDropped, 2, 'two inputs dropped past the capacity');
  release?.();
  const got = (await take(s, 300)) as BotOutput[];
  t.same(seen, ['block', 'c', 'd'], 'the oldest waiting inputs were dropped');
  t.equal(got.length, 300, 'every returned reply delivered although nobody read while they were produced');
  t.same(
    got.slice(98, 102).map((o) => (o as { text: string }).text),
    ['block 98', 'block 99', 'c 0', 'c 1'],
  );
  t.equal(s.outputsDropped, 0);
  s.close();
});

t.test('defineTts: shapes in, checked chunks out; failures as AdapterErrors; abort ends quietly', async (t) => {
  const tts = defineTts({
    name: 'tones',
    sampleRateHz: 8000,
    synthesize: async (text, { signal }) => {
      if (text === 'fail') throw new Error('provider down');
      if (text === 'bad') return [{ audio: new Float32Array(4) as unknown as Int16Array, sampleRateHz: 8000 }];
      if (text === 'one') return new Int16Array(160);
      return (async function* () {
        for (let i = 0; i < 50 && !signal.aborted; i++) {
          await tick();
          yield { audio: new Int16Array(80), sampleRateHz: 16000 };
        }
      })();
    },
  })();
  const read = async (text: string, ctl = new AbortController(), abortAfter = Infinity): Promise<TtsChunk[] | AdapterError> => {
    const out: TtsChunk[] = [];
    try {
      for await (const c of tts.synthesize({ text, call, signal: ctl.signal })) {
        out.push(c);
        if (out.length >= abortAfter) ctl.abort();
      }
    } catch (err) {
      return err as AdapterError;
    }
    return out;
  };
  t.same(await read('one'), [{ audio: new Int16Array(160), sampleRateHz: 8000 }]);
  t.equal(((await read('stream')) as TtsChunk[]).length, 50);
  t.match(await read('fail'), { name: 'AdapterError', code: 'TTS_FAILED', message: 'provider down' });
  t.match(await read('bad'), { name: 'AdapterError', code: 'TTS_BAD_CHUNK' });
  t.equal(((await read('stream', new AbortController(), 3)) as TtsChunk[]).length, 3, 'abort ends the iteration');
});

t.test('defineAsr: a Channel-backed events stream; write never throws; errors end the stream when unrecoverable', async (t) => {
  let closed = 0;
  const asr = defineAsr({
    name: 'energy',
    start: (c, { emit }) => {
      if (c.callId === 'refuse') throw new AdapterError('NO_LICENCE', 'refused');
      let n = 0;
      return {
        write(frame) {
          n++;
          if (frame[0] === 1) throw new Error('decoder crashed');
          if (n === 2) emit.interim('partial');
          if (n === 3) emit.final('done', { startMs: 0, endMs: 60 });
          if (n === 4) emit.error('SLOW_PROVIDER', 'lagging', true);
        },
        close: () => void closed++,
      };
    },
  })();
  t.same(asr.capabilities, { interim: false, sampleRatesHz: [8000, 16000, 24000] });
  await t.rejects(Promise.resolve(asr.start({ call: { ...call, callId: 'refuse' }, signal: new AbortController().signal })), {
    name: 'AdapterError',
    code: 'NO_LICENCE',
  });

  const ctl = new AbortController();
  const s = await asr.start({ call, signal: ctl.signal });
  const events: AsrEvent[] = [];
  const done = (async () => {
    for await (const e of s.events) events.push(e);
  })();
  for (let i = 0; i < 4; i++) s.write(Buffer.alloc(640), 0);
  t.doesNotThrow(() => s.write(Buffer.from([1, 0]), 0), 'a throwing write() is contained');
  s.write(Buffer.alloc(640), 0); // ignored: the stream ended
  await done;
  t.same(events, [
    { type: 'interim', text: 'partial' },
    { type: 'final', text: 'done', startMs: 0, endMs: 60 },
    { type: 'error', code: 'SLOW_PROVIDER', message: 'lagging', recoverable: true },
    { type: 'error', code: 'ASR_WRITE_FAILED', message: 'write: decoder crashed', recoverable: false },
  ]);
  t.equal(closed, 1, 'the adapter closed once');
  s.close();
  t.equal(closed, 1, 'close is idempotent');

  const s2 = await asr.start({ call, signal: ctl.signal });
  const ended = (async () => {
    for await (const _ of s2.events) void _;
  })();
  ctl.abort();
  await ended;
  t.equal(closed, 2, 'abort closes the stream');
});

t.test('the SDK re-exports the one failure model and the bounded Channel', async (t) => {
  const ch = new Channel<number>(1, 'drop-newest');
  ch.push(1);
  t.equal(ch.push(2), false);
  t.equal(ch.dropped, 1);
  t.match(toAdapterError(Object.assign(new Error('x'), { code: 'E_CODE_X', recoverable: true }), 'FALLBACK'), { code: 'E_CODE_X', recoverable: true });
});
