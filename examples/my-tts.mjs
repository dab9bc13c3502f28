// @ts-check
// TTS_ADAPTER=./examples/my-tts.mjs npm start   ·   check it: npx vgw tts-conformance --adapter ./examples/my-tts.mjs
// A TTS without a voice: each word becomes a short tone (its pitch from the word's length), streamed word by word.
import { defineTts } from 'vonage-voicebot-gateway/sdk';

const RATE_HZ = 16000;

/** @param {string} word @returns {Int16Array} 150 ms of tone, then 50 ms of silence */
function tone(word) {
  const hz = 300 + 60 * Math.min(word.length, 12);
  const pcm = new Int16Array(RATE_HZ / 5);
  for (let i = 0; i < (RATE_HZ * 3) / 20; i++) pcm[i] = Math.round(5000 * Math.sin((2 * Math.PI * hz * i) / RATE_HZ));
  return pcm;
}

export default defineTts({
  name: 'my-tts',
  sampleRateHz: RATE_HZ,
  async *synthesize(text, { signal }) {
    for (const word of text.split(/\s+/).filter(Boolean)) {
      if (signal.aborted) return;
      await new Promise((r) => setImmediate(r)); // a real engine would await its provider here
      yield tone(word);
    }
  },
});
