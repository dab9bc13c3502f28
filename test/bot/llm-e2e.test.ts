/**
 * The LLM bot end to end: a real gateway (BOT_ADAPTER=llm) with pocketsphinx ASR and Flite TTS, a Vonage leg speaking
 * real recorded audio, and the fake OpenAI server. The transcript reaches the fake, the reply's first sentence is
 * heard on the leg while the fake still holds the rest, and the model's hang_up ends the call with 1000.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { eventsOf, metricValue, startGateway, until, untilEvent } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';
import { transcribe16k } from '../helpers/transcribe.js';
import { FakeOpenAi } from '../fakes/openai-server.js';
import { must } from '../helpers/must.js';

const GOFORWARD = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw'); // 16 kHz: "go forward ten meters"
const KEY = 'sk-e2e-secret-456';

t.test('recorded speech → LLM → spoken reply streamed sentence by sentence → hang_up', async (t) => {
  const fake = new FakeOpenAi({ apiKey: KEY, model: 'e2e-model' });
  const url = await fake.start();
  t.teardown(() => fake.close());
  fake.reply({
    type: 'stream',
    chunks: [
      'You',
      ' said',
      ' go',
      ' forward',
      ' ten',
      ' meters',
      '.',
      ' Goodbye',
      { hold: 'rest' },
      '!',
      { tool: { index: 0, id: 'call_end', name: 'hang_up' } },
      { tool: { index: 0, args: '{"reason":' } },
      { tool: { index: 0, args: '"task done"}' } },
      { finish: 'tool_calls' },
    ],
  });
  const g = await startGateway(t, {
    BOT_ADAPTER: 'llm',
    LLM_BASE_URL: url,
    LLM_API_KEY: KEY,
    LLM_MODEL: 'e2e-model',
    LLM_GREETING: 'Hello, where should I go?',
    ASR_ADAPTER: 'local',
    TTS_ADAPTER: 'flite',
  });
  t.equal(g.gw.adapters.bot.name, 'llm');
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'llm-e2e' });
  await streamFrames(leg.ws, Buffer.alloc(640), 640, 25);
  await untilEvent(g, 'reply-done', (e) => !e.interrupted && e.replyId === 1, 20000, 'greeting played');
  t.ok(leg.binary.length > 25, 'greeting audio came back');
  // Everything the leg receives from here on is the reply.
  const before = leg.binary.length;

  const audio = Buffer.concat([GOFORWARD, Buffer.alloc(32000)]);
  await streamFrames(leg.ws, audio, 640, Math.floor(audio.length / 640));
  await until(() => fake.requests.length === 1, 15000, 'LLM request');
  const msgs = must(fake.requests[0]).body.messages ?? [];
  t.same(msgs.at(-1), { role: 'user', content: 'go forward ten meters' }, 'the fake got the transcript of the recorded speech');
  t.same(msgs.slice(1, 2), [{ role: 'assistant', content: 'Hello, where should I go?' }], 'the greeting is in the history');

  // The first sentence plays while the model has not finished: the fake still holds the rest.
  await until(() => leg.binary.length - before >= 25, 15000, 'first sentence audio on the leg');
  t.ok(fake.holding('rest'), 'fake still holding the rest of the reply');
  t.notOk(must(fake.requests[0]).completed, 'response still open while the caller hears the first sentence');

  fake.release('rest');
  const closed = await leg.closed;
  t.equal(closed.code, 1000, 'hang_up ends the call normally');
  t.equal(closed.reason, 'bot hung up');
  t.ok(
    leg.binary.every((f) => f.length === 640),
    'every reply frame exact',
  );
  const heard = await transcribe16k(Buffer.concat(leg.binary.slice(before)));
  const ref = 'you said go forward ten meters goodbye'.split(' ');
  const words = new Set(heard.split(/\s+/));
  const summary = eventsOf(g, 'call-end')[0]?.summary;
  t.ok(ref.filter((w) => words.has(w)).length >= 5, `the reply is the model's text, spoken: "${heard}"`, {
    pacer: summary?.pacer,
    frames: leg.binary.length - before,
  });
  const m = await g.metrics();
  t.ok(metricValue(m, 'gateway_llm_first_token_latency_seconds_count') >= 1, 'time to first token exported');
  t.ok(metricValue(m, 'gateway_llm_requests_total{outcome="completed"}') >= 1, 'completed requests exported');
  t.equal(metricValue(m, 'gateway_llm_tool_calls_total{tool="hang_up"}'), 1, 'the hang_up tool call exported');
  t.same(fake.problems, [], 'every request valid for the real API');
  t.notOk(
    g.logs.some((l) => JSON.stringify(l).includes(KEY)),
    'the API key is never logged',
  );
});
