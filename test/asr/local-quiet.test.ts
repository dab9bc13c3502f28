/**
 * A caller who first listens to a greeting: the local recogniser gets seconds of the line's quiet before the first
 * word. Handed all of it, the engine's noise estimate adapts to the quiet and it mishears what follows
 * (`goforward.raw` after 7 s of digital silence: "roar years"); the adapter passes on only the end of a long quiet
 * stretch (QUIET_KEEP_FRAMES, QUIET_PREROLL_FRAMES), and the words are heard as after a short pause. Real engine,
 * real recording, through the adapter as a leg feeds it (20 ms frames).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { loadResampler } from '../../src/audio/resampler.js';
import { resamplePcm } from '../../src/sim/simulator.js';
import { createPocketsphinxAsr, findPocketsphinx, QUIET_KEEP_FRAMES, QUIET_PREROLL_FRAMES } from '../../src/asr/pocketsphinx.js';
import type { AsrStream } from '../../src/asr/types.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { adapterContext } from '../../src/adapters.js';
import { TEST_ASR_ENV } from '../helpers/gateway.js';

const skip = findPocketsphinx() ? false : 'pocketsphinx not installed';
await loadResampler();

const raw = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw');
const goforward16k = new Int16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));

async function hear(rateHz: 8000 | 16000, quietS: number): Promise<{ text: string | undefined; skipped: number }> {
  const asr = createPocketsphinxAsr(adapterContext(loadConfig({ ...TEST_ASR_ENV }), createLogger('silent'), process.env), { maxProcesses: 1 });
  try {
    const s = (await asr.start({
      call: { callId: `quiet-${rateHz}`, conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: rateHz, language: 'en-US', metadata: {} },
      signal: new AbortController().signal,
    })) as AsrStream & { quietSkipped: number };
    const words = rateHz === 16000 ? goforward16k : resamplePcm(goforward16k, 16000, rateHz);
    const n = rateHz / 50;
    const zeros = Buffer.alloc(n * 2);
    for (let i = 0; i < quietS * 50; i++) s.write(zeros, 0);
    for (let off = 0; off + n <= words.length; off += n) s.write(Buffer.from(words.buffer, words.byteOffset + off * 2, n * 2), 0);
    for (let i = 0; i < 100; i++) s.write(zeros, 0);
    let timer: NodeJS.Timeout | undefined;
    const text = await Promise.race([
      (async () => {
        for await (const e of s.events) if (e.type === 'final' && e.text.trim()) return e.text;
        return undefined;
      })(),
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 30000))),
    ]);
    clearTimeout(timer);
    s.close();
    return { text, skipped: s.quietSkipped };
  } finally {
    await asr.close?.();
  }
}

for (const rateHz of [16000, 8000] as const) {
  t.test(`${rateHz} Hz leg: the first words after 7 s of the line's quiet are heard`, { skip }, async (t) => {
    const { text, skipped } = await hear(rateHz, 7);
    t.equal(text, 'go forward ten meters', `heard "${text}"`);
    // 350 quiet frames before, 100 after: all but the kept and pre-roll frames of each stretch are skipped (the
    // recording's own last frames are below −60 dBFS too, and lengthen the second stretch by a few).
    const expected = 350 + 100 - 2 * (QUIET_KEEP_FRAMES + QUIET_PREROLL_FRAMES);
    t.ok(skipped >= expected && skipped <= expected + 10, `${skipped} quiet frames skipped (${expected} + the recording's quiet tail)`);
  });
}

t.test('a short pause is handed on whole', { skip }, async (t) => {
  const { text, skipped } = await hear(16000, 0.5);
  t.equal(text, 'go forward ten meters');
  const trailing = 100 - QUIET_KEEP_FRAMES - QUIET_PREROLL_FRAMES;
  t.ok(skipped >= trailing && skipped <= trailing + 10, `${skipped} skipped: only the trailing stretch is cut`);
});
