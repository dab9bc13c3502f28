/** Parsers of environment values and the shape of one setting's spec (used by config.ts and provider-specs.ts). */
import type { Config } from './config.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface Spec<K extends keyof Config> {
  key: K;
  env: string;
  doc: string;
  /** Default as it appears in the README. */
  def: string;
  parse: (raw: string, env: Env) => Config[K];
  /** A secret: an invalid value is never echoed in the error message. */
  secret?: boolean;
  /**
   * The adapters that own this setting (`asr:google`, `tts:microsoft`, …): it is validated only when one of them is
   * selected. Undefined: a core setting, always validated.
   */
  owners?: readonly string[];
  /**
   * How a structured value from the config file (an array, a map) becomes the variable's text; without it the file
   * takes only a string, number or boolean. Throws an Error saying what it expected.
   */
  fromFile?: (value: unknown) => string;
}

/** A config-file array (or plain value) → the comma-separated text the list parsers read. */
export function listFromFile(value: unknown): string {
  if (!Array.isArray(value)) return scalarFromFile(value);
  return value
    .map((v) => {
      const s = scalarFromFile(v);
      if (s.includes(',')) throw new Error('a list of items without commas');
      return s;
    })
    .join(',');
}

/** A config-file scalar → the variable's text (null = empty). */
export function scalarFromFile(value: unknown): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(Array.isArray(value) ? 'a single value, not a list' : 'a single value, not a map');
}

export function int(min: number, max: number) {
  return (raw: string): number => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error(`an integer from ${min} to ${max}`);
    const n = Number(raw);
    if (n < min || n > max) throw new Error(`an integer from ${min} to ${max}`);
    return n;
  };
}
export function oneOf<T extends string | number>(values: readonly T[]) {
  return (raw: string): T => {
    const v = values.find((x) => String(x) === raw.trim());
    if (v === undefined) throw new Error(`one of ${values.join(', ')}`);
    return v;
  };
}
export function bool(raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new Error('one of true, false (also 1/0, yes/no, on/off)');
}
export function phraseList(raw: string): readonly string[] {
  const list = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (list.length > 5000 || list.some((p) => p.length > 100)) throw new Error('at most 5000 comma-separated phrases of at most 100 characters');
  return Object.freeze(list);
}
export function nonEmpty(raw: string): string {
  if (!raw.trim()) throw new Error('a non-empty string');
  return raw.trim();
}
export function wsUrl(raw: string): string {
  const v = raw.trim();
  if (!v) return '';
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new Error('an absolute ws://, wss://, http:// or https:// URL');
  }
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(u.protocol)) throw new Error('an absolute ws://, wss://, http:// or https:// URL');
  return v;
}
/** A `ws://` or `wss://` URL (a WebSocket peer: the sidecar bot, a realtime model). */
export function wsOnlyUrl(raw: string): string {
  const v = raw.trim();
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new Error('a ws:// or wss:// URL');
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error('a ws:// or wss:// URL');
  return v;
}
export function httpUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new Error('an absolute http:// or https:// URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('an absolute http:// or https:// URL');
  if (u.search || u.hash) throw new Error('an absolute http:// or https:// URL without query or fragment');
  return u.toString().replace(/\/+$/, '');
}
