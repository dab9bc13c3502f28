/**
 * The leg's fast reader of binary messages (src/leg/fast-audio.ts) against `ws` reading everything itself: the same
 * byte streams, cut at random points and written to real sockets, must give the same messages, pings, errors and close
 * codes, in the same order. Then the reader inside the gateway: a leg that breaks the protocol mid-call is closed with
 * `ws`'s code while a second call keeps every frame. And the other direction: frames written pre-framed to the socket
 * reach a real `ws` client intact and in order with what `ws.send` sends, and fall back to `ws.send` when they must.
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { FastReceiver, framedWriter, installFastReceive, nativeUnmask } from '../../src/leg/fast-audio.js';
import { startGateway, until } from '../helpers/gateway.js';
import { openRawLeg, streamFrames } from '../helpers/raw-leg.js';
import { must } from '../helpers/must.js';

const MAX_PAYLOAD = 4096;

/** A client frame: masked (unless told), FIN (unless told), RSV bits as given. */
function frame(opcode: number, payload: Buffer, o: { fin?: boolean; masked?: boolean; rsv?: number; len64?: boolean } = {}): Buffer {
  const fin = o.fin ?? true;
  const masked = o.masked ?? true;
  const len = payload.length;
  const ext = o.len64 ? 8 : len > 125 ? 2 : 0;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode;
  head[1] = (masked ? 0x80 : 0) | (o.len64 ? 127 : len > 125 ? 126 : len);
  if (o.len64) head.writeBigUInt64BE(BigInt(len), 2);
  else if (len > 125) head.writeUInt16BE(len, 2);
  if (!masked) return Buffer.concat([head, payload]);
  const mask = randomBytes(4);
  mask.copy(head, 2 + ext);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([head, body]);
}

/** A deterministic pseudo-random source (the streams are reproducible from the seed in a failure's name). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

/** A stream of frames: mostly valid audio and events, sometimes fragments, pings, a close or a protocol error. */
function randomStream(rand: () => number): Buffer[] {
  const frames: Buffer[] = [];
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const n = 5 + Math.floor(rand() * 30);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.5) frames.push(frame(2, bytes([640, 320, 960, 0, 1, 5, 125, 126, 1000, MAX_PAYLOAD][Math.floor(rand() * 10)] as number)));
    else if (r < 0.62) frames.push(frame(1, Buffer.from(JSON.stringify({ event: 'websocket:notify', n: i }))));
    else if (r < 0.7) frames.push(frame(9, bytes(Math.floor(rand() * 20))));
    else if (r < 0.74) frames.push(frame(10, bytes(3)));
    else if (r < 0.84) {
      // A fragmented binary message with a ping between its fragments (allowed), or a data frame inside it (not).
      frames.push(frame(2, bytes(100), { fin: false }), frame(9, bytes(2)), frame(0, bytes(50), { fin: false }));
      frames.push(rand() < 0.8 ? frame(0, bytes(30)) : frame(2, bytes(30)));
    } else if (r < 0.9) {
      frames.push(frame(8, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye')])), frame(2, bytes(640)));
      break;
    } else {
      const bad = [
        frame(2, bytes(640), { rsv: 4 }),
        frame(2, bytes(640), { masked: false }),
        frame(3, bytes(10)),
        frame(9, bytes(126)),
        frame(9, bytes(3), { fin: false }),
        frame(2, bytes(MAX_PAYLOAD + 1)),
        frame(2, bytes(640), { len64: true }),
        frame(1, Buffer.from([0xff, 0xfe])),
      ];
      frames.push(bad[Math.floor(rand() * bad.length)] as Buffer, frame(2, bytes(640)));
      break;
    }
  }
  return frames;
}

/** Everything a server-side `ws` socket reports, in order; binary payloads by hash. */
type Log = string[];

