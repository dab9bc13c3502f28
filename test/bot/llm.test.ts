/**
 * The LLM bot against a fake OpenAI server speaking the real SSE wire format, through the adapter's BotSession:
 * streaming sentence by sentence (proven by holding the rest of the reply at the server), history and system prompt,
 * each tool, barge-in and supersede closing the HTTP connection, timeouts, HTTP errors and malformed streams.
 */
import t, { type Test } from 'tap';
import { loadConfig, DEFAULT_SYSTEM_PROMPT } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { createLlmBot, APOLOGY, FALLBACK_GOODBYE } from '../../src/bot/llm.js';
import type { BotOutput, BotSession } from '../../src/bot/types.js';
import { FakeOpenAi, type Reply } from '../fakes/openai-server.js';
import { until } from '../helpers/gateway.js';
import { must } from '../helpers/must.js';
import { adapterContext } from '../../src/adapters.js';

const KEY = 'sk-test-secret-123';

async function setup(t: Test, env: Record<string, string> = {}, fakeUrl?: string) {
  const fake = new FakeOpenAi({ apiKey: KEY, model: 'test-model' });
  const url = await fake.start();
  t.teardown(() => fake.close());
  const config = loadConfig({ LLM_BASE_URL: fakeUrl ?? url, LLM_API_KEY: KEY, LLM_MODEL: 'test-model', ...env });
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger('debug', { write: (s: string) => void logs.push(JSON.parse(s)) });
  const bot = createLlmBot(adapterContext(config, logger));
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const session: BotSession = await bot.start({
    call: { callId: 'c1', conversationUuid: undefined, from: '447700900001', to: '447700900002', sampleRateHz: 16000, language: 'en-US', metadata: {} },
    signal: ac.signal,
    hasAsr: true,
    hasTts: true,
  });
  const out: BotOutput[] = [];
  const state = { ended: false };
  void (async () => {
    for await (const o of session.output) out.push(o);
    state.ended = true;
  })();
  const final = (text: string) => session.input({ type: 'transcript', text, final: true });
  const says = () => out.filter((o): o is Extract<BotOutput, { type: 'say' }> => o.type === 'say');
  const spoken = () =>
    says()
      .map((s) => s.text)
      .filter(Boolean);
  return { fake, bot, session, out, logs, ac, state, final, says, spoken, reply: (...r: Reply[]) => fake.reply(...r) };
}

t.test('the first sentence is said while the server still holds the rest; sentences split right', async (t) => {
  const b = await setup(t);
  b.reply({
    type: 'stream',
    chunks: [
      'Hello',
      ' there',
      '!',
      ' The',
      ' price',
      ' is',
      ' 3',
      '.',
      '5',
      ' dollars',
      '.',
      { hold: 'rest' },
      ' Dr',
      '.',
      ' Smith',
      ' will',
      ' call',
      ' at',
      ' 5',
      ' p',
      '.m',
      '.',
      ' Is',
      ' that',
      ' OK',
      '?',
    ],
  });
  b.final('How much is it?');
  await until(() => b.fake.holding('rest'), 5000, 'server holding the rest');
  await until(() => b.says().length === 1, 5000, 'first sentence');
  t.same(b.says()[0], { type: 'say', text: 'Hello there!', end: false }, 'first sentence out, reply not ended');
  t.notOk(must(b.fake.requests[0]).completed, 'the response is still open');
  // "3.5" is held back until the next token shows the dot is not a sentence end.
  t.same(b.spoken(), ['Hello there!']);
  b.fake.release('rest');
  await until(() => b.says().some((s) => s.end), 5000, 'reply end');
  t.same(b.spoken(), ['Hello there!', 'The price is 3.5 dollars.', 'Dr. Smith will call at 5 p.m.', 'Is that OK?']);
  t.equal(b.says().at(-1)?.end, true, 'last sentence closes the reply');
  t.equal(b.says().filter((s) => s.end).length, 1, 'one reply');
  t.same(b.fake.problems, []);
});

