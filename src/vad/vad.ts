/**
 * Per-call voice activity detection at any leg rate: 8/16 kHz frames go straight to the WebRTC VAD; 24 kHz frames are
 * resampled to 16 kHz first (a streaming resampler, so the VAD sees clean 20 ms frames).
 */
import { StreamResampler } from '../audio/resampler.js';
import { Endpointer, VadEvent, type EndpointerOptions } from './endpointer.js';
import { Fvad } from './fvad.js';

export { VadEvent };

export interface VadOptions extends Omit<EndpointerOptions, 'frameMs'> {
  sampleRateHz: number;
  mode: 0 | 1 | 2 | 3;
}

export class CallVad {
  readonly endpointer: Endpointer;
  private readonly fvad: Fvad;
  private readonly resampler: StreamResampler | undefined;
  private readonly acc: Buffer | undefined;
  private accLen = 0;
  private lastVoiced = false;

  constructor(o: VadOptions) {
    const vadRate = o.sampleRateHz === 8000 ? 8000 : 16000;
    this.fvad = new Fvad(vadRate, o.mode);
    if (o.sampleRateHz !== vadRate) {
      this.resampler = new StreamResampler(o.sampleRateHz, vadRate, 3);
      this.acc = Buffer.alloc((vadRate / 50) * 2);
    }
    this.endpointer = new Endpointer({ frameMs: 20, minSpeechMs: o.minSpeechMs, silenceMs: o.silenceMs });
  }

  /** The last frame's decision (the WebRTC VAD's own, before any `unvoiced` override). */
  get voiced(): boolean {
    return this.lastVoiced;
  }

  /**
   * Classify one 20 ms leg frame and advance the endpointer. `unvoiced`: the frame is known not to be the caller's
   * speech (the echo guard's echo-only verdict), so the endpointer counts it as silence whatever the VAD says.
   */
  push(frame: Buffer, unvoiced = false): VadEvent {
    if (!this.resampler) return this.endpointer.push((this.lastVoiced = this.fvad.isSpeech(frame)) && !unvoiced);
    // A frame sliced from a larger socket buffer can start at an odd byte offset: an Int16Array view of it would throw.
    const aligned =
      frame.byteOffset % 2 === 0
        ? new Int16Array(frame.buffer, frame.byteOffset, frame.length >> 1)
        : new Int16Array(Uint8Array.prototype.slice.call(frame).buffer);
    const out = this.resampler.process(aligned);
    const acc = this.acc as Buffer;
    const bytes = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    // The resampler's output per 20 ms chunk wobbles by a sample or two; accumulate and classify whole frames.
    let off = 0;
    while (off < bytes.length) {
      const take = Math.min(acc.length - this.accLen, bytes.length - off);
      bytes.copy(acc, this.accLen, off, off + take);
      this.accLen += take;
      off += take;
      if (this.accLen === acc.length) {
        this.lastVoiced = this.fvad.isSpeech(acc);
        this.accLen = 0;
      }
    }
    return this.endpointer.push(this.lastVoiced && !unvoiced);
  }

  close(): void {
    this.fvad.close();
    this.resampler?.close();
  }
}
