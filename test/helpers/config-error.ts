import { GatewayError } from '../../src/errors.js';

/** The message of the GatewayError `fn` throws (anything else is rethrown; not throwing is an error). */
export function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    return err.message;
  }
  throw new Error('did not throw');
}
