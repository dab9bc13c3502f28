/**
 * Splits text into sentences so the first one can play while the rest is synthesised. Pieces longer than
 * `maxChars` are split again at commas or spaces.
 */
export function splitSentences(text: string, maxChars = 240): string[] {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (!clean) return [];
  const parts = clean.match(/[^.!?;]+(?:[.!?;]+(?=\s|$)|$)|[.!?;]+/g) ?? [clean];
  const out: string[] = [];
  for (let p of parts.map((x) => x.trim()).filter(Boolean)) {
    while (p.length > maxChars) {
      let cut = p.lastIndexOf(', ', maxChars);
      if (cut < maxChars / 3) cut = p.lastIndexOf(' ', maxChars);
      if (cut <= 0) cut = maxChars;
      out.push(p.slice(0, cut + 1).trim());
      p = p.slice(cut + 1).trim();
    }
    if (/[\p{L}\p{N}]/u.test(p)) out.push(p);
    else if (out.length) out[out.length - 1] += p; // lone punctuation joins the previous sentence
  }
  return out;
}
