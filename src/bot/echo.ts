/**
 * The default bot. With ASR and TTS: repeats what it heard ("You said: …"), reads back DTMF, says goodbye and hangs up
 * on "goodbye" or `#`. Without ASR it plays the caller's last utterance back once they stop speaking; without TTS it
 * answers a key press with that key's tone.
 *
 * Answering-machine detection (`vgw call --amd`): when a `machine` answered it stops talking and waits for the beep
 * (at most {@link BEEP_WAIT_MS}); at the beep (or `beep-timeout`) it leaves `VOICEMAIL_TEXT` and hangs up.
 */
import { Channel } from '../util/channel.js';
import { dtmfTone } from '../audio/dtmf.js';
import type { BotAdapter, BotAdapterFactory, BotInput, BotOutput, BotSession, BotSessionOptions } from './types.js';

const GOODBYE = /\b(good ?bye|bye bye)\b/i;
/** After `machine`, the longest wait for the beep before the voicemail is left anyway (Vonage's `detect` mode sends no beep). */
export const BEEP_WAIT_MS = 10_000;

class EchoBotSession implements BotSession {
  readonly output = new Channel<BotOutput>(64, 'drop-oldest');
  private readonly o: BotSessionOptions;
  private ended = false;
  /** A machine answered: the bot is silent until the beep. */
  private machine = false;
  private beepTimer: NodeJS.Timeout | undefined;

  constructor(
    o: BotSessionOptions,
    private readonly voicemailText: string,
  ) {
    this.o = o;
    o.signal.addEventListener('abort', () => this.close(), { once: true });
  }

  input(e: BotInput): void {
    if (this.ended) return;
    if (e.type === 'machine-detection') return this.detected(e.result);
    if (this.machine) return; // the voicemail greeting is not a caller to answer
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
    if (this.beepTimer) clearTimeout(this.beepTimer);
    this.output.close();
  }

  private detected(result: Extract<BotInput, { type: 'machine-detection' }>['result']): void {
    if (result === 'human') return;
    if (result === 'machine') {
      if (this.machine) return;
      this.machine = true;
      this.output.push({ type: 'clear' }); // stop talking over the voicemail greeting
      this.beepTimer = setTimeout(() => this.voicemail(), BEEP_WAIT_MS);
      this.beepTimer.unref();
      return;
    }
    this.voicemail(); // the beep (or no beep in time): speak now
  }

  /** Leave the message after the beep, then hang up (without TTS: just hang up). */
  private voicemail(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.beepTimer) clearTimeout(this.beepTimer);
    if (!this.machine) this.output.push({ type: 'clear' }); // the beep came first (e.g. right after the greeting began)
    if (this.o.hasTts) this.output.push({ type: 'say', text: this.voicemailText, end: true, interruptible: false });
    this.output.push({ type: 'hangup', reason: 'voicemail left' });
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

export const createEchoBot: BotAdapterFactory = (ctx): BotAdapter => ({
  name: 'echo',
  capabilities: { wantsUtteranceAudio: true },
  start: (o) => new EchoBotSession(o, ctx?.sections?.vonage.voicemailText || 'Sorry we missed you. Goodbye.'),
});
