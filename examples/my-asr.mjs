// @ts-check
// ASR_ADAPTER=./examples/my-asr.mjs npm start   ·   check it: npx vgw asr-conformance --adapter ./examples/my-asr.mjs
// An ASR without a language model: it hears *that* the caller spoke (energy above a threshold), not what, and reports
// each utterance as a final "(speech, 1.2 s)" once 400 ms of quiet follow it.
import { defineAsr } from 'vonage-voicebot-gateway/sdk';

const LOUD_RMS = 500;
const QUIET_FRAMES_TO_END = 20;

export default defineAsr({
  name: 'my-asr',
  start(_call, { emit }) {
    let at = 0; // frames written
    let speechFrames = 0;
    let quiet = 0;
    let startFrame = 0;
    return {
      write(frame) {
        // Called every 20 ms: no allocation here (the frame may also sit at an odd offset: read it, don't view it).
        let sum = 0;
        for (let i = 0; i + 1 < frame.length; i += 2) sum += frame.readInt16LE(i) ** 2;
        const loud = Math.sqrt(sum / Math.max(1, frame.length >> 1)) > LOUD_RMS;
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