async function server(fast: boolean): Promise<{ port: number; logs: Promise<Log>[]; readers: FastReceiver[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: MAX_PAYLOAD, perMessageDeflate: false, autoPong: false });
  const logs: Promise<Log>[] = [];
  const readers: FastReceiver[] = [];
  wss.on('connection', (ws: WebSocket) => {
    const log: Log = [];
    const h = (b: Buffer) => createHash('sha1').update(b).digest('hex').slice(0, 12);
    ws.on('message', (data, isBinary) => log.push(isBinary ? `bin ${(data as Buffer).length} ${h(data as Buffer)}` : `text ${String(data)}`));
    ws.on('ping', (d) => log.push(`ping ${d.toString('hex')}`));
    ws.on('pong', (d) => log.push(`pong ${d.toString('hex')}`));
    ws.on('error', (e) => log.push(`error ${(e as { code?: string }).code ?? e.message}`));
    logs.push(new Promise((resolve) => ws.on('close', (code) => resolve([...log, `close ${code}`]))));
    if (fast) {
      const r = must(installFastReceive(ws, (p) => log.push(`bin ${p.length} ${h(p)}`), MAX_PAYLOAD));
      readers.push(r);
    }
  });
  await new Promise((r) => wss.once('listening', r));
  const port = (wss.address() as { port: number }).port;
  return { port, logs, readers, close: () => new Promise((r) => wss.close(() => r())) };
}

/** Open a raw client socket (upgrade by hand), write `chunks` with a pause between some, then end it. */
async function send(port: number, chunks: Buffer[], rand: () => number): Promise<void> {
  const sock: Socket = connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  sock.on('error', () => {});
  await new Promise((r) => sock.once('connect', r));
  const key = randomBytes(16).toString('base64');
  sock.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await new Promise<void>((resolve) => {
    let got = '';
    const on = (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        sock.off('data', on);
        resolve();
      }
    };
    sock.on('data', on);
  });
  sock.resume();
  for (const c of chunks) {
    if (sock.destroyed) break;
    sock.write(c);
    if (rand() < 0.5) await new Promise((r) => setTimeout(r, 1));
  }
  // A client close frame (if the stream has not ended the connection already), then FIN.
  if (!sock.destroyed) sock.write(frame(8, Buffer.from([0x03, 0xe8])));
  await new Promise((r) => setTimeout(r, 20));
  sock.end();
  await new Promise((r) => (sock.destroyed ? r(null) : sock.once('close', r)));
}

/** Cut the stream's bytes at random points: single bytes, a few bytes, whole frames, several frames together. */
function cut(stream: Buffer, rand: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < stream.length;) {
    const r = rand();
    const n = r < 0.2 ? 1 : r < 0.4 ? 1 + Math.floor(rand() * 8) : r < 0.7 ? 1 + Math.floor(rand() * 700) : 1 + Math.floor(rand() * 5000);
    out.push(stream.subarray(off, off + n));
    off += n;
  }
  return out;
}

t.test('the same byte streams give the same messages, pings, errors and close codes as ws alone', async (t) => {
  const fast = await server(true);
  const plain = await server(false);
  t.teardown(async () => {
    await fast.close();
    await plain.close();
  });
  const STREAMS = 60;
  for (let i = 0; i < STREAMS; i++) {
    const seed = 1000 + i;
    const rand = rng(seed);
    const stream = Buffer.concat(randomStream(rand));
    const chunks = cut(stream, rand);
    await send(fast.port, chunks, rng(seed * 7));
    await send(
      plain.port,
      chunks.map((c) => Buffer.from(c)),
      rng(seed * 7),
    );
  }
  await until(() => fast.logs.length === STREAMS && plain.logs.length === STREAMS, 10000, 'every connection');
  const a = await Promise.all(fast.logs);
  const b = await Promise.all(plain.logs);
  let same = 0;
  for (let i = 0; i < STREAMS; i++) {
    if (JSON.stringify(a[i]) === JSON.stringify(b[i])) same++;
    else t.same(a[i], b[i], `stream seed ${1000 + i}`);
  }
  t.equal(same, STREAMS, 'every stream gave the same events');
  const fastRead = fast.readers.reduce((n, r) => n + r.stats.fast, 0);
  const routed = fast.readers.reduce((n, r) => n + r.stats.routed, 0);
  t.ok(fastRead > 100, `binary messages were read by the fast reader (${fastRead})`);
  t.ok(routed > 50, `other frames went to ws whole (${routed})`);
  const errors = new Set(a.flat().filter((l) => l.startsWith('error ')));
  t.ok(errors.size >= 5, `protocol errors of several kinds were among the streams: ${[...errors].join(', ')}`);
  t.ok(errors.has('error WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'), 'an oversize message among them (ws: 1009)');
  t.ok(errors.has('error WS_ERR_UNEXPECTED_RSV_1') || errors.has('error WS_ERR_EXPECTED_MASK'), 'a frame the reader hands over among them');
});