t.test('requests: bearer key, model, stream, system prompt, tools, settings; history across turns', async (t) => {
  const b = await setup(t, { LLM_GREETING: 'Hi, this is the test line.', LLM_TEMPERATURE: '0.3', LLM_MAX_TOKENS: '50', LLM_TRANSFER_NUMBERS: '+14155550100' });
  b.session.input({ type: 'start' });
  await until(() => b.says().length === 1, 5000, 'greeting');
  t.same(b.says()[0], { type: 'say', text: 'Hi, this is the test line.', end: true });
  b.reply({ type: 'stream', chunks: ['Sure', '.', ' Ask', ' away', '.'] });
  b.final('can I ask something');
  await until(() => b.spoken().length === 3, 5000, 'first reply');
  b.reply({ type: 'stream', chunks: ['It', ' is', ' sunny', '.'] });
  b.session.input({ type: 'dtmf', digit: '5', durationMs: 100 });
  await until(() => b.fake.requests.length === 2, 5000, 'second request');
  await until(() => b.spoken().length === 4, 5000, 'second reply');
  const r1 = must(b.fake.requests[0], 'request 1');
  const r2 = must(b.fake.requests[1], 'request 2');
  t.equal(r1.headers.authorization, `Bearer ${KEY}`);
  t.equal(r1.body.model, 'test-model');
  t.equal(r1.body.stream, true);
  t.equal(r1.body.temperature, 0.3);
  t.equal(r1.body.max_tokens, 50);
  t.same(
    r1.body.tools?.map((x) => (x.function as { name: string }).name),
    ['hang_up', 'send_dtmf', 'transfer'],
  );
  t.same(
    (must(r1.body.tools?.[2]).function as { parameters: { properties: { number: { enum: string[] } } } }).parameters.properties.number.enum,
    ['+14155550100'],
    'transfer only to the allowed number',
  );
  t.same(r1.body.messages, [
    { role: 'system', content: DEFAULT_SYSTEM_PROMPT },
    { role: 'assistant', content: 'Hi, this is the test line.' },
    { role: 'user', content: 'can I ask something' },
  ]);
  t.same(
    r2.body.messages?.slice(1),
    [
      { role: 'assistant', content: 'Hi, this is the test line.' },
      { role: 'user', content: 'can I ask something' },
      { role: 'assistant', content: 'Sure. Ask away.' },
      { role: 'user', content: 'The caller pressed 5 on the keypad.' },
    ],
    'history carries every turn; DTMF is user input',
  );
  t.same(b.fake.problems, []);
  t.notOk(
    b.logs.some((l) => JSON.stringify(l).includes(KEY)),
    'the API key is never logged',
  );
});

t.test('history is bounded and never starts with an orphaned tool result', async (t) => {
  const b = await setup(t, { LLM_MAX_HISTORY_MESSAGES: '4', LLM_SYSTEM_PROMPT: 'Be brief.' });
  for (let i = 0; i < 5; i++) {
    b.reply({ type: 'stream', chunks: [`Answer ${i}.`] });
    b.final(`question ${i}`);
    await until(() => b.spoken().length === i + 1, 5000, `answer ${i}`);
  }
  b.final('last');
  await until(() => b.fake.requests.length === 6, 5000, 'sixth request');
  t.same(must(b.fake.requests[5]).body.messages, [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'question 4' },
    { role: 'assistant', content: 'Answer 4.' },
    { role: 'user', content: 'last' },
  ]);
  t.same(b.fake.problems, []);
});

