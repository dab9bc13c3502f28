/**
 * The sidecar bot protocol's messages: what the gateway sends (built from {@link BotInput}), and the checking of what
 * the bot sends (JSON, size, schema, audio) into either a typed message or an `error` to send back.
 * The schema is compiled once per process, on first use. See docs/sidecar-protocol.md.
 */
import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import type { CallInfo } from '../call/call-info.js';
import { CALLER_HUNG_UP, type BotInput } from './types.js';
import {
  BOT_MESSAGE_DEFS,
  SIDECAR_PROTOCOL_FULL_VERSION,
  SIDECAR_PROTOCOL_VERSION,
  SIDECAR_SCHEMA,
  type BotMessageType,
  type CALL_ENDED_CODES,
  type ERROR_CODES,
} from './remote-schema.js';

/** A bot message larger than this gets a `TOO_BIG` error (and is ignored). 4 MiB: about 98 s of 16 kHz `play` audio. */
export const MAX_BOT_MESSAGE_BYTES = 4 * 1024 * 1024;
/** The bot socket's `maxPayload`: past this `ws` closes the socket (1009) and the call gets the apology. */
export const HARD_MAX_BOT_MESSAGE_BYTES = 2 * MAX_BOT_MESSAGE_BYTES;

export type ErrorCodeToBot = (typeof ERROR_CODES)[number];
export type CallEndedCode = (typeof CALL_ENDED_CODES)[number];

/** What the gateway can do on this call, told to the bot in `call.started` (1.1). */
export interface SidecarCapabilities {
  asr: boolean;
  tts: boolean;
  callControl: boolean;
  bargeIn: boolean;
  playSampleRatesHz: [number, number];
  maxMessageBytes: number;
  maxSayChars: number;
}

/** `play` audio rates accepted (the schema's bounds). */
export const PLAY_SAMPLE_RATES_HZ: [number, number] = [8000, 48000];
export const MAX_SAY_CHARS = 20000;

/** Gateway → bot. */
export type GatewayMessage =
  | {
      type: 'call.started';
      protocol: number;
      protocolVersion: string;
      callId: string;
      conversationUuid: string | null;
      from: string | null;
      to: string | null;
      sampleRateHz: number;
      language: string;
      headers: Readonly<Record<string, unknown>>;
      capabilities: SidecarCapabilities;
    }
  | { type: 'transcript'; text: string; final: boolean }
  | { type: 'dtmf'; digit: string; durationMs: number }
  | { type: 'speech.started' }
  | { type: 'speech.ended'; durationMs: number }
  | { type: 'playback.finished' | 'playback.interrupted'; replyId: number; heardMs: number; totalMs: number; id?: string }
  | { type: 'call.ended'; code: CallEndedCode; reason: string }
  | { type: 'machine.detection'; result: 'human' | 'machine' | 'beep' | 'beep-timeout'; subState?: string }
  | { type: 'backchannel'; text?: string; durationMs: number }
  | { type: 'error'; code: ErrorCodeToBot; reason: string; inReplyTo?: string; id?: string };

/** Bot → gateway, after validation (`play` audio decoded, a one-`digit` dtmf turned into `digits`). */
export type BotMessage =
  | { type: 'say'; text: string; end?: boolean; interruptible?: boolean; id?: string; language?: string; voice?: string }
  | { type: 'play'; audio: Int16Array; sampleRateHz: number; interruptible?: boolean; id?: string }
  | { type: 'clear' }
  | { type: 'hangup'; immediate?: boolean; reason?: string }
  | { type: 'transfer'; ncco: object[] }
  | { type: 'transfer'; phone: string; from?: string }
  | { type: 'dtmf'; digits: string };

export type ParseResult = { ok: true; message: BotMessage } | { ok: false; error: Extract<GatewayMessage, { type: 'error' }> };

/** The NCCO of a `transfer` to a phone number: connect the caller to it, shown as calling from `from` (else the number they dialled). */
export function transferNcco(phone: string, from: string | undefined, call: CallInfo): object[] {
  const digits = (n: string) => n.replace(/^\+/, '');
  const callerId = from ?? call.to;
  return [{ action: 'connect', ...(callerId ? { from: digits(callerId) } : {}), endpoint: [{ type: 'phone', number: digits(phone) }] }];
}

