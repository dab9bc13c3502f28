// A sample bot for the gateway's sidecar protocol 1.1 (docs/sidecar-protocol.md), in plain Node with only `ws`.
// examples/sidecar_bot.py is the same bot in Python.
//
//   node examples/sidecar-bot.mjs --port 8765          (listens on 127.0.0.1; --host 0.0.0.0 for all interfaces)
//   BOT_ADAPTER=remote BOT_URL=ws://127.0.0.1:8765 npm start
//
// It greets the caller, answers what it hears ("You said …", streamed as a few `say` pieces), reads back key presses,
// says goodbye and hangs up on "goodbye" or #, and on 0 says it is transferring, waits until that has played (its
// reply id comes back in the playback event), then transfers the call to TRANSFER_NUMBER. Every message it receives
// is printed to stdout as one JSON line. If BOT_AUTH_TOKEN is set, connections must carry that bearer token.
import { WebSocketServer } from 'ws';

const SUBPROTOCOL = 'vonage-gateway.v1'; // protocol 1.x; answering it gets the 1.1 error codes
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
  // The upgrade names the call (X-Vonage-Call-Id, and ?callId=): a real bot could route or authorise on it here.
  verifyClient: ({ req }) => !token || req.headers.authorization === `Bearer ${token}`,
  handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
});
wss.on('listening', () => print({ event: 'listening', port: wss.address().port }));

wss.on('connection', (ws, req) => {
  print({ event: 'connected', callId: req.headers['x-vonage-call-id'], subprotocol: ws.protocol });
  const send = (msg) => ws.send(JSON.stringify(msg));
  let n = 0; // our reply ids: the gateway echoes them in playback.finished / playback.interrupted
  const say = (text, more = {}) => {
    const id = more.id ?? `r${++n}`;
    send({ type: 'say', text, ...more, id });
    return id;
  };
  // Stream a reply in pieces, as an LLM would: end: false on each, end: true on the last; the id goes on the first.
  const stream = (text) => {
    const words = text.split(' ');
    const id = `r${++n}`;
    for (let i = 0; i < words.length; i += 2) {
      const piece = { type: 'say', text: (i ? ' ' : '') + words.slice(i, i + 2).join(' '), end: i + 2 >= words.length };
      send(i === 0 ? { ...piece, id } : piece);
    }
  };
  const goodbye = () => {
    say('Thank you for calling. Goodbye!', { interruptible: false, id: 'goodbye' });
    send({ type: 'hangup', reason: 'caller said goodbye' }); // after the goodbye has played
  };
  let transferAfter; // the id of the "transferring you now" reply: transfer once the caller has heard it

  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    print({ received: msg });
    switch (msg.type) {
      case 'call.started':
        say(`Hello! You are talking to the sample bot. Say something, or press a key.`, { id: 'greeting' });
        break;
      case 'transcript':
        if (!msg.final || !msg.text.trim()) break;
        if (/\bgood ?bye\b/i.test(msg.text)) goodbye();
        else stream(`You said ${msg.text.trim()}.`);
        break;
      case 'dtmf':
        if (msg.digit === '#') goodbye();
        else if (msg.digit === '0') transferAfter = say('Transferring you now.', { interruptible: false });
        else say(`You pressed ${msg.digit === '*' ? 'star' : msg.digit}.`);
        break;
      case 'playback.finished':
      case 'playback.interrupted':
        if (msg.id !== undefined && msg.id === transferAfter) {
          transferAfter = undefined;
          send({ type: 'transfer', phone: transferTo });
        }
        break;
      case 'error':
        console.error(`gateway refused a message: ${msg.code} ${msg.reason}`);
        break;
      // speech.started, speech.ended, call.ended: nothing to do here.
    }
  });
  ws.on('close', (code) => print({ event: 'closed', code }));
});