t.test('hang_up split across chunks: goodbye, then hangup; the bot then stays quiet', async (t) => {
  const b = await setup(t);
  b.reply({
    type: 'stream',
    chunks: [
      'Goodbye',
      ' and',
      ' take',
      ' care',
      '!',
      { tool: { index: 0, id: 'call_h', name: 'hang_up', args: '' } },
      { tool: { index: 0, args: '{"rea' } },
      { tool: { index: 0, args: 'son": "caller is done"}' } },
      { finish: 'tool_calls' },
    ],
  });
  b.final("that's all, bye");
  await until(() => b.out.some((o) => o.type === 'hangup'), 5000, 'hangup');
  t.same(b.out, [
    { type: 'say', text: 'Goodbye and take care!', end: true },
    { type: 'hangup', reason: 'caller is done' },
  ]);
  b.final('hello?');
  b.session.input({ type: 'dtmf', digit: '1', durationMs: 100 });
  t.equal(b.fake.requests.length, 1, 'no request after hanging up');
  t.same(b.bot.stats.toolCalls, { hang_up: 1 });
});

t.test('hang_up without a goodbye of its own gets a fallback goodbye first', async (t) => {
  const b = await setup(t);
  b.reply({ type: 'stream', chunks: [{ tool: { index: 0, id: 'call_h', name: 'hang_up', args: '{"reason":"done"}' } }] });
  b.final('bye');
  await until(() => b.out.some((o) => o.type === 'hangup'), 5000, 'hangup');
  t.same(b.out, [
    { type: 'say', text: FALLBACK_GOODBYE, end: true },
    { type: 'hangup', reason: 'done' },
  ]);
});

t.test('send_dtmf → dtmf; the result goes back to the model, which answers again', async (t) => {
  const b = await setup(t);
  b.reply(
    {
      type: 'stream',
      chunks: [
        'Pressing',
        ' it',
        ' now',
        '.',
        { tool: { index: 0, id: 'call_d', name: 'send_dtmf' } },
        { tool: { index: 0, args: '{"digits":' } },
        { tool: { index: 0, args: '"12#"}' } },
      ],
    },
    { type: 'stream', chunks: ['Done', '.'] },
  );
  b.final('press one two hash');
  await until(() => b.spoken().includes('Done.'), 5000, 'follow-up reply');
  t.same(
    b.out.filter((o) => o.type !== 'say'),
    [{ type: 'dtmf', digits: '12#' }],
  );
  t.same(b.spoken(), ['Pressing it now.', 'Done.']);
  const msgs = must(b.fake.requests[1]).body.messages ?? [];
  t.same(msgs.slice(-3), [
    { role: 'user', content: 'press one two hash' },
    {
      role: 'assistant',
      content: 'Pressing it now.',
      tool_calls: [{ id: 'call_d', type: 'function', function: { name: 'send_dtmf', arguments: '{"digits":"12#"}' } }],
    },
    { role: 'tool', tool_call_id: 'call_d', content: 'Sent DTMF 12#.' },
  ]);
  t.same(b.fake.problems, []);
});

t.test('invalid tool arguments are refused: no action, the model sees the error', async (t) => {
  const b = await setup(t);
  b.reply(
    { type: 'stream', chunks: [{ tool: { index: 0, id: 'call_x', name: 'send_dtmf', args: '{"digits":"12a; rm"}' } }] },
    { type: 'stream', chunks: [{ tool: { index: 0, id: 'call_y', name: 'transfer', args: '{"number":"+19005550199"}' } }] },
    { type: 'stream', chunks: ['Sorry', ',', ' I', ' cannot', ' do', ' that', '.'] },
  );
  b.final('press something weird');
  await until(() => b.spoken().length === 1, 5000, 'final answer');
  t.same(
    b.out.filter((o) => o.type !== 'say'),
    [],
    'no dtmf, no transfer',
  );
  const tools = (must(b.fake.requests[2]).body.messages ?? []).filter((m) => m.role === 'tool');
  t.match(must(tools[0]).content, /^Error: digits must match/);
  t.match(must(tools[1]).content, /^Error: transfers to that number are not allowed/, 'no transfer tool configured: refused');
  t.same(b.bot.stats.toolCalls, { invalid: 2 });
  t.same(b.fake.problems, []);
});