/** How the session ended, as the remote adapter saw it (for `call.ended`). */
export interface EndState {
  /** The bot could not be reached or went away (the gateway apologised). */
  failed: boolean;
  /** The bot sent `hangup`. */
  hangupSeen: boolean;
  /** A `transfer` of the bot's was carried out by Vonage. */
  transferred: boolean;
}

/**
 * `call.ended` for the close reason the session gave (see {@link CALLER_HUNG_UP} and the gateway's own reasons): a
 * stable `code` and a `reason` for people. A reason the gateway did not choose is the leg's own error.
 */
export function callEndedFor(reason: string | undefined, s: EndState): Extract<GatewayMessage, { type: 'call.ended' }> {
  const r = reason ?? '';
  const ended = (code: CallEndedCode, why: string) => ({ type: 'call.ended' as const, code, reason: why });
  if (s.failed) return ended('bot-unavailable', 'bot unavailable');
  if (r === 'gateway shutting down') return ended('gateway-shutdown', r);
  if (/^bot failed \d+ times$/.test(r)) return ended('bot-failed', r);
  if (s.hangupSeen || r === 'bot hung up') return ended('bot-hung-up', 'bot hung up');
  if (s.transferred) return ended('transferred', 'call transferred');
  if (r === CALLER_HUNG_UP || r.startsWith('vonage reported ')) return ended('caller-hung-up', r === CALLER_HUNG_UP ? r : `caller hung up (${r})`);
  return ended('error', r || 'call ended');
}

/**
 * The message the gateway sends the bot for one session input, or undefined when there is nothing to send.
 * `v11`: the bot answered the 1.1 subprotocol, so it gets the codes 1.0 did not have.
 */
export function gatewayMessageFor(e: BotInput, call: CallInfo, capabilities: SidecarCapabilities, v11: boolean): GatewayMessage | undefined {
  switch (e.type) {
    case 'start':
      return {
        type: 'call.started',
        protocol: SIDECAR_PROTOCOL_VERSION,
        protocolVersion: SIDECAR_PROTOCOL_FULL_VERSION,
        callId: call.callId,
        conversationUuid: call.conversationUuid ?? null,
        from: call.from ?? null,
        to: call.to ?? null,
        sampleRateHz: call.sampleRateHz,
        language: call.language,
        headers: call.metadata,
        capabilities,
      };
    case 'transcript':
      return { type: 'transcript', text: e.text, final: e.final };
    case 'dtmf':
      return { type: 'dtmf', digit: e.digit, durationMs: Math.max(0, Math.round(e.durationMs)) };
    case 'speech-start':
      return { type: 'speech.started' };
    case 'speech-end':
      return { type: 'speech.ended', durationMs: Math.max(0, Math.round(e.durationMs)) };
    case 'playback':
      return {
        type: e.interrupted ? 'playback.interrupted' : 'playback.finished',
        replyId: e.replyId,
        heardMs: e.heardMs,
        totalMs: e.totalMs,
        ...(e.id === undefined ? {} : { id: e.id }),
      };
    case 'action-result':
      // A 1.0 bot was never told about actions it asked for: it keeps not being told (its schema lacks these codes).
      if (e.ok || !v11) return undefined;
      return { type: 'error', code: e.code ?? 'ACTION_FAILED', reason: e.reason ?? `the ${e.action} was not carried out`, inReplyTo: e.action };
    case 'machine-detection':
      // Gateway → bot messages are open: a bot of any version ignores a type it does not know.
      return { type: 'machine.detection', result: e.result, ...(e.subState === undefined ? {} : { subState: e.subState }) };
    case 'backchannel':
      // Additive like machine.detection: a bot that does not know the type ignores it; the reply went on either way.
      return { type: 'backchannel', ...(e.text === undefined ? {} : { text: e.text }), durationMs: Math.max(0, Math.round(e.durationMs)) };
    default:
      return undefined; // an input this version of the protocol does not carry
  }
}

