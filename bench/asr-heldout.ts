/**
 * Utterances kept out of `npm run bench:asr`, for tuning (`node dist/bench/asr-replay.js --set=heldout`): what is tuned
 * on these is then confirmed on the bench corpus, never picked on it. Recorded: pocketsphinx-testdata's
 * `tidigits/dhd.2934z.raw` (its reference from `tidigits.lsn`) and `something.raw` (shipped without a transcript: the
 * reference is what the engine hears in the wideband recording, "go somewhere and do something", so on it the score is
 * how close telephone band comes to wideband; `numbers.raw` is left out, its wideband transcript is plainly wrong).
 * Synthetic: Flite's four 16 kHz voices saying five sentences not in the bench.
 */
import { readFileSync } from 'node:fs';
import { TESTDATA, type Utterance } from './asr-corpus.js';
import { withFlite } from './asr-flite.js';

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
  await withFlite(async (say) => {
    for (const voice of VOICES)
      for (const [i, text] of SENTENCES.entries()) out.push({ set: 'heldout', id: `${voice}-${i + 1}`, ref: text, ...(await say(text, voice)) });
  });
  return out;
}
