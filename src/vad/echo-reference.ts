/**
 * A {@link PacerSink} that hands the echo guard every frame actually sent to Vonage (its reference: what the caller will
 * hear, in order), and tells it when Vonage was asked to drop what it holds. Same shape as the recording tap; no pacer
 * change, and no cost at all when the guard is off (the session does not insert it).
 */
import { CLEAR_MESSAGE, type PacerSink } from '../egress/pacer.js';
import type { EchoGuard } from './echo-guard.js';

export class EchoReferenceSink implements PacerSink {
  private readonly next: PacerSink;
  private readonly guard: EchoGuard;

  constructor(next: PacerSink, guard: EchoGuard) {
    this.next = next;
    this.guard = guard;
  }

  sendFrame(frame: Buffer): void {
    this.next.sendFrame(frame);
    this.guard.reference(frame);
  }

  sendText(text: string): void {
    if (text === CLEAR_MESSAGE) this.guard.flushReference();
    this.next.sendText(text);
  }

  get bufferedAmount(): number {
    return this.next.bufferedAmount;
  }
}
