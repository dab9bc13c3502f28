/**
 * Which transcripts are only acknowledgements ("uh-huh", "okay", "i see"): the words of `BACKCHANNEL_WORDS`. The turn
 * state asks this of every transcript heard while the bot speaks: a transcript made only of listed phrases does not
 * interrupt and goes to the bot as a `backchannel` event; any other word confirms a barge-in.
 *
 * Matching is on words, case- and punctuation-blind ("Uh-huh." = "uh huh"), phrase by phrase, longest first, so
 * "okay, got it" is a backchannel and "okay got milk" is not. Called once per transcript, never per frame.
 */

/** What a transcript is, for turn-taking. */
export type TranscriptKind = 'empty' | 'backchannel' | 'words';

export class BackchannelWords {
  /** Listed phrases as word arrays, longest first. */
  private readonly phrases: string[][];

  /** `list`: phrases as configured (`uh-huh`, `got it`, …). */
  constructor(list: readonly string[]) {
    this.phrases = list.map(words).filter((p) => p.length > 0).sort((a, b) => b.length - a.length);
  }

  /** `empty` (no words), `backchannel` (only listed phrases) or `words` (anything else). */
  kind(text: string): TranscriptKind {
    const w = words(text);
    if (w.length === 0) return 'empty';
    let i = 0;
    while (i < w.length) {
      const p = this.phrases.find((ph) => ph.every((x, k) => w[i + k] === x));
      if (!p) return 'words';
      i += p.length;
    }
    return 'backchannel';
  }
}

/** Lower-case words: letters, digits and apostrophes; everything else (hyphens, punctuation) separates. */
function words(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}']+/u).filter(Boolean);
}
