// @ts-check
/**
 * An IVR, the offline way a Vonage IVR works: a spoken menu (Flite), answered by speech constrained to the menu's
 * words (start the gateway with `ASR_GRAMMAR=examples/ivr/menu.gram`) or by a key press; re-prompts on silence and on
 * an answer that is not an option (at most `IVR_MAX_PROMPTS` prompts in all); then a transfer to the chosen line, or
 * goodbye. See README.md in this folder.
 *
 * Each decision is logged (`ivr choice`, `ivr reprompt`, `ivr end`) through the adapter's logger: that is what the
 * tests and the benchmark check.
 */
import { defineBot } from 'vonage-voicebot-gateway/sdk';
import { chooseOption, menuPrompt, optionForKey } from './menu.mjs';

const GREETING = 'Welcome to Example Company.';

/**
 * @typedef {{ prompts: number, done: boolean, spoke: boolean, noInput: NodeJS.Timeout | undefined, noMatch: NodeJS.Timeout | undefined }} IvrState
 * @typedef {import('vonage-voicebot-gateway/sdk').BotContext<IvrState>} Ctx
 */

/** @param {Ctx} ctx @param {string} name @param {number} def */
function setting(ctx, name, def) {
  const n = Number(ctx.env[name]);
  return Number.isFinite(n) && n > 0 ? n : def;
}

/** @param {IvrState} s */
function clearTimers(s) {
  clearTimeout(s.noInput);
  clearTimeout(s.noMatch);
  s.noInput = undefined;
  s.noMatch = undefined;
}

/**
 * Ask again (or give up after the last prompt). `kind` is why: `no-input` (silence) or `no-match`.
 * @param {Ctx} ctx @param {'no-input' | 'no-match'} kind @param {string} heard
 */
function reprompt(ctx, kind, heard = '') {
  const s = ctx.state;
  if (s.done || ctx.signal.aborted) return;
  clearTimers(s);
  if (s.prompts >= setting(ctx, 'IVR_MAX_PROMPTS', 3)) {
    s.done = true;
    ctx.logger.info({ callId: ctx.call.callId, ivrEnd: 'no-choice', after: kind }, 'ivr end');
    ctx.say('Sorry, I could not help you today. Goodbye.');
    ctx.hangup({ reason: 'ivr: no choice' });
    return;
  }
  s.prompts++;
  ctx.logger.info({ callId: ctx.call.callId, ivrReprompt: kind, heard, prompt: s.prompts }, 'ivr reprompt');
  ctx.say(`${kind === 'no-input' ? 'Sorry, I did not hear you.' : 'Sorry, that is not an option.'} ${menuPrompt()}`);
}

/**
 * The caller chose: transfer when a number for the option is configured and Vonage call control is on, else say so
 * and hang up (an offline demo has nowhere to transfer to).
 * @param {Ctx} ctx @param {import('./menu.mjs').MenuOption} option @param {'speech' | 'dtmf'} via @param {string} heard
 */
function choose(ctx, option, via, heard) {
  const s = ctx.state;
  s.done = true;
  clearTimers(s);
  const number = String(ctx.env[option.numberEnv] ?? '').replace(/\D/g, '');
  const canTransfer = !!number && !!ctx.env.VONAGE_APPLICATION_ID;
  ctx.logger.info({ callId: ctx.call.callId, ivrChoice: option.name, via, heard, transfer: canTransfer ? number : null }, 'ivr choice');
  if (canTransfer) {
    ctx.say(`Transferring you to ${option.name}.`);
    ctx.transfer([{ action: 'connect', endpoint: [{ type: 'phone', number }] }]);
    return;
  }
  ctx.say(`Transferring you to ${option.name}. There is no line to transfer to in this demo. Goodbye.`);
  ctx.hangup({ reason: `ivr: ${option.name}` });
}

export default defineBot({
  name: 'ivr',
  /** @returns {IvrState} */
  state: () => ({ prompts: 0, done: false, spoke: false, noInput: undefined, noMatch: undefined }),
  onStart: (_e, ctx) => {
    ctx.state.prompts = 1;
    return `${GREETING} ${menuPrompt()}`;
  },
  // A prompt finished playing: wait for an answer, bounded.
  onPlayback: (e, ctx) => {
    const s = ctx.state;
    if (s.done || e.interrupted) return;
    clearTimeout(s.noInput);
    s.noInput = setTimeout(() => reprompt(ctx, 'no-input'), setting(ctx, 'IVR_NO_INPUT_MS', 5000));
  },
  onSpeechStart: (_e, ctx) => {
    ctx.state.spoke = true;
    clearTimers(ctx.state);
  },
  // Speech with no transcript at all (the recogniser heard nothing it knows): a no-match, once the final had its time.
  onSpeechEnd: (_e, ctx) => {
    const s = ctx.state;
    if (s.done) return;
    clearTimeout(s.noMatch);
    s.noMatch = setTimeout(() => reprompt(ctx, 'no-match'), setting(ctx, 'IVR_NO_MATCH_MS', 5000));
  },
  onTranscript: ({ text }, ctx) => {
    // Only after the caller spoke (the gateway's VAD, on the caller's own audio): a recogniser held to a grammar turns
    // any noise it takes for speech into a menu word, and a line's noise is not an answer.
    if (ctx.state.done || !ctx.state.spoke) return;
    ctx.state.spoke = false;
    const option = chooseOption(text);
    if (option) choose(ctx, option, 'speech', text);
    else reprompt(ctx, 'no-match', text);
  },
  onDtmf: ({ digit }, ctx) => {
    if (ctx.state.done) return;
    const option = optionForKey(digit);
    if (option) choose(ctx, option, 'dtmf', digit);
    else reprompt(ctx, 'no-match', digit);
  },
  onClose: (_e, ctx) => clearTimers(ctx.state),
});