t.test('transfer and send_dtmf in one response, fragments interleaved by index', async (t) => {
  const b = await setup(t, { LLM_TRANSFER_NUMBERS: '+14155550100,+447700900123' });
  b.reply({
    type: 'stream',
    chunks: [
      'Connecting',
      ' you',
      ' now',
      '.',
      { tool: { index: 0, id: 'call_a', name: 'send_dtmf', args: '{"dig' } },
      { tool: { index: 1, id: 'call_b', name: 'transfer', args: '{"num' } },
      { tool: { index: 0, args: 'its":"5"}' } },
      { tool: { index: 1, args: 'ber":"+1 415 555 0100"}' } },
      { finish: 'tool_calls' },
    ],
  });
  b.final('put me through to sales');
  await until(() => b.out.some((o) => o.type === 'transfer'), 5000, 'transfer');
  t.same(b.out, [
    { type: 'say', text: 'Connecting you now.', end: true },
    { type: 'dtmf', digits: '5' },
    { type: 'transfer', ncco: [{ action: 'connect', endpoint: [{ type: 'phone', number: '14155550100' }] }] },
  ]);
  b.final('hello?');
  t.equal(b.fake.requests.length, 1, 'transferred: no more requests');
});

t.test('barge-in (interrupted playback) aborts the stream and closes the connection; history keeps what was heard', async (t) => {
  const b = await setup(t);
  b.reply({
    type: 'stream',
    chunks: [
      'Let',
      ' me',
      ' tell',
      ' you',
      ' a',
      ' long',
      ' story',
      '.',
      ' It',
      { hold: 'a' },
      ' begins',
      ' here',
      '.',
      ' And',
      { hold: 'never' },
      ' then',
      '.',
    ],
  });
  b.final('tell me a story');
  await until(() => b.spoken().length === 1, 5000, 'first sentence');
  // VAD speech-start alone (a cough) does not stop the reply: the stream goes on.
  b.session.input({ type: 'speech-start' });
  b.fake.release('a');
  await until(() => b.spoken().length === 2, 5000, 'second sentence after speech-start');
  t.notOk(must(b.fake.requests[0]).clientClosed);
  // The session cut the audio: 1.2 s of 2.4 s heard.
  b.session.input({ type: 'playback', replyId: 1, interrupted: true, heardMs: 1200, totalMs: 2400 });
  await until(() => must(b.fake.requests[0]).clientClosed, 5000, 'client closed the connection');
  t.same(b.says().at(-1), { type: 'say', text: '', end: true }, 'the cut reply is closed');
  t.equal(b.bot.stats.aborted, 1);
  t.notOk(b.spoken().includes(APOLOGY), 'no apology for a barge-in');
  b.reply({ type: 'stream', chunks: ['Okay', '.'] });
  b.final('actually never mind');
  await until(() => b.fake.requests.length === 2, 5000, 'next request');
  t.same(
    must(b.fake.requests[1]).body.messages?.slice(1),
    [
      { role: 'user', content: 'tell me a story' },
      { role: 'assistant', content: 'Let me tell you a long...' },
      { role: 'user', content: 'actually never mind' },
    ],
    'the assistant turn holds the heard half',
  );
});

t.test('a reply interrupted before anything was heard leaves no assistant turn', async (t) => {
  const b = await setup(t);
  b.reply({ type: 'stream', chunks: ['One', '.', ' Two', '.'] }, { type: 'stream', chunks: ['Yes', '.'] });
  b.final('count');
  await until(() => b.says().some((s) => s.end), 5000, 'reply');
  b.session.input({ type: 'playback', replyId: 1, interrupted: true, heardMs: 0, totalMs: 900 });
  b.final('again');
  await until(() => b.fake.requests.length === 2, 5000, 'next request');
  t.same(
    must(b.fake.requests[1])
      .body.messages?.slice(1)
      .map((m) => m.role),
    ['user', 'user'],
  );
});

