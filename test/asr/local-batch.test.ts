/**
 * The local ASR writes a call's audio to its recogniser in pieces that complete the engine's 2048-sample read blocks,
 * not once per 20 ms frame (a write, and a wake-up of the `cat` and of the engine, per frame per call), and the engine
 * hears the same thing: cards/004 ("five five") in 20 ms frames, then silence, gives its final while the line is open,
 * with about one write per block.
 */
import t from 'tap';
import { readWavFile } from '../../src/audio/wav.js';
import { loadResampler } from '../../src/audio/resampler.js';
import { createPocketsphinxAsr, ENGINE_READ_BYTES, findPocketsphinx } from '../../src/asr/pocketsphinx.js';
import type { AsrStream } from '../../src/asr/types.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { adapterContext } from '../../src/adapters.js';
import { TEST_ASR_ENV } from '../helpers/gateway.js';

const skip = findPocketsphinx() ? false : 'pocketsphinx not installed';
await loadResampler();

t.test('16 kHz leg: one write per engine block, and the words are heard', { skip }, async (t) => {
  const asr = createPocketsphinxAsr(adapterContext(loadConfig({ ...TEST_ASR_ENV }), createLogger('silent'), process.env), { maxProcesses: 1 });
  t.teardown(() => asr.close());
  const s = (await asr.start({
    call: { callId: 'batch', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: 16000, language: 'en-US', metadata: {} },
    signal: new AbortController().signal,
  })) as AsrStream & { writes: number };
  const words = readWavFile('/usr/share/pocketsphinx/test/data/cards/004.wav').samples; // 16 kHz, "five five"
  const zeros = Buffer.alloc(640);
  let frames = 0;
  const write = (f: Buffer) => (s.write(f, 0), frames++);
  for (let i = 0; i < 25; i++) write(zeros);
  for (let off = 0; off + 320 <= words.length; off += 320) write(Buffer.from(words.buffer, words.byteOffset + off * 2, 640));
  // 2 s of silence: the engine ends the utterance after 0.5 s of it (its own endpointing, no flush pad).
  for (let i = 0; i < 100; i++) write(zeros);
  let timer: NodeJS.Timeout | undefined;
  const heard = await Promise.race([
    (async () => {
      for await (const e of s.events) if (e.type === 'final') return e.text;
      return undefined;
    })(),
    new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 20000))),
  ]);
  clearTimeout(timer);
  t.equal(heard, 'five five', 'the final came while the line was open');
  const blocks = Math.floor((frames * 640) / ENGINE_READ_BYTES);
  t.ok(s.writes <= blocks + 2, `${s.writes} writes for ${frames} frames (${blocks} engine blocks)`);
  s.close();
});
