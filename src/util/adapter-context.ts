import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';

/** What an adapter factory gets, once per process. */
export interface AdapterContext {
  readonly config: Config;
  /** A child logger for the adapter. */
  readonly logger: Logger;
  /** The adapter's raw environment (for adapter-specific settings such as API keys). */
  readonly env: Readonly<Record<string, string | undefined>>;
}
