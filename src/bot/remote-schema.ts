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

// The same shapes the config accepts for LANGUAGE / TTS_VOICE (src/config/config.ts LANGUAGE_TAG, VOICE_NAME).
const LANGUAGE_PATTERN = '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$';
const VOICE_PATTERN = '^[A-Za-z0-9_.:-]{1,64}$';
const PHONE_PATTERN = '^\\+?[0-9]{6,15}$';

/** The protocol's major version, sent in `call.started` as `protocol` (unchanged since 1.0: 1.1 is additive). */
export const SIDECAR_PROTOCOL_VERSION = 1;
/** The full version, sent in `call.started` as `protocolVersion` (from 1.1) and in the upgrade header. */
export const SIDECAR_PROTOCOL_FULL_VERSION = '1.1';
/** The WebSocket subprotocol the gateway offers on the upgrade (versioned by major version). */
export const SIDECAR_SUBPROTOCOL = 'vonage-gateway.v1';

/** `error` codes (gateway → bot). Codes past the 1.0 set are sent only to bots that answered {@link SIDECAR_SUBPROTOCOL}. */
export const ERROR_CODES_1_0 = ['BAD_JSON', 'BAD_MESSAGE', 'UNKNOWN_TYPE', 'INVALID_MESSAGE', 'TOO_BIG', 'BAD_AUDIO', 'OVERLOADED'] as const;
export const ERROR_CODES = [...ERROR_CODES_1_0, 'NO_TTS', 'NO_CALL_CONTROL', 'ACTION_FAILED', 'UNSUPPORTED_PROTOCOL'] as const;

/** `call.ended` codes: why the call ended, stable (the `reason` text is for people). */
export const CALL_ENDED_CODES = ['caller-hung-up', 'bot-hung-up', 'bot-unavailable', 'bot-failed', 'transferred', 'gateway-shutdown', 'error'] as const;

/** A bot-chosen reply id: printable ASCII, no spaces, 1–64 characters. */
const replyIdSchema = {
  type: 'string',
  pattern: '^[\\x21-\\x7e]{1,64}$',
  description: 'Your id for this reply (1.1): echoed as `id` in its playback events and in any error about it',
};

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
const toBot = (type: string, description: string, properties?: Record<string, unknown>, required?: string[]) =>
  msg(type, description, properties, required, false);
