// @ts-check
// ASR_ADAPTER=./examples/my-asr.mjs npm start   ·   check it: npx vgw asr-conformance --adapter ./examples/my-asr.mjs
// An ASR without a language model: it hears *that* the caller spoke (energy above a threshold), not what, and reports
// each utterance as a final "(speech, 1.2 s)" once 400 ms of quiet follow it.
import { defineAsr } from 'vonage-voicebot-gateway/sdk';

const LOUD_RMS = 500;
const QUIET_FRAMES_TO_END = 20;

export default defineAsr({
  name: 'my-asr',
  start(call, { emit }) {
    let at = 0; // frames written
    let speechFrames = 0;
    let quiet = 0;
    let startFrame = 0;
    return {
      write(frame) {
        const pcm = new Int16Array(frame.buffer, frame.byteOffset, frame.length >> 1);
        let sum = 0;
        for (const s of pcm) sum += s * s;
        const loud = Math.sqrt(sum / Math.max(1, pcm.length)) > LOUD_RMS;
        at++;
        if (loud) {
          if (!speechFrames) startFrame = at - 1;
          speechFrames++;
          quiet = 0;
        } else if (speechFrames && ++quiet >= QUIET_FRAMES_TO_END) {
          const endFrame = at - quiet;
          emit.final(`(speech, ${((endFrame - startFrame) / 50).toFixed(1)} s)`, { startMs: startFrame * 20, endMs: endFrame * 20 });
          speechFrames = 0;
          quiet = 0;
        }
      },
    };
  },
});
