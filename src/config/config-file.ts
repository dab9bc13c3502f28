/**
 * The optional config file (`--config gateway.yaml`, or `CONFIG_FILE`): YAML or JSON, one map whose keys are the
 * environment variables' names. Structured settings may be given structured (a map for LANGUAGE_BY_NUMBER and
 * OTEL_EXPORTER_OTLP_HEADERS, arrays for phrase lists, block strings for prompts); each becomes the variable's text and
 * goes through the same parser as the environment. Precedence: a non-empty environment variable > the file > the
 * default. Values from the file are never printed (a secret may be among them): errors name the file, the key and the
 * line, never the value.
 */
import { readFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { GatewayError } from '../errors.js';
import { scalarFromFile, type Env } from './parsers.js';

/** A config file read and converted to variables' text. */
export interface ConfigFile {
  /** As given (shown in messages). */
  readonly path: string;
  /** Variable name → text, for every key of the file. */
  readonly values: Readonly<Record<string, string>>;
}

/** What a file key needs from its spec: how to turn a structured value into text (see `Spec.fromFile`). */
export interface FileKeySpec {
  readonly env: string;
  readonly fromFile?: (value: unknown) => string;
}

/** The largest config file read: settings, not data. */
export const CONFIG_FILE_MAX_BYTES = 1024 * 1024;

const invalid = (lines: string[]) => new GatewayError('CONFIG_INVALID', `Invalid configuration:\n  ${lines.join('\n  ')}`);

/**
 * The config file named by `--config <path>` / `--config=<path>` in `argv`, else by `CONFIG_FILE`; undefined = none.
 * Other arguments are refused (a mistyped flag must not be ignored).
 */
export function configFileArg(argv: readonly string[], env: Env): string | undefined {
  let path: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--config') {
      path = argv[++i];
      if (!path) throw invalid(['--config needs a file path (--config gateway.yaml)']);
    } else if (a.startsWith('--config=')) path = a.slice('--config='.length);
    else throw invalid([`unknown argument ${JSON.stringify(a.slice(0, 100))} (the gateway takes only --config <file>; settings are environment variables)`]);
  }
  return path || env.CONFIG_FILE?.trim() || undefined;
}

/** 1-based line and column of `offset` in `text`. */
function lineCol(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, offset));
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

/**
 * Read and convert a config file. Keys the gateway does not know are kept (a custom adapter may declare them): see
 * {@link unknownFileKeys}. Throws one {@link GatewayError} `CONFIG_INVALID` naming the file and what is wrong.
 */
export function readConfigFile(path: string, specs: readonly FileKeySpec[]): ConfigFile {
  let text: string;
  try {
    if (statSync(path).size > CONFIG_FILE_MAX_BYTES) throw new Error(`larger than ${CONFIG_FILE_MAX_BYTES} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw invalid([`config file ${path}: cannot read it: ${(err as Error).message}`]);
  }
  // YAML 1.2 reads JSON too. Messages without yaml's source excerpt: the line may hold a secret.
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const bad = doc.errors[0];
  if (bad) {
    // An unclosed quote is noticed where the file ends: point at the quote that opened it instead.
    const quote = bad.code === 'MISSING_CHAR' ? /closing (["'])/.exec(bad.message)?.[1] : undefined;
    const at = quote ? Math.max(0, text.lastIndexOf(quote, bad.pos[0] - 1)) : bad.pos[0];
    throw invalid([`config file ${path}: ${lineCol(text, at)}: malformed YAML/JSON: ${bad.message.split('\n')[0]}`]);
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  if (data === null || data === undefined) return Object.freeze({ path, values: Object.freeze({}) });
  if (typeof data !== 'object' || Array.isArray(data)) throw invalid([`config file ${path}: expected a map of SETTING: value at the top level`]);
  const byEnv = new Map(specs.map((s) => [s.env, s]));
  const values: Record<string, string> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    try {
      values[key] = (byEnv.get(key)?.fromFile ?? scalarFromFile)(value);
    } catch (err) {
      problems.push(`config file ${path}: ${key} (${lineOfKey(doc, text, key)}): expected ${(err as Error).message}`);
    }
  }
  if (problems.length) throw invalid(problems);
  return Object.freeze({ path, values: Object.freeze(values) });
}

function lineOfKey(doc: ReturnType<typeof parseDocument>, text: string, key: string): string {
  const contents = doc.contents as { items?: Array<{ key?: { value?: unknown; range?: [number, number, number] } }> } | null;
  const pair = contents?.items?.find((p) => String(p.key?.value) === key);
  return pair?.key?.range ? lineCol(text, pair.key.range[0]) : 'in the file';
}

/** The environment with the file underneath: a variable set to a non-empty value wins, an empty or unset one takes the file's. */
export function layerEnv(env: Env, file: ConfigFile | undefined): Env {
  if (!file) return env;
  const out: Record<string, string | undefined> = { ...env };
  for (const [k, v] of Object.entries(file.values)) if (!env[k]) out[k] = v;
  return Object.freeze(out);
}

/** Keys of the file that neither the gateway nor any name in `claimed` (a selected adapter's declared settings) knows. */
export function unknownFileKeys(file: ConfigFile | undefined, known: ReadonlySet<string>): string[] {
  return file ? Object.keys(file.values).filter((k) => !known.has(k)) : [];
}

/** Edit distance, bounded: for "did you mean" on a mistyped key. */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length] ?? 99;
}

/** One line per key of the file that nobody declares (a typo must not be silently ignored). */
export function fileKeyProblems(file: ConfigFile | undefined, known: ReadonlySet<string>): string[] {
  if (!file) return [];
  return unknownFileKeys(file, known).map((k) => {
    let near: string | undefined;
    for (const n of known) if (!near && distance(k.toUpperCase(), n) <= 2) near = n;
    return `config file ${file.path}: unknown setting ${k}${near ? ` (did you mean ${near}?)` : ''}: not a gateway setting nor one a selected adapter declares (see docs/configuration.md)`;
  });
}

/** Throw {@link fileKeyProblems} as one `CONFIG_INVALID` error. */
export function checkFileKeys(file: ConfigFile | undefined, known: ReadonlySet<string>): void {
  const problems = fileKeyProblems(file, known);
  if (problems.length) throw invalid(problems);
}

/** `Invalid configuration:` and one line per problem, as loadConfig reports. */
export function invalidConfig(problems: readonly string[]): GatewayError {
  return invalid([...problems]);
}
