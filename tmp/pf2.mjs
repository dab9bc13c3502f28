import WebSocket, { WebSocketServer } from 'ws';
const wss = new WebSocketServer({ port: 0, perMessageDeflate: false });
await new Promise(r => wss.once('listening', r));
wss.on('connection', (s, req) => { s.on('error', e => console.log('server ws error', e.message)); req.socket.on('close', (h) => console.log('server socket close', h)); const d = req.socket.destroy.bind(req.socket); req.socket.destroy = (e) => { console.log('destroy', e?.message, new Error().stack.split('\n').slice(1,6).join(' | ')); return d(e); }; const en = req.socket.end.bind(req.socket); req.socket.end = (...a) => { console.log('end', new Error().stack.split('\n').slice(1,6).join(' | ')); return en(...a); }; s.on('close', (c) => console.log('server close', c)); });
const ws = new WebSocket(`ws://127.0.0.1:${wss.address().port}`, { perMessageDeflate: false });
ws.on('error', (e) => console.log('client error', e.message));
ws.on('close', (c, r) => console.log('client close', c, r.toString()));
await new Promise((r) => ws.once('open', r));
ws._socket.on('error', e => console.log('client sock err', e.message));
let n = 0;
while (ws.readyState === 1 && n < 5000) { for (let i = 0; i < 100; i++) ws.ping(); n += 100; await new Promise((r) => setImmediate(r)); }
console.log('sent', n);
await new Promise((r) => setTimeout(r, 1000));
process.exit(0);
