/**
 * Splits text into sentences so the first one can play while the rest is synthesised or still being generated.
 * {@link SentenceSplitter} works on streamed text (LLM tokens): a sentence is released once its end is certain —
 * terminal punctuation, then whitespace, then the start of the next sentence — so "3." followed later by "5" or
 * "Dr." followed by "Smith" never split. Pieces longer than `maxChars` are split again at commas or spaces.
 */

/** Titles and abbreviations that never end a sentence (lower case, without the final dot). */
const NEVER_ENDS = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'prof',
  'sr',
  'jr',
  'st',
  'mt',
  'vs',
  'e.g',
  'i.e',
  'approx',
  'cf',
  'ft',
  'fig',
  'dept',
  'ave',
  'rd',
  'blvd',
]);
/** Abbreviations that end a sentence only when the next word starts with a capital letter. */
const ENDS_IF_CAPITAL = new Set(['etc', 'inc', 'ltd', 'co', 'corp', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec']);
/**
 * Punctuation run (with closing quotes/brackets), whitespace, then the first character of what follows — which must
 * not itself be punctuation that belongs to this sentence (". . ." or "?!" stay together). A line break also ends one.
 */
const BOUNDARY = /([.!?;]+)["'\u201d\u2019)\]]*(\s+)(?=([^\s.!?;,:)\]\u201d\u2019]))|\n\s*(?=[^\s.!?;,:)\]\u201d\u2019])/g;

/** Streaming sentence splitter: `push` text as it arrives, `flush` at the end. Bounded by `maxChars` per piece. */
export class SentenceSplitter {
  private buf = '';

  constructor(private readonly maxChars = 240) {}

  /** Add streamed text; returns the sentences now complete (possibly none). */
  push(text: string): string[] {
    this.buf += text;
    const out: string[] = [];
    let start = 0;
    BOUNDARY.lastIndex = 0;
    for (let m = BOUNDARY.exec(this.buf); m; m = BOUNDARY.exec(this.buf)) {
      if (m[1] && !endsSentence(this.buf, m.index, m[1], m[3]!)) continue;
      this.take(this.buf.slice(start, m.index + m[0].length), out);
      start = m.index + m[0].length;
    }
    this.buf = this.buf.slice(start);
    // No boundary in sight for too long: cut at a comma or space so speech can start.
    while (this.buf.length > this.maxChars) {
      const cut = cutPoint(this.buf, this.maxChars);
      this.take(this.buf.slice(0, cut), out);
      this.buf = this.buf.slice(cut);
    }
    return out;
  }

  /** The stream ended: whatever is left, as sentences. */
  flush(): string[] {
    const out: string[] = [];
    this.take(this.buf, out);
    this.buf = '';
    return out;
  }

  /** Text held back (not yet a complete sentence). */
  get pending(): string {
    return this.buf;
  }

  private take(piece: string, out: string[]): void {
    let p = piece.replace(/\s+/g, ' ').trim();
    while (p.length > this.maxChars) {
      const cut = cutPoint(p, this.maxChars);
      out.push(p.slice(0, cut).trim());
      p = p.slice(cut).trim();
    }
    if (/[\p{L}\p{N}]/u.test(p)) out.push(p);
    else if (p && out.length) out[out.length - 1] += p; // lone punctuation joins the previous sentence
  }
}

function cutPoint(p: string, maxChars: number): number {
  let cut = p.lastIndexOf(', ', maxChars);
  if (cut < maxChars / 3) cut = p.lastIndexOf(' ', maxChars);
  return cut <= 0 ? maxChars : cut + 1;
}

/** Is the punctuation run at `at` a sentence end, given the character after the whitespace? */
function endsSentence(text: string, at: number, punct: string, next: string): boolean {
  if (punct !== '.') return true; // "!", "?", ";", "..." always end
  const word = /(\S+)$/.exec(text.slice(Math.max(0, at - 40), at))?.[1] ?? '';
  const w = word.replace(/^["'([\u201c\u2018]+/, '').toLowerCase();
  if (NEVER_ENDS.has(w)) return false;
  if (w === 'no' && /\d/.test(next)) return false; // "No. 5"
  if (ENDS_IF_CAPITAL.has(w)) return /\p{Lu}/u.test(next);
  if (/^(\p{L}\.)*\p{L}$/u.test(word) && word.length <= 5 && /\p{Lu}/u.test(word[0]!)) return false; // "J. Smith", "U.S. Army"
  return true;
}

/** Splits a whole text into sentences (see {@link SentenceSplitter}). */
export function splitSentences(text: string, maxChars = 240): string[] {
  const s = new SentenceSplitter(maxChars);
  return [...s.push(text), ...s.flush()];
}
