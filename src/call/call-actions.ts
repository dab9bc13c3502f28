/**
 * Bot outputs that act on the call itself rather than on what it hears: `transfer` and `dtmf` (Vonage REST call
 * control), and the REST hangup that ends the whole call (not just our leg) before the leg is closed.
 */
import type { BotOutput } from '../bot/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CallControl } from '../vonage/call-control.js';
import type { CallInfo } from './call-info.js';

/** A `transfer` or `dtmf` from the bot; without call control it is ignored, logged and counted. */
export async function callAction(out: Extract<BotOutput, { type: 'transfer' | 'dtmf' }>, cc: CallControl | undefined, call: CallInfo, log: Logger, metrics: Metrics): Promise<void> {
  if (cc) {
    if (out.type === 'transfer') await cc.transfer(call, out.ncco, log);
    else await cc.dtmf(call, out.digits, log);
    return;
  }
  log.warn({ action: out.type }, 'bot action needs Vonage call control (not configured): ignored');
  metrics.adapterErrors.inc({ stage: 'bot', code: 'ACTION_UNSUPPORTED' });
}
