/**
 * The sidecar protocol's documents stay true: the schema in docs/ is the one the gateway validates with, every example
 * in docs/sidecar-protocol.md validates against it, and the doc names and shows every message type. Plus the checking
 * of bot messages (each kind of bad message gets its error code) and the streamed-`say` assembly.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { BOT_MESSAGE_DEFS, CALL_ENDED_CODES, GATEWAY_MESSAGE_DEFS, SIDECAR_SCHEMA } from '../../src/bot/remote-schema.js';
import { callEndedFor, gatewayMessageFor, MAX_BOT_MESSAGE_BYTES, parseBotMessage, transferNcco } from '../../src/bot/remote-protocol.js';
import { CALLER_HUNG_UP } from '../../src/bot/types.js';
import { SayAssembler } from '../../src/bot/say-assembler.js';

const doc = readFileSync('docs/sidecar-protocol.md', 'utf8');
const docSchema = JSON.parse(readFileSync('docs/sidecar-protocol.schema.json', 'utf8')) as Record<string, unknown>;
const examples = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!); // group 1 is not optional

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
  const play = parseBotMessage(
    JSON.stringify({ type: 'play', audio: Buffer.from(new Int16Array([1, -2, 300]).buffer).toString('base64'), sampleRateHz: 8000 }),
    false,
  );
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

t.test('1.1 bot messages: ids, language and voice, transfer to a phone, the dtmf echo shape', async (t) => {
  const ok = (m: unknown) => parseBotMessage(JSON.stringify(m), false);
  t.match(ok({ type: 'say', text: 'hi', id: 'a-1', language: 'fr-FR', voice: 'fr-FR-DeniseNeural' }), {
    ok: true,
    message: { id: 'a-1', language: 'fr-FR', voice: 'fr-FR-DeniseNeural' },
  });
  t.match(ok({ type: 'play', audio: 'AAA=', sampleRateHz: 8000, id: 'p' }), { ok: true, message: { type: 'play', id: 'p' } });
  t.match(ok({ type: 'transfer', phone: '+447700900000' }), { ok: true, message: { phone: '+447700900000' } });
  t.match(ok({ type: 'transfer', phone: '447700900000', from: '447700900009' }), { ok: true });
  t.same(
    ok({ type: 'dtmf', digit: '5', durationMs: 250 }),
    { ok: true, message: { type: 'dtmf', digits: '5' } },
    'an incoming dtmf echoed back becomes digits',
  );
  const refused: unknown[] = [
    { type: 'say', text: 'hi', id: '' },
    { type: 'say', text: 'hi', id: 'has space' },
    { type: 'say', text: 'hi', id: 'x'.repeat(65) },
    { type: 'say', text: 'hi', language: 'not a language' },
    { type: 'say', text: 'hi', voice: '<speak>' },
    { type: 'transfer', phone: '12' },
    { type: 'transfer', phone: '447700900000', ncco: [{ action: 'talk' }] },
    { type: 'transfer', ncco: [{ action: 'talk' }], from: '447700900000' },
    { type: 'transfer' },
    { type: 'dtmf', digit: '55' },
    { type: 'dtmf', digits: '1', digit: '1' },
    { type: 'dtmf', digits: '1', durationMs: 100 },
  ];
  for (const m of refused) {
    const r = ok(m);
    t.ok(!r.ok && r.error.code === 'INVALID_MESSAGE', `${JSON.stringify(m).slice(0, 70)} refused${r.ok ? '' : `: ${r.error.reason}`}`);
  }
  const call = { callId: 'c', conversationUuid: undefined, from: '447700900001', to: '447700900002', sampleRateHz: 16000, language: 'en-US', metadata: {} };
  t.same(
    transferNcco('+447700900003', undefined, call),
    [{ action: 'connect', from: '447700900002', endpoint: [{ type: 'phone', number: '447700900003' }] }],
    'caller id: the number the caller dialled',
  );
  t.same(transferNcco('447700900003', '+447700900009', { ...call, to: undefined }), [
    { action: 'connect', from: '447700900009', endpoint: [{ type: 'phone', number: '447700900003' }] },
  ]);
  t.same(
    transferNcco('447700900003', undefined, { ...call, to: undefined }),
    [{ action: 'connect', endpoint: [{ type: 'phone', number: '447700900003' }] }],
    'no caller id known: Vonage picks',
  );
});

t.test('call.ended codes: every one reachable, from the close reasons the gateway uses', async (t) => {
  const s = { failed: false, hangupSeen: false, transferred: false };
  const cases: Array<[string | undefined, Partial<typeof s>, string]> = [
    [CALLER_HUNG_UP, {}, 'caller-hung-up'],
    ['vonage reported completed', {}, 'caller-hung-up'],
    ['bot hung up', {}, 'bot-hung-up'],
    [undefined, { hangupSeen: true }, 'bot-hung-up'],
    [CALLER_HUNG_UP, { transferred: true }, 'transferred'],
    ['bot hung up', { failed: true }, 'bot-unavailable'],
    ['bot failed 3 times', {}, 'bot-failed'],
    ['gateway shutting down', {}, 'gateway-shutdown'],
    ['internal error', {}, 'error'],
    [undefined, {}, 'error'],
  ];
  const seen = new Set<string>();
  for (const [reason, over, code] of cases) {
    const m = callEndedFor(reason, { ...s, ...over });
    t.equal(m.code, code, `${reason} ${JSON.stringify(over)} → ${code}`);
    t.ok(m.reason.length > 0, 'a reason for people');
    seen.add(m.code);
  }
  t.same([...seen].sort(), [...CALL_ENDED_CODES].sort(), 'every code is reachable');
  for (const c of CALL_ENDED_CODES) t.match(doc, `| \`${c}\` |`, `call.ended code ${c} documented`);
});

t.test('streamed say: a reply takes id, language and voice from its first piece; a different one is a conflict', async (t) => {
  const a = new SayAssembler();
  t.equal(a.conflict({ id: 'x' }), undefined, 'nothing under way: no conflict');
  t.equal(a.push('Hello', false, undefined, { id: 'r1', language: 'fr-FR' }), undefined);
  t.equal(a.conflict({ id: 'r1' }), undefined, 'repeating the id is fine');
  t.equal(a.conflict({}), undefined, 'leaving it out is fine');
  t.match(a.conflict({ id: 'r2' }), /id "r2" differs/);
  t.match(a.conflict({ voice: 'v' }), /voice "v" differs/);
  t.same(a.push(' there. More', false, undefined), { type: 'say', text: 'Hello there.', end: false, interruptible: true, id: 'r1', language: 'fr-FR' });
  t.same(a.flush(), { type: 'say', text: 'More', end: true, interruptible: true, id: 'r1', language: 'fr-FR' });
  t.same(a.push('Next.', true, undefined, { id: 'r2' }), { type: 'say', text: 'Next.', end: true, interruptible: true, id: 'r2' }, 'a new reply, new choices');
});

t.test('gateway messages: action results become 1.1 errors only for 1.1 bots; playback carries the id', async (t) => {
  const call = { callId: 'c', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: 16000, language: 'en-US', metadata: {} };
  const caps = {
    asr: false,
    tts: true,
    callControl: false,
    bargeIn: true,
    playSampleRatesHz: [8000, 48000] as [number, number],
    maxMessageBytes: 1,
    maxSayChars: 1,
  };
  const failed = { type: 'action-result' as const, action: 'transfer' as const, ok: false, code: 'NO_CALL_CONTROL' as const, reason: 'no' };
  t.same(gatewayMessageFor(failed, call, caps, true), { type: 'error', code: 'NO_CALL_CONTROL', reason: 'no', inReplyTo: 'transfer' });
  t.equal(gatewayMessageFor(failed, call, caps, false), undefined, 'a 1.0 bot is not sent codes it does not know');
  t.equal(gatewayMessageFor({ ...failed, ok: true }, call, caps, true), undefined, 'success: nothing to say');
  t.same(gatewayMessageFor({ type: 'playback', replyId: 3, interrupted: true, heardMs: 0, totalMs: 0, id: 'q' }, call, caps, false), {
    type: 'playback.interrupted',
    replyId: 3,
    heardMs: 0,
    totalMs: 0,
    id: 'q',
  });
  t.match(gatewayMessageFor({ type: 'start' }, call, caps, false), { type: 'call.started', protocol: 1, protocolVersion: '1.1', capabilities: caps });
});
