/** The IVR example's tests: the gateway settings it runs with, and callers' answers. */
import { bandLimitToTelephone } from '../../src/audio/band.js';
import { speak } from './flite-caller.js';

/** The gateway as examples/ivr/README.md runs it (plus a short no-input wait, so the tests do not sit in silence). */
export const IVR_ENV = {
  ASR_ADAPTER: 'local',
  TTS_ADAPTER: 'flite',
  BOT_ADAPTER: './examples/ivr/ivr-bot.mjs',
  ASR_GRAMMAR: 'examples/ivr/menu.gram',
  IVR_NO_INPUT_MS: '1500',
  ASR_BAND_FILL: 'auto',
  // A one-word answer over the prompt is an answer, not an acknowledgement.
  BACKCHANNEL_MAX_WORDS: '0',
  // Menu answers are short and finished: no prosodic hold (examples/ivr/README.md).
  ENDPOINT_PROSODY_HOLD_MS: '0',
} as const;

/** Log lines of one call that carry `key` (the bot's `ivr …` decisions). */
export const mine = (uuid: string, key: string) => (l: Record<string, unknown>) => l.callId === uuid && l[key] !== undefined;

/**
 * A caller's answer as a phone line carries it: Flite slt, band-passed to 300–3400 Hz, after `leadMs` of silence, and
 * said again `againMs` later if given (a caller asked again repeats; the IVR ignores speech once it has decided).
 */
export async function answer(text: string, leadMs: number, againMs?: number): Promise<{ samples: Int16Array; sampleRateHz: number }> {
  const pcm = await speak(text);
  const words = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length));
  const lead = 16 * leadMs;
  const gap = againMs ? Math.max(0, 16 * againMs - words.length) : 0;
  const all = new Int16Array(lead + words.length + (againMs ? gap + words.length : 0));
  all.set(words, lead);
  if (againMs) all.set(words, lead + words.length + gap);
  return { samples: bandLimitToTelephone(all, 16000), sampleRateHz: 16000 };
}