let validators: Map<string, ValidateFunction> | undefined;

/** One validator per bot message type, compiled once per process. */
function botValidators(): Map<string, ValidateFunction> {
  if (validators) return validators;
  const ajv = new Ajv({ allErrors: false, strict: false });
  ajv.addSchema(SIDECAR_SCHEMA);
  const m = new Map<string, ValidateFunction>();
  for (const [type, def] of Object.entries(BOT_MESSAGE_DEFS)) {
    const v = ajv.getSchema(`${SIDECAR_SCHEMA.$id}#/definitions/${def}`);
    if (!v) throw new Error(`sidecar schema has no definition ${def}`);
    m.set(type, v);
  }
  validators = m;
  return m;
}

function describe(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'does not match the schema';
  if (e.keyword === 'additionalProperties') return `unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'message';
  return `${where} ${e.message ?? 'is invalid'}`;
}

const fail = (code: ErrorCodeToBot, reason: string, inReplyTo?: string): ParseResult => ({
  ok: false,
  error: inReplyTo === undefined ? { type: 'error', code, reason } : { type: 'error', code, reason, inReplyTo },
});

/** Decode base64 16-bit LE PCM into samples (copied when the decoded bytes are not 2-byte aligned). */
function decodePcm(b64: string): Int16Array | string {
  if (b64.length % 4 !== 0) return 'audio is not valid base64 (length not a multiple of 4)';
  const buf = Buffer.from(b64, 'base64');
  if (buf.length === 0 || buf.length % 2 !== 0) return `audio must be whole 16-bit samples (got ${buf.length} bytes)`;
  if (buf.byteOffset % 2 === 0) return new Int16Array(buf.buffer, buf.byteOffset, buf.length / 2);
  const copy = new Int16Array(buf.length / 2);
  new Uint8Array(copy.buffer).set(buf);
  return copy;
}

/**
 * Check one WebSocket message from the bot. Never throws: a bad message yields the `error` to send back.
 * @param data the message as `ws` delivered it; `isBinary` true for binary frames (not part of the protocol).
 */
export function parseBotMessage(data: Buffer | string, isBinary: boolean): ParseResult {
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (isBinary) return fail('BAD_MESSAGE', 'binary messages are not part of the protocol: send JSON text');
  if (bytes > MAX_BOT_MESSAGE_BYTES) return fail('TOO_BIG', `message of ${bytes} bytes is over the ${MAX_BOT_MESSAGE_BYTES}-byte limit`);
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (err) {
    return fail('BAD_JSON', `not JSON: ${(err as Error).message}`.slice(0, 200));
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return fail('BAD_MESSAGE', 'a message must be a JSON object with a "type"');
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string') return fail('BAD_MESSAGE', 'a message must be a JSON object with a string "type"');
  const validate = botValidators().get(type);
  if (!validate)
    return fail('UNKNOWN_TYPE', `unknown message type "${type.slice(0, 64)}" (known: ${Object.keys(BOT_MESSAGE_DEFS).join(', ')})`, type.slice(0, 64));
  if (!validate(value)) return fail('INVALID_MESSAGE', describe(validate.errors), type);
  const v = value as Record<string, unknown>;
  switch (type as BotMessageType) {
    case 'play': {
      const audio = decodePcm(v.audio as string);
      if (typeof audio === 'string') return fail('BAD_AUDIO', audio, type);
      const out: BotMessage = { type: 'play', audio, sampleRateHz: v.sampleRateHz as number };
      if (v.interruptible !== undefined) out.interruptible = v.interruptible as boolean;
      if (v.id !== undefined) out.id = v.id as string;
      return { ok: true, message: out };
    }
    case 'dtmf':
      // The shape the gateway sends (digit, durationMs) is taken too, so an event echoed back works.
      return { ok: true, message: { type: 'dtmf', digits: (v.digits ?? v.digit) as string } };
    default:
      return { ok: true, message: value as BotMessage };
  }
}
