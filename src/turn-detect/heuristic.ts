/**
 * The built-in end-of-turn detector: a small word list and a few rules over the text of the turn so far. It answers a
 * probability-like score (see {@link TurnDetector}); below 0.5 the gate waits for more (`ENDPOINT_MAX_SILENCE_MS`).
 *
 * Rules, first match wins (documented in the README, *End-of-turn detectors*):
 * 1. empty text: 1 (nothing to wait for);
 * 2. the last word is a filler (um, uh, er, erm, hmm): 0.1;
 * 3. the text ends in `,` `-` `…` or `...` (a cloud ASR's own hint of a pause): 0.2;
 * 4. the last word is a conjunction, preposition, article/determiner, or a subject/contraction that needs what follows
 *    ("and", "to", "for", "the", "a", "my", "I'd", "want" …, see {@link UNFINISHED_WORDS}); words that also end short
 *    answers, like "so", "on", "you", "can", are left out on purpose: a wrong hold costs the caller
 *    ENDPOINT_MAX_SILENCE_MS of waiting every time they say it: 0.1;
 * 5. a half-said number: the last word is a tens word or a scale word ("twenty", "hundred", "point"), or a numeral
 *    20–90 / ending in 00, which a following word would extend ("it costs twenty … five"): 0.3;
 * 6. the text ends in `.` `?` or `!` (a cloud ASR's end of sentence): 0.9;
 * 7. anything else: 0.8.
 * Pure and synchronous: it is also the fallback when a custom detector fails.
 */
import type { TurnDetectInput, TurnDetector, TurnPrediction } from './types.js';

const FILLERS: ReadonlySet<string> = new Set(['um', 'uh', 'er', 'erm', 'hmm', 'uhm', 'umm', 'uhh']);

/** Words a sentence rarely ends on: the caller has more to say. */
export const UNFINISHED_WORDS: ReadonlySet<string> = new Set([
  // conjunctions (not "so", "then", "that": "I think so", "okay then", "I like that" are complete)
  'and',
  'but',
  'or',
  'nor',
  'because',
  'cause',
  'if',
  'unless',
  'until',
  'while',
  'whereas',
  'although',
  'though',
  'than',
  'which',
  'whose',
  'plus',
  // prepositions (not "on", "in", "over", "before": particles that end "turn it on", "come in")
  'to',
  'for',
  'of',
  'at',
  'with',
  'from',
  'by',
  'about',
  'into',
  'onto',
  'between',
  'per',
  'via',
  'towards',
  'toward',
  'through',
  'during',
  'like',
  // articles and determiners (not "this", "no": "I want this", "no" are answers)
  'the',
  'a',
  'an',
  'my',
  'your',
  'our',
  'their',
  'his',
  'her',
  'its',
  'some',
  'every',
  'another',
  // subjects and contractions that need a verb or an object (not "you", "is", "can", "will": "thank you", "yes I can")
  'i',
  "i'm",
  "i'd",
  "i'll",
  "i've",
  "we're",
  "we'd",
  "you're",
  "it's",
  "there's",
  "let's",
  'want',
  'wanna',
  'need',
  'gonna',
  'gotta',
]);

const TENS: ReadonlySet<string> = new Set(['twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety']);
const SCALES: ReadonlySet<string> = new Set(['hundred', 'thousand', 'million', 'billion', 'point']);

function isWordChar(c: number): boolean {
  // ASCII letters and digits, apostrophes (straight and curly), and any letter past Latin-1 punctuation
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 39 || c === 0x2019 || c > 0xbf;
}

/** The last word, lower-cased, without surrounding punctuation (apostrophes kept, curly ones made straight). */
export function lastWord(text: string): string {
  let end = text.length;
  while (end > 0 && !isWordChar(text.charCodeAt(end - 1))) end--;
  let start = end;
  while (start > 0 && isWordChar(text.charCodeAt(start - 1))) start--;
  return text
    .slice(start, end)
    .toLowerCase()
    .replace(/\u2019/g, "'");
}

function halfNumber(w: string): boolean {
  if (TENS.has(w) || SCALES.has(w)) return true;
  if (!/^\d+$/.test(w)) return false;
  const n = Number(w);
  return (n >= 20 && n <= 90 && n % 10 === 0) || (n >= 100 && n % 100 === 0);
}

/** How complete `text` reads, 0..1 (the rules in the file comment). */
export function completeness(text: string): number {
  const t = text.trim();
  if (!t) return 1;
  const w = lastWord(t);
  if (FILLERS.has(w)) return 0.1;
  if (/(,|-|\u2026|\.\.\.)$/.test(t)) return 0.2;
  if (UNFINISHED_WORDS.has(w)) return 0.1;
  if (halfNumber(w)) return 0.3;
  if (/[.?!]$/.test(t)) return 0.9;
  return 0.8;
}

/** The heuristic as a detector's `predict` (synchronous). */
export function heuristicPredict(input: Pick<TurnDetectInput, 'text'>): TurnPrediction {
  return { complete: completeness(input.text) };
}

/** `TURN_DETECTOR=builtin`. */
export const builtinTurnDetector: TurnDetector = Object.freeze({ name: 'builtin', predict: heuristicPredict });
