/**
 * The recorded utterances `bench:asr` plays, with their reference transcripts, all from Debian's
 * `pocketsphinx-testdata`: `an4` (goforward.raw, the one an4 utterance shipped with its words), `cards` (five card
 * names, with a JSGF grammar) and `librivox` (five read sentences). And the three ways a caller reaches the gateway:
 * wideband in a 16 kHz leg, telephone band (300–3400 Hz) in a 16 kHz leg, telephone band in an 8 kHz leg.
 */
import { readFileSync } from 'node:fs';
import { readWavFile } from '../src/audio/wav.js';
import { bandLimitToTelephone } from '../src/audio/band.js';

export const TESTDATA = '/usr/share/pocketsphinx/test/data';
export const CARDS_GRAMMAR = `${TESTDATA}/cards/cards.gram`;

export interface Utterance {
  set: 'an4' | 'cards' | 'librivox' | 'menu' | 'heldout';
  id: string;
  ref: string;
  samples: Int16Array;
  sampleRateHz: number;
}

export const WAYS = ['wideband-16k', 'telephone-16k', 'telephone-8k'] as const;
export type Way = (typeof WAYS)[number];

/** The leg rate of a way. */
export function legRateOf(way: Way): 8000 | 16000 {
  return way === 'telephone-8k' ? 8000 : 16000;
}

/** The caller's audio for a way: band-limited for the telephone ways (the 8 kHz leg's own resampling does the rest). */
export function audioFor(u: Utterance, way: Way): Int16Array {
  return way === 'wideband-16k' ? u.samples : bandLimitToTelephone(u.samples, u.sampleRateHz);
}

/** `<s> words </s> (id)` lines → id → words. */
function transcriptions(file: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const id = /\(([^)]+)\)\s*$/.exec(line)?.[1];
    if (id)
      m.set(
        id,
        line
          .replace(/<\/?s>|\([^)]*\)\s*$/g, '')
          .replace(/\s+/g, ' ')
          .trim(),
      );
  }
  return m;
}

/** The sets, or only a few utterances of them (`quick`: the test suite's small version). */
export function loadCorpus(quick: boolean): Utterance[] {
  const out: Utterance[] = [];
  const raw = readFileSync(`${TESTDATA}/goforward.raw`);
  out.push({
    set: 'an4',
    id: 'goforward',
    ref: 'go forward ten meters',
    samples: new Int16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)),
    sampleRateHz: 16000,
  });
  const cards = transcriptions(`${TESTDATA}/cards/cards.transcription`);
  for (const id of quick ? ['001'] : ['001', '002', '003', '004', '005']) {
    const w = readWavFile(`${TESTDATA}/cards/${id}.wav`);
    out.push({ set: 'cards', id, ref: cards.get(id) ?? '', samples: w.samples, sampleRateHz: w.sampleRateHz });
  }
  if (quick) return out;
  const books = transcriptions(`${TESTDATA}/librivox/transcription`);
  for (const id of readFileSync(`${TESTDATA}/librivox/fileids`, 'utf8').split('\n').filter(Boolean)) {
    const w = readWavFile(`${TESTDATA}/librivox/${id}.wav`);
    out.push({ set: 'librivox', id, ref: books.get(id) ?? '', samples: w.samples, sampleRateHz: w.sampleRateHz });
  }
  return out;
}
