/** Small HTTP helpers for the webhooks: bounded body reading, GET/POST input parsing, JSON answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { WebhookAuth } from '../security/webhook-auth.js';

export const MAX_BODY_BYTES = 64 * 1024;

/** Read the whole body, refusing more than `limitBytes` (413) without buffering the excess. */
export function readBody(req: IncomingMessage, limitBytes = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limitBytes) {
      reject(new GatewayError('WEBHOOK_TOO_LARGE', `body larger than ${limitBytes} bytes`, { httpStatus: 413 }));
      req.resume();
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limitBytes) {
        failed = true;
        parts.length = 0;
        reject(new GatewayError('WEBHOOK_TOO_LARGE', `body larger than ${limitBytes} bytes`, { httpStatus: 413 }));
        return;
      }
      parts.push(c);
    });
    req.on('end', () => !failed && resolve(Buffer.concat(parts)));
    // The client went away, or the request timeout cut it (it got its 408 from the server's clientError handler):
    // bad input, not a gateway failure.
    req.on('error', (e) => {
      if (failed) return;
      failed = true;
      reject(
        new GatewayError(
          'WEBHOOK_MALFORMED',
          `request body incomplete: ${e.message === 'aborted' ? 'the client went away or was too slow' : e.message.slice(0, 100)}`,
          { httpStatus: 400, cause: e },
        ),
      );
    });
  });
}

/**
 * The webhook's fields: the query string for GET, the JSON object for POST (form-encoded POSTs are accepted too).
 * With `auth` (signed webhooks), the raw body read here once is what the signature's `payload_hash` is checked
 * against, before anything is parsed.
 * @throws GatewayError WEBHOOK_MALFORMED (400), WEBHOOK_UNAUTHORIZED (401), WEBHOOK_UNSUPPORTED_MEDIA (415), WEBHOOK_TOO_LARGE (413)
 */
export async function readWebhookInput(
  req: IncomingMessage,
  url: URL,
  auth?: WebhookAuth,
): Promise<{ fields: Record<string, unknown>; raw: Buffer | undefined }> {
  if (auth && (req.method === 'GET' || req.method === 'HEAD' || req.method === 'POST')) auth.precheck(req);
  if (req.method === 'GET' || req.method === 'HEAD') {
    if (auth) await auth.verify(req, url, undefined);
    const fields = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of url.searchParams) fields[k] = v;
    return { fields, raw: undefined };
  }
  if (req.method !== 'POST') throw new GatewayError('WEBHOOK_MALFORMED', `method ${req.method} not allowed (GET or POST)`, { httpStatus: 405 });
  const raw = await readBody(req);
  if (auth) await auth.verify(req, url, raw);
  const ct = String(req.headers['content-type'] ?? 'application/json')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (ct === 'application/x-www-form-urlencoded') {
    const fields = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) fields[k] = v;
    return { fields, raw };
  }
  if (ct !== 'application/json' && !ct.endsWith('+json')) {
    throw new GatewayError('WEBHOOK_UNSUPPORTED_MEDIA', `content-type ${ct.slice(0, 60)} not supported (application/json)`, { httpStatus: 415 });
  }
  if (raw.length === 0) throw new GatewayError('WEBHOOK_MALFORMED', 'empty body (a JSON object is required)', { httpStatus: 400 });
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new GatewayError('WEBHOOK_MALFORMED', 'body is not valid JSON', { httpStatus: 400 });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new GatewayError('WEBHOOK_MALFORMED', 'body must be a JSON object', { httpStatus: 400 });
  return { fields: parsed as Record<string, unknown>, raw };
}

/**
 * Check optional string fields: each, if present, must be a string (numbers are accepted and stringified, as Vonage
 * sends some ids as numbers) of at most `maxLen` characters.
 */
export function stringFields(fields: Record<string, unknown>, names: readonly string[], maxLen = 256): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const n of names) {
    const v = fields[n];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' && typeof v !== 'number') throw new GatewayError('WEBHOOK_MALFORMED', `field ${n} must be a string`, { httpStatus: 400 });
    const s = String(v);
    if (s.length > maxLen) throw new GatewayError('WEBHOOK_MALFORMED', `field ${n} longer than ${maxLen} characters`, { httpStatus: 400 });
    out[n] = s;
  }
  return out;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

/**
 * The JSON error body every webhook uses: `{"error": code, "reason": message}`. A 413 also ends the connection
 * (`Connection: close`: Node closes the socket once the answer is flushed), so the rest of an oversized body is not
 * read until the request timeout.
 */
export function sendError(res: ServerResponse, err: GatewayError): void {
  sendJson(res, err.httpStatus, { error: err.code, reason: err.message }, err.httpStatus === 413 ? { connection: 'close' } : undefined);
}