/** "This field is present" (as a oneOf branch; the field is declared again for strict validators). */
const oneField = (name: string) => ({ properties: { [name]: true }, required: [name] });
const fromBot = (type: string, description: string, properties?: Record<string, unknown>, required?: string[]) =>
  msg(type, description, properties, required, true);

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
  'machine.detection': 'MachineDetection',
  backchannel: 'Backchannel',
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
  toBot(
    type,
    description,
    {
      replyId: {
        type: 'integer',
        minimum: 1,
        description: "The gateway's number for the reply: from 1, in the order replies were queued (the gateway's own apologies included)",
      },
      id: { ...replyIdSchema, description: "The id your say/play gave this reply (1.1); absent when it gave none, and on the gateway's own replies" },
      heardMs: { ...nonNegInt, description: 'How much of the reply the caller heard (ms)' },
      totalMs: { ...nonNegInt, description: 'Length of the reply (ms)' },
    },
    ['replyId', 'heardMs', 'totalMs'],
  );

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
    CallStarted: toBot(
      'call.started',
      'First message of every call.',
      {
        protocol: { type: 'integer', const: SIDECAR_PROTOCOL_VERSION, description: 'Protocol major version' },
        protocolVersion: { type: 'string', pattern: '^1\\.[0-9]+$', description: 'Full protocol version (1.1): additions within major version 1' },
        callId: { ...str, description: 'Vonage call (leg) uuid' },
        conversationUuid: { type: ['string', 'null'] },
        from: { type: ['string', 'null'], description: 'Caller number, when Vonage gave it' },
        to: { type: ['string', 'null'], description: 'Called number, when Vonage gave it' },
        sampleRateHz: { type: 'integer', enum: [8000, 16000, 24000], description: 'The call audio rate' },
        language: { ...str, description: 'BCP-47 language of the call' },
        headers: { type: 'object', description: 'Every field of the Vonage handshake other than event and content-type (the NCCO websocket headers)' },
        capabilities: {
          type: 'object',
          description: 'What this gateway can do on this call (1.1)',
          properties: {
            asr: { type: 'boolean', description: 'Speech is recognised: transcript messages will come' },
            tts: { type: 'boolean', description: 'say is spoken (else it gets NO_TTS)' },
            callControl: {
              type: 'boolean',
              description: 'Vonage REST call control is configured: transfer and dtmf can be carried out (else NO_CALL_CONTROL)',
            },
            bargeIn: { type: 'boolean', description: 'Caller speech interrupts interruptible replies' },
            playSampleRatesHz: {
              type: 'array',
              items: { type: 'integer' },
              minItems: 2,
              maxItems: 2,
              description: '[lowest, highest] sampleRateHz accepted by play',
            },
            maxMessageBytes: { ...nonNegInt, description: 'Largest bot message accepted' },
            maxSayChars: { ...nonNegInt, description: 'Longest say text accepted' },
          },
          required: ['asr', 'tts', 'callControl', 'bargeIn', 'playSampleRatesHz', 'maxMessageBytes', 'maxSayChars'],
        },
      },
      ['protocol', 'protocolVersion', 'callId', 'conversationUuid', 'from', 'to', 'sampleRateHz', 'language', 'headers', 'capabilities'],
    ),
    Transcript: toBot(
      'transcript',
      'Speech recognised by the gateway ASR. Interim results may follow each other; a final one closes an utterance.',
      {
        text: str,
        final: { type: 'boolean' },
      },
      ['text', 'final'],
    ),
    DtmfReceived: toBot(
      'dtmf',
      'The caller pressed a key.',
      {
        digit: { type: 'string', pattern: '^[0-9*#A-D]$' },
        durationMs: nonNegInt,
      },
      ['digit', 'durationMs'],
    ),
    SpeechStarted: toBot('speech.started', 'Voice activity: the caller started speaking.'),
    SpeechEnded: toBot(
      'speech.ended',
      'Voice activity: the caller stopped speaking (end of utterance).',
      {
        durationMs: { ...nonNegInt, description: 'Voiced length of the utterance (ms)' },
      },
      ['durationMs'],
    ),
    PlaybackFinished: playback('playback.finished', 'A reply played to its end.'),
    PlaybackInterrupted: playback('playback.interrupted', 'A reply was cut short (the caller barged in, or the bot sent clear).'),
    CallEnded: toBot(
      'call.ended',
      'The call is over; the gateway closes the socket (1000) right after.',
      {
        code: { type: 'string', enum: [...CALL_ENDED_CODES], description: 'Why, stable (1.1)' },
        reason: { ...str, description: 'Why, for people' },
      },
      ['code', 'reason'],
    ),
    MachineDetection: toBot(
      'machine.detection',
      'Vonage answering-machine detection on an outbound call placed with `vgw call --amd` (1.1, additive): who answered, and the voicemail beep. May come before call.started is answered; with the synchronous detection modes it comes right after call.started.',
      {
        result: {
          type: 'string',
          enum: ['human', 'machine', 'beep', 'beep-timeout'],
          description:
            '`human` or `machine` answered; `beep`: the voicemail beep was heard, speak your message now; `beep-timeout`: no beep came within the timeout',
        },
        subState: { ...str, description: "Vonage's own `sub_state` (`beep_start`, `beep_timeout`), when it sent one" },
      },
      ['result'],
    ),
    Backchannel: toBot(
      'backchannel',
      'The caller acknowledged the bot while it spoke ("uh-huh", "okay", a short sound) without interrupting it (1.1, additive): the reply went on. Not a turn: do not answer it. `text` is what the ASR heard, when it heard words.',
      {
        text: { ...str, description: "The acknowledgement's transcript, when the ASR gave one" },
        durationMs: { type: 'integer', minimum: 0, description: 'Voiced length of the acknowledgement' },
      },
      ['durationMs'],
    ),
    Error: toBot(
      'error',
      'The gateway did not carry out a message from the bot, and says why. The call goes on.',
      {
        code: { type: 'string', enum: [...ERROR_CODES] },
        reason: str,
        inReplyTo: { ...str, description: 'The `type` of the message refused, when it could be read' },
        id: { ...replyIdSchema, description: 'The `id` of the say/play refused, when it had one (1.1)' },
      },
      ['code', 'reason'],
    ),
    // ── bot → gateway ──
    Say: fromBot(
      'say',
      'Text to speak. Without `end` (or with end: true) it is one whole reply; to stream, send pieces with end: false and close the reply with end: true.',
      {
        text: { type: 'string', maxLength: 20000 },
        end: { type: 'boolean', default: true },
        interruptible: {
          type: 'boolean',
          default: true,
          description: 'false: the caller cannot barge in on this reply. A streamed reply takes it from its first piece',
        },
        id: replyIdSchema,
        language: { type: 'string', pattern: LANGUAGE_PATTERN, description: "BCP-47 language of this reply (1.1); default: the call's" },
        voice: { type: 'string', pattern: VOICE_PATTERN, description: "TTS voice of this reply (1.1), adapter-specific; default: the call's" },
      },
      ['text'],
    ),
    Play: fromBot(
      'play',
      'Audio to play as one reply.',
      {
        audio: { type: 'string', pattern: '^[A-Za-z0-9+/]*={0,2}$', description: 'base64 of 16-bit little-endian mono PCM' },
        sampleRateHz: { type: 'integer', minimum: 8000, maximum: 48000 },
        interruptible: { type: 'boolean', default: true },
        id: replyIdSchema,
      },
      ['audio', 'sampleRateHz'],
    ),
    Clear: fromBot('clear', 'Stop what is playing now and drop what is queued (like a barge-in).'),
    Hangup: fromBot('hangup', 'End the call, after the queued audio has played unless immediate.', {
      immediate: { type: 'boolean', default: false },
      reason: { type: 'string', maxLength: 200 },
    }),
    Transfer: {
      ...fromBot('transfer', 'Move the call to another NCCO (Vonage transfer): a raw NCCO, or (1.1) a phone number to connect the caller to.', {
        ncco: {
          type: 'array',
          minItems: 1,
          maxItems: 32,
          items: { type: 'object', required: ['action'], properties: { action: { type: 'string', minLength: 1 } } },
        },
        phone: { type: 'string', pattern: PHONE_PATTERN, description: 'Connect the caller to this number, E.164 without or with + (1.1)' },
        from: {
          type: 'string',
          pattern: PHONE_PATTERN,
          description: 'Caller id shown on the transferred call (with phone); default: the number the caller dialled',
        },
      }),
      oneOf: [oneField('ncco'), oneField('phone')],
      dependencies: { from: ['phone'] },
    },
    SendDtmf: {
      ...fromBot(
        'dtmf',
        'Send DTMF digits into the call (p = a 500 ms pause). 1.1 also takes the shape the gateway sends (digit, durationMs), so an event can be echoed back.',
        {
          digits: { type: 'string', pattern: '^[0-9*#pA-D]{1,64}$' },
          digit: { type: 'string', pattern: '^[0-9*#A-D]$' },
          durationMs: { ...nonNegInt, description: 'Ignored: Vonage plays every digit for its own fixed length' },
        },
      ),
      oneOf: [oneField('digits'), oneField('digit')],
      dependencies: { durationMs: ['digit'] },
    },
  },
} as const;

// `node dist/src/bot/remote-schema.js` prints the schema (to regenerate the copy in docs/).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.stdout.write(JSON.stringify(SIDECAR_SCHEMA, null, 2) + '\n');
