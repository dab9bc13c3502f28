/**
 * What each bot output does to the call: `say`/`play`/`clear` go to the speaker's queue (in order), `hangup` to the turn
 * state once the reply before it is complete, `transfer` and `dtmf` to Vonage REST call control.
 */
import type { Pacer } from '../egress/pacer.js';
import type { Speaker } from './speaker.js';
import type { Turn } from './turn.js';
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

/** Carry out one bot output; resolves when it has been handled (the bot link then takes the next). */
export async function botOutput(out: BotOutput, speaker: Speaker, turn: Turn, pacer: Pacer, cc: CallControl | undefined, call: CallInfo, log: Logger, metrics: Metrics): Promise<void> {
  switch (out.type) {
    case 'say':
      return speaker.say(out.text, !!out.end, out.interruptible !== false);
    case 'play':
      return speaker.play(out.audio, out.sampleRateHz, out.interruptible !== false);
    case 'clear':
      await speaker.clearQueued();
      return turn.cleared();
    case 'hangup':
      await speaker.endQueued();
      log.info({ reason: out.reason, immediate: !!out.immediate }, 'bot hangup');
      return turn.botHangup(!!out.immediate, !pacer.active);
    case 'transfer':
    case 'dtmf':
      return callAction(out, cc, call, log, metrics);
  }
}
