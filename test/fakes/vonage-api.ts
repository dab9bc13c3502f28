/**
 * A local Vonage Voice REST API for tests: a node:http server on 127.0.0.1:0 that validates every request against
 * Vonage's OpenAPI document (test/fixtures/vonage/voice-api.oas.yml) — method, path and JSON body — and the bearer JWT
 * (RS256 signature with the test's public key, `application_id`, fresh `iat`, unused `jti`, `exp` in the future), then
 * answers like Vonage: 201 for POST /v1/calls, 204 for PUT /v1/calls/{uuid}, 200 for talk/dtmf/stream.
 * Errors on cue: `cue(status, count)` answers the next matching requests with that status (401, 429, 500, 503 …).
 * Every request is recorded, accepted or not.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createPublicKey, randomUUID, verify, type KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { OasValidator } from './oas-validator.js';
import { must } from '../helpers/must.js';

export const FIXTURES_DIR = fileURLToPath(new URL('../../../test/fixtures/vonage/', import.meta.url));

let validator: OasValidator | undefined;
/** The spec validator (parsed once per process). */
export function voiceApiValidator(): OasValidator {
  return (validator ??= new OasValidator(`${FIXTURES_DIR}voice-api.oas.yml`));
}

export interface JwtClaims {
  application_id?: unknown;
  iat?: unknown;
  jti?: unknown;
  exp?: unknown;
  nbf?: unknown;
  [k: string]: unknown;
}

export interface FakeRequest {
  method: string;
  path: string;
  /** operationId from the spec (`createCall`, `updateCall`, `startDTMF`, …), or '' if the path is not in it. */
  op: string;
  params: Record<string, string>;
  body: unknown;
  claims: JwtClaims | undefined;
  /** The status the fake answered. */
  status: number;
  /** Why it was refused (spec or JWT), if it was. */
  error?: string;
  /** The JSON body the fake answered with, if any. */
  answer?: unknown;
}

interface Cue {
  status: number;
  remaining: number;
  op?: string;
  retryAfterS?: number;
}

export interface VonageApiFakeOptions {
  applicationId: string;
  /** PEM of the public key matching the gateway's VONAGE_PRIVATE_KEY. */
  publicKeyPem: string;
  /** Max age of `iat` accepted (Vonage tokens are short-lived). */
  maxTokenAgeS?: number;
}