t.test('frames split over reads are joined once; a receiver that asks for a pause is obeyed', (t) => {
  const got: Buffer[] = [];
  const toWs: Buffer[] = [];
  let answer = true;
  const r = new FastReceiver(
    (b) => (toWs.push(b), answer),
    (p) => got.push(p),
    MAX_PAYLOAD,
    () => t.fail('no fault'),
  );
  const payload = randomBytes(640);
  const f = frame(2, payload);
  // One byte at a time: nothing delivered until the last, then the payload, unmasked.
  for (let i = 0; i < f.length - 1; i++) t.equal(r.write(f.subarray(i, i + 1)), true);
  t.equal(got.length, 0, 'nothing before the frame is complete');
  r.write(f.subarray(f.length - 1));
  t.same(got, [payload], 'the payload, unmasked, once complete');
  // Two frames and half of a third in one chunk, the rest in the next.
  const p2 = randomBytes(320);
  const p3 = randomBytes(960);
  const f3 = frame(2, p3);
  r.write(Buffer.concat([frame(2, p2), frame(2, payload), f3.subarray(0, 100)]));
  t.same(got.slice(1), [p2, payload], 'whole frames of a chunk at once');
  r.write(f3.subarray(100));
  t.same(got[3], p3, 'the split frame');
  // A text frame goes to ws whole, and ws's wish to pause comes back.
  answer = false;
  const text = frame(1, Buffer.from('{"event":"x"}'));
  t.equal(r.write(text), false, "the receiver's pause is passed on");
  t.same(toWs, [text], 'the text frame, whole, to ws');
  t.equal(r.stats.fast, 4);
  t.equal(r.stats.routed, 1);
  // A frame the reader does not judge: from there on, everything is ws's, byte for byte.
  answer = true;
  const bad = frame(2, randomBytes(10), { rsv: 2 });
  const after = frame(2, randomBytes(640));
  r.write(Buffer.concat([frame(2, p2), bad]));
  r.write(after);
  t.same(got[4], p2, 'the good frame before it');
  t.same(toWs.slice(1), [bad, after], 'the rest as it came');
  t.equal(r.stats.handedOver, true);
  t.end();
});

t.test('the native unmask and the loop give the same payloads, at every length and alignment', (t) => {
  // bufferutil ships a prebuilt add-on for linux-x64: here the native path must be the one in use.
  t.type(nativeUnmask, 'function', "bufferutil's native unmask is loaded");
  const rand = rng(7);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const payloads: Buffer[] = [];
  for (const n of [0, 1, 3, 63, 64, 65, 127, 320, 639, 640, 641, 960, 1001]) payloads.push(bytes(n));
  // Every payload behind a frame of 0 or 127–129 bytes: its start at four different alignments in the chunk.
  const chunks: Buffer[] = [];
  for (const p of payloads) for (let lead = 0; lead < 4; lead++) chunks.push(Buffer.concat([frame(2, bytes(lead > 0 ? 126 + lead : 0)), frame(2, p)]));
  const read = (unmask: typeof nativeUnmask | null) => {
    const got: Buffer[] = [];
    const r = new FastReceiver(
      () => true,
      (p) => got.push(Buffer.from(p)),
      MAX_PAYLOAD,
      () => t.fail('no fault'),
      () => false,
      unmask,
    );
    for (const c of chunks) r.write(Buffer.from(c));
    return got;
  };
  let nativeCalls = 0;
  const viaNative = read((b, m) => {
    nativeCalls++;
    nativeUnmask!(b, m);
  });
  t.equal(nativeCalls, 4 * payloads.filter((p) => p.length >= 64).length + 3 * payloads.length, 'every payload of 64 bytes or more went through it');
  const viaLoop = read(null);
  t.equal(viaLoop.length, chunks.length * 2, 'two messages per chunk');
  t.same(
    viaLoop.filter((_, i) => i % 2 === 1),
    payloads.flatMap((p) => [p, p, p, p]),
    'the loop unmasks every payload',
  );
  t.same(viaNative, viaLoop, 'the native unmask gives the same bytes');
  t.end();
});

