/**
 * Slow and oversized HTTP clients against a real gateway: the header (5 s) and request (10 s) timeouts fire near their
 * bound (Node only checks them every `connectionsCheckingInterval`, 30 s by default: they fired after 22-30 s), and a
 * body past the 64 KiB limit gets its 413 and the connection closed at once instead of being read until the timeout.
 * Bounds are deliberately loose (noisy machines): each one is well below what the unfixed server takes.
 */
import t from 'tap';
import { connect } from 'node:net';
import { startGateway, metricValue } from '../helpers/gateway.js';

interface SlowResult {
  status: number;
  head: string;
  body: string;
  /** From the first byte sent to the server closing the connection (or `maxMs` when it never did). */
  closedAfterMs: number;
  /** True when the server closed the connection (false: we gave up at `maxMs`). */
  closedByServer: boolean;
}

/** Send `first`, then `drip()` every `everyMs` until the server closes the connection (at most `maxMs`). */
function slowClient(port: number, first: string | Buffer, drip: () => string | Buffer, everyMs: number, maxMs: number): Promise<SlowResult> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let t0 = 0;
    let gaveUp = false;
    const timer = setInterval(() => {
      if (s.writable) s.write(drip());
    }, everyMs);
    const limit = setTimeout(() => {
      gaveUp = true;
      s.destroy();
    }, maxMs);
    s.on('connect', () => {
      t0 = performance.now();
      s.write(first);
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(timer);
      clearTimeout(limit);
      const text = Buffer.concat(chunks).toString('latin1');
      const i = text.indexOf('\r\n\r\n');
      const head = i >= 0 ? text.slice(0, i) : text;
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
        head,
        body: i >= 0 ? text.slice(i + 4) : '',
        closedAfterMs: performance.now() - t0,
        closedByServer: !gaveUp,
      });
    });
  });
}

t.test('slowloris: headers sent byte by byte are cut near the 5 s header timeout; a slow body near the 10 s request timeout', async (t) => {
  const g = await startGateway(t);
  const [headers, body] = await Promise.all([
    // Never finishes its headers: one byte every 200 ms.
    slowClient(g.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', () => 'a', 200, 40000),
    // Complete headers, then a 1000-byte body one byte every 200 ms (it would take 200 s).
    slowClient(g.port, 'POST /webhooks/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{', () => ' ', 200, 40000),
  ]);
  t.ok(headers.closedByServer, 'the server closed the slow-headers connection');
  t.ok(headers.closedAfterMs < 15000, `slow headers cut in ${Math.round(headers.closedAfterMs)} ms (< 15 s; the header timeout is 5 s)`);
  t.equal(headers.status, 408);
  t.match(JSON.parse(headers.body), { error: 'REQUEST_TIMEOUT' });
  t.ok(body.closedByServer, 'the server closed the slow-body connection');
  t.ok(body.closedAfterMs < 20000, `slow body cut in ${Math.round(body.closedAfterMs)} ms (< 20 s; the request timeout is 10 s)`);
  t.equal(body.status, 408);
  t.equal((await fetch(`${g.url}/healthz`)).status, 200, 'the gateway serves on');
  t.equal(g.logs.filter((l) => /request not received in time/.test(l.msg)).length, 2, 'each timeout is logged');
  t.equal(g.logs.filter((l) => l.level >= 50).length, 0, 'a slow client is bad input, not a gateway error');
  t.equal(metricValue(await g.metrics(), 'gateway_webhook_requests_total{hook="event",code="400"}'), 1, 'the cut webhook counted as refused input');
});

t.test('an oversized body gets its 413 and the connection is closed, not read on until the timeout', async (t) => {
  const g = await startGateway(t);
  const pad = Buffer.alloc(16 * 1024, 0x20);
  const [declared, chunked] = await Promise.all([
    // Declared too large: refused on the headers; the client keeps sending.
    slowClient(
      g.port,
      'POST /webhooks/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{',
      () => pad,
      100,
      30000,
    ),
    // Chunked, no length: refused once 64 KiB have arrived; the client keeps sending chunks.
    slowClient(
      g.port,
      'POST /webhooks/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      () => Buffer.concat([Buffer.from(`${pad.length.toString(16)}\r\n`), pad, Buffer.from('\r\n')]),
      100,
      30000,
    ),
  ]);
  for (const [what, r] of [
    ['declared', declared],
    ['chunked', chunked],
  ] as const) {
    t.equal(r.status, 413, `${what}: 413`);
    t.match(r.head, /\r\nconnection: close\r\n/i, `${what}: Connection: close`);
    t.match(JSON.parse(r.body), { error: 'WEBHOOK_TOO_LARGE' });
    t.ok(r.closedByServer, `${what}: the server closed the connection`);
    t.ok(r.closedAfterMs < 5000, `${what}: closed after ${Math.round(r.closedAfterMs)} ms (< 5 s; the request timeout is 10 s)`);
  }
  t.equal(metricValue(await g.metrics(), 'gateway_webhook_requests_total{hook="event",code="413"}'), 2);
  t.equal((await fetch(`${g.url}/healthz`)).status, 200, 'the gateway serves on');
});
