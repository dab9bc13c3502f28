/** Benchmark baseline: a bare `ws` server that only echoes binary frames back (no handshake logic, no pacing). */
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { AllocProfiler } from './alloc-profile.js';

const server = createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 32768 });
let framesIn = 0;
let framesOut = 0;
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    framesIn++;
    ws.send(data as Buffer, { binary: true });
    framesOut++;
  });
  ws.on('error', () => {});
});
const eld = monitorEventLoopDelay({ resolution: 1 });
eld.enable();
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.send?.({ cmd: 'ready', port: typeof a === 'object' && a ? a.port : 0, wsPath: '/socket' });
});
const alloc = new AllocProfiler();
let allocFrom = { framesIn: 0, framesOut: 0 };
process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'alloc-start') {
    allocFrom = { framesIn, framesOut };
    void alloc.start().then(() => process.send?.({ cmd: 'alloc-started' }));
  } else if (m.cmd === 'alloc-stop') {
    void alloc
      .stop()
      .then((summary) => process.send?.({ cmd: 'alloc', ...summary, framesIn: framesIn - allocFrom.framesIn, framesOut: framesOut - allocFrom.framesOut }));
  } else if (m.cmd === 'stats') {
    process.send?.({
      cmd: 'stats',
      ingress: null,
      asrFrames: framesIn,
      framesIn,
      framesOut,
      pacerDrops: 0,
      calls: wss.clients.size,
      cpu: process.cpuUsage(),
      rss: process.memoryUsage().rss,
      eldP99Ms: eld.percentile(99) / 1e6,
      eldMaxMs: eld.max / 1e6,
      lateTicks: 0,
    });
    eld.reset();
  } else if (m.cmd === 'exit') {
    for (const c of wss.clients) c.terminate();
    server.close(() => process.exit(0));
  }
});
