/**
 * What each bot output does to the call: `say`/`play`/`clear` go to the speaker's queue (in order), `hangup` to the turn
 * state once the reply before it is complete, `transfer` and `dtmf` to Vonage REST call control.
 */
import type { Pacer } from '../egress/pacer.js';
import type { Speaker } from './speaker.js';
import type { Turn } from './turn.js';
import type { BotInput, BotOutput } from '../bot/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CallControl } from '../vonage/call-control.js';
import type { CallInfo } from './call-info.js';

type ActionResult = Extract<BotInput, { type: 'action-result' }>;

/**
 * A `transfer` or `dtmf` from the bot. Resolves what became of it, for the bot (the session hands it back as an input):
 * without call control it is not carried out (logged and counted), and a Vonage failure (already logged and counted by
 * the call control) is reported too, so a bot is never left believing an action happened.
 */
export async function callAction(
  out: Extract<BotOutput, { type: 'transfer' | 'dtmf' }>,
  cc: CallControl | undefined,
  call: CallInfo,
  log: Logger,
  metrics: Metrics,
): Promise<ActionResult> {
  const action = out.type;
  if (cc) {
    const ok = out.type === 'transfer' ? await cc.transfer(call, out.ncco, log) : await cc.dtmf(call, out.digits, log);
    if (ok) return { type: 'action-result', action, ok };
    if (!cc.canControl(call))
      return { type: 'action-result', action, ok, code: 'NO_CALL_CONTROL', reason: 'the call has no Vonage call uuid (not in the handshake headers)' };
    return { type: 'action-result', action, ok, code: 'ACTION_FAILED', reason: `Vonage did not carry out the ${action} (see the gateway log)` };
  }
  log.warn({ action }, 'bot action needs Vonage call control (not configured): ignored');
  metrics.adapterErrors.inc({ stage: 'bot', code: 'ACTION_UNSUPPORTED' });
  return {
    type: 'action-result',
    action,
    ok: false,
    code: 'NO_CALL_CONTROL',
    reason: 'Vonage call control is not configured on this gateway (VONAGE_APPLICATION_ID)',
  };
}

/**
 * Carry out one bot output; resolves when it has been handled (the bot link then takes the next), with what became of
 * a call action (for the bot) when there is something to tell it.
 */
export async function botOutput(
  out: BotOutput,
  speaker: Speaker,
  turn: Turn,
  pacer: Pacer,
  cc: CallControl | undefined,
  call: CallInfo,
  log: Logger,
  metrics: Metrics,
): Promise<ActionResult | void> {
  switch (out.type) {
    case 'say':
      return speaker.say(out.text, !!out.end, out.interruptible !== false, out);
    case 'play':
      return speaker.play(out.audio, out.sampleRateHz, out.interruptible !== false, out.id);
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
