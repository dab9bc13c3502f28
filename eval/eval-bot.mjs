// @ts-check
// The call-eval bot: long replies, so there is something to interrupt. It greets with a long sentence (~5 s) and answers
// every final transcript with a ~6 s reply that starts by echoing what it heard (so the words the caller heard show
// whether the turn was understood). BOT_ADAPTER=./eval/eval-bot.mjs  ·  npx vgw bot-conformance --adapter ./eval/eval-bot.mjs
import { defineBot } from 'vonage-voicebot-gateway/sdk';

// Long enough to interrupt, short enough not to slow every scenario down (~5 s).
const GREETING = 'Hello, this is the evaluation line. Say something, and I will tell you a story about the weather.';

// Two sentences of filler after the echo: about 5 to 8 seconds of Flite speech in all.
const STORIES = [
  'The morning was cold and bright, and the river carried small pieces of ice toward the old stone bridge in the valley. Later the wind turned to the west and the clouds came down over the hills.',
  'A farmer walked along the road with his two dogs, counting the sheep that stood very still in the frozen field. At noon the sun came out and the snow on the roofs began to melt.',
  'In the afternoon the market opened in the square, with bread, apples and warm soup for everyone who came. By evening the lamps were lit and the streets were quiet again.',
];

export default defineBot({
  name: 'eval-bot',
  state: () => ({ n: 0 }),
  onStart: () => GREETING,
  onTranscript: ({ text }, ctx) => `You said ${text.trim()}. ${STORIES[ctx.state.n++ % STORIES.length]}`,
});