t.test('a new final while a request streams supersedes it', async (t) => {
  const b = await setup(t);
  b.reply({ type: 'hang', chunks: ['Thinking', ' about', ' it', '.', ' Still'] }, { type: 'stream', chunks: ['Got', ' it', '.'] });
  b.final('what time is it');
  await until(() => b.spoken().length === 1, 5000, 'first sentence');
  b.final('in Tokyo');
  await until(() => must(b.fake.requests[0]).clientClosed, 5000, 'first request closed');
  await until(() => b.spoken().includes('Got it.'), 5000, 'second reply');
  t.same(
    b.says().map((s) => [s.text, !!s.end]),
    [
      ['Thinking about it.', false],
      ['', true],
      ['Got it.', true],
    ],
    'the first reply is closed before the second starts',
  );
  t.same(must(b.fake.requests[1]).body.messages?.slice(1), [
    { role: 'user', content: 'what time is it' },
    { role: 'assistant', content: 'Thinking about it.' },
    { role: 'user', content: 'in Tokyo' },
  ]);
});

t.test('the call ending aborts a streaming request', async (t) => {
  const b = await setup(t);
  b.reply({ type: 'hang' });
  b.final('hello');
  await until(() => b.fake.requests.length === 1, 5000, 'request');
  b.ac.abort();
  await until(() => must(b.fake.requests[0]).clientClosed && b.state.ended, 5000, 'closed connection and output');
  t.ok(must(b.fake.requests[0]).clientClosed, 'the fake saw the client close the connection');
  t.equal(b.bot.stats.aborted, 1);
  t.same(b.out, [], 'nothing said, no apology');
});

t.test('first-token timeout: apology, connection closed, the call goes on', async (t) => {
  const b = await setup(t, { LLM_TIMEOUT_MS: '300' });
  b.reply({ type: 'hang' }, { type: 'stream', chunks: ['Fine', '.'] });
  b.final('are you there');
  await until(() => b.spoken().includes(APOLOGY), 10000, 'apology');
  await until(() => must(b.fake.requests[0]).clientClosed, 5000, 'connection closed');
  t.equal(b.bot.stats.errors.LLM_TIMEOUT, 1);
  b.final('hello again');
  await until(() => b.spoken().includes('Fine.'), 5000, 'next turn works');
  t.ok(
    b.logs.some((l) => l.msg === 'llm request failed' && l.code === 'LLM_TIMEOUT'),
    'logged with its code',
  );
});

t.test('overall timeout cuts a reply that started: what was said stays, the apology closes it', async (t) => {
  const b = await setup(t, { LLM_TOTAL_TIMEOUT_MS: '600' });
  b.reply({ type: 'hang', chunks: ['Part', ' one', '.', ' Part'] });
  b.final('go');
  await until(() => b.says().some((s) => s.end), 10000, 'reply closed');
  t.same(
    b.says().map((s) => [s.text, !!s.end]),
    [
      ['Part one.', false],
      [APOLOGY, true],
    ],
  );
  await until(() => must(b.fake.requests[0]).clientClosed, 5000, 'connection closed');
  t.equal(b.bot.stats.errors.LLM_TIMEOUT, 1);
});

