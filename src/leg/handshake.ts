/**
 * Parses Vonage's first WebSocket message: `{"event":"websocket:connected","content-type":"audio/l16;rate=16000", …headers}`.
 * The NCCO `headers` arrive flattened into the top level; they become the call's metadata.
 */
import { SUPPORTED_RATES, type SampleRateHz } from '../config/config.js';
import { GatewayError } from '../errors.js';

export interface Handshake {
  sampleRateHz: SampleRateHz;
  contentType: string;
  /** Every other top-level field, as sent (strings, numbers, …), limited in count and size. */
  metadata: Readonly<Record<string, unknown>>;
}

const MAX_HANDSHAKE_BYTES = 16 * 1024;
const MAX_METADATA_KEYS = 64;

/** Parse `audio/l16;rate=16000` (case-insensitive, spaces tolerated). Returns the rate, or undefined if unsupported. */
export function parseContentType(value: unknown): SampleRateHz | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^\s*audio\/l16\s*;\s*rate\s*=\s*(\d+)\s*$/i.exec(value);
  if (!m) return undefined;
  const rate = Number(m[1]);
  return (SUPPORTED_RATES as readonly number[]).includes(rate) ? (rate as SampleRateHz) : undefined;
}

/** @throws GatewayError HANDSHAKE_MALFORMED or UNSUPPORTED_CONTENT_TYPE */
export function parseHandshake(data: Buffer | string, isBinary: boolean): Handshake {
  if (isBinary) throw new GatewayError('HANDSHAKE_MALFORMED', 'binary message before websocket:connected');
  const text = typeof data === 'string' ? data : data.toString('utf8');
  if (text.length > MAX_HANDSHAKE_BYTES) throw new GatewayError('HANDSHAKE_MALFORMED', 'handshake too large');
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw new GatewayError('HANDSHAKE_MALFORMED', 'handshake is not JSON');
  }
  if (!msg || typeof msg !== 'object' || Array.isArray(msg)) throw new GatewayError('HANDSHAKE_MALFORMED', 'handshake is not a JSON object');
  const obj = msg as Record<string, unknown>;
  if (obj.event !== 'websocket:connected') throw new GatewayError('HANDSHAKE_MALFORMED', 'first message is not websocket:connected');
  const ct = obj['content-type'];
  if (ct === undefined) throw new GatewayError('UNSUPPORTED_CONTENT_TYPE', 'handshake has no content-type');
  const rate = parseContentType(ct);
  if (rate === undefined) {
    throw new GatewayError('UNSUPPORTED_CONTENT_TYPE', `unsupported content-type ${JSON.stringify(ct).slice(0, 60)} (want audio/l16;rate=8000|16000|24000)`);
  }
  const metadata = Object.create(null) as Record<string, unknown>;
  let n = 0;
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'event' || k === 'content-type') continue;
    if (++n > MAX_METADATA_KEYS) break;
    metadata[k] = v;
  }
  return { sampleRateHz: rate, contentType: ct as string, metadata: Object.freeze(metadata) };
}

/** A text event received after the handshake. */
export type LegEvent =
  | { kind: 'dtmf'; digit: string; durationMs: number }
  | { kind: 'cleared' }
  | { kind: 'notify'; payload: unknown }
  | { kind: 'unknown'; event: string }
  | { kind: 'malformed'; reason: string };

/** The events a leg hands its listener: malformed and unknown messages stop at the leg (counted, rate-limit-logged). */
export type CallLegEvent = Exclude<LegEvent, { kind: 'unknown' } | { kind: 'malformed' }>;

const DTMF_DIGIT = /^[0-9*#A-Da-d]$/;

/** Parse a post-handshake text message. Never throws. */
export function parseLegEvent(text: string): LegEvent {
  if (text.length > MAX_HANDSHAKE_BYTES) return { kind: 'malformed', reason: 'text message too large' };
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { kind: 'malformed', reason: 'not JSON' };
  }
  if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return { kind: 'malformed', reason: 'not a JSON object' };
  const o = msg as Record<string, unknown>;
  switch (o.event) {
    case 'websocket:dtmf': {
      const digit = typeof o.digit === 'number' ? String(o.digit) : o.digit;
      if (typeof digit !== 'string' || !DTMF_DIGIT.test(digit)) return { kind: 'malformed', reason: 'dtmf without a valid digit' };
      const d = Number(o.duration);
      return { kind: 'dtmf', digit: digit.toUpperCase(), durationMs: Number.isFinite(d) && d >= 0 ? d : 0 };
    }
    case 'websocket:cleared':
      return { kind: 'cleared' };
    case 'websocket:notify':
      return { kind: 'notify', payload: o.payload };
    default:
      return typeof o.event === 'string' ? { kind: 'unknown', event: o.event.slice(0, 64) } : { kind: 'malformed', reason: 'no event field' };
  }
}
