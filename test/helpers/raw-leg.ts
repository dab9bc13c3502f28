/** A bare WebSocket client playing Vonage, for tests that need to misbehave in ways the simulator never would. */
import WebSocket from 'ws';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { must } from './must.js';

export interface RawLeg {
  ws: WebSocket;
  binary: Buffer[];
  /** `performance.now()` when each of `binary` arrived. */
  binaryAt: number[];
  texts: unknown[];
  /** For each of `texts`, how many binary frames had arrived before it (where a `clear` fell in the audio). */
  textsAfter: number[];
  closed: Promise<{ code: number; reason: string }>;
  handshake(contentType?: string, extra?: Record<string, unknown>): void;
}

/** @param echoNotify answer our notify markers like Vonage (immediately, since nothing is really played here). */
export async function openRawLeg(wsUrl: string, echoNotify = true): Promise<RawLeg> {
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
  const binary: Buffer[] = [];
  const binaryAt: number[] = [];
  const texts: unknown[] = [];
  const textsAfter: number[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => {});
  ws.on('message', (d, isBinary) => {
    if (isBinary) {
      binary.push(d as Buffer);
      binaryAt.push(performance.now());
    } else {
      const m = JSON.parse(d.toString()) as { action?: string; payload?: unknown };
      texts.push(m);
      textsAfter.push(binary.length);
      // Behave like Vonage for playout markers, so the session's replies complete.
      if (m.action === 'notify' && echoNotify) ws.send(JSON.stringify({ event: 'websocket:notify', payload: m.payload }));
      if (m.action === 'clear') ws.send(JSON.stringify({ event: 'websocket:cleared' }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
  return {
    ws,
    binary,
    binaryAt,
    texts,
    textsAfter,
    closed,
    handshake(contentType = 'audio/l16;rate=16000', extra = {}) {
      ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': contentType, ...extra }));
    },
  };
}

/** Upgrade and report the HTTP status if refused (or 101). */
export function upgradeStatus(wsUrl: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl);
    ws.on('error', () => {});
    ws.once('open', () => {
      ws.terminate();
      resolve({ status: 101, body: '' });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
}

/** Send `frames` frames of `frameBytes` from `pcm` (looped) every 20 ms; resolves when done. */
export async function streamFrames(ws: WebSocket, pcm: Buffer, frameBytes: number, frames: number): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < frames; i++) {
    if (ws.readyState !== WebSocket.OPEN) return;
    const off = (i * frameBytes) % Math.max(frameBytes, pcm.length - frameBytes);
    const f = Buffer.alloc(frameBytes);
    pcm.copy(f, 0, off, Math.min(pcm.length, off + frameBytes));
    ws.send(f);
    const wait = t0 + (i + 1) * 20 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

/** Goertzel power of `freqHz` in 16-bit PCM bytes. */
export function goertzel(pcm: Buffer, rateHz: number, freqHz: number): number {
  const n = pcm.length >> 1;
  const k = 2 * Math.cos((2 * Math.PI * freqHz) / rateHz);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s = pcm.readInt16LE(i * 2) / 32768 + k * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return (s1 * s1 + s2 * s2 - k * s1 * s2) / n;
}

/** Streams like Vonage does: a frame every 20 ms, always — queued audio when there is some, silence otherwise. */
export class ContinuousCaller {
  private queue: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private n = 0;
  private t0 = 0;
  framesSent = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly frameBytes: number,
  ) {}

  start(): void {
    this.t0 = performance.now();
    const tick = () => {
      if (this.ws.readyState !== WebSocket.OPEN) return;
      const f = this.queue.shift() ?? this.silence();
      this.ws.send(f);
      this.framesSent++;
      this.n++;
      this.timer = setTimeout(tick, Math.max(0, this.t0 + this.n * 20 - performance.now()));
    };
    tick();
  }

  /** A phone line is never digitally silent: low white noise (about −60 dBFS) between utterances. */
  private silence(): Buffer {
    const f = Buffer.alloc(this.frameBytes);
    for (let i = 0; i < f.length; i += 2) f.writeInt16LE(Math.round((Math.random() - 0.5) * 64), i);
    return f;
  }

  /** Queue audio (cut into frames, last one padded); resolves when it has all been sent. */
  async say(pcm: Buffer): Promise<void> {
    for (let off = 0; off < pcm.length; off += this.frameBytes) {
      const f = Buffer.alloc(this.frameBytes);
      pcm.copy(f, 0, off, Math.min(pcm.length, off + this.frameBytes));
      this.queue.push(f);
    }
    while (this.queue.length) await new Promise((r) => setTimeout(r, 20));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The largest gap between consecutive arrivals in `at[from..to)`, ms. */
export function maxGapMs(at: number[], from = 0, to = at.length): number {
  let max = 0;
  for (let i = Math.max(1, from + 1); i < to; i++) if (must(at[i]) - must(at[i - 1]) > max) max = must(at[i]) - must(at[i - 1]);
  return max;
}

/**
 * An attacker's leg: a bare TCP socket that completes the WebSocket upgrade, then writes whatever frames the test
 * builds ({@link clientFrame}) and never answers anything, not even a close. `received` collects what the server sent
 * after the 101; `closed` resolves when the server drops the connection.
 */
export interface RawSocketLeg {
  socket: Socket;
  received: Buffer[];
  closed: Promise<void>;
  /** The code of the first close frame the server sent, if any. */
  closeCode(): number | undefined;
}

export async function openRawSocketLeg(port: number, path = '/socket'): Promise<RawSocketLeg> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const received: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      if (!status.startsWith('HTTP/1.1 101')) return reject(new Error(`upgrade refused: ${status}`));
      if (head.length > end + 4) received.push(head.subarray(end + 4));
      socket.on('data', (c: Buffer) => received.push(c));
      resolve();
    };
    socket.on('data', onData);
  });
  return {
    socket,
    received,
    closed,
    closeCode() {
      // Server frames are unmasked: walk them to the first close (opcode 8).
      const all = Buffer.concat(received);
      let off = 0;
      while (off + 2 <= all.length) {
        const op = must(all[off]) & 0x0f;
        let len = must(all[off + 1]) & 0x7f;
        let hdr = 2;
        if (len === 126) {
          len = all.readUInt16BE(off + 2);
          hdr = 4;
        } else if (len === 127) {
          len = Number(all.readBigUInt64BE(off + 2));
          hdr = 10;
        }
        if (op === 8) return len >= 2 ? all.readUInt16BE(off + hdr) : 1005;
        off += hdr + len;
      }
      return undefined;
    },
  };
}

/** One client frame (FIN set, masked with a zero key, so the payload goes as is): opcode 1 text, 2 binary, 9 ping. */
export function clientFrame(opcode: number, payload: Buffer | string): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const ext = p.length < 126 ? 0 : p.length < 65536 ? 2 : 8;
  const f = Buffer.alloc(2 + ext + 4 + p.length);
  f[0] = 0x80 | opcode;
  if (ext === 0) f[1] = 0x80 | p.length;
  else if (ext === 2) {
    f[1] = 0x80 | 126;
    f.writeUInt16BE(p.length, 2);
  } else {
    f[1] = 0x80 | 127;
    f.writeBigUInt64BE(BigInt(p.length), 2);
  }
  p.copy(f, 2 + ext + 4); // mask key 0: the masked payload is the payload
  return f;
}