t.test('HTTP 500 and 429 and a refused connection: apology each time, the session continues', async (t) => {
  const b = await setup(t);
  b.reply(
    { type: 'error', status: 500 },
    { type: 'error', status: 429, body: '{"error":{"message":"Rate limit reached","type":"requests"}}' },
    { type: 'stream', chunks: ['Back', '.'] },
  );
  b.final('one');
  await until(() => b.spoken().length === 1, 5000, 'first apology');
  b.final('two');
  await until(() => b.spoken().length === 2, 5000, 'second apology');
  b.final('three');
  await until(() => b.spoken().length === 3, 5000, 'recovered');
  t.same(b.spoken(), [APOLOGY, APOLOGY, 'Back.']);
  t.equal(b.bot.stats.errors.LLM_HTTP, 2);
  const failed = b.logs.filter((l) => l.msg === 'llm request failed');
  t.same(
    failed.map((l) => l.status),
    [500, 429],
  );
  t.match(String((must(failed[1]).err as { message: string }).message), /Rate limit reached/);

  const dead = new FakeOpenAi();
  const deadUrl = await dead.start();
  await dead.close();
  const c = await setup(t, {}, deadUrl);
  c.final('anyone?');
  await until(() => c.spoken().length === 1, 5000, 'apology');
  t.same(c.spoken(), [APOLOGY]);
  t.equal(c.bot.stats.errors.LLM_NETWORK, 1);
});

t.test('malformed SSE lines are skipped; a stream of nothing valid, an in-stream error or a JSON body is an apology', async (t) => {
  const b = await setup(t);
  b.reply(
    {
      type: 'stream',
      chunks: [
        { raw: 'data: {not json\n\n' },
        { raw: ': keep-alive comment\n\n' },
        { raw: 'nonsense without colon\n\n' },
        { raw: 'data: [1,2]\n\n' },
        { raw: 'data: {"choices":"x"}\r\n\r\n' },
        'Still',
        ' fine',
        '.',
      ],
    },
    { type: 'stream', chunks: [{ raw: 'data: {{{\n\n' }], done: false },
    { type: 'stream', chunks: [{ raw: 'data: {"error":{"message":"model overloaded"}}\n\n' }] },
    { type: 'error', status: 200, body: '{"choices":[{"message":{"content":"not streamed"}}]}' },
  );
  b.final('one');
  await until(() => b.spoken().length === 1, 5000, 'reply');
  t.same(b.spoken(), ['Still fine.']);
  t.ok(b.bot.stats.malformedEvents >= 1, 'malformed lines counted');
  for (const q of ['two', 'three', 'four']) {
    const n = b.spoken().length;
    b.final(q);
    await until(() => b.spoken().length === n + 1, 5000, `answer to ${q}`);
  }
  t.same(b.spoken().slice(1), [APOLOGY, APOLOGY, APOLOGY]);
  t.equal(b.bot.stats.errors.LLM_BAD_RESPONSE, 3);
});

t.test('an oversized SSE event is refused, not buffered', async (t) => {
  const b = await setup(t);
  b.reply({ type: 'stream', chunks: [{ raw: `data: ${'x'.repeat(70000)}` }] });
  b.final('big');
  await until(() => b.spoken().length === 1, 5000, 'apology');
  t.equal(b.bot.stats.errors.LLM_TOO_LARGE, 1);
});

t.test('LLM settings are validated at start', async (t) => {
  t.throws(() => loadConfig({ BOT_ADAPTER: 'llm', LLM_TEMPERATURE: '3' }), { message: /LLM_TEMPERATURE="3" is invalid/ });
  t.throws(() => loadConfig({ BOT_ADAPTER: 'llm', LLM_BASE_URL: 'ftp://x' }), { message: /LLM_BASE_URL/ });
  t.throws(() => loadConfig({ BOT_ADAPTER: 'llm', LLM_TRANSFER_NUMBERS: '+14155550100,premium' }), { message: /bad: "premium"/ });
  const c = loadConfig({ LLM_TRANSFER_NUMBERS: ' +1 (415) 555-0100 , 447700900123', LLM_TEMPERATURE: '0', LLM_BASE_URL: 'http://localhost:11434/v1/' });
  t.same(c.llmTransferNumbers, ['14155550100', '447700900123']);
  t.equal(c.llmTemperature, 0);
  t.equal(c.llmBaseUrl, 'http://localhost:11434/v1');
  t.equal(loadConfig({}).llmTemperature, null, 'empty: not sent');
  t.equal(loadConfig({ LLM_GREETING: '' }).llmGreeting, '', 'empty greeting: none');
});
