/**
 * What a transcript heard while the bot speaks is, for turn-taking. The turn state asks this of every transcript:
 * - `backchannel`: only phrases of `BACKCHANNEL_WORDS` ("uh-huh", "okay", "i see"), any length: never interrupts;
 * - `short`: at most `BACKCHANNEL_MAX_WORDS` words, none of them a phrase of `BARGE_IN_WORDS` ("stop", "wait", "hold
 *   on"): an acknowledgement the recogniser misheard (pocketsphinx hears Flite's "okay" as "again", "uh-huh" as "a
 *   house"), as long as its utterance is also short (`BACKCHANNEL_MAX_MS` voiced): the turn state checks that;
 * - `words`: anything else (more words, or an interrupting phrase): a barge-in, or a turn.
 *
 * Matching is on words, case- and punctuation-blind ("Uh-huh." = "uh huh"), phrase by phrase, longest first, so
 * "okay, got it" is a backchannel and "okay got milk" is not. Called once per transcript, never per frame.
 */

/** What a transcript is, for turn-taking. */
export type TranscriptKind = 'empty' | 'backchannel' | 'short' | 'words';

export interface BackchannelRules {
  /** Phrases that always interrupt, however short the utterance (`BARGE_IN_WORDS`). */
  interrupt?: readonly string[];
  /** Most words of a `short` transcript (`BACKCHANNEL_MAX_WORDS`); 0 = only listed phrases acknowledge. */
  maxWords?: number;
}

const NO_WORDS: readonly string[] = [];
/** {@link BackchannelWords.shared}: by phrase list, then interrupt list (both by identity: the config's arrays), then maxWords. */
const SHARED = new WeakMap<readonly string[], WeakMap<readonly string[], Map<number, BackchannelWords>>>();

export class BackchannelWords {
  /** Listed phrases as word arrays, longest first. */
  private readonly phrases: string[][];
  private readonly interrupt: string[][];
  private readonly maxWords: number;

  /** `list`: phrases as configured (`uh-huh`, `got it`, …). Without `rules`: no `short` kind (listed phrases only). */
  constructor(list: readonly string[], rules: BackchannelRules = {}) {
    this.phrases = phrasesOf(list);
    this.interrupt = phrasesOf(rules.interrupt ?? []);
    this.maxWords = rules.maxWords ?? 0;
  }

  /**
   * One classifier per configuration, shared by every call that has it (it holds no per-call state): a burst of
   * answered calls otherwise parsed the same two phrase lists once per call (~2 % of the main thread in the first
   * second of 200 calls answered at once, `npm run bench:burst` profile, 2026-12-04).
   */
  static shared(list: readonly string[], rules: BackchannelRules = {}): BackchannelWords {
    const key = rules.maxWords ?? 0;
    let byList = SHARED.get(list);
    if (!byList) SHARED.set(list, (byList = new WeakMap<readonly string[], Map<number, BackchannelWords>>()));
    const interrupt = rules.interrupt ?? NO_WORDS;
    let byRule = byList.get(interrupt);
    if (!byRule) byList.set(interrupt, (byRule = new Map<number, BackchannelWords>()));
    let c = byRule.get(key);
    if (!c) byRule.set(key, (c = new BackchannelWords(list, rules)));
    return c;
  }

  /** `empty` (no words), `backchannel` (only listed phrases), `short` or `words` (see the file comment). */
  kind(text: string): TranscriptKind {
    const w = words(text);
    if (w.length === 0) return 'empty';
    if (onlyPhrases(w, this.phrases)) return 'backchannel';
    if (w.length > this.maxWords) return 'words';
    for (let i = 0; i < w.length; i++) if (this.interrupt.some((ph) => startsAt(w, i, ph))) return 'words';
    return 'short';
  }
}

function phrasesOf(list: readonly string[]): string[][] {
  return list
    .map(words)
    .filter((p) => p.length > 0)
    .sort((a, b) => b.length - a.length);
}

function startsAt(w: readonly string[], i: number, ph: readonly string[]): boolean {
  return ph.every((x, k) => w[i + k] === x);
}

/** `w` is made only of `phrases` (matched left to right, longest first). */
function onlyPhrases(w: readonly string[], phrases: readonly string[][]): boolean {
  let i = 0;
  while (i < w.length) {
    const p = phrases.find((ph) => startsAt(w, i, ph));
    if (!p) return false;
    i += p.length;
  }
  return true;
}

/** Lower-case words: letters, digits and apostrophes; everything else (hyphens, punctuation) separates. */
function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}']+/u)
    .filter(Boolean);
}
