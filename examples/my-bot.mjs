// @ts-check
// BOT_ADAPTER=./examples/my-bot.mjs npm start   ·   check it: npx vgw bot-conformance --adapter ./examples/my-bot.mjs
import { defineBot } from 'vonage-voicebot-gateway/sdk';

export default defineBot({
  name: 'my-bot',
  onStart: (_e, { call }) => `Hello caller ${call.from ?? ''}. Say something, or press a key.`,
  onTranscript: ({ text }, ctx) => {
    if (!/\bbye\b/i.test(text)) return `I heard ${text}`;
    ctx.say('Goodbye!');
    ctx.hangup({ reason: 'caller said bye' });
  },
  onDtmf: ({ digit }) => `You pressed ${digit === '*' ? 'star' : digit === '#' ? 'hash' : digit}.`,
});
