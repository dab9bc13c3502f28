/**
 * What the caller hears when the gateway, not the bot, has to speak: an apology when the bot fails or does not
 * answer, and a goodbye when the gateway shuts down. Spoken through the call's TTS; a tone when there is none.
 */

/** Spoken when the bot's code throws or rejects, or a final transcript goes unanswered for `BOT_REPLY_TIMEOUT_MS`. */
export const APOLOGY_TEXT = 'Sorry, something went wrong on our side. Please bear with us.';

/** Spoken to live calls when the drain deadline passes, before they are closed with 1001. */
export const GOODBYE_TEXT = 'This service is restarting. Please call again. Goodbye.';

/** Longest the gateway waits at the drain deadline for goodbyes to play before closing what is left. */
export const GOODBYE_MAX_MS = 5000;

/** Two short 480 Hz beeps (300 ms each, 100 ms apart) at `sampleRateHz`: the apology without TTS. */
export function apologyTone(sampleRateHz: number): Int16Array {
  const beep = Math.round(0.3 * sampleRateHz);
  const gap = Math.round(0.1 * sampleRateHz);
  const fade = Math.round(0.005 * sampleRateHz);
  const out = new Int16Array(beep * 2 + gap);
  for (const start of [0, beep + gap]) {
    for (let i = 0; i < beep; i++) {
      const env = Math.min(1, i / fade, (beep - 1 - i) / fade);
      out[start + i] = Math.round(8000 * env * Math.sin((2 * Math.PI * 480 * i) / sampleRateHz));
    }
  }
  return out;
}

/** Spoken when the bot has failed `BOT_MAX_FAILURES` times in one call, before the call is hung up (then closed with 1011). */
export const BOT_FAILED_GOODBYE_TEXT = 'Sorry, we are having technical difficulties. Please call again later. Goodbye.';
