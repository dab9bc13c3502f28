/**
 * The sidecar bot protocol's JSON Schema (draft-07), both directions. This object is the source of truth: the gateway
 * validates bot messages against it, and `docs/sidecar-protocol.schema.json` is this object written out (a test
 * checks they are equal; regenerate with `node dist/src/bot/remote-schema.js > docs/sidecar-protocol.schema.json`).
 *
 * Bot → gateway messages are strict (`additionalProperties: false`), so a typo gets an `error` back instead of being
 * silently ignored. Gateway → bot messages are open: bots must ignore fields (and message types) they do not know,
 * so the gateway can add them without a new protocol version.
 */
import { fileURLToPath } from 'node:url';

/** The protocol version sent in `call.started`. */
export const SIDECAR_PROTOCOL_VERSION = 1;

const str = { type: 'string' } as const;
const nonNegInt = { type: 'integer', minimum: 0 } as const;
const typeIs = (t: string) => ({ type: 'string', const: t });
const msg = (type: string, description: string, properties: Record<string, unknown> = {}, required: string[] = [], strict = false) => ({
  type: 'object',
  description,
  properties: { type: typeIs(type), ...properties },
  required: ['type', ...required],
  ...(strict ? { additionalProperties: false } : {}),
});
const toBot = (type: string, description: string, properties?: Record<string, unknown>, required?: string[]) => msg(type, description, properties, required, false);
const fromBot = (type: string, description: string, properties?: Record<string, unknown>, required?: string[]) => msg(type, description, properties, required, true);

/** Gateway → bot: message type → schema definition name. */
export const GATEWAY_MESSAGE_DEFS = {
  'call.started': 'CallStarted',
  transcript: 'Transcript',
  dtmf: 'DtmfReceived',
  'speech.started': 'SpeechStarted',
  'speech.ended': 'SpeechEnded',
  'playback.finished': 'PlaybackFinished',
  'playback.interrupted': 'PlaybackInterrupted',
  'call.ended': 'CallEnded',
  error: 'Error',
} as const;

/** Bot → gateway: message type → schema definition name. */
export const BOT_MESSAGE_DEFS = {
  say: 'Say',
  play: 'Play',
  clear: 'Clear',
  hangup: 'Hangup',
  transfer: 'Transfer',
  dtmf: 'SendDtmf',
} as const;

export type BotMessageType = keyof typeof BOT_MESSAGE_DEFS;
export type GatewayMessageType = keyof typeof GATEWAY_MESSAGE_DEFS;

const playback = (type: string, description: string) =>
  toBot(type, description, {
    replyId: { type: 'integer', minimum: 1, description: 'The reply, numbered from 1 in the order the gateway started them' },
    heardMs: { ...nonNegInt, description: 'How much of the reply the caller heard (ms)' },
    totalMs: { ...nonNegInt, description: 'Length of the reply (ms)' },
  }, ['replyId', 'heardMs', 'totalMs']);

