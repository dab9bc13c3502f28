import { must } from './must.js';
/**
 * The shell commands a Markdown page shows: every line of its ```sh blocks, and inline code spans that start like a
 * command (`npm …`, `npx …`, `node …`, `VAR=value npm …`), split into simple commands with their words, env
 * assignments and the rest. Enough shell to read documentation (quotes, `&&`, `#` comments, `$(…)` kept as one word).
 */
export interface SimpleCommand {
  /** The whole line as written. */
  line: string;
  env: Record<string, string>;
  argv: string[];
}

const PROGRAMS = /^(?:[A-Z][A-Z0-9_]*=\S*\s+)*(npm|npx|node|python3|apt-get|vgw)\s+\S/;

/** Split one command line into words (single and double quotes, backslash escapes, `$(…)` as part of a word). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = must(line[i]);
    if (c === "'") {
      const j = line.indexOf("'", i + 1);
      if (j < 0) throw new Error(`unterminated ' in: ${line}`);
      cur += line.slice(i + 1, j);
      i = j;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        cur += line[j];
        j++;
      }
      if (j >= line.length) throw new Error(`unterminated " in: ${line}`);
      i = j;
      inWord = true;
    } else if (c === '$' && line[i + 1] === '(') {
      const j = line.indexOf(')', i);
      cur += line.slice(i, j + 1);
      i = j;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** Drop a trailing `# comment` (a `#` that starts a word, outside quotes). */
function stripComment(line: string): string {
  let q = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === q) q = '';
    } else if (c === "'" || c === '"') q = c;
    else if (c === '#' && (i === 0 || /\s/.test(must(line[i - 1])))) return line.slice(0, i);
  }
  return line;
}

function simple(line: string, part: string): SimpleCommand {
  const words = shellWords(part.trim());
  const env: Record<string, string> = {};
  while (words.length && /^[A-Z][A-Z0-9_]*=/.test(must(words[0]))) {
    const w = words.shift() as string;
    env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
  }
  return { line, env, argv: words };
}

/** Every simple command on one line: `a && b` is two; a trailing comment is dropped. */
export function commandsOfLine(line: string): SimpleCommand[] {
  const code = stripComment(line).trim();
  if (!code) return [];
  return code.split(/\s*&&\s*/).map((p) => simple(line, p));
}

/** Every command a Markdown page shows, in order. */
export function commandsOfMarkdown(md: string): SimpleCommand[] {
  const out: SimpleCommand[] = [];
  const blocks = /```(sh|bash|shell)\n([\s\S]*?)```/g;
  for (let m; (m = blocks.exec(md));) for (const l of must(m[2]).split('\n')) out.push(...commandsOfLine(l));
  const prose = md.replace(/```[\s\S]*?```/g, '');
  const spans = /`([^`\n]+)`/g;
  for (let m; (m = spans.exec(prose));) if (PROGRAMS.test(must(m[1]))) out.push(...commandsOfLine(must(m[1])));
  return out;
}
