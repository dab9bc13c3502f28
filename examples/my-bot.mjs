// BOT_ADAPTER=./examples/my-bot.mjs npm start
export default function createBotAdapter({ logger }) {
  return {
    name: 'my-bot',
    capabilities: { wantsUtteranceAudio: false },
    start({ call, signal }) {
      const queue = [];
      let wake;
      let done = false;
      const push = (x) => { queue.push(x); wake?.(); };
      signal.addEventListener('abort', () => { done = true; wake?.(); });
      return {
        input(e) {
          if (e.type === 'start') push({ type: 'say', text: `Hello caller ${call.from ?? ''}`, end: true });
          if (e.type === 'transcript' && e.final) {
            if (/\bbye\b/i.test(e.text)) { push({ type: 'say', text: 'Bye!', end: true }); push({ type: 'hangup' }); }
            else push({ type: 'say', text: `I heard ${e.text}`, end: true });
          }
          if (e.type === 'dtmf') logger.info({ digit: e.digit }, 'key pressed');
        },
        output: (async function* () {
          while (!done) {
            if (queue.length) yield queue.shift();
            else await new Promise((r) => (wake = r));
          }
        })(),
        close() { done = true; wake?.(); },
      };
    },
  };
}
