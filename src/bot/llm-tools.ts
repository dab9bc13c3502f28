/**
 * The call-control tools offered to the LLM (OpenAI `tools` schema) and what each call becomes: `hang_up` → a
 * `hangup`, `transfer` → a `transfer` to a phone number (only to allowed numbers: an LLM can be talked into anything,
 * and an open transfer tool is a toll-fraud line), `send_dtmf` → a `dtmf`. Arguments from the model are untrusted
 * input: validated here; a bad call becomes an error result the model sees, never an action.
 */
import type { BotOutput } from './types.js';
import type { ToolCall } from './llm-client.js';

export const DTMF_DIGITS = /^[0-9*#p]+$/;
const MAX_DTMF_DIGITS = 64;
const E164_DIGITS = /^[1-9][0-9]{6,14}$/;

export interface ToolPolicy {
  /** Numbers `transfer` may dial (digits, no "+"); `['*']` = any valid number; empty = no transfer tool. */
  readonly transferNumbers: readonly string[];
}

export interface ToolOutcome {
  /** What the gateway should do, if the call was valid. */
  output?: BotOutput;
  /** The tool result the model gets in the history. */
  result: string;
  /** The call is leaving the bot (hang-up or transfer): no more replies. */
  endsCall: boolean;
}

/** `"+44 7700-900000"` → `"447700900000"`, or undefined if it is not a plausible E.164 number. */
export function normalizeNumber(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const n = raw.replace(/[\s().-]/g, '').replace(/^\+/, '');
  return E164_DIGITS.test(n) ? n : undefined;
}

/** The `tools` array of the request body. */
export function toolSchemas(policy: ToolPolicy): object[] {
  const tools: object[] = [
    fn(
      'hang_up',
      'End the phone call. Say a short goodbye in the same reply before calling this.',
      {
        reason: { type: 'string', description: 'Why the call is ending (for the logs)' },
      },
      ['reason'],
    ),
    fn(
      'send_dtmf',
      'Send DTMF key presses into the call, e.g. to navigate a phone menu. Digits 0-9, * and #; p is a 500 ms pause.',
      {
        digits: { type: 'string', pattern: DTMF_DIGITS.source, description: 'e.g. "1", "1234#"' },
      },
      ['digits'],
    ),
  ];
  const allowed = policy.transferNumbers;
  if (allowed.length) {
    const any = allowed.includes('*');
    tools.push(
      fn(
        'transfer',
        'Transfer the caller to another phone number. Tell the caller before calling this.',
        {
          number: any
            ? { type: 'string', description: 'Phone number in E.164 format, e.g. +14155550100' }
            : { type: 'string', enum: allowed.map((n) => `+${n}`), description: 'One of the allowed numbers' },
        },
        ['number'],
      ),
    );
  }
  return tools;
}

function fn(name: string, description: string, properties: object, required: string[]): object {
  return { type: 'function', function: { name, description, parameters: { type: 'object', properties, required } } };
}

/** Validate one tool call and turn it into a gateway action. */
export function runTool(call: ToolCall, policy: ToolPolicy): ToolOutcome {
  let args: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(call.function.arguments || '{}');
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    args = parsed as Record<string, unknown>;
  } catch {
    return { result: 'Error: the arguments were not a JSON object.', endsCall: false };
  }
  switch (call.function.name) {
    case 'hang_up': {
      const reason = typeof args.reason === 'string' && args.reason.trim() ? args.reason.trim().slice(0, 200) : 'bot ended the call';
      return { output: { type: 'hangup', reason }, result: 'The call is ending.', endsCall: true };
    }
    case 'transfer': {
      const number = normalizeNumber(args.number);
      if (!number) return { result: 'Error: number must be a phone number in E.164 format, e.g. +14155550100.', endsCall: false };
      const allowed = policy.transferNumbers;
      if (!allowed.includes('*') && !allowed.includes(number)) return { result: 'Error: transfers to that number are not allowed.', endsCall: false };
      return {
        output: { type: 'transfer', ncco: [{ action: 'connect', endpoint: [{ type: 'phone', number }] }] },
        result: `Transferring the call to +${number}.`,
        endsCall: true,
      };
    }
    case 'send_dtmf': {
      const digits = typeof args.digits === 'string' ? args.digits.trim() : '';
      if (!DTMF_DIGITS.test(digits) || digits.length > MAX_DTMF_DIGITS) {
        return { result: `Error: digits must match ${DTMF_DIGITS.source} (at most ${MAX_DTMF_DIGITS}).`, endsCall: false };
      }
      return { output: { type: 'dtmf', digits }, result: `Sent DTMF ${digits}.`, endsCall: false };
    }
    default:
      return { result: `Error: there is no tool named ${JSON.stringify(call.function.name.slice(0, 40))}.`, endsCall: false };
  }
}
