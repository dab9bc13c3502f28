/** Word error rate: word-level Levenshtein distance over the reference's word count, case and punctuation ignored. */

/** Lower-case words, punctuation dropped (apostrophes kept: "i've" is one word). */
export function words(s: string): string[] {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9' ]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

/** Substitutions + deletions + insertions turning `ref` into `hyp`, and the reference's word count. */
export function wordErrors(ref: string, hyp: string): { errors: number; words: number } {
  const r = words(ref);
  const h = words(hyp);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (r[i - 1] === h[j - 1] ? 0 : 1));
    prev = cur;
  }
  return { errors: prev[h.length]!, words: r.length };
}

/** `wordErrors` as a rate (an empty reference: 0 if the hypothesis is empty too, else 1). */
export function wer(ref: string, hyp: string): number {
  const e = wordErrors(ref, hyp);
  return e.words ? e.errors / e.words : e.errors ? 1 : 0;
}