const ERROR_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export class VonageApiFake {
  readonly requests: FakeRequest[] = [];
  private readonly server: Server;
  private readonly key: KeyObject;
  private readonly seenJti = new Set<string>();
  private readonly cues: Cue[] = [];
  private readonly spec = voiceApiValidator();
  url = '';

  constructor(private readonly opts: VonageApiFakeOptions) {
    this.key = createPublicKey(opts.publicKeyPem);
    this.server = createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    return this.url;
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }

  /** Answer the next `count` valid requests (of `op`, if given) with `status` instead of success. */
  cue(status: number, count = 1, opts: { op?: string; retryAfterS?: number } = {}): void {
    this.cues.push({ status, remaining: count, ...opts });
  }

  /** Accepted requests (answered 2xx) of one operation. */
  accepted(op?: string): FakeRequest[] {
    return this.requests.filter((r) => r.status < 300 && (!op || r.op === op));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const rec: FakeRequest = { method, path, op: '', params: {}, body: undefined, claims: undefined, status: 0 };
    this.requests.push(rec);
    const fail = (status: number, error: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
      rec.status = status;
      rec.error = error;
      const body = JSON.stringify({
        type: `https://developer.nexmo.com/api-errors#${status}`,
        title: ERROR_TITLES[status] ?? 'Error',
        detail: error,
        instance: randomUUID(),
        ...extra,
      });
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };

    const m = this.spec.match(method, path);
    if ('error' in m) return fail(m.status, m.error);
    rec.op = m.route.operationId;
    rec.params = m.params;

    // Authentication first, as Vonage does: no valid token, no further information.
    const auth = req.headers.authorization ?? '';
    const jwt = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(auth);
    if (!jwt) return fail(401, 'missing or malformed Authorization: Bearer <JWT>');
    const why = this.checkJwt(jwt[1]!, jwt[2]!, jwt[3]!, rec); // the pattern matched: its three groups are there
    if (why) return fail(401, why);

    if (raw.length) {
      const ct = must(String(req.headers['content-type'] ?? '').split(';')[0])
        .trim()
        .toLowerCase();
      if (ct !== 'application/json') return fail(415, `content-type ${ct || '(none)'}; application/json expected`);
      try {
        rec.body = JSON.parse(raw);
      } catch {
        return fail(400, 'body is not JSON');
      }
    }
    const errors = this.spec.check(m.route, rec.body);
    if (errors.length) return fail(400, `body does not match ${m.route.operationId}: ${errors.join('; ')}`, { invalid_parameters: errors });
    if (m.params.uuid !== undefined && !/^[A-Za-z0-9_.:-]{1,100}$/.test(m.params.uuid)) return fail(400, 'bad call uuid');

    const cue = this.cues.find((c) => c.remaining > 0 && (!c.op || c.op === rec.op));
    if (cue) {
      cue.remaining--;
      return fail(cue.status, `cued ${cue.status}`, {}, cue.retryAfterS === undefined ? {} : { 'retry-after': String(cue.retryAfterS) });
    }
    this.answer(rec, m.route.responses, res);
  }

  private answer(rec: FakeRequest, documented: string[], res: ServerResponse): void {
    const json = (status: number, body: unknown) => {
      rec.status = status;
      rec.answer = body;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const uuid = rec.params.uuid;
    switch (rec.op) {
      case 'createCall':
        return json(201, { uuid: randomUUID(), status: 'started', direction: 'outbound', conversation_uuid: `CON-${randomUUID()}` });
      case 'updateCall':
        rec.status = 204;
        res.writeHead(204);
        res.end();
        return;
      case 'startDTMF':
        return json(200, { message: 'DTMF sent', uuid });
      case 'startTalk':
        return json(200, { message: 'Talk started', uuid });
      case 'stopTalk':
        return json(200, { message: 'Talk stopped', uuid });
      case 'startStream':
        return json(200, { message: 'Stream started', uuid });
      case 'stopStream':
        return json(200, { message: 'Stream stopped', uuid });
      default:
        // Operations the gateway never uses: answered with their documented status and an empty object.
        return json(Number(documented.find((s) => s.startsWith('2')) ?? 200), {});
    }
  }

  /** Why the token is refused, or undefined when it is good. */
  private checkJwt(h64: string, p64: string, s64: string, rec: FakeRequest): string | undefined {
    let header: { alg?: unknown; typ?: unknown };
    let claims: JwtClaims;
    try {
      header = JSON.parse(Buffer.from(h64, 'base64url').toString('utf8')) as typeof header;
      claims = JSON.parse(Buffer.from(p64, 'base64url').toString('utf8')) as JwtClaims;
    } catch {
      return 'JWT header or payload is not JSON';
    }
    rec.claims = claims;
    if (header.alg !== 'RS256') return `JWT alg ${String(header.alg)}; RS256 expected`;
    if (!verify('RSA-SHA256', Buffer.from(`${h64}.${p64}`), this.key, Buffer.from(s64, 'base64url'))) return 'JWT signature does not verify';
    if (claims.application_id !== this.opts.applicationId) return 'JWT application_id is not this application';
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.iat !== 'number') return 'JWT iat missing';
    if (claims.iat > now + 60 || now - claims.iat > (this.opts.maxTokenAgeS ?? 300)) return 'JWT iat not fresh';
    if (claims.exp !== undefined && (typeof claims.exp !== 'number' || claims.exp <= now)) return 'JWT expired';
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now + 60)) return 'JWT not yet valid';
    if (typeof claims.jti !== 'string' || !claims.jti) return 'JWT jti missing';
    if (this.seenJti.has(claims.jti)) return 'JWT jti reused';
    this.seenJti.add(claims.jti);
    return undefined;
  }
}
