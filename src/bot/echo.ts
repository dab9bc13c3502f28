/**
 * The default bot. With ASR and TTS: repeats what it heard ("You said: …"), reads back DTMF, says goodbye and hangs up
 * on "goodbye" or `#`. Without ASR it plays the caller's last utterance back once they stop speaking; without TTS it
 * answers a key press with that key's tone.
 */
import { Channel } from '../util/channel.js';
import { dtmfTone } from '../audio/dtmf.js';
import type { BotAdapter, BotAdapterFactory, BotInput, BotOutput, BotSession, BotSessionOptions } from './types.js';

const GOODBYE = /\b(good ?bye|bye bye)\b/i;

class EchoBotSession implements BotSession {
  readonly output = new Channel<BotOutput>(64, 'drop-oldest');
  private readonly o: BotSessionOptions;
  private ended = false;

  constructor(o: BotSessionOptions) {
    this.o = o;
    o.signal.addEventListener('abort', () => this.close(), { once: true });
  }

  input(e: BotInput): void {
    if (this.ended) return;
    const { hasAsr, hasTts, call } = this.o;
    switch (e.type) {
      case 'start':
        if (hasTts) this.say(hasAsr ? 'Hi! Say something, and I will repeat it.' : 'Hi! Say something, and I will play it back.');
        return;
      case 'transcript':
        if (!e.final || !e.text.trim() || !hasTts) return;
        if (GOODBYE.test(e.text)) return this.goodbye();
        this.say(`You said: ${e.text.trim()}`);
        return;
      case 'speech-end':
        // A backchannel ("uh-huh") is not a turn: not played back.
        if (!hasAsr && !e.backchannel && e.audio && e.audio.length) this.output.push({ type: 'play', audio: e.audio, sampleRateHz: e.sampleRateHz });
        return;
      case 'dtmf':
        if (e.digit === '#') return this.goodbye();
        if (hasTts) this.say(`You pressed ${e.digit === '*' ? 'star' : e.digit}.`);
        else {
          const tone = dtmfTone(e.digit, 200, call.sampleRateHz);
          if (tone) this.output.push({ type: 'play', audio: tone, sampleRateHz: call.sampleRateHz });
        }
        return;
      default:
        return;
    }
  }

  close(): void {
    this.output.close();
  }

  private say(text: string): void {
    this.output.push({ type: 'say', text, end: true });
  }

  private goodbye(): void {
    this.ended = true;
    if (this.o.hasTts) this.output.push({ type: 'say', text: 'Thank you for calling. Goodbye!', end: true, interruptible: false });
    else {
      const tone = dtmfTone('#', 300, this.o.call.sampleRateHz);
      if (tone) this.output.push({ type: 'play', audio: tone, sampleRateHz: this.o.call.sampleRateHz, interruptible: false });
    }
    this.output.push({ type: 'hangup', reason: 'caller said goodbye' });
  }
}

export const createEchoBot: BotAdapterFactory = (): BotAdapter => ({
  name: 'echo',
  capabilities: { wantsUtteranceAudio: true },
  start: (o) => new EchoBotSession(o),
});
