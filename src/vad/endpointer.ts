/**
 * Turns per-frame speech/silence decisions into utterances: speech starts once `minSpeechMs` of voice has accumulated
 * (one unvoiced frame inside the onset is tolerated), and ends after `silenceMs` of continuous silence.
 * Pure frame arithmetic (no clock), so tests drive it frame by frame.
 */
export const enum VadEvent {
  None = 0,
  SpeechStart = 1,
  SpeechEnd = 2,
}

export interface EndpointerOptions {
  frameMs: number;
  minSpeechMs: number;
  silenceMs: number;
}

export class Endpointer {
  private readonly o: EndpointerOptions;
  private inSpeech = false;
  private onsetMs = 0;
  private onsetGap = 0;
  private silentMs = 0;
  /** Voiced ms in the current utterance (grows while speaking; barge-in compares it to its threshold). */
  speechMs = 0;
  /** Total ms from speech start to now (voiced and short pauses). */
  utteranceMs = 0;

  constructor(opts: EndpointerOptions) {
    this.o = opts;
  }

  get speaking(): boolean {
    return this.inSpeech;
  }

  /** Continuous silence so far inside the current utterance, ms (0 while voiced or outside speech). */
  get trailingSilenceMs(): number {
    return this.inSpeech ? this.silentMs : 0;
  }

  /** Feed one frame's decision; returns what changed. */
  push(voiced: boolean): VadEvent {
    const f = this.o.frameMs;
    if (!this.inSpeech) {
      if (voiced) {
        this.onsetMs += f;
        this.onsetGap = 0;
        if (this.onsetMs >= this.o.minSpeechMs) {
          this.inSpeech = true;
          this.speechMs = this.onsetMs;
          this.utteranceMs = this.onsetMs;
          this.silentMs = 0;
          this.onsetMs = 0;
          return VadEvent.SpeechStart;
        }
      } else if (this.onsetMs > 0 && ++this.onsetGap > 1) {
        this.onsetMs = 0;
        this.onsetGap = 0;
      }
      return VadEvent.None;
    }
    this.utteranceMs += f;
    if (voiced) {
      this.speechMs += f;
      this.silentMs = 0;
      return VadEvent.None;
    }
    this.silentMs += f;
    if (this.silentMs >= this.o.silenceMs) {
      this.inSpeech = false;
      this.utteranceMs -= this.silentMs;
      this.silentMs = 0;
      return VadEvent.SpeechEnd;
    }
    return VadEvent.None;
  }

  reset(): void {
    this.inSpeech = false;
    this.onsetMs = 0;
    this.onsetGap = 0;
    this.silentMs = 0;
    this.speechMs = 0;
    this.utteranceMs = 0;
  }
}
