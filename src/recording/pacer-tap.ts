/**
 * A {@link PacerSink} that forwards to the leg and records each frame actually sent (frames the pacer drops for
 * back-pressure never reach it, so the bot channel holds what Vonage was given). No pacer change needed.
 */
import type { PacerSink } from '../egress/pacer.js';
import type { CallRecording } from './store.js';

export class RecordingPacerSink implements PacerSink {
  private readonly leg: PacerSink;
  private readonly rec: CallRecording;

  constructor(leg: PacerSink, rec: CallRecording) {
    this.leg = leg;
    this.rec = rec;
  }

  sendFrame(frame: Buffer): void {
    this.leg.sendFrame(frame);
    this.rec.pushOut(frame);
  }

  sendText(text: string): void {
    this.leg.sendText(text);
  }

  get bufferedAmount(): number {
    return this.leg.bufferedAmount;
  }
}
