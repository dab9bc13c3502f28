import WebSocket from 'ws';
import { startGateway } from '/work/wt/leg/dist/test/helpers/gateway.js';
const fakeT = { teardown() {} };
const g = await startGateway(fakeT, {});
const ws = new WebSocket(`ws://127.0.0.1:${g.port}/socket`);
ws.on('error', (e) => console.log('client error', e.message));
ws.on('close', (c, r) => console.log('close', c, r.toString()));
await new Promise((r) => ws.once('open', r));
ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/l16;rate=16000' }));
let n = 0;
while (ws.readyState === 1 && n < 5000) { for (let i = 0; i < 100; i++) ws.ping(); n += 100; await new Promise((r) => setImmediate(r)); }
console.log('sent', n);
await new Promise((r) => setTimeout(r, 3000));
for (const l of g.logs) console.log(JSON.stringify(l).slice(0, 300));
process.exit(0);
