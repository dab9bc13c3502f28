/**
 * Vonage answering-machine detection results (`status` `human` / `machine` on the event webhook, with `sub_state`
 * `beep_start` or `beep_timeout` for advanced detection), checked and handed to the call's bot as a
 * `machine-detection` input.
 *
 * With the synchronous modes (`detect`, `detect_beep`) Vonage runs the NCCO's `connect` only once detection is over, so
 * the result reaches the event webhook before the call's WebSocket leg exists: the inbox keeps it (bounded: at most
 * {@link MAX_PENDING_CALLS} calls, {@link PENDING_TTL_MS} each, oldest dropped first) and gives it to the session when
 * the leg connects.
 */
import { GatewayError } from '../errors.js';
import type { MachineDetectionResult } from '../bot/types.js';

export const MAX_PENDING_CALLS = 1000;
export const PENDING_TTL_MS = 120_000;
/** Results kept per pending call (machine, then its beep). */
const MAX_PER_CALL = 4;

export interface MachineDetection {
  result: MachineDetectionResult;
  subState?: string;
}

/** A call that can be told (the session). */
export interface MachineDetectionTarget {
  readonly info: { readonly callId: string };
  machineDetected(r: MachineDetection): void;
}

const bad = (reason: string) => new GatewayError('WEBHOOK_MALFORMED', reason, { httpStatus: 400 });

/**
 * The result of a `human`/`machine` event, and the call it is about (`call_uuid`, else `uuid`).
 * @throws GatewayError WEBHOOK_MALFORMED (400) when the call is not named or `sub_state` is not what Vonage sends.
 */
export function parseMachineDetection(status: 'human' | 'machine', fields: Record<string, unknown>): { callUuid: string; detection: MachineDetection } {
  const id = fields.call_uuid ?? fields.uuid;
  if (typeof id !== 'string' || !/^[A-Za-z0-9-]{1,100}$/.test(id)) throw bad(`a ${status} event needs the call's uuid in call_uuid (or uuid)`);
  const sub = fields.sub_state;
  if (sub === undefined || sub === null || sub === '') return { callUuid: id, detection: { result: status } };
  if (typeof sub !== 'string' || !/^[a-z_]{1,40}$/.test(sub)) throw bad('field sub_state must be a word such as beep_start or beep_timeout');
  if (status === 'human') throw bad(`a human event has no sub_state (got ${sub})`);
  // Sub-states Vonage may add later are passed on as a plain `machine` result.
  const result: MachineDetectionResult = sub === 'beep_start' ? 'beep' : sub === 'beep_timeout' ? 'beep-timeout' : 'machine';
  return { callUuid: id, detection: { result, subState: sub } };
}

/** Results waiting for their call's leg to connect. */
export class MachineDetectionInbox {
  private readonly pending = new Map<string, { atMs: number; list: MachineDetection[] }>();
  /** Results dropped: the inbox was full, or their call never connected within the TTL. */
  dropped = 0;

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.pending.size;
  }

  /** Keep a result for a call whose leg has not connected yet. */
  hold(callUuid: string, d: MachineDetection): void {
    this.prune();
    const p = this.pending.get(callUuid);
    if (p) {
      if (p.list.length < MAX_PER_CALL) p.list.push(d);
      else this.dropped++;
      return;
    }
    if (this.pending.size >= MAX_PENDING_CALLS) {
      const oldest = this.pending.keys().next().value as string;
      this.dropped += this.pending.get(oldest)?.list.length ?? 0;
      this.pending.delete(oldest);
    }
    this.pending.set(callUuid, { atMs: this.now(), list: [d] });
  }

  /** A leg connected: give it what was held for its call. */
  deliver(call: MachineDetectionTarget): void {
    const p = this.pending.get(call.info.callId);
    if (!p) return;
    this.pending.delete(call.info.callId);
    if (this.now() - p.atMs > PENDING_TTL_MS) {
      this.dropped += p.list.length;
      return;
    }
    for (const d of p.list) call.machineDetected(d);
  }

  private prune(): void {
    const limit = this.now() - PENDING_TTL_MS;
    for (const [id, p] of this.pending) {
      if (p.atMs >= limit) break; // insertion order is time order
      this.dropped += p.list.length;
      this.pending.delete(id);
    }
  }
}
