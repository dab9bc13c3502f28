/** Test helpers for signed webhooks and authenticated upgrades: Vonage-style JWTs, upgrades with headers, raw HTTP. */
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { SignJWT } from 'jose';
import WebSocket from 'ws';

export const SECRET = 'test-signature-secret-0123456789abcdef';

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A JWT like Vonage's signed-webhook token: HS256, `iat`, `jti`, `iss`, `payload_hash`, `api_key`, `application_id`. */
export async function vonageJwt(opts: { secret?: string; payloadHash?: string; iatS?: number | null; extra?: Record<string, unknown> } = {}): Promise<string> {
  const claims: Record<string, unknown> = { iss: 'Vonage', api_key: 'abcd1234', application_id: 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab', ...opts.extra };
  if (opts.payloadHash !== undefined) claims.payload_hash = opts.payloadHash;
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setJti(`jti-${Math.random()}`);
  if (opts.iatS !== null) jwt.setIssuedAt(opts.iatS ?? Math.floor(Date.now() / 1000));
  return jwt.sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

/** An unsigned `alg: none` token with the given claims. */
export function noneJwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}

export interface UpgradeResult {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  ws?: WebSocket;
}

/** Try a WebSocket upgrade with headers: 101 (the open socket is returned) or the refusal's status and body. */
export function tryUpgrade(url: string, headers: Record<string, string> = {}): Promise<UpgradeResult> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    ws.on('error', () => {});
    ws.once('open', () => resolve({ status: 101, body: '', headers: {}, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
  });
}

/** Send raw bytes over TCP and collect everything until the server closes (bounded by `timeoutMs`). */
export function rawHttp(port: number, data: Buffer | string, timeoutMs = 5000, halfClose = false): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const i = text.indexOf('\r\n\r\n');
      const head = i >= 0 ? text.slice(0, i) : text;
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: i >= 0 ? text.slice(i + 4) : '' });
    };
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      // An accepted upgrade stays open: its head is all there is to read.
      if (chunks.length === 1 && c.subarray(0, 12).toString('latin1') === 'HTTP/1.1 101' && c.includes('\r\n\r\n')) s.destroy();
    });
    s.on('error', () => {});
    s.on('close', done);
    if (halfClose) s.end(data);
    else s.write(data);
  });
}
