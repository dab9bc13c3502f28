// @ts-check
// TURN_DETECTOR=./examples/my-turn-detector.mjs npm start
// An end-of-turn detector with a trivial rule: a turn that ends in a question word or "and"/"or" is not done; one
// that has gone quiet for over a second is. The gateway calls it once per final transcript (bounded by
// TURN_DETECTOR_TIMEOUT_MS); a throw, a bad answer or no answer in time falls back to the built-in heuristic.
import { defineTurnDetector } from 'vonage-voicebot-gateway/sdk';

const OPEN_ENDED = new Set(['and', 'or', 'what', 'which', 'where', 'when', 'how', 'um', 'uh']);

export default defineTurnDetector({
  name: 'my-turn-detector',
  predict({ text, silenceMs }) {
    const last =
      text
        .toLowerCase()
        .replace(/[^a-z' ]/g, '')
        .trim()
        .split(/\s+/)
        .pop() ?? '';
    if (silenceMs > 1000) return 0.9;
    return OPEN_ENDED.has(last) ? 0.1 : 0.8;
  },
});

/*
 * A Smart Turn–style model instead (audio in, end-of-turn probability out), e.g. pipecat's smart-turn v3 ONNX run with
 * onnxruntime-node. Nothing here downloads a model: the operator installs onnxruntime-node
 * (ONNXRUNTIME_NODE_INSTALL=skip avoids its CUDA download) and gives the model file's path.
 *
 *   import * as ort from 'onnxruntime-node';
 *   import { defineTurnDetector } from 'vonage-voicebot-gateway/sdk';
 *
 *   const session = await ort.InferenceSession.create(process.env.SMART_TURN_MODEL); // e.g. /models/smart-turn-v3.onnx
 *   const RATE_HZ = 16000; // the model's rate; the gateway hands 8 kHz legs' audio at 8 kHz: resample it first
 *
 *   export default defineTurnDetector({
 *     name: 'smart-turn',
 *     wantsAudio: true, // the gateway then keeps the caller's last utterance and passes it as input.audio
 *     async predict({ audio, sampleRateHz }, signal) {
 *       if (!audio || sampleRateHz !== RATE_HZ) return 0.8; // no audio (or a rate this sketch does not resample)
 *       // The model reads the last 8 s as float32 and, in v3, log-mel features computed by its Whisper feature
 *       // extractor: compute them here (or export a model with the front end inside) from the last 8 s of audio.
 *       const last = audio.subarray(Math.max(0, audio.length - 8 * RATE_HZ));
 *       const input = new Float32Array(last.length);
 *       for (let i = 0; i < last.length; i++) input[i] = last[i] / 32768;
 *       const out = await session.run({ input_values: new ort.Tensor('float32', input, [1, input.length]) });
 *       if (signal.aborted) return 0.8; // the gateway stopped waiting: the answer is not used
 *       return Number(out.logits.data[0]); // the probability the turn is complete, 0..1
 *     },
 *   });
 *
 * The gateway bounds each call (TURN_DETECTOR_TIMEOUT_MS, default 150 ms): keep inference under it (a quantised model
 * on a CPU takes tens of ms for 8 s of audio), or the heuristic answers instead. Models trained on wideband speech
 * lose accuracy on 8 kHz telephone audio: measure with `vgw eval` at both rates.
 */