export const SIDECAR_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://github.com/vonage-voicebot-gateway/docs/sidecar-protocol.schema.json',
  title: `Sidecar bot protocol, version ${SIDECAR_PROTOCOL_VERSION}`,
  description: 'JSON text messages on the WebSocket the gateway opens to BOT_URL for each call. See docs/sidecar-protocol.md.',
  anyOf: [{ $ref: '#/definitions/GatewayMessage' }, { $ref: '#/definitions/BotMessage' }],
  definitions: {
    GatewayMessage: {
      description: 'Any message the gateway sends to the bot.',
      oneOf: Object.values(GATEWAY_MESSAGE_DEFS).map((d) => ({ $ref: `#/definitions/${d}` })),
    },
    BotMessage: {
      description: 'Any message the bot sends to the gateway.',
      oneOf: Object.values(BOT_MESSAGE_DEFS).map((d) => ({ $ref: `#/definitions/${d}` })),
    },
    // ── gateway → bot ──
    CallStarted: toBot('call.started', 'First message of every call.', {
      protocol: { type: 'integer', const: SIDECAR_PROTOCOL_VERSION, description: 'Protocol version' },
      callId: { ...str, description: 'Vonage call (leg) uuid' },
      conversationUuid: { type: ['string', 'null'] },
      from: { type: ['string', 'null'], description: 'Caller number, when Vonage gave it' },
      to: { type: ['string', 'null'], description: 'Called number, when Vonage gave it' },
      sampleRateHz: { type: 'integer', enum: [8000, 16000, 24000], description: 'The call audio rate' },
      language: { ...str, description: 'BCP-47 language of the call' },
      headers: { type: 'object', description: 'Every field of the Vonage handshake (the NCCO websocket headers)' },
    }, ['protocol', 'callId', 'conversationUuid', 'from', 'to', 'sampleRateHz', 'language', 'headers']),
    Transcript: toBot('transcript', 'Speech recognised by the gateway ASR. Interim results may follow each other; a final one closes an utterance.', {
      text: str,
      final: { type: 'boolean' },
    }, ['text', 'final']),
    DtmfReceived: toBot('dtmf', 'The caller pressed a key.', {
      digit: { type: 'string', pattern: '^[0-9*#A-D]$' },
      durationMs: nonNegInt,
    }, ['digit', 'durationMs']),
    SpeechStarted: toBot('speech.started', 'Voice activity: the caller started speaking.'),
    SpeechEnded: toBot('speech.ended', 'Voice activity: the caller stopped speaking (end of utterance).', {
      durationMs: { ...nonNegInt, description: 'Voiced length of the utterance (ms)' },
    }, ['durationMs']),
    PlaybackFinished: playback('playback.finished', 'A reply played to its end.'),
    PlaybackInterrupted: playback('playback.interrupted', 'A reply was cut short (the caller barged in, or the bot sent clear).'),
    CallEnded: toBot('call.ended', 'The call is over; the gateway closes the socket (1000) right after.', {
      reason: str,
    }, ['reason']),
    Error: toBot('error', 'The gateway ignored a message from the bot, and says why. The call goes on.', {
      code: { type: 'string', enum: ['BAD_JSON', 'BAD_MESSAGE', 'UNKNOWN_TYPE', 'INVALID_MESSAGE', 'TOO_BIG', 'BAD_AUDIO', 'OVERLOADED'] },
      reason: str,
      inReplyTo: { ...str, description: 'The `type` of the message refused, when it could be read' },
    }, ['code', 'reason']),
    // ── bot → gateway ──
    Say: fromBot('say', 'Text to speak. Without `end` (or with end: true) it is one whole reply; to stream, send pieces with end: false and close the reply with end: true.', {
      text: { type: 'string', maxLength: 20000 },
      end: { type: 'boolean', default: true },
      interruptible: { type: 'boolean', default: true, description: 'false: the caller cannot barge in on this reply' },
    }, ['text']),
    Play: fromBot('play', 'Audio to play as one reply.', {
      audio: { type: 'string', pattern: '^[A-Za-z0-9+/]*={0,2}$', description: 'base64 of 16-bit little-endian mono PCM' },
      sampleRateHz: { type: 'integer', minimum: 8000, maximum: 48000 },
      interruptible: { type: 'boolean', default: true },
    }, ['audio', 'sampleRateHz']),
    Clear: fromBot('clear', 'Stop what is playing now and drop what is queued (like a barge-in).'),
    Hangup: fromBot('hangup', 'End the call, after the queued audio has played unless immediate.', {
      immediate: { type: 'boolean', default: false },
      reason: { type: 'string', maxLength: 200 },
    }),
    Transfer: fromBot('transfer', 'Move the call to another NCCO (Vonage transfer).', {
      ncco: {
        type: 'array', minItems: 1, maxItems: 32,
        items: { type: 'object', required: ['action'], properties: { action: { type: 'string', minLength: 1 } } },
      },
    }, ['ncco']),
    SendDtmf: fromBot('dtmf', 'Send DTMF digits into the call (p = a 500 ms pause).', {
      digits: { type: 'string', pattern: '^[0-9*#pA-D]{1,64}$' },
    }, ['digits']),
  },
} as const;

// `node dist/src/bot/remote-schema.js` prints the schema (to regenerate the copy in docs/).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.stdout.write(JSON.stringify(SIDECAR_SCHEMA, null, 2) + '\n');
