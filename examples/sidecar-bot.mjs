// A sample bot for the gateway's sidecar protocol (docs/sidecar-protocol.md), in plain Node with only `ws`.
//
//   node examples/sidecar-bot.mjs --port 8765          (listens on 127.0.0.1; --host 0.0.0.0 for all interfaces)
//   BOT_ADAPTER=remote BOT_URL=ws://127.0.0.1:8765 npm start
//
// It greets the caller, answers what it hears ("You said …", streamed as a few `say` pieces), reads back key presses,
// says goodbye and hangs up on "goodbye" or #, and transfers the call on 0 (to TRANSFER_NUMBER). Every message it
// receives is printed to stdout as one JSON line. If BOT_AUTH_TOKEN is set, connections must carry that bearer token.
import { WebSocketServer } from 'ws';

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
};
const port = Number(arg('--port', process.env.PORT ?? 8765));
const host = arg('--host', '127.0.0.1');
const transferTo = process.env.TRANSFER_NUMBER ?? '447700900000'; // an Ofcom drama number: replace with yours
const token = process.env.BOT_AUTH_TOKEN;
const print = (obj) => console.log(JSON.stringify(obj));

const wss = new WebSocketServer({
  host,
  port,
  maxPayload: 1024 * 1024,
  verifyClient: ({ req }) => !token || req.headers.authorization === `Bearer ${token}`,
});
wss.on('listening', () => print({ event: 'listening', port: wss.address().port }));

wss.on('connection', (ws) => {
  const send = (msg) => ws.send(JSON.stringify(msg));
  const say = (text, more = {}) => send({ type: 'say', text, ...more });
  // Stream a reply in pieces, as an LLM would: end: false on each, end: true on the last.
  const stream = (text) => {
    const words = text.split(' ');
    for (let i = 0; i < words.length; i += 2) {
      say((i ? ' ' : '') + words.slice(i, i + 2).join(' '), { end: i + 2 >= words.length });
    }
  };
  const goodbye = () => {
    say('Thank you for calling. Goodbye!', { interruptible: false });
    send({ type: 'hangup', reason: 'caller said goodbye' }); // after the goodbye has played
  };

  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    print({ received: msg });
    switch (msg.type) {
      case 'call.started':
        say(`Hello! You are talking to the sample bot. Say something, or press a key.`);
        break;
      case 'transcript':
        if (!msg.final || !msg.text.trim()) break;
        if (/\bgood ?bye\b/i.test(msg.text)) goodbye();
        else stream(`You said ${msg.text.trim()}.`);
        break;
      case 'dtmf':
        if (msg.digit === '#') goodbye();
        else if (msg.digit === '0') {
          say('Transferring you now.', { interruptible: false });
          send({ type: 'transfer', ncco: [{ action: 'connect', endpoint: [{ type: 'phone', number: transferTo }] }] });
        } else say(`You pressed ${msg.digit === '*' ? 'star' : msg.digit}.`);
        break;
      case 'error':
        console.error(`gateway refused a message: ${msg.code} ${msg.reason}`);
        break;
      // speech.started, speech.ended, playback.finished, playback.interrupted, call.ended: nothing to do here.
    }
  });
  ws.on('close', (code) => print({ event: 'closed', code }));
});