t.test('in the gateway: a leg that breaks the protocol mid-call gets 1002, a second call keeps every frame', async (t) => {
  const g = await startGateway(t);
  const url = `ws://127.0.0.1:${g.port}/socket`;
  const good = await openRawLeg(url);
  good.handshake('audio/l16;rate=16000', { uuid: 'good-1' });
  const bad = await openRawLeg(url);
  bad.handshake('audio/l16;rate=16000', { uuid: 'bad-1' });
  await until(() => g.gw.tracker.size === 2, 3000, 'two sessions');
  const audio = Buffer.alloc(640 * 100);
  for (let i = 0; i < audio.length; i += 2) audio.writeInt16LE(Math.round(3000 * Math.sin(i / 7)), i);
  const streaming = streamFrames(good.ws, audio, 640, 100);
  // Audio on the bad leg too, then one frame with a reserved bit set, written under the client library.
  for (let i = 0; i < 10; i++) bad.ws.send(audio.subarray(0, 640));
  await new Promise((r) => setTimeout(r, 100));
  (bad.ws as unknown as { _socket: Socket })._socket.write(frame(2, audio.subarray(0, 640), { rsv: 4 }));
  const c = await bad.closed;
  t.equal(c.code, 1002, 'a reserved bit → 1002 (ws decides, as without the fast reader)');
  await streaming;
  await until(() => g.gw.tracker.size === 1, 5000, 'the bad call gone');
  const s = must([...g.gw.tracker.sessions()][0]);
  t.equal(s.info.callId, 'good-1', 'the good call is still up');
  await until(() => s.jitter.framesIn === 100, 3000, 'every frame of the good call');
  t.equal(s.jitter.framesIn, 100, 'every frame of the good call arrived');
  good.ws.close();
});

t.test('outbound frames written pre-framed reach a ws client intact, in order with ws.send, falling back when they must', async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  await new Promise((r) => wss.once('listening', r));
  const serverSide = new Promise<WebSocket>((r) => wss.once('connection', r));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, { perMessageDeflate: false });
  const got: string[] = [];
  client.on('message', (d, isBinary) => got.push(isBinary ? `bin ${(d as Buffer).toString('hex')}` : `text ${String(d)}`));
  await new Promise((r) => client.once('open', r));
  const ws = await serverSide;
  const fw = must(framedWriter(ws));
  const socket = (ws as unknown as { _socket: Socket })._socket;
  const sent: string[] = [];
  let direct = 0;
  let viaWs = 0;
  const send = (f: Buffer) => {
    sent.push(`bin ${f.toString('hex')}`);
    if (fw.write(f)) direct++;
    else {
      ws.send(f, { binary: true });
      viaWs++;
    }
  };
  const sizes = [640, 640, 320, 960, 100, 125, 126, 0, 1, 640, 640];
  for (let i = 0; i < 40; i++) {
    send(randomBytes(sizes[i % sizes.length] as number));
    if (i % 7 === 3) {
      sent.push(`text {"n":${i}}`);
      ws.send(`{"n":${i}}`);
    }
    // Now and then the socket holds data unsent (corked): the frame must go through ws.send, still in order.
    if (i % 10 === 5) socket.cork();
    if (i % 10 === 8) socket.uncork();
  }
  await until(() => got.length === sent.length, 5000, 'every message at the client');
  t.same(got, sent, 'every frame intact and in order, text between them where it was sent');
  t.ok(direct > 20, `most frames went pre-framed (${direct})`);
  t.ok(viaWs > 3, `frames sent while the socket held data went through ws.send (${viaWs})`);
  ws.close(1000);
  t.equal(fw.write(randomBytes(640)), false, 'nothing is written pre-framed once ws is closing');
  client.close();
});
