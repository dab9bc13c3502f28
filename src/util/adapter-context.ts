import type { Config } from '../config/config.js';
import type { ConfigSections } from '../config/sections.js';
import type { Logger } from '../observability/logger.js';

/**
 * One setting a custom adapter declares (through the SDK: `defineBot({ settings: { MY_KEY: { default, doc, parse } } })`,
 * or a `settings` property on a hand-written factory). The gateway reads it like its own settings (the environment
 * over the config file over `default`), validates it at start-up and hands the parsed value to the factory in
 * `ctx.settings`.
 */
export interface AdapterSetting<T = unknown> {
  /** Text used when the variable is unset or empty. Omitted: the setting is required. */
  readonly default?: string;
  /** What it means (shown with an invalid value). */
  readonly doc: string;
  /** Text → value; throw an Error whose message says what is expected. Default: the text, trimmed. */
  readonly parse?: (raw: string) => T;
  /** Never echo the value in an error message. */
  readonly secret?: boolean;
}

/** A custom adapter's settings, keyed by environment variable name (`A-Z`, `0-9`, `_`). */
export type AdapterSettings = Readonly<Record<string, AdapterSetting>>;

/** The parsed values of `S`: what `parse` returns, else a string. */
export type AdapterSettingValues<S extends AdapterSettings> = {
  readonly [K in keyof S]: S[K] extends { parse: (raw: string) => infer T } ? T : string;
};

/** What an adapter factory gets, once per process. */
export interface AdapterContext {
  /**
   * Every gateway setting in one flat object, as the SDK first offered it.
   * @deprecated Read the gateway's settings by owner from {@link AdapterContext.sections} (e.g. `ctx.sections.tts.ttsVoice`)
   * and your adapter's own from {@link AdapterContext.settings}. Still filled in for adapters written against it.
   */
  readonly config: Config;
  /**
   * The gateway's settings grouped by owner (`server`, `leg`, `asr`, `bot`, `tts`, `azure`, …; see
   * docs/configuration.md), frozen: read the sections your adapter needs.
   */
  readonly sections: ConfigSections;
  /** A child logger for the adapter. */
  readonly logger: Logger;
  /**
   * The process environment with the config file's values under it (kept because the SDK has always offered it; read
   * your own settings through `settings` instead, which are validated at start-up and documented by you).
   */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The adapter's declared settings, validated and parsed, by variable name; undefined when it declares none. */
  readonly settings?: Readonly<Record<string, unknown>>;
}
