/**
 * A console client that stops reading never makes the gateway queue without bound: past the watermark its events are
 * dropped and counted, and once it reads again it gets a fresh snapshot. Real HTTP server and client on loopback.
 */
import t from 'tap';
import { createServer } from 'node:http';
import { request } from 'node:http';
import { ConsoleHub } from '../../src/console/hub.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ObservedCall } from '../../src/call/observer.js';
import { until } from '../helpers/gateway.js';

t.test('slow console client: bounded buffer, drops counted, resync snapshot', async (t) => {
  const WATERMARK = 64 * 1024;
  const hub = new ConsoleHub({ sessions: () => [], logger: createLogger('silent'), maxBufferedBytes: WATERMARK });
  let maxBuffered = 0;
  const server = createServer((req, res) => {
    hub.attach(res);
    const write = res.write.bind(res);
    // Observe the response's unsent bytes after every write the feed makes.
    res.write = ((...a: Parameters<typeof write>) => {
      const r = write(...a);
      maxBuffered = Math.max(maxBuffered, res.writableLength);
      return r;
    }) as typeof res.write;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    hub.close();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  let received = '';
  const res = await new Promise<import('node:http').IncomingMessage>((resolve) => request(`http://127.0.0.1:${port}/`, resolve).end());
  res.setEncoding('utf8');
  res.on('data', (c: string) => (received += c));
  await until(() => received.includes('event: snapshot'), 5000, 'first snapshot');
  res.pause(); // the browser stops reading

  const call: ObservedCall = {
    info: { callId: 'slow-1', sampleRateHz: 16000, language: 'en-US', metadata: {} } as ObservedCall['info'],
    state: 'listening',
    jitter: { framesIn: 0, jitterMs: 0 } as ObservedCall['jitter'],
    pacerStats: { framesSent: 0, lateSends: 0 } as ObservedCall['pacerStats'],
    summary: () => ({ durationMs: 0 }) as ReturnType<ObservedCall['summary']>,
  };
  const text = 'x'.repeat(500);
  // Far more than the socket and kernel buffers hold: the feed must start dropping.
  for (let i = 0; i < 40000 && hub.dropped <= 100; i++) {
    hub.event(call, { type: 'bot-say', text });
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  t.ok(hub.dropped > 100, `events dropped: ${hub.dropped}`);
  t.ok(maxBuffered <= WATERMARK + 2048, `unsent bytes stayed bounded: max ${maxBuffered} (watermark ${WATERMARK})`);
  const before = received.split('event: snapshot').length;
  res.resume();
  await until(() => received.split('event: snapshot').length > before, 20000, 'resync snapshot after draining');
  t.pass('the client caught up with a fresh snapshot');
});
