/**
 * Settings a custom adapter declares (util/adapter-context.ts `AdapterSetting`): read from the same layered
 * environment as the gateway's own, validated at start-up, handed to the adapter's factory as `ctx.settings`.
 */
import type { AdapterSetting } from '../util/adapter-context.js';
import type { Env } from './parsers.js';

const NAME = /^[A-Z][A-Z0-9_]{0,127}$/;

export interface ParsedAdapterSettings {
  readonly values: Readonly<Record<string, unknown>>;
  /** Variable names declared (known to the config file check). */
  readonly names: readonly string[];
  /** One line per problem, naming the variable and the adapter (`where`, e.g. `BOT_ADAPTER=./bot.mjs`). */
  readonly problems: readonly string[];
}

/** Validate `declared` (untrusted: a user's module) against `env`; never throws. */
export function parseAdapterSettings(where: string, declared: unknown, env: Env): ParsedAdapterSettings {
  if (!declared || typeof declared !== 'object' || Array.isArray(declared)) {
    return { values: {}, names: [], problems: [`${where}: settings must be an object of NAME: { default, doc, parse }`] };
  }
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  const names = Object.keys(declared);
  for (const name of names) {
    const s = (declared as Record<string, unknown>)[name] as Partial<AdapterSetting> | null;
    if (!NAME.test(name)) {
      problems.push(`${where}: setting name ${JSON.stringify(name.slice(0, 100))} is not an environment variable name (A-Z, 0-9, _)`);
      continue;
    }
    if (
      !s ||
      typeof s !== 'object' ||
      typeof s.doc !== 'string' ||
      (s.default !== undefined && typeof s.default !== 'string') ||
      (s.parse !== undefined && typeof s.parse !== 'function')
    ) {
      problems.push(`${where}: setting ${name} must be { doc: string, default?: string, parse?: (raw) => value, secret?: boolean }`);
      continue;
    }
    const given = env[name];
    const raw = given || s.default;
    if (raw === undefined) {
      problems.push(`${name} is required (declared by ${where}: ${s.doc})`);
      continue;
    }
    try {
      values[name] = s.parse ? s.parse(raw) : raw.trim();
    } catch (err) {
      const shown = s.secret ? '(secret, not shown)' : JSON.stringify(raw.slice(0, 200));
      problems.push(`${name}=${shown} is invalid (declared by ${where}): expected ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { values: Object.freeze(values), names, problems };
}
