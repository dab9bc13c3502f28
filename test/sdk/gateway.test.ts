/**
 * A defineBot handler that throws, in a real gateway with two live calls: the failing call hears the gateway's
 * apology (the AdapterError thrown from `output` takes the apology path), the bystander on the same bot adapter keeps
 * getting its own replies in exact frames, and the process stays up.
 */
import t from 'tap';
import { metricValue, startGateway, until } from '../helpers/gateway.js';
import { openRawLeg, streamFrames, type RawLeg } from '../helpers/raw-leg.js';
import { APOLOGY_TEXT } from '../../src/call/apology.js';

// examples/my-tts.mjs: 200 ms (10 frames at 20 ms) per word.
const framesFor = (text: string) => text.trim().split(/\s+/).length * 10;
const press = (leg: RawLeg, digit: string) => leg.ws.send(JSON.stringify({ event: 'websocket:dtmf', digit, duration: 120 }));

t.test('a throwing defineBot handler becomes the apology for its call only', async (t) => {
  const g = await startGateway(t, { BOT_ADAPTER: './dist/test/fixtures/sdk-faulty-bot.js', TTS_ADAPTER: './examples/my-tts.mjs' });
  const faulty = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  const bystander = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  faulty.handshake('audio/l16;rate=16000', { uuid: 'sdk-faulty-1' });
  bystander.handshake('audio/l16;rate=16000', { uuid: 'sdk-bystander-1' });
  await Promise.all([streamFrames(faulty.ws, Buffer.alloc(640), 640, 5), streamFrames(bystander.ws, Buffer.alloc(640), 640, 5)]);
  // Both hear the greeting "Hi." (1 word).
  await until(() => faulty.binary.length >= 10 && bystander.binary.length >= 10, 5000, 'greetings');

  const f0 = faulty.binary.length;
  const b0 = bystander.binary.length;
  press(faulty, '1'); // the handler throws
  press(bystander, '2');
  await until(() => faulty.binary.length - f0 >= framesFor(APOLOGY_TEXT), 10000, 'the apology heard on the failing call');
  await until(() => bystander.binary.length - b0 >= framesFor('You pressed 2.'), 10000, 'the bystander reply');
  const apology = faulty.binary.slice(f0);
  t.ok(
    apology.every((f) => f.length === 640),
    'the apology is in exact frames',
  );
  t.ok(
    apology.some((f) => f.some((b) => b !== 0)),
    'the apology has sound',
  );
  const reply = bystander.binary.slice(b0);
  t.ok(
    reply.every((f) => f.length === 640),
    'the bystander gets exact frames',
  );
  t.equal(reply.length, framesFor('You pressed 2.'), 'the bystander hears exactly its reply');

  // The bystander's bot still answers; the process is up.
  const b1 = bystander.binary.length;
  press(bystander, '3');
  await until(() => bystander.binary.length - b1 >= framesFor('You pressed 3.'), 10000, 'the bystander second reply');
  t.equal((await fetch(`${g.url}/healthz`)).status, 200);
  t.equal(faulty.ws.readyState, faulty.ws.OPEN, 'the failing call is still up');
  // The failure was a recoverable AdapterError (one handler), so the failing call's bot keeps answering too.
  const f1 = faulty.binary.length;
  press(faulty, '4');
  await until(() => faulty.binary.length - f1 >= framesFor('You pressed 4.'), 10000, 'the failing call answered again');
  t.equal(metricValue(await g.metrics(), 'gateway_adapter_faults_total{kind="bot",point="output"}'), 1, 'one bot fault counted');
  t.equal(g.logs.filter((l) => l.msg === 'bot adapter error').length, 1, 'and logged once');
  faulty.ws.close();
  bystander.ws.close();
});
