/**
 * Utterances kept out of `npm run bench:asr`, for tuning (`node dist/bench/asr-replay.js --set=heldout`): what is tuned
 * on these is then confirmed on the bench corpus, never picked on it. Recorded: pocketsphinx-testdata's
 * `tidigits/dhd.2934z.raw` (its reference from `tidigits.lsn`) and `something.raw` (shipped without a transcript: the
 * reference is what the engine hears in the wideband recording, "go somewhere and do something", so on it the score is
 * how close telephone band comes to wideband; `numbers.raw` is left out, its wideband transcript is plainly wrong).
 * Synthetic: Flite's four 16 kHz voices saying five sentences not in the bench.
 */
import { readFileSync } from 'node:fs';
import { adapterContext } from '../src/adapters.js';
import type { CallInfo } from '../src/call/call-info.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/observability/logger.js';
import { createFliteTts } from '../src/tts/flite.js';
import { TESTDATA, type Utterance } from './asr-corpus.js';

const RECORDED: ReadonlyArray<[string, string]> = [
  ['tidigits/dhd.2934z.raw', 'two nine three four zero'],
  ['something.raw', 'go somewhere and do something'],
];
const SENTENCES = [
  'please send me a copy of my last invoice',
  'i lost my card yesterday afternoon',
  'what time does the store close on sunday',
  'my phone number is five five five one two three four',
  'could you transfer me to someone in billing',
];
const VOICES = ['slt', 'kal16', 'awb', 'rms'];

export async function loadHeldout(): Promise<Utterance[]> {
  const out: Utterance[] = [];
  for (const [f, ref] of RECORDED) {
    const b = readFileSync(`${TESTDATA}/${f}`);
    const id = f.replace(/^.*\//, '').replace('.raw', '');
    out.push({ set: 'heldout', id, ref, samples: new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)), sampleRateHz: 16000 });
  }
  const tts = createFliteTts(adapterContext(loadConfig({ TTS_WORKERS: '1' }), createLogger('silent')));
  const call: CallInfo = {
    callId: 'heldout',
    conversationUuid: undefined,
    from: undefined,
    to: undefined,
    sampleRateHz: 16000,
    language: 'en-US',
    metadata: {},
  };
  try {
    for (const voice of VOICES)
      for (const [i, text] of SENTENCES.entries()) {
        const parts: Int16Array[] = [];
        let rate = 16000;
        for await (const c of tts.synthesize({ text, call, voice, signal: new AbortController().signal })) {
          parts.push(c.audio);
          rate = c.sampleRateHz;
        }
        const samples = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
        let off = 0;
        for (const p of parts) {
          samples.set(p, off);
          off += p.length;
        }
        out.push({ set: 'heldout', id: `${voice}-${i + 1}`, ref: text, samples, sampleRateHz: rate });
      }
  } finally {
    await tts.close?.();
  }
  return out;
}
