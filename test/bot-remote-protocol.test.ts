/**
 * The sidecar protocol's documents stay true: the schema in docs/ is the one the gateway validates with, every example
 * in docs/sidecar-protocol.md validates against it, and the doc names and shows every message type. Plus the checking
 * of bot messages (each kind of bad message gets its error code) and the streamed-`say` assembly.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { BOT_MESSAGE_DEFS, GATEWAY_MESSAGE_DEFS, SIDECAR_SCHEMA } from '../src/bot/remote-schema.js';
import { MAX_BOT_MESSAGE_BYTES, parseBotMessage } from '../src/bot/remote-protocol.js';
import { SayAssembler } from '../src/bot/say-assembler.js';

const doc = readFileSync('docs/sidecar-protocol.md', 'utf8');
const docSchema = JSON.parse(readFileSync('docs/sidecar-protocol.schema.json', 'utf8')) as Record<string, unknown>;
const examples = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]);

t.test('docs/sidecar-protocol.schema.json is the schema the gateway uses', async (t) => {
  t.same(docSchema, JSON.parse(JSON.stringify(SIDECAR_SCHEMA)), 'regenerate with: node dist/src/bot/remote-schema.js > docs/sidecar-protocol.schema.json');
});

t.test('every example in the doc validates against the schema', async (t) => {
  const ajv = new Ajv({ allErrors: true, strict: true });
  const validate = ajv.compile(docSchema);
  const botMsg = ajv.getSchema(`${SIDECAR_SCHEMA.$id}#/definitions/BotMessage`);
  const gwMsg = ajv.getSchema(`${SIDECAR_SCHEMA.$id}#/definitions/GatewayMessage`);
  t.ok(botMsg && gwMsg);
  t.ok(examples.length >= 15, `${examples.length} examples`);
  const seen = new Set<string>();
  for (const text of examples) {
    const msg = JSON.parse(text) as { type: string };
    t.ok(validate(msg), `${msg.type}: ${JSON.stringify(validate.errors)}`);
    // Exactly one direction, and the gateway's own check agrees on bot messages.
    const isBot = botMsg?.(msg) === true;
    const isGw = gwMsg?.(msg) === true;
    // The one message valid both ways, on purpose (1.1): a key press echoed back as DTMF to send.
    const echo = msg.type === 'dtmf' && 'digit' in msg;
    t.ok(echo ? isBot && isGw : isBot !== isGw, `${text.trim().slice(0, 60)}: in ${echo ? 'both directions' : 'exactly one direction'}`);
    if (isBot) t.equal(parseBotMessage(text, false).ok, true, `gateway accepts ${msg.type}`);
    if (isBot) seen.add(`bot:${msg.type}`);
    if (isGw) seen.add(`gw:${msg.type}`);
  }
  for (const type of Object.keys(GATEWAY_MESSAGE_DEFS)) {
    t.ok(seen.has(`gw:${type}`), `an example of gateway → bot ${type}`);
    t.match(doc, `\`${type}\``, `the doc names ${type}`);
  }
  for (const type of Object.keys(BOT_MESSAGE_DEFS)) {
    t.ok(seen.has(`bot:${type}`), `an example of bot → gateway ${type}`);
    t.match(doc, new RegExp(`^### \`${type.replace('.', '\\.')}\``, 'm'), `a section for ${type}`);
  }
  // Every error code the schema allows is explained.
  const codes = (SIDECAR_SCHEMA.definitions.Error.properties as unknown as { code: { enum: string[] } }).code.enum;
  for (const c of codes) t.match(doc, `| \`${c}\` |`, `error code ${c} documented`);
});

t.test('bad bot messages get the right error, never an exception', async (t) => {
  const cases: Array<[string | Buffer, boolean, string, string | undefined]> = [
    [Buffer.from([1, 2, 3]), true, 'BAD_MESSAGE', undefined],
    ['{"type":', false, 'BAD_JSON', undefined],
    ['"say"', false, 'BAD_MESSAGE', undefined],
    ['[{"type":"say"}]', false, 'BAD_MESSAGE', undefined],
    ['{"text":"hi"}', false, 'BAD_MESSAGE', undefined],
    ['{"type":"shout","text":"hi"}', false, 'UNKNOWN_TYPE', 'shout'],
    ['{"type":"call.started"}', false, 'UNKNOWN_TYPE', 'call.started'],
    ['{"type":"say"}', false, 'INVALID_MESSAGE', 'say'],
    ['{"type":"say","text":5}', false, 'INVALID_MESSAGE', 'say'],
    ['{"type":"say","text":"hi","txt":"typo"}', false, 'INVALID_MESSAGE', 'say'],
    ['{"type":"play","audio":"!!!!","sampleRateHz":16000}', false, 'INVALID_MESSAGE', 'play'],
    ['{"type":"play","audio":"AAAA","sampleRateHz":44}', false, 'INVALID_MESSAGE', 'play'],
    ['{"type":"play","audio":"AAA","sampleRateHz":16000}', false, 'BAD_AUDIO', 'play'],
    ['{"type":"play","audio":"AAA=","sampleRateHz":16000}', false, 'ok', undefined], // 2 bytes: one sample
    ['{"type":"play","audio":"AA==","sampleRateHz":16000}', false, 'BAD_AUDIO', 'play'], // 1 byte: half a sample
    ['{"type":"play","audio":"","sampleRateHz":16000}', false, 'BAD_AUDIO', 'play'],
    ['{"type":"hangup","immediate":"yes"}', false, 'INVALID_MESSAGE', 'hangup'],
    ['{"type":"transfer","ncco":[]}', false, 'INVALID_MESSAGE', 'transfer'],
    ['{"type":"dtmf","digits":"1; rm -rf"}', false, 'INVALID_MESSAGE', 'dtmf'],
    [JSON.stringify({ type: 'say', text: 'x'.repeat(MAX_BOT_MESSAGE_BYTES) }), false, 'TOO_BIG', undefined],
  ];
  for (const [data, bin, code, inReplyTo] of cases) {
    const r = parseBotMessage(data, bin);
    const label = typeof data === 'string' ? data.slice(0, 50) : 'binary';
    if (code === 'ok') {
      t.ok(r.ok, label);
      continue;
    }
    t.notOk(r.ok, label);
    if (!r.ok) {
      t.equal(r.error.code, code, `${label} → ${code} (${r.error.reason})`);
      t.equal(r.error.inReplyTo, inReplyTo, `${label} inReplyTo`);
      t.ok(r.error.reason.length > 5 && r.error.reason.length < 300, 'a readable reason');
    }
  }
  const play = parseBotMessage(JSON.stringify({ type: 'play', audio: Buffer.from(new Int16Array([1, -2, 300]).buffer).toString('base64'), sampleRateHz: 8000 }), false);
  t.ok(play.ok && play.message.type === 'play' && Array.from(play.message.audio).join() === '1,-2,300', 'play audio decoded to samples');
});

t.test('streamed say pieces become sentences; a whole say is one reply', async (t) => {
  const a = new SayAssembler(40);
  t.same(a.push('Hello there, how are you?', true, undefined), { type: 'say', text: 'Hello there, how are you?', end: true, interruptible: true });
  t.equal(a.push('You said', false, false), undefined, 'no sentence end yet: held');
  t.equal(a.push(' go forward.', false, undefined), undefined, 'a full stop at the very end may be an abbreviation: held');
  t.same(a.push(' Then', false, undefined), { type: 'say', text: 'You said go forward.', end: false, interruptible: false }, 'first sentence out');
  t.ok(a.replyOpen);
  t.same(a.push(' stop.', true, undefined), { type: 'say', text: 'Then stop.', end: true, interruptible: false }, 'the rest closes the reply');
  t.notOk(a.replyOpen);
  t.equal(a.flush(), undefined, 'nothing to flush');
  const long = a.push('word '.repeat(20), false, undefined);
  t.ok(long && long.text.length <= 40 && long.end === false, 'text past the bound is cut at a space');
  a.reset();
  t.equal(a.flush(), undefined, 'reset forgets the reply');
});
