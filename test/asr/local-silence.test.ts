/**
 * Issue 15: the local ASR transcribes an utterance followed by digital silence before the call hangs up. The stream is
 * the one a 16 kHz simulator leg gave the recogniser for cards/004 ("five five"): half a second of zeros, the words,
 * the gateway's end of speech (the adaptive-endpointing flush pad, faint noise), then zeros. Without the engine's
 * dither, zeros after faint noise kept its VAD in speech, so the final came only when stdin closed (hang-up).
 */
import t from 'tap';
import { readWavFile } from '../../src/audio/wav.js';
import { bandLimitToTelephone } from '../../src/audio/band.js';
import { loadResampler, StreamResampler } from '../../src/audio/resampler.js';
import { createPocketsphinxAsr, findPocketsphinx } from '../../src/asr/pocketsphinx.js';
import type { AsrStream } from '../../src/asr/types.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { adapterContext } from '../../src/adapters.js';
import { TEST_ASR_ENV } from '../helpers/gateway.js';

const skip = findPocketsphinx() ? false : 'pocketsphinx not installed';
await loadResampler();

function callInfo(id: string, sampleRateHz: number): CallInfo {
  return { callId: id, conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz, language: 'en-US', metadata: {} };
}

/** The first final, or `undefined` if none came within `boundMs` (the stream is left open: no hang-up). */
async function finalWithoutHangup(s: AsrStream, boundMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), boundMs)));
  const first = (async () => {
    for await (const e of s.events) if (e.type === 'final') return e.text;
    return undefined;
  })();
  try {
    return await Promise.race([first, bound]);
  } finally {
    clearTimeout(timer);
  }
}

for (const rate of [16000, 8000] as const) {
  t.test(`${rate / 1000} kHz leg: cards/004 then digital silence is heard before hang-up`, { skip }, async (t) => {
    const asr = createPocketsphinxAsr(adapterContext(loadConfig({ ENDPOINTING: 'adaptive', ...TEST_ASR_ENV }), createLogger('silent'), process.env), {
      maxProcesses: 1,
    });
    t.teardown(() => asr.close());
    const s = await asr.start({ call: callInfo(`silence-${rate}`, rate), signal: new AbortController().signal });
    let words = readWavFile('/usr/share/pocketsphinx/test/data/cards/004.wav').samples; // 16 kHz, "five five"
    if (rate === 8000) {
      const down = new StreamResampler(16000, 8000);
      words = down.process(bandLimitToTelephone(words, 16000));
      down.close();
    }
    const frame = (rate / 1000) * 20;
    const zeros = Buffer.alloc(frame * 2);
    for (let i = 0; i < 25; i++) s.write(zeros, 0); // the caller's line before speaking
    for (let off = 0; off + frame <= words.length; off += frame) s.write(Buffer.from(words.buffer, words.byteOffset + off * 2, frame * 2), 0);
    for (let i = 0; i < 22; i++) s.write(zeros, 0); // the gateway's VAD waits for 400 ms of silence…
    s.endOfSpeech?.(); // …then ends the utterance (the flush pad)
    for (let i = 0; i < 400; i++) s.write(zeros, 0); // 8 s of digital silence, all at once: the engine reads faster than real time
    // Bounded generously: the engine needs well under a second for this; without the fix no final ever comes until close().
    const heard = await finalWithoutHangup(s, 20000);
    // (At 8 kHz without the band fill the words themselves are not the point: that the utterance ended is.)
    if (rate === 16000) t.equal(heard, 'five five', 'the final came while the line was still open');
    else t.ok(heard, `a final came while the line was still open (${heard})`);
    s.close();
  });
}
