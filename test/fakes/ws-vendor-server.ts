/**
 * The HTTP + WebSocket scaffolding the vendor fakes share (test/fakes/deepgram.ts, test/fakes/cartesia.ts): a server
 * on 127.0.0.1:0 whose upgrades are checked by the fake (path, credentials, a status on cue) and refused with a real
 * HTTP response the SDKs report, then served by the fake's own protocol; `close()` ends every socket at once.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** Why an upgrade is refused: the HTTP status, the message, and extra response headers. */
export interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface VendorServer {
  url: string;
  port: number;
  /** Upgrades refused so far. */
  readonly refused: number;
  close(): Promise<void>;
}

/**
 * @param check an upgrade request → a refusal, or undefined to accept it.
 * @param serve an accepted socket, with its request and parsed URL.
 */
export async function startVendorServer(
  check: (req: IncomingMessage, url: URL) => Refusal | undefined,
  serve: (ws: WebSocket, req: IncomingMessage, url: URL) => void,
): Promise<VendorServer> {
  const sockets = new Set<Socket>();
  let refused = 0;
  const http = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  http.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const no = check(req, url);
    if (!no) {
      wss.handleUpgrade(req, socket, head, (ws) => serve(ws, req, url));
      return;
    }
    refused++;
    const body = no.body ?? JSON.stringify({ error: no.message });
    const extra = Object.entries(no.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.end(
      `HTTP/1.1 ${no.status} Refused\r\n${extra}content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    get refused() {
      return refused;
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
